// Package promtest runs a real Prometheus (Debian's prometheus) for tests:
// the PromQL analysis of rollouts and the remote-write output are tested
// against it, not against a stand-in.
package promtest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a Prometheus a test started.
type Server struct {
	// URL is its base URL, http://127.0.0.1:PORT.
	URL string
	// Exited is closed when the process has exited.
	Exited <-chan struct{}
	log    *SyncBuffer
}

// Log returns what Prometheus wrote (its first 64 KiB).
func (s *Server) Log() string { return s.log.String() }

// Binary finds Debian's prometheus; without it the test is skipped, or
// fails when GONOGO_REQUIRE_PROMETHEUS=1.
func Binary(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/prometheus"); err == nil {
		return "/usr/bin/prometheus"
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	if os.Getenv("GONOGO_REQUIRE_PROMETHEUS") == "1" {
		t.Fatal("prometheus not found and GONOGO_REQUIRE_PROMETHEUS=1: apt-get install prometheus")
	}
	t.Skip("prometheus not found (apt-get install prometheus; GONOGO_REQUIRE_PROMETHEUS=1 makes this a failure)")
	return ""
}

// Start runs prometheus on a free loopback port in a temporary directory
// until the test ends, scraping the targets (host:port) every second when
// there are some, with the extra flags (--web.enable-remote-write-receiver),
// and returns it once /-/ready answers (at most 30 s).
func Start(t testing.TB, targets []string, flags ...string) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	conf := "global:\n  scrape_interval: 1m\n"
	if len(targets) > 0 {
		quoted := make([]string, len(targets))
		for i, tg := range targets {
			quoted[i] = fmt.Sprintf("%q", tg)
		}
		conf = fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: fixture\n    static_configs:\n      - targets: [%s]\n",
			strings.Join(quoted, ", "))
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	log := &SyncBuffer{}
	args := append([]string{"--config.file", cfg, "--storage.tsdb.path", filepath.Join(dir, "tsdb"),
		"--web.listen-address", addr, "--log.level", "warn"}, flags...)
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Error("prometheus did not exit after SIGKILL")
		}
		if t.Failed() {
			t.Logf("prometheus said:\n%s", log.String())
		}
	})
	s := &Server{URL: "http://" + addr, Exited: exited, log: log}
	client := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := client.Get(s.URL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-exited:
			t.Fatalf("prometheus exited:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30 s:\n%s", log.String())
		}
	}
}

// SyncBuffer is a buffer safe for concurrent writers (a child's stdout
// and stderr, a run's messages) that keeps the first 64 KiB.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *SyncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *SyncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
