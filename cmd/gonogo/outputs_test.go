package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/rundir"
)

// TestOutputFlagsBadInput checks that a bad output flag is bad usage
// (exit 2) said in one line naming the flag, before any load is sent.
func TestOutputFlagsBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"load", "--target", "http://127.0.0.1:1", "--protocol", "kserve", "--model", "m", "--rate", "5", "--duration", "1s", "-q"}
	for _, tc := range []struct {
		name string
		args []string
		flag string
	}{
		{"remote-write URL without scheme", []string{"--out-remote-write", "127.0.0.1:9090/api/v1/write"}, "--out-remote-write"},
		{"remote-write ftp", []string{"--out-remote-write", "ftp://127.0.0.1/x"}, "--out-remote-write"},
		{"remote-write token missing", []string{"--out-remote-write", "http://127.0.0.1:9090/api/v1/write", "--out-remote-write-token-file", filepath.Join(dir, "nope")}, "--out-remote-write-token-file"},
		{"token without URL", []string{"--out-remote-write-token-file", empty}, "--out-remote-write-token-file needs --out-remote-write"},
		{"otlp bad URL", []string{"--out-otlp", "http://"}, "--out-otlp"},
		{"otlp empty token", []string{"--out-otlp", "http://127.0.0.1:4318/v1/metrics", "--out-otlp-token-file", empty}, "--out-otlp-token-file"},
		{"grafana bad URL", []string{"--grafana-url", "grafana:3000"}, "--grafana-url"},
		{"grafana token is a directory", []string{"--grafana-url", "http://127.0.0.1:3000", "--grafana-token-file", dir}, "--grafana-token-file"},
		{"interval zero", []string{"--out-interval", "0s"}, "--out-interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := quiet()
			code := run(context.Background(), o, append(append([]string{}, base...), tc.args...))
			stderr := o.Err.(*bytes.Buffer).String()
			if code != exitUsage || !strings.Contains(stderr, tc.flag) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want 2 and one line naming %s", code, stderr, tc.flag)
			}
		})
	}
}

// TestOutputFlags runs gonogo load with a remote-write receiver and a
// Grafana on loopback, and then with receivers that are down: the run's
// exit and results are the same, the lost pushes are said at the end.
func TestOutputFlags(t *testing.T) {
	_, target := modelservertest.Start(t, modelserver.DefaultConfig())
	var writes, anns atomic.Int32
	var badHeader atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/write":
			if r.Header.Get("Content-Encoding") != "snappy" || r.Header.Get("X-Prometheus-Remote-Write-Version") != "0.1.0" {
				badHeader.Store(r.Header.Clone())
			}
			writes.Add(1)
			w.WriteHeader(http.StatusNoContent)
		case "/api/annotations":
			if r.Header.Get("Authorization") != "Bearer glsa_x" {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			anns.Add(1)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	tok := filepath.Join(dir, "tok")
	if err := os.WriteFile(tok, []byte("glsa_x"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(out string, extra ...string) []string {
		return append([]string{"load", "--target", target, "--protocol", "kserve", "--model", modelserver.DefaultClassifierModel,
			"--rate", "20", "--duration", "1500ms", "--out", filepath.Join(dir, out), "--history", "", "-q", "--out-interval", "500ms"}, extra...)
	}

	o := quiet()
	code := run(context.Background(), o, load("up", "--out-remote-write", srv.URL+"/api/v1/write", "--grafana-url", srv.URL, "--grafana-token-file", tok))
	stderr := o.Err.(*bytes.Buffer).String()
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if writes.Load() < 2 || anns.Load() < 2 || badHeader.Load() != nil {
		t.Errorf("%d remote writes (bad headers: %v), %d annotations; want live pushes and the run's annotations", writes.Load(), badHeader.Load(), anns.Load())
	}
	if !strings.Contains(stderr, "output remote-write "+srv.URL+"/api/v1/write: ") || strings.Contains(stderr, "did NOT arrive") {
		t.Errorf("stderr %q, want what remote-write sent, the last push included", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "up", rundir.Annotations)); err != nil {
		t.Error(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "up", rundir.Run)); strings.Contains(string(b), "glsa_x") {
		t.Error("run.json holds the Grafana token")
	}

	// Receivers that are down: the run is the same, the loss is said.
	ln := srv.Listener.Addr().String()
	srv.Close()
	o = quiet()
	code = run(context.Background(), o, load("down", "--out-remote-write", "http://"+ln+"/api/v1/write", "--grafana-url", "http://"+ln))
	stderr = o.Err.(*bytes.Buffer).String()
	if code != exitOK {
		t.Fatalf("with receivers down: exit %d, want 0: %s", code, stderr)
	}
	for _, want := range []string{"warning: output remote-write", "warning: output grafana", "did NOT arrive"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
	for _, f := range []string{rundir.Run, rundir.Annotations, rundir.Summary} {
		if _, err := os.Stat(filepath.Join(dir, "down", f)); err != nil {
			t.Errorf("with receivers down: %v", err)
		}
	}
}
