package analyze

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze/divergence"
)

const goodGates = `scenario: main
minRequests: 50
score: {pass: 90, marginal: 70}
gates:
  - name: p99 latency
    metric: latency
    expr: p(99)<500
    critical: true
  - name: errors
    metric: errors
    expr: rate<0.05
  - name: latency vs baseline
    metric: latency
    compare: baseline
    allowed: 10%
  - name: errors vs baseline
    metric: errors
    compare: baseline
    allowed: 1pp
  - name: throughput
    metric: requests
    compare: baseline
    allowed: 5%
`

func TestParseGates(t *testing.T) {
	g, err := ParseGates("gates.yaml", []byte(goodGates))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Gates) != 5 || g.PassScore() != 90 || g.MarginalScore() != 70 || g.minRequests() != 50 {
		t.Fatalf("parsed %+v", g)
	}
	wantKinds := []GateKind{Absolute, Absolute, Relative, Relative, Relative}
	for i, gt := range g.Gates {
		if gt.Kind() != wantKinds[i] {
			t.Errorf("gate %d kind %s, want %s", i, gt.Kind(), wantKinds[i])
		}
		if gt.sel.Scenario != "main" {
			t.Errorf("gate %d scenario %q, want the file's default main", i, gt.sel.Scenario)
		}
	}
	if g.Gates[4].Direction != "decrease" || g.Gates[2].Direction != "increase" {
		t.Errorf("default directions: throughput %s, latency %s", g.Gates[4].Direction, g.Gates[2].Direction)
	}
	if g.Gates[3].allowed != 0.01 || !g.Gates[3].allowedPP || g.Gates[2].allowed != 0.1 {
		t.Errorf("allowed: %v %v %v", g.Gates[3].allowed, g.Gates[3].allowedPP, g.Gates[2].allowed)
	}
}

func TestParseGatesErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
		line            int
	}{
		{"empty", "", "empty gates file", 0},
		{"no gates", "scenario: x\n", "no gates", 0},
		{"unknown field", "gates:\n  - name: a\n    metrc: latency\n", `unknown field "metrc"`, 3},
		{"unknown metric", "gates:\n  - name: a\n    metric: latncy\n    expr: p(99)<5\n", `gate "a": metric: unknown metric "latncy"`, 3},
		{"bad expr", "gates:\n  - name: a\n    metric: latency\n    expr: p(99)<<5\n", `gate "a": expr:`, 4},
		{"agg not for metric", "gates:\n  - name: a\n    metric: errors\n    expr: p(99)<5\n", "p(N) is not defined here", 4},
		{"missing expr", "gates:\n  - name: a\n    metric: latency\n", "expr: missing", 2},
		{"duplicate", "gates:\n  - {name: a, metric: latency, expr: p(99)<5}\n  - {name: a, metric: latency, expr: p(90)<5}\n", "duplicate gate name", 3},
		{"bad allowed", "gates:\n  - name: r\n    metric: latency\n    compare: baseline\n    allowed: ten\n", "want a percentage", 5},
		{"pp for latency", "gates:\n  - name: r\n    metric: latency\n    compare: baseline\n    allowed: 1pp\n", "errors only", 5},
		{"bad direction", "gates:\n  - name: r\n    metric: ttft\n    compare: baseline\n    direction: up\n    allowed: 5%\n", "want increase, decrease or either", 5},
		{"bad goodput", "gates:\n  - name: g\n    goodput: {ttft: fast}\n    expr: rate>0.9\n", "not a duration from 1µs to 1h", 3},
		{"two kinds", "gates:\n  - name: g\n    goodput: {ttft: 1s}\n    compare: baseline\n", "not several", 3},
		{"unknown divergence", "gates:\n  - name: d\n    divergence: flips\n    expr: rate<0.1\n", `unknown figure "flips"`, 3},
		{"bad score", "score: {pass: 50, marginal: 80}\ngates:\n  - {metric: latency, expr: p(99)<5}\n", "marginal (80) ≤ pass (50)", 1},
		{"bad yaml", "gates: [\n", "", 1},
		{"relative field on absolute", "gates:\n  - name: a\n    metric: latency\n    expr: p(99)<5\n    allowed: 5%\n", "allowed: only relative gates", 5},
		{"segment on absolute", "gates:\n  - name: a\n    metric: latency\n    expr: p(99)<5\n    segment: a=b\n", "segment: only divergence gates", 5},
		{"nan alpha", "gates:\n  - {name: r, metric: latency, compare: baseline, allowed: 5%, alpha: .nan}\n", "want 0 < alpha < 1", 2},
		{"compare with itself", "gates:\n  - {name: r, metric: 'latency{model:x}', compare: 'model:x', allowed: 5%}\n", "the gate's own group", 2},
		{"compare no group", "gates:\n  - {name: r, metric: latency, compare: v1, allowed: 5%}\n", "want baseline, or a group of the run", 2},
		{"bad window", "gates:\n  - {name: w, metric: errors, expr: rate<0.01, window: soon}\n", "not a duration such as 30s", 2},
		{"window too short", "gates:\n  - {name: w, metric: errors, expr: rate<0.01, window: 10ms}\n", "want 1s to 24h0m0s", 2},
		{"divergence window", "gates:\n  - {name: w, divergence: flip_rate, expr: rate<0.01, window: 30s}\n", "whole shadow run", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseGates("g.yaml", []byte(tc.src))
			var ge *GateError
			if !errors.As(err, &ge) || !errors.Is(err, ErrGates) {
				t.Fatalf("err = %v, want a *GateError", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "g.yaml") {
				t.Errorf("err = %q, want it to start with the file and contain %q", err, tc.want)
			}
			if tc.line > 0 && ge.Line != tc.line {
				t.Errorf("line = %d, want %d (%v)", ge.Line, tc.line, err)
			}
		})
	}
}

