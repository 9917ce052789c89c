package analyze

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

func TestRecorderLLMFigures(t *testing.T) {
	tests := []struct {
		name      string
		ttft      time.Duration
		gaps      []time.Duration
		tokens    int
		prompt    int
		reported  int
		failed    bool
		wantTTST  float64 // ms; 0: none
		wantRate  float64 // tokens/s; 0: none
		wantInput float64 // tokens; 0: none
	}{
		// e2e is 100 ms in every case: (3−1) / (100 − 40 ms) = 33.33 tokens/s.
		{name: "streamed", ttft: 40 * time.Millisecond, gaps: []time.Duration{5 * time.Millisecond, 55 * time.Millisecond},
			tokens: 3, prompt: 128, wantTTST: 5, wantRate: 33.333, wantInput: 128},
		{name: "reported prompt only", ttft: 40 * time.Millisecond, gaps: []time.Duration{7 * time.Millisecond},
			tokens: 3, reported: 90, wantTTST: 7, wantRate: 33.333, wantInput: 90},
		{name: "client count wins", ttft: 40 * time.Millisecond, tokens: 3, prompt: 50, reported: 57, wantRate: 33.333, wantInput: 50},
		{name: "one token", ttft: 40 * time.Millisecond, tokens: 1},
		{name: "not streamed", tokens: 30, prompt: 10, wantInput: 10},
		{name: "failed", ttft: 40 * time.Millisecond, gaps: []time.Duration{5 * time.Millisecond}, tokens: 3, prompt: 10, failed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRec(t, Config{})
			res := result("s", t0, 0, 100*time.Millisecond)
			res.TTFT, res.ChunkGaps, res.OutputTokens = tc.ttft, tc.gaps, tc.tokens
			res.PromptTokens, res.ReportedPromptTokens = tc.prompt, tc.reported
			if tc.failed {
				res.Class = gonogo.ErrHTTP5xx
			}
			r.Record(res)
			st := r.Summary(t0.Add(time.Second)).Overall
			for _, c := range []struct {
				metric string
				want   float64
			}{{MetricTTST, tc.wantTTST}, {MetricTokensPerSecPerUser, tc.wantRate}, {MetricInputTokens, tc.wantInput}} {
				ms := st.Metric(c.metric)
				switch {
				case c.want == 0 && ms != nil:
					t.Errorf("%s = %+v, want none", c.metric, ms)
				case c.want != 0 && ms == nil:
					t.Errorf("%s missing, want %g", c.metric, c.want)
				case c.want != 0 && !near(ms.P50, c.want, 0.002):
					t.Errorf("%s p50 = %g, want %g", c.metric, ms.P50, c.want)
				}
			}
		})
	}
}

func TestMetricStatsStdDevAndLowPercentiles(t *testing.T) {
	r := newRec(t, Config{Percentiles: []float64{99.99, 50}})
	// Latencies 1..100 ms: population stddev sqrt((100²−1)/12) = 28.866 ms.
	for i := 1; i <= 100; i++ {
		r.Record(result("s", t0, 0, time.Duration(i)*time.Millisecond))
	}
	st := r.Summary(t0.Add(time.Second)).Overall
	ms := st.Latency
	if !near(ms.StdDev, math.Sqrt((100*100-1)/12.0), 0.01) {
		t.Errorf("stddev = %g, want 28.866", ms.StdDev)
	}
	for _, c := range []struct{ pct, want float64 }{{1, 1}, {5, 5}, {10, 10}, {25, 25}, {50, 50}, {75, 75}, {99.99, 100}} {
		got, ok := st.Percentile(MetricLatency, c.pct)
		if !ok || !near(got, c.want, 0.002) {
			t.Errorf("p%g = %g (%v), want %g", c.pct, got, ok, c.want)
		}
	}
	if got := st.Percentiles[MetricLatency]; len(got) != 1 {
		t.Errorf("extra percentiles = %v, want p99.99 alone (p50 is stored)", got)
	}
	if _, ok := st.Percentile(MetricLatency, 42); ok {
		t.Errorf("p42 reported though never asked for")
	}
}

func TestRecorderRejectsBadPercentiles(t *testing.T) {
	for _, p := range [][]float64{{-1}, {100.5}, {math.NaN()}, make([]float64, MaxPercentiles+1)} {
		if _, err := NewRecorder(Config{Percentiles: p}); err == nil {
			t.Errorf("Percentiles %v accepted", p)
		}
	}
}

func TestGoodputFigures(t *testing.T) {
	slo, err := ParseSLO("ttft=50ms, tpot<=30ms")
	if err != nil {
		t.Fatal(err)
	}
	if slo.Key != "ttft<=50ms,tpot<=30ms" {
		t.Errorf("key = %q", slo.Key)
	}
	r := newRec(t, Config{SLOs: []SLO{slo}})
	for i := range 10 {
		res := result("s", t0.Add(time.Duration(i)*100*time.Millisecond), 0, 100*time.Millisecond)
		res.TTFT, res.OutputTokens = 40*time.Millisecond, 3 // tpot 30 ms
		if i < 3 {
			res.TTFT = 60 * time.Millisecond // misses ttft
		}
		r.Record(res)
	}
	r.Drop(&gonogo.Request{Scenario: "s"})
	st := r.Summary(t0.Add(2 * time.Second)).Overall
	if got := st.Goodput[slo.Key]; got != 7 {
		t.Errorf("goodput = %d, want 7", got)
	}
	if got := st.GoodputShares[slo.Key]; !near(got, 7.0/11, 1e-6) {
		t.Errorf("goodput share = %g, want 7/11", got)
	}
	if got := st.GoodputPerSec[slo.Key]; !near(got, 3.5, 1e-6) {
		t.Errorf("goodput rate = %g/s, want 3.5/s (7 over 2 s)", got)
	}
}

