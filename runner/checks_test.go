package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// serverCounts reads the fixture's own counters from its /metrics: the
// truth the checks are held to, counted by code that shares none with
// them. It returns the value of every series of metric whose labels
// include want (label="value" pairs), summed.
func serverCounts(t *testing.T, url, metric string, want ...string) int64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^` + metric + `\{([^}]*)\} ([0-9.e+]+)$`)
	var sum int64
	for _, m := range line.FindAllStringSubmatch(string(b), -1) {
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(m[1], w)
		}
		if ok {
			v, _ := strconv.ParseFloat(m[2], 64)
			sum += int64(v)
		}
	}
	return sum
}

// parseWorkload parses a scenario file written to a temporary folder, so
// that its errors name a file.
func parseWorkload(t *testing.T, src string) *scenarios.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "checks.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := scenarios.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// binomialNear reports whether k of n is within 4 standard deviations of
// the share p.
func binomialNear(k, n int64, p float64) bool {
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return math.Abs(float64(k)-p*float64(n)) <= 4*sd
}

// TestChecksTruthOpenAI runs checks of every kind against the fixture
// with injected errors (error_rate) and a flaky feature store, streamed
// and not, and holds their counts to the fixture's own: every check that
// a 500 answer fails fails exactly as often as the fixture answered 500,
// and the header check fails exactly as often as the fixture served
// features that did not come from the store. The requests' own failures
// stay the fixture's 500s: a failed check never fails a request twice.
func TestChecksTruthOpenAI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the fixture for seconds")
	}
	for _, stream := range []bool{true, false} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			_, storeURL, stopStore, err := modelserver.StartFeatureStore(modelserver.FeatureStoreConfig{Seed: 3, Knobs: modelserver.FeatureStoreKnobs{ErrorRate: 0.3}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(stopStore)
			cfg := modelserver.DefaultConfig()
			cfg.Knobs.ErrorRate, cfg.Seed, cfg.FeatureStore = 0.2, 7, storeURL
			_, url := modelservertest.Start(t, cfg)

			contentType, streamChecks := "application/json", ""
			if stream {
				contentType = "text/event-stream"
				streamChecks = "      - {name: done, sse: done}\n"
			}
			wl := parseWorkload(t, `
checks:
  - {name: ok, status: 2xx}
  - {name: has-choices, json: 'choices[0].text exists'}
  - {name: finished, json: 'choices[0].finish_reason == "length"'}
  - {name: usage, json: usage.completion_tokens == 8}
  - {name: tokens, length: tokens == 8}
  - {name: not-empty, length: bytes > 0}
  - {name: from-store, header: X-Feature-Source == store}
  - {name: content-type, header: Content-Type ~ ^`+contentType+`}
scenarios:
  main:
    executor: constant-arrival-rate
    rate: 100
    duration: 2s
    checks:
`+streamChecks+`      - {name: no-error-field, json: error missing}
thresholds:
  checks{check:ok}: ["rate>0.99"]
  checks_failed{check:from-store}: ["count>0"]
`)
			g, err := analyze.ParseGates("gates.yaml", []byte("minRequests: 50\ngates:\n  - {name: all ok, metric: 'checks{check:ok}', expr: rate>=0.99}\n"))
			if err != nil {
				t.Fatal(err)
			}
			rc := Config{File: wl, Protocol: "openai", Target: url, Dir: t.TempDir(), Command: []string{"gonogo", "load"},
				Client: extensions.Options{MaxTokens: 8, PromptTokens: 16, NoStream: !stream}, Gates: g}
			_, res, err := execute(t, context.Background(), rc)
			if err != nil {
				t.Fatal(err)
			}
			st := res.Run.Overall
			n := st.Requests.Total
			n500 := serverCounts(t, url, modelserver.MetricRequests, `code="500"`)
			fromStore := serverCounts(t, url, modelserver.MetricFeatureLookups, `outcome="ok"`)
			if n < 150 || n500 == 0 || !binomialNear(n500, n, 0.2) {
				t.Fatalf("%d requests, %d answered 500: not the fixture's 20 %%", n, n500)
			}
			if got := st.Requests.FailedTotal(); got != n500 || st.Requests.Failed["http_5xx"] != n500 {
				t.Errorf("%d requests failed (%v), want the fixture's %d 500s: checks must not fail requests", got, st.Requests.Failed, n500)
			}
			want := map[string]int64{"ok": n500, "has-choices": n500, "finished": n500, "usage": n500, "tokens": n500,
				"from-store": n - fromStore, "content-type": n500, "not-empty": 0, "no-error-field": 0}
			if stream {
				want["done"] = n500
			} else {
				want["content-type"] = 0 // the 500s are JSON too
			}
			if len(st.Checks) != len(want) {
				t.Errorf("checks %v, want %d of them", st.Checks, len(want))
			}
			for name, fails := range want {
				c := st.Checks[name]
				if c.Failed != fails || c.Total() != n {
					t.Errorf("check %s: %d passed, %d failed; want %d failed of %d", name, c.Passed, c.Failed, fails, n)
				}
			}
			if sc := res.Run.Scenarios["main"].Checks; sc["ok"] != st.Checks["ok"] {
				t.Errorf("scenario main's ok %v, overall %v", sc["ok"], st.Checks["ok"])
			}
			// Thresholds and gates read the counts: 20 % of 500s fail them.
			if analyze.Passed(res.Run.Thresholds) || res.Decision() != analyze.NoGo {
				t.Errorf("thresholds %+v, decision %s: want the ok threshold and gate failed", res.Run.Thresholds, res.Decision())
			}
			for _, th := range res.Run.Thresholds {
				if th.Metric == "checks{check:ok}" && (th.Pass || th.Observed != float64(n-n500)/float64(n)) {
					t.Errorf("threshold %+v, want observed %v", th, float64(n-n500)/float64(n))
				}
			}
			if gr := res.Verdict.Gates[0]; gr.Status != analyze.GateFail || gr.Metric != "checks{check:ok}" {
				t.Errorf("gate %+v, want failed", gr)
			}
			// The run directory reads back with the same counts, as
			// gonogo verdict and report read it.
			run, data, err := reports.LoadRun(string(res.Dir))
			if err != nil {
				t.Fatal(err)
			}
			if run.Overall.Checks["from-store"] != st.Checks["from-store"] || data.Summary.Overall.Checks["ok"] != st.Checks["ok"] {
				t.Errorf("read back: %v", run.Overall.Checks)
			}
			var sum analyze.Counts
			for _, p := range data.Timeline {
				sum.Add(&p.Counts)
			}
			if sum.Checks["ok"] != st.Checks["ok"] {
				t.Errorf("timeline sums ok to %v, run.json says %v", sum.Checks["ok"], st.Checks["ok"])
			}
		})
	}
}

// TestChecksTruthNoise sends one fixed completion request with the http
// protocol and checks the answer's text, whose truth the fixture gives
// (modelserver.Completion), against a server that changes one word of a
// share of its answers (the noise knob). A JSON check and a body check
// read the same truth two ways and must agree exactly; both fail on about
// the noise's share.
func TestChecksTruthNoise(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the fixture for seconds")
	}
	cfg := modelserver.DefaultConfig()
	cfg.Knobs.Noise, cfg.Seed = 0.25, 11
	_, url := modelservertest.Start(t, cfg)
	const prompt = "tell me about the weather in spring"
	text := strings.Join(modelserver.Completion(cfg.Version, prompt, 6), " ")
	wl := parseWorkload(t, fmt.Sprintf(`
