package provider

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// prometheusBinary finds Debian's prometheus; without it the test is
// skipped, or fails when GONOGO_REQUIRE_PROMETHEUS=1.
func prometheusBinary(t *testing.T) string {
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

// startPrometheus runs prometheus in a temporary directory, scraping
// target's /metrics every second, until the test ends. It returns
// Prometheus's base URL and a channel closed when the process exits.
func startPrometheus(t *testing.T, bin, target string) (string, <-chan struct{}, func() string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	conf := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: fixture\n    static_configs:\n      - targets: [%q]\n", target)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var (
		mu  sync.Mutex
		log bytes.Buffer
	)
	cmd := exec.Command(bin,
		"--config.file", cfg,
		"--storage.tsdb.path", filepath.Join(dir, "tsdb"),
		"--web.listen-address", addr,
		"--log.level", "warn")
	cmd.Dir = dir
	cmd.Stdout = lockedWriter{&mu, &log}
	cmd.Stderr = lockedWriter{&mu, &log}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Error("prometheus did not exit after SIGKILL")
		}
	})
	logText := func() string {
		mu.Lock()
		defer mu.Unlock()
		return log.String()
	}
	return "http://" + addr, exited, logText
}

// lockedWriter serialises the writes of a child's stdout and stderr.
type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() > 64<<10 {
		return len(p), nil
	}
	return w.b.Write(p)
}

// sendCompletions posts n completions to the fixture and returns how many
// it answered with HTTP 500.
func sendCompletions(t *testing.T, base string, n int) int {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	errs := 0
	for i := range n {
		body := fmt.Sprintf(`{"model":%q,"prompt":"hello %d","max_tokens":2}`, modelserver.DefaultModel, i)
		resp, err := client.Post(base+"/v1/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusInternalServerError:
			errs++
		default:
			t.Fatalf("completion %d: HTTP %d", i, resp.StatusCode)
		}
	}
	return errs
}

// TestRealPrometheus judges real PromQL answers: Debian's prometheus
// scrapes the simulated inference server, whose request counts the test
// knows because it sent the requests itself.
func TestRealPrometheus(t *testing.T) {
	bin := prometheusBinary(t)
	cfg := modelserver.DefaultConfig()
	cfg.Seed = 7
	cfg.Knobs.ErrorRate = 0.5
	_, fixture := modelservertest.Start(t, cfg)
	const sent = 24
	errs := sendCompletions(t, fixture, sent)
	if errs == 0 || errs == sent {
		t.Fatalf("%d of %d requests failed with error rate 0.5: want some of each", errs, sent)
	}
	fu, err := url.Parse(fixture)
	if err != nil {
		t.Fatal(err)
	}
	prom, exited, logText := startPrometheus(t, bin, fu.Host)

	measure := func(query, cond string) Measurement {
		t.Helper()
		p, err := New(Spec{Name: "real", Prometheus: &PromSpec{Address: prom, Query: query, Condition: cond, Timeout: 3 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		return p.Measure(context.Background())
	}

	// Every request was sent before Prometheus started, so its first
	// scrape of the fixture holds them all.
	const total = `sum(modelserver_requests_total{endpoint="completions"})`
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := measure(total, "> 0")
		if m.Status == Pass {
			break
		}
		select {
		case <-exited:
			t.Fatalf("prometheus exited: %s", logText())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sample in 30 s; last: %+v; prometheus log: %s", m, logText())
		}
		time.Sleep(250 * time.Millisecond)
	}

	ratio := float64(errs) / sent
	tests := []struct {
		name, query, cond string
		wantStatus        Status
		wantValue         float64 // checked when the status is pass or fail
		wantDetail        string
	}{
		{"count equals what was sent", total, fmt.Sprintf("== %d", sent), Pass, sent, "meets"},
		{"count below what was sent fails", total, fmt.Sprintf("< %d", sent), Fail, sent, "fails"},
		{"errors counted", `sum(modelserver_requests_total{endpoint="completions",code="500"})`, fmt.Sprintf("== %d", errs), Pass, float64(errs), "meets"},
		{"error ratio fails a 5 % SLO", `sum(modelserver_requests_total{endpoint="completions",code!~"2.."}) / sum(modelserver_requests_total{endpoint="completions"})`, "< 0.05", Fail, ratio, "fails < 0.05"},
		{"error ratio passes a loose bound", `sum(modelserver_requests_total{endpoint="completions",code!~"2.."}) / sum(modelserver_requests_total{endpoint="completions"})`, "<= 1", Pass, ratio, "meets <= 1"},
		{"scalar", fmt.Sprintf("scalar(%s)", total), fmt.Sprintf(">= %d", sent), Pass, sent, "meets"},
		{"several series", `sum by (code) (modelserver_requests_total{endpoint="completions"})`, "> 0", Inconclusive, 0, "query returned 2 series, want one"},
		{"no data", `modelserver_requests_total{endpoint="no-such-endpoint"}`, "< 1", Inconclusive, 0, "no data"},
		{"NaN", `0/0`, "!= 1", Inconclusive, 0, "NaN"},
		// No traffic since the first scrape: the rates are 0 and their
		// ratio NaN, or, before a second scrape, there is no rate at all.
		// Either way no data is not a pass.
		{"error rate without traffic", `sum(rate(modelserver_requests_total{endpoint="completions",code!~"2.."}[30s])) / sum(rate(modelserver_requests_total{endpoint="completions"}[30s]))`, "< 0.05", Inconclusive, 0, ""},
		{"range vector", `modelserver_requests_total{endpoint="completions",code="200"}[5m]`, "> 0", Inconclusive, 0, "matrix"},
		{"bad query", `sum(`, "> 0", Inconclusive, 0, "HTTP 400: bad_data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := measure(tt.query, tt.cond)
			if m.Status != tt.wantStatus || !strings.Contains(m.Detail, tt.wantDetail) {
				t.Fatalf("measure = %+v, want %s with %q", m, tt.wantStatus, tt.wantDetail)
			}
			if math.Abs(m.Value-tt.wantValue) > 1e-9 {
				t.Errorf("value = %v, want %v", m.Value, tt.wantValue)
			}
		})
	}
}