func FuzzParseGates(f *testing.F) {
	f.Add([]byte(goodGates))
	f.Add([]byte("gates:\n  - name: g\n    goodput: {ttft: 300ms, tpot: 50ms}\n    expr: rate>=0.95\n"))
	f.Add([]byte("gates:\n  - name: d\n    divergence: flip_rate\n    segment: input_tokens=1-128\n    expr: rate<0.1\n"))
	f.Add([]byte("gates:\n  -\n  - name: x\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		g, err := ParseGates("f.yaml", src)
		if err != nil {
			if !errors.Is(err, ErrGates) {
				t.Fatalf("error %v does not wrap ErrGates", err)
			}
			return
		}
		for _, gt := range g.Gates {
			if gt.Kind() == "" {
				t.Fatalf("gate %q compiled without a kind", gt.Name)
			}
		}
	})
}

// synthRun records n requests of one scenario whose latency is
// base × (1 + Exp(1)) and of which every failEvery-th fails, through a real
// Recorder and interval log, and loads it back as a stored run would be.
func synthRun(t *testing.T, id string, n int, base time.Duration, failEvery int, seed uint64) *RunData {
	t.Helper()
	var log bytes.Buffer
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r, err := NewRecorder(Config{Start: start, IntervalLog: &log})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range n {
		at := start.Add(time.Duration(i) * time.Millisecond)
		lat := time.Duration(float64(base) * (1 + rng.ExpFloat64()))
		res := &gonogo.Result{
			Request: &gonogo.Request{Scenario: "main", Intended: at},
			Sent:    at, Done: at.Add(lat), Status: 200,
		}
		if failEvery > 0 && i%failEvery == 0 {
			res.Status, res.Class = 500, gonogo.ErrorClass("http_5xx")
		}
		r.Record(res)
		if i%1000 == 999 {
			if err := r.Flush(at); err != nil {
				t.Fatal(err)
			}
		}
	}
	end := start.Add(time.Duration(n)*time.Millisecond + time.Second)
	if err := r.Close(end); err != nil {
		t.Fatal(err)
	}
	s := r.Summary(end)
	ivs, hists, err := LoadIntervals(&log, true)
	if err != nil {
		t.Fatal(err)
	}
	d := &RunData{ID: id, Summary: s, Intervals: ivs, Hists: hists}
	d.Summary.AttachHistograms(d.Hists)
	return d
}