func TestParseSLO(t *testing.T) {
	tests := []struct {
		in, key string
	}{
		{"ttft=300ms", "ttft<=300ms"},
		{"tpot=50ms,ttft=0.3s", "ttft<=300ms,tpot<=50ms"},
		{" ttst <= 20ms ", "ttst<=20ms"},
		{"ttft=", ""},
		{"ttft", ""},
		{"=1s", ""},
		{"ttft=2h", ""},
		{"ttft=0s", ""},
		{"ttft=1ms,ttft=2ms", ""},
		{"output_tokens=1ms", ""},
		{"nope=1ms", ""},
		{"", ""},
	}
	for _, tc := range tests {
		slo, err := ParseSLO(tc.in)
		if tc.key == "" {
			if err == nil || !errors.Is(err, ErrGates) {
				t.Errorf("ParseSLO(%q) = %q, %v; want an ErrGates error", tc.in, slo.Key, err)
			}
			continue
		}
		if err != nil || slo.Key != tc.key {
			t.Errorf("ParseSLO(%q) = %q, %v; want %q", tc.in, slo.Key, err, tc.key)
		}
	}
}

func FuzzParseSLO(f *testing.F) {
	for _, s := range []string{"ttft=300ms", "ttft=300ms,tpot=50ms", "ttst<=1s", "x=", ",", "ttft=1e9h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		slo, err := ParseSLO(s)
		if err != nil {
			return
		}
		// A parsed SLO parses back from its own key to the same key.
		again, err := ParseSLO(slo.Key)
		if err != nil || again.Key != slo.Key {
			t.Fatalf("ParseSLO(%q).Key = %q, which parses to %q, %v", s, slo.Key, again.Key, err)
		}
	})
}

// A percentile the summary does not store comes from the cumulative
// histograms as written to and read back from histograms.hlog, in the
// metric's unit.
func TestRunDataHistPercentile(t *testing.T) {
	r := newRec(t, Config{})
	for i := 1; i <= 1000; i++ {
		res := result("s", t0, 0, time.Duration(i)*time.Millisecond)
		res.TTFT, res.OutputTokens = time.Millisecond, 11 // 10 tokens over (i − 1) ms
		r.Record(res)
	}
	_ = r.Close(t0.Add(2 * time.Second))
	var buf bytes.Buffer
	if err := r.WriteCumulative(&buf); err != nil {
		t.Fatal(err)
	}
	hs, err := ReadCumulative(&buf)
	if err != nil {
		t.Fatal(err)
	}
	d := &RunData{Hists: hs}
	if v, ok := d.HistPercentile(Overall, MetricLatency, 99.95); !ok || !near(v, 1000, 0.002) {
		t.Errorf("latency p99.95 = %g (%v), want 1000 ms", v, ok)
	}
	// The slowest user: 10 tokens over 999 ms.
	if v, ok := d.HistPercentile(Overall, MetricTokensPerSecPerUser, 0.05); !ok || !near(v, 10/0.999, 0.002) {
		t.Errorf("tokens_per_sec_per_user p0.05 = %g (%v), want 10.01", v, ok)
	}
	var none *RunData
	if _, ok := none.HistPercentile(Overall, MetricLatency, 50); ok {
		t.Errorf("a nil RunData answered")
	}
	if _, ok := d.HistPercentile(Overall, "nope", 50); ok {
		t.Errorf("an unknown metric answered")
	}
}

// Thresholds use the new metrics as they use ttft, low percentiles of a
// stored summary included.
func TestThresholdsOnLLMFigures(t *testing.T) {
	r := newRec(t, Config{})
	for i := range 100 {
		res := result("s", t0, 0, 100*time.Millisecond)
		res.TTFT, res.OutputTokens, res.PromptTokens = 40*time.Millisecond, 7, 100+i // 6 tokens over 60 ms: 100 tokens/s
		res.ChunkGaps = []time.Duration{time.Duration(1+i/10) * time.Millisecond}
		r.Record(res)
	}
	live := r.Summary(t0.Add(time.Second))
	b, err := json.Marshal(live)
	if err != nil {
		t.Fatal(err)
	}
	var stored Summary // as read back from run.json: no histograms
	if err := json.Unmarshal(b, &stored); err != nil {
		t.Fatal(err)
	}
	ts := Thresholds{
		MetricTTST:                {{Threshold: "p(99)<10.1"}, {Threshold: "p(5)<1"}},
		MetricTokensPerSecPerUser: {{Threshold: "p(1)>99"}},
		MetricInputTokens:         {{Threshold: "max<=199"}},
	}
	for name, s := range map[string]*Summary{"live": live, "stored": &stored} {
		res, err := Evaluate(ts, s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var pass []bool
		for _, r := range res {
			pass = append(pass, r.Pass)
		}
		// Sorted by selector: input_tokens, tokens_per_sec_per_user, ttst ×2.
		if want := []bool{true, true, true, false}; !slices.Equal(pass, want) {
			t.Errorf("%s: pass = %v, want %v (%+v)", name, pass, want, res)
		}
	}
}
