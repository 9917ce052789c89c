package provider

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/internal/promtest"
)

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
	promtest.Binary(t) // skips before the fixture starts
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
	srv := promtest.Start(t, []string{fu.Host})
	prom, exited, logText := srv.URL, srv.Exited, srv.Log

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