func mustGates(t *testing.T, src string) *Gates {
	t.Helper()
	g, err := ParseGates("gates.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func gate(v *Verdict, name string) GateResult {
	for _, g := range v.Gates {
		if g.Name == name {
			return g
		}
	}
	return GateResult{}
}

func TestJudge(t *testing.T) {
	g := mustGates(t, goodGates)
	base := synthRun(t, "base", 4000, 10*time.Millisecond, 100, 1)
	for _, tc := range []struct {
		name      string
		cand      *RunData
		want      Decision
		failed    []string
		wantScore float64
	}{
		{"same version", synthRun(t, "same", 4000, 10*time.Millisecond, 100, 2), Go, nil, 100},
		{"three times slower", synthRun(t, "slow", 4000, 30*time.Millisecond, 100, 3), Inconclusive, []string{"latency vs baseline"}, 80},
		{"critical p99 beyond 500 ms", synthRun(t, "awful", 4000, 200*time.Millisecond, 100, 4), NoGo, []string{"p99 latency", "latency vs baseline"}, 60},
		{"error burst 5 %", synthRun(t, "errors", 4000, 10*time.Millisecond, 20, 5), NoGo, []string{"errors", "errors vs baseline"}, 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Judge(g, tc.cand, base)
			if err != nil {
				t.Fatal(err)
			}
			if v.Verdict != tc.want || v.Score != tc.wantScore {
				t.Errorf("verdict %s score %v, want %s %v; reasons %q", v.Verdict, v.Score, tc.want, tc.wantScore, v.Reasons)
			}
			var failed []string
			for _, r := range v.Gates {
				if r.Status == GateFail {
					failed = append(failed, r.Name)
				}
				if r.Pass != (r.Status == GatePass) {
					t.Errorf("gate %s: pass %v with status %s", r.Name, r.Pass, r.Status)
				}
			}
			if strings.Join(failed, ",") != strings.Join(tc.failed, ",") {
				t.Errorf("failed gates %q, want %q", failed, tc.failed)
			}
		})
	}
}

func TestJudgeRelativeReason(t *testing.T) {
	g := mustGates(t, `gates:
  - {name: p99, metric: latency, compare: baseline, allowed: 10%, critical: true}
  - {name: median, metric: latency, compare: baseline, stat: med, allowed: 10%}
`)
	v, err := Judge(g, synthRun(t, "c", 3000, 20*time.Millisecond, 0, 7), synthRun(t, "b", 3000, 10*time.Millisecond, 0, 8))
	if err != nil {
		t.Fatal(err)
	}
	p99, med := gate(v, "p99"), gate(v, "median")
	if v.Verdict != NoGo || p99.Status != GateFail || med.Status != GateFail {
		t.Fatalf("verdict %s, p99 %s, median %s: %q", v.Verdict, p99.Status, med.Status, v.Reasons)
	}
	// p99 of base × (1 + Exp(1)) is base × (1 + ln 100) ≈ 5.6 × base: 56 → 112 ms, +100 %.
	if p99.ChangePct == nil || *p99.ChangePct < 80 || *p99.ChangePct > 120 {
		t.Errorf("change %v %%, want about +100 %%", p99.ChangePct)
	}
	for _, want := range []string{"p(99) latency rose", "allowed 10%", "of requests above the baseline's p(99) (baseline 1 %)", "two-proportion p < 0.001"} {
		if !strings.Contains(p99.Reason, want) {
			t.Errorf("p99 reason %q lacks %q", p99.Reason, want)
		}
	}
	if med.EffectSize == nil || *med.EffectSize < 0.2 || !strings.Contains(med.Reason, "Mann–Whitney p < 0.001, Cliff's δ +0.") {
		t.Errorf("median gate %+v", med)
	}
	if !strings.Contains(v.Reasons[0], `critical gate failed: "p99"`) {
		t.Errorf("reasons %q", v.Reasons)
	}
}

