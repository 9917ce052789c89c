//go:build !race && linux && (amd64 || arm64)

package openai

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// A chunk's time is when it arrived, not when the client got to read it:
// here the reactor is kept from reading while the second of three chunks,
// 30 ms apart, arrives, and the gaps are still 30 ms.
func TestWireChunkTimeIsArrival(t *testing.T) {
	const gap = 30 * time.Millisecond
	chunk := func(s string) string {
		ev := "data: " + s + "\n\n"
		return strconv.FormatInt(int64(len(ev)), 16) + "\r\n" + ev + "\r\n"
	}
	sent := make(chan struct{}, 1)
	url := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		for readRequest(br) == nil {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"+chunk(text("a")))
			sent <- struct{}{}
			time.Sleep(gap)
			io.WriteString(c, chunk(text("b")))
			time.Sleep(gap)
			io.WriteString(c, chunk(text("c"))+chunk("[DONE]")+"0\r\n\r\n")
		}
	})
	c := newClient(t, extensions.Options{Target: url})
	if err := c.Warm(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	conn, ok := c.wire.pool.Idle()
	if !ok {
		t.Fatal("no warmed connection")
	}
	c.wire.pool.Put(conn)
	got := make(chan *gonogo.Result)
	go func() { got <- doRequest(c, context.Background(), 1) }()
	<-sent
	time.Sleep(gap / 2)
	conn.mu.Lock() // the reactor cannot read conn until gap/2 after the second chunk
	time.Sleep(gap)
	conn.mu.Unlock()
	res := <-got
	if res.Class != gonogo.ErrNone || len(res.ChunkGaps) != 2 {
		t.Fatalf("%s %s, gaps %v", res.Class, res.Err, res.ChunkGaps)
	}
	for i, g := range res.ChunkGaps {
		if g < gap-5*time.Millisecond || g > gap+8*time.Millisecond {
			t.Errorf("gap %d = %v, want %v (the chunk's arrival, not its late read)", i, g, gap)
		}
	}
}