request:
  method: POST
  path: /v1/completions
  headers: {Content-Type: application/json}
  body: '{"prompt": "%s", "max_tokens": 6, "ignore_eos": true}'
checks:
  - {name: exact, json: 'choices[0].text == "%s"'}
  - {name: exact-body, body: '~ "text":"%s"'}
  - {name: usage, json: usage.completion_tokens == 6}
  - {name: json, header: Content-Type ~ ^application/json}
scenarios:
  main: {executor: constant-arrival-rate, rate: 100, duration: 2s}
`, prompt, text, text))
	rc := Config{File: wl, Protocol: "http", Target: url, Dir: t.TempDir(), Command: []string{"gonogo", "load"}}
	_, res, err := execute(t, context.Background(), rc)
	if err != nil {
		t.Fatal(err)
	}
	st := res.Run.Overall
	n := st.Requests.Total
	exact, body := st.Checks["exact"], st.Checks["exact-body"]
	if n < 150 || st.Requests.OK != n {
		t.Fatalf("%d requests, %d ok", n, st.Requests.OK)
	}
	if exact != body || !binomialNear(exact.Failed, n, 0.25) || exact.Failed == 0 {
		t.Errorf("exact %+v, exact-body %+v of %d: want equal, failing on about 25 %%", exact, body, n)
	}
	if st.Checks["usage"].Failed != 0 || st.Checks["json"].Failed != 0 {
		t.Errorf("usage %+v, json %+v: want no failure", st.Checks["usage"], st.Checks["json"])
	}
}

// TestChecksBadInput refuses, before a run, checks that the protocol
// cannot judge and thresholds or gates on checks the workload lacks.
func TestChecksBadInput(t *testing.T) {
	const sc = "scenarios:\n  main: {executor: constant-arrival-rate, rate: 1, duration: 1s}\n"
	for _, tc := range []struct {
		name, protocol, src, gates, want string
	}{
		{"sse on http", "http", "checks:\n  - {name: done, sse: done}\n" + sc, "", "sse checks read server-sent events"},
		{"sse on kserve", "kserve", "checks:\n  - {name: done, sse: done}\n" + sc, "", "protocol kserve does not show"},
		{"unknown check in threshold", "http", "checks:\n  - {name: ok, status: 2xx}\n" + sc + "thresholds:\n  checks{check:okay}: ['rate>0.9']\n", "",
			`checks.yaml:6: thresholds.checks{check:okay}: no check "okay" (the workload's checks: ok)`},
		{"threshold without checks", "http", sc + "thresholds:\n  checks: ['rate>0.9']\n", "", "the workload has no checks"},
		{"unknown check in gate", "http", "checks:\n  - {name: ok, status: 2xx}\n" + sc, "gates:\n  - {name: g, metric: 'checks_failed{check:nope}', expr: count<1}\n", `gate "g": no check "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{File: parseWorkload(t, tc.src), Protocol: tc.protocol, Target: "http://127.0.0.1:9", Dir: t.TempDir(),
				Client: extensions.Options{Model: "m"}}
			if tc.gates != "" {
				g, err := analyze.ParseGates("gates.yaml", []byte(tc.gates))
				if err != nil {
					t.Fatal(err)
				}
				cfg.Gates = g
			}
			_, err := New(cfg)
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an input error with %q", err, tc.want)
			}
		})
	}
	// A shadow run reads its primary through the mirror: no observer.
	cfg := Config{File: parseWorkload(t, "checks:\n  - {name: ct, header: Content-Type exists}\n"+sc), Protocol: "http",
		Target: "http://127.0.0.1:9", Dir: t.TempDir(), Shadow: &Shadow{Mirrors: []Mirror{{Name: "candidate", Target: "http://127.0.0.1:9"}}}}
	if _, err := New(cfg); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "shadow run") {
		t.Fatalf("shadow run with a header check: %v", err)
	}
}