// TestJudgeTailRegression: 3 % of requests ten times slower moves p99 a
// lot and the median not at all. The p99 gate must fail (a whole-
// distribution test would not see it); the median gate must pass.
func TestJudgeTailRegression(t *testing.T) {
	base := synthRun(t, "b", 20000, 10*time.Millisecond, 0, 21)
	cand := synthRun(t, "c", 20000, 10*time.Millisecond, 0, 22)
	slow := synthRun(t, "slow", 600, 100*time.Millisecond, 0, 23) // 3 % of 20000
	for k, h := range slow.Hists {
		cand.Hists[k].Merge(h)
	}
	g := mustGates(t, `gates:
  - {name: p99, metric: latency, compare: baseline, allowed: 10%}
  - {name: median, metric: latency, compare: baseline, stat: med, allowed: 10%}
`)
	v, err := Judge(g, cand, base)
	if err != nil {
		t.Fatal(err)
	}
	if p99, med := gate(v, "p99"), gate(v, "median"); p99.Status != GateFail || med.Status != GatePass {
		t.Errorf("p99 %s (%s), median %s (%s); want fail and pass", p99.Status, p99.Reason, med.Status, med.Reason)
	}
}

func TestJudgeTooLittleData(t *testing.T) {
	g := mustGates(t, goodGates)
	v, err := Judge(g, synthRun(t, "short", 30, 10*time.Millisecond, 0, 9), synthRun(t, "b", 4000, 10*time.Millisecond, 0, 10))
	if err != nil {
		t.Fatal(err)
	}
	if v.Verdict != Inconclusive {
		t.Fatalf("verdict %s, want inconclusive: %q", v.Verdict, v.Reasons)
	}
	for _, r := range v.Gates {
		if r.Status != GateInconclusive || r.Pass {
			t.Errorf("gate %s: %s, want inconclusive", r.Name, r.Status)
		}
	}
}

func TestJudgeInputErrors(t *testing.T) {
	run := synthRun(t, "r", 500, 10*time.Millisecond, 0, 11)
	for _, tc := range []struct{ name, gates, want string }{
		{"no baseline", "gates:\n  - {name: r, metric: latency, compare: baseline, allowed: 5%}\n", "needs a baseline"},
		{"unknown scenario", "gates:\n  - {name: s, metric: 'latency{scenario:other}', expr: p(99)<5}\n", `no scenario "other" (it has main)`},
		{"no divergence", "gates:\n  - {name: d, divergence: flip_rate, expr: rate<0.1}\n", "needs a shadow run"},
		{"no samples", "gates:\n  - {name: g, goodput: {latency: 1s, latency_service: 2s}, expr: rate>0.9}\n", "--samples"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Judge(mustGates(t, tc.gates), run, nil)
			var ge *GateError
			if !errors.As(err, &ge) || !strings.Contains(err.Error(), tc.want) || ge.Line != 2 {
				t.Errorf("err = %v, want a GateError at line 2 containing %q", err, tc.want)
			}
		})
	}
}

