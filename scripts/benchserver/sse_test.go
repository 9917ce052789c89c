//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestStreamer(t *testing.T) {
	const chunks, gap = 5, 10 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newStreamer(chunks, gap)
	go s.serve(ln)
	t.Cleanup(func() { ln.Close() })
	base := "http://" + ln.Addr().String()

	resp, err := http.Get(base + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Data []struct{ ID string } }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || len(list.Data) != 1 || list.Data[0].ID != "bench" {
		t.Errorf("models: %v %+v", err, list)
	}
	resp.Body.Close()

	for i := range 2 { // one keep-alive connection, two streams
		start := time.Now()
		resp, err := http.Post(base+"/v1/completions", "application/json", strings.NewReader(`{"prompt":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		var content, usage int
		var times []time.Time
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.Contains(line, `"text":" tok"`):
				content++
				times = append(times, time.Now())
			case strings.Contains(line, `"completion_tokens":5}`):
				usage++
			}
		}
		resp.Body.Close()
		if content != chunks || usage != 1 || !strings.HasSuffix(resp.Header.Get("Content-Type"), "event-stream") {
			t.Fatalf("stream %d: %d content chunks, %d usage chunks; want %d and 1", i, content, usage, chunks)
		}
		if took := times[len(times)-1].Sub(start); took < (chunks-1)*gap {
			t.Errorf("stream %d took %v, want at least %v", i, took, (chunks-1)*gap)
		}
	}
	for deadline := time.Now().Add(time.Second); s.streams.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // the server counts a stream after its last write
	}
	if s.streams.Load() != 2 {
		t.Errorf("streams = %d, want 2", s.streams.Load())
	}
	if sum := s.gaps.summary(); !strings.HasPrefix(sum, "8 gaps: ") {
		t.Errorf("summary %q, want 8 gaps", sum)
	}

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
	if status, _ := bufio.NewReader(c).ReadString('\n'); !strings.HasPrefix(status, "HTTP/1.1 400") {
		t.Errorf("a chunked request got %q, want 400", status)
	}
}
