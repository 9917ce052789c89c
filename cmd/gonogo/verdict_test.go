package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/rundir"
)

// TestServeVerdict checks the Argo Rollouts (/verdict: always 200) and
// Flagger (/gate: 2xx only for go) endpoints, re-reading verdict.json.
func TestServeVerdict(t *testing.T) {
	dir := t.TempDir()
	write := func(d analyze.Decision) {
		b, _ := json.Marshal(analyze.Verdict{Schema: 1, Verdict: d, Run: "r1"})
		if err := os.WriteFile(filepath.Join(dir, rundir.Verdict), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveVerdict(ctx, &options{Out: io.Discard, Err: io.Discard}, ln, time.Minute, dir) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	get := func(method, path string) (int, string) {
		t.Helper()
		var resp *http.Response
		var err error
		for range 100 { // the server may not listen yet
			req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader("{}"))
			if resp, err = http.DefaultClient.Do(req); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("GET", "/verdict"); code != http.StatusServiceUnavailable {
		t.Errorf("no verdict yet: GET /verdict = %d, want 503", code)
	}
	write(analyze.NoGo)
	if code, body := get("GET", "/verdict"); code != 200 || !strings.Contains(body, `"verdict":"no-go"`) {
		t.Errorf("GET /verdict = %d %s, want 200 with the no-go verdict", code, body)
	}
	if code, _ := get("POST", "/gate"); code != http.StatusPreconditionFailed {
		t.Errorf("no-go: POST /gate = %d, want 412", code)
	}
	write(analyze.Go)
	if code, _ := get("POST", "/gate"); code != 200 {
		t.Errorf("go: POST /gate = %d, want 200", code)
	}
}