func TestJudgeGoodputAndDivergence(t *testing.T) {
	run := synthRun(t, "r", 1000, 10*time.Millisecond, 0, 12)
	run.Goodput = func(group string, slo SLO) (int64, int64, error) {
		if group != ScenarioGroup("main") || slo.Key != "latency<=300ms" {
			t.Errorf("goodput asked for %q %v", group, slo.Key)
		}
		return 930, 1000, nil
	}
	run.Divergence = &divergence.Report{Candidates: []divergence.CandidateReport{{
		Target:   "v2",
		Raw:      divergence.ComparisonReport{Compared: 1000},
		Headline: []divergence.Headline{{Metric: "flip_rate", Raw: 0.06, Noise: 0.01, Corrected: 0.05}, {Metric: "text_mismatch_rate", Raw: 0.05, Corrected: 0.05}},
		Segments: []divergence.SegmentReport{{Key: "input_tokens", Value: "1-128", Compared: 400, DivergedRate: 0.2, Corrected: 0.15}},
	}}}
	g := mustGates(t, `scenario: main
gates:
  - {name: goodput, goodput: {latency: 300ms}, expr: rate>=0.95, critical: true}
  - {name: flips, divergence: flip_rate, expr: rate<0.055}
  - {name: flips raw, divergence: flip_rate, raw: true, expr: rate<0.055}
  - {name: exact, divergence: exact_match_rate, expr: rate>0.9}
  - {name: short prompts, divergence: divergence_rate, segment: input_tokens=1-128, expr: rate<0.1}
`)
	v, err := Judge(g, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]GateStatus{"goodput": GateFail, "flips": GatePass, "flips raw": GateFail, "exact": GatePass, "short prompts": GateFail}
	for name, st := range want {
		if r := gate(v, name); r.Status != st {
			t.Errorf("gate %s: %s (%s), want %s", name, r.Status, r.Reason, st)
		}
	}
	if r := gate(v, "goodput"); r.Observed != 0.93 {
		t.Errorf("goodput observed %v, want 0.93", r.Observed)
	}
	if v.Verdict != NoGo {
		t.Errorf("verdict %s, want no-go (critical goodput failed)", v.Verdict)
	}
}

// TestWriteCumulative checks that histograms.hlog holds exactly the merge
// of every interval histogram.
func TestWriteCumulative(t *testing.T) {
	var log, cum bytes.Buffer
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r, err := NewRecorder(Config{Start: start, IntervalLog: &log})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range 5000 {
		at := start.Add(time.Duration(i) * time.Millisecond)
		scen := []string{"a", "b"}[i%2]
		r.Record(&gonogo.Result{Request: &gonogo.Request{Scenario: scen, Intended: at}, Sent: at,
			Done: at.Add(time.Duration(rng.IntN(1e6)) * time.Microsecond), Status: 200})
		if i%700 == 699 {
			_ = r.Flush(at)
		}
	}
	if err := r.Close(start.Add(6 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteCumulative(&cum); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCumulative(&cum)
	if err != nil {
		t.Fatal(err)
	}
	_, want, err := LoadIntervals(&log, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) != 9 { // latency, latency_service, scheduling_lag × overall, a, b
		t.Fatalf("%d cumulative histograms, %d merged; want 9", len(got), len(want))
	}
	for k, h := range want {
		if !h.Equals(got[k]) {
			t.Errorf("%s: cumulative differs from the merged intervals", k)
		}
	}
}

func TestDecide(t *testing.T) {
	g := func(st GateStatus, critical bool, w float64) GateResult {
		return GateResult{Name: string(st), Status: st, Critical: critical, Weight: w}
	}
	for _, tc := range []struct {
		name  string
		gates []GateResult
		want  Decision
		score float64
	}{
		{"all pass", []GateResult{g(GatePass, true, 1), g(GatePass, false, 1)}, Go, 100},
		{"critical fail", []GateResult{g(GateFail, true, 1), g(GatePass, false, 9)}, NoGo, 90},
		{"failures alone sink it", []GateResult{g(GateFail, false, 1), g(GateFail, false, 1), g(GateInconclusive, false, 1), g(GatePass, false, 1)}, NoGo, 25},
		{"short of data, not failed", []GateResult{g(GateInconclusive, false, 3), g(GatePass, false, 1)}, Inconclusive, 25},
		{"critical inconclusive", []GateResult{g(GateInconclusive, true, 1), g(GatePass, false, 9)}, Inconclusive, 90},
		{"marginal", []GateResult{g(GateFail, false, 1), g(GatePass, false, 4)}, Inconclusive, 80},
		{"weights zero", []GateResult{g(GatePass, false, 0)}, Inconclusive, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &Verdict{Gates: tc.gates, PassScore: 95, MarginalScore: 75}
			decide(v)
			if v.Verdict != tc.want || v.Score != tc.score || len(v.Reasons) == 0 {
				t.Errorf("verdict %s score %v, want %s %v; reasons %q", v.Verdict, v.Score, tc.want, tc.score, v.Reasons)
			}
		})
	}
}
