package analyze

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// checkedRun records 1000 requests, one per 10 ms over 10 s with a flush
// every second: even ones in scenario a, odd ones in b, every fourth
// tagged k=v. Check "ok" (0) fails on i%4 == 1 (250 times, all in b),
// "json" (1) is judged in scenario a only and fails on i%10 == 0 (100
// times), "never" (2) is never judged. Every tenth request failed as a
// request (HTTP 500), whatever its checks said.
func checkedRun(t *testing.T) (*Recorder, *bytes.Buffer, time.Time) {
	t.Helper()
	var tl bytes.Buffer
	r := newRec(t, Config{Checks: []string{"ok", "json", "never"}, Timeline: &tl})
	for i := range 1000 {
		at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		scen := "a"
		if i%2 == 1 {
			scen = "b"
		}
		res := result(scen, at, 0, 5*time.Millisecond)
		if i%4 == 0 {
			res.Request.Tags = map[string]string{"k": "v"}
		}
		if i%10 == 3 {
			res.Class, res.Status = gonogo.ErrHTTP5xx, 500
		}
		checked, failed := uint64(0b001), uint64(0)
		if scen == "a" {
			checked |= 0b010
		}
		if i%4 == 1 {
			failed |= 0b001
		}
		if i%10 == 0 {
			failed |= 0b010 | 0b100 // "never" failing but not judged: not counted
		}
		r.RecordChecked(res, checked|0b1000, failed) // bit 3 names no check: ignored
		if i%100 == 99 {
			if err := r.Flush(at.Add(5 * time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
	}
	end := t0.Add(10 * time.Second)
	if err := r.Close(end); err != nil {
		t.Fatal(err)
	}
	return r, &tl, end
}

func TestRecorderCountsChecks(t *testing.T) {
	r, tl, end := checkedRun(t)
	s := r.Summary(end)
	want := map[string]map[string]CheckCounts{
		"overall": {"ok": {750, 250}, "json": {400, 100}, "never": {}},
		"a":       {"ok": {500, 0}, "json": {400, 100}},
		"b":       {"ok": {250, 250}},
		"tag k=v": {"ok": {250, 0}, "json": {200, 50}},
	}
	got := map[string]map[string]CheckCounts{
		"overall": s.Overall.Checks, "a": s.Scenarios["a"].Checks, "b": s.Scenarios["b"].Checks, "tag k=v": s.Tags["k=v"].Checks,
	}
	for g, w := range want {
		if len(got[g]) != len(w) {
			t.Errorf("%s: checks %v, want %v", g, got[g], w)
			continue
		}
		for name, c := range w {
			if got[g][name] != c {
				t.Errorf("%s: check %s = %+v, want %+v", g, name, got[g][name], c)
			}
		}
	}
	// A failed check is not a failed request, nor the other way round.
	if rq := s.Overall.Requests; rq.FailedTotal() != 100 || rq.OK != 900 {
		t.Errorf("requests %+v: want 100 failed and 900 ok, checks aside", rq)
	}
	// The timeline's intervals add up to the summary.
	points, err := ReadTimeline(tl)
	if err != nil {
		t.Fatal(err)
	}
	var sum Counts
	for _, p := range points {
		sum.Add(&p.Counts)
		if _, ok := p.Checks["never"]; ok {
			t.Errorf("interval %g–%g counts a check it never judged", p.StartS, p.EndS)
		}
	}
	if sum.Checks["ok"] != (CheckCounts{750, 250}) || sum.Checks["json"] != (CheckCounts{400, 100}) {
		t.Errorf("timeline sums %v, want the summary's", sum.Checks)
	}
	// So do the live windows and the run so far.
	var last Counts
	for _, sl := range r.Slices(5 * time.Second) {
		last.Add(&sl.Groups[Overall].Counts)
	}
	w := r.Window(5 * time.Second).Summary.Overall.Checks
	if n := last.Requests; n < 300 || w["ok"] != (CheckCounts{3 * n / 4, n / 4}) || w["json"] != last.Checks["json"] {
		t.Errorf("last 5 s window: %v, want ok 3:1 over its %d requests and the slices' json %v", w, n, last.Checks["json"])
	}
	if so := r.SoFar(end).Summary.Overall.Checks; so["never"] != (CheckCounts{}) || so["ok"] != (CheckCounts{750, 250}) {
		t.Errorf("so far: %v", so)
	}
}

func TestRecorderChecksBound(t *testing.T) {
	names := make([]string, MaxChecks+1)
	if _, err := NewRecorder(Config{Checks: names}); err == nil {
		t.Fatal("more than MaxChecks checks accepted")
	}
}

func TestParseSelectorChecks(t *testing.T) {
	for _, tc := range []struct {
		raw                  string
		check, scenario, tag string
		err                  string
	}{
		{raw: "checks"},
		{raw: "checks{check:has-choices}", check: "has-choices"},
		{raw: "checks_failed{check: ok }", check: "ok"},
		{raw: "checks{scenario:chat,check:ok}", check: "ok", scenario: "chat"},
		{raw: "checks{check:ok,model:llama}", check: "ok", tag: "model=llama"},
		{raw: "checks{scenario:chat}", scenario: "chat"},
		{raw: "latency{check:x}", tag: "check=x"}, // a tag like any other
		{raw: "checks{check:a,check:b}", err: "one check"},
		{raw: "checks{scenario:a,model:b}", err: "one group filter"},
		{raw: "checks{check:a,scenario:b,x:y}", err: "only one"},
		{raw: "latency{scenario:a,check:x}", err: "only one"},
		{raw: "checks{check:}", err: "{key:value}"},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			sel, err := ParseSelector(tc.raw)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tag := ""
			if sel.TagKey != "" {
				tag = sel.TagKey + "=" + sel.TagValue
			}
			if sel.Check != tc.check || sel.Scenario != tc.scenario || tag != tc.tag {
				t.Fatalf("got check %q scenario %q tag %q", sel.Check, sel.Scenario, tag)
			}
		})
	}
}

func TestThresholdsOnChecks(t *testing.T) {
	r, _, end := checkedRun(t)
	res, err := Evaluate(Thresholds{
		"checks":                        {{Threshold: "rate>0.76"}, {Threshold: "count==1150"}},
		"checks{check:ok}":              {{Threshold: "rate==0.75"}},
		"checks_failed{check:json}":     {{Threshold: "rate<0.2"}, {Threshold: "count<100"}},
		"checks{scenario:b,check:json}": {{Threshold: "rate>0"}},
		"checks{check:never}":           {{Threshold: "rate>0"}, {Threshold: "count==0"}},
		"checks_failed{k:v,check:json}": {{Threshold: "count==50"}},
	}, r.Summary(end))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		pass, noData bool
		obs          float64
	}{
		"checks rate>0.76":                        {true, false, 1150.0 / 1500},
		"checks count==1150":                      {true, false, 1150},
		"checks{check:ok} rate==0.75":             {true, false, 0.75},
		"checks_failed{check:json} rate<0.2":      {false, false, 0.2},
		"checks_failed{check:json} count<100":     {false, false, 100},
		"checks{scenario:b,check:json} rate>0":    {false, true, 0}, // b never judged json
		"checks{check:never} rate>0":              {false, true, 0},
		"checks{check:never} count==0":            {true, false, 0},
		"checks_failed{k:v,check:json} count==50": {true, false, 50},
	}
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d", len(res), len(want))
	}
	for _, tr := range res {
		w, ok := want[tr.Metric+" "+tr.Expr]
		if !ok {
			t.Errorf("unexpected result %s %s", tr.Metric, tr.Expr)
			continue
		}
		if tr.Pass != w.pass || tr.NoData != w.noData || !near(tr.Observed, w.obs, 1e-9) {
			t.Errorf("%s %s: pass %v noData %v observed %v, want %v %v %v", tr.Metric, tr.Expr, tr.Pass, tr.NoData, tr.Observed, w.pass, w.noData, w.obs)
		}
	}
	// Live, an abortOnFail threshold on a check reads the running counts.
	ac, err := NewAbortChecker(Thresholds{"checks{check:ok}": {{Threshold: "rate>0.8", AbortOnFail: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if failed := ac.Check(r, end); len(failed) != 1 || failed[0].Observed != 0.75 {
		t.Errorf("abortOnFail on checks: %+v, want one failure observing 0.75", failed)
	}
}

func TestJudgeChecks(t *testing.T) {
	r, tl, end := checkedRun(t)
	points, err := ReadTimeline(tl)
	if err != nil {
		t.Fatal(err)
	}
	d := &RunData{ID: "r", Summary: r.Summary(end), Timeline: points}
	d.Slices = func(keep func(group, metric string) bool) ([]*Slice, error) {
		return ReadSlices(points, t0, strings.NewReader(""), keep)
	}
	g := mustGates(t, `minRequests: 10
gates:
  - {name: has json, metric: 'checks{check:json}', expr: rate>=0.8}
  - {name: ok, metric: 'checks{check:ok}', expr: rate>=0.99, critical: true}
  - {name: json per second, metric: 'checks_failed{scenario:a,check:json}', expr: rate<=0.2, window: 1s}
  - {name: all, metric: checks, expr: 'rate>0.75'}
`)
	v, err := Judge(g, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]GateStatus{"has json": GatePass, "ok": GateFail, "json per second": GatePass, "all": GatePass} {
		if got := gate(v, name); got.Status != want {
			t.Errorf("gate %s: %s (%s), want %s", name, got.Status, got.Reason, want)
		}
	}
	if ok := gate(v, "ok"); ok.Metric != "checks{check:ok}" || ok.Observed != 0.75 || !strings.Contains(ok.Reason, `rate checks "ok" is 75`) {
		t.Errorf("gate ok: metric %q observed %v reason %q", ok.Metric, ok.Observed, ok.Reason)
	}
	if v.Verdict != NoGo {
		t.Errorf("verdict %s, want no-go (a critical check gate failed)", v.Verdict)
	}
	for _, tc := range []struct{ gates, want string }{
		{"gates:\n  - {name: x, metric: 'checks{check:nope}', expr: rate>0.9}\n", `no check "nope" (it has json, never, ok)`},
		{"gates:\n  - {name: x, metric: 'checks{check:nope}', expr: rate>0.9, window: 2s}\n", `no check "nope"`},
	} {
		_, err := Judge(mustGates(t, tc.gates), d, nil)
		var ge *GateError
		if !errors.As(err, &ge) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want a GateError with %q", err, tc.want)
		}
	}
	plain := synthRun(t, "plain", 200, time.Millisecond, 0, 1)
	if _, err := Judge(mustGates(t, "gates:\n  - {name: x, metric: checks, expr: rate>0.9}\n"), plain, nil); err == nil || !strings.Contains(err.Error(), "has no checks") {
		t.Errorf("a run without checks: %v", err)
	}
	if _, err := ParseGates("g.yaml", []byte("gates:\n  - {name: x, metric: checks, compare: baseline, allowed: 5%}\n")); err == nil || !strings.Contains(err.Error(), "cannot be compared") {
		t.Errorf("relative gate on checks: %v", err)
	}
}
