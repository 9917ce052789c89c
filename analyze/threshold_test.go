package analyze

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/gonogo-dev/gonogo"
)

func TestParseThreshold(t *testing.T) {
	for _, c := range []struct {
		expr string
		want Threshold
		err  string
	}{
		{expr: "p(99)<500", want: Threshold{Agg: AggPercentile, QuantilePct: 99, Op: "<", Value: 500}},
		{expr: "p(99.9)<=1000", want: Threshold{Agg: AggPercentile, QuantilePct: 99.9, Op: "<=", Value: 1000}},
		{expr: " avg < 200 ", want: Threshold{Agg: AggAvg, Op: "<", Value: 200}},
		{expr: "min>1", want: Threshold{Agg: AggMin, Op: ">", Value: 1}},
		{expr: "max<2.5", want: Threshold{Agg: AggMax, Op: "<", Value: 2.5}},
		{expr: "med<100", want: Threshold{Agg: AggMed, Op: "<", Value: 100}},
		{expr: "rate<0.01", want: Threshold{Agg: AggRate, Op: "<", Value: 0.01}},
		{expr: "count>100", want: Threshold{Agg: AggCount, Op: ">", Value: 100}},
		{expr: "count>=100", want: Threshold{Agg: AggCount, Op: ">=", Value: 100}},
		{expr: "count==0", want: Threshold{Agg: AggCount, Op: "==", Value: 0}},
		{expr: "count!=0", want: Threshold{Agg: AggCount, Op: "!=", Value: 0}},
		{expr: "value>50", want: Threshold{Agg: AggValue, Op: ">", Value: 50}},
		{expr: "", err: "missing aggregation"},
		{expr: "p99<500", err: "p needs a percentile"},
		{expr: "p(99<500", err: "missing )"},
		{expr: "p(101)<500", err: "0 to 100"},
		{expr: "p(x)<500", err: "0 to 100"},
		{expr: "avg", err: "missing operator"},
		{expr: "avg=<3", err: "missing operator"},
		{expr: "avg<", err: "not a number"},
		{expr: "avg<5ms", err: "not a number"},
		{expr: "avg<NaN", err: "not a number"},
		{expr: "mean<3", err: "unknown aggregation"},
	} {
		t.Run(c.expr, func(t *testing.T) {
			got, err := ParseThreshold(c.expr)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, ErrThreshold) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				if !strings.Contains(err.Error(), c.expr) {
					t.Errorf("error %q does not name the expression", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.want.Expr = c.expr
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestParseSelector(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Selector
		err  bool
	}{
		{in: "latency", want: Selector{Metric: "latency"}},
		{in: "http_req_duration", want: Selector{Metric: "latency"}},
		{in: "http_req_failed", want: Selector{Metric: "errors"}},
		{in: "http_reqs", want: Selector{Metric: "requests"}},
		{in: "iterations", want: Selector{Metric: "requests"}},
		{in: "dropped_iterations", want: Selector{Metric: "dropped"}},
		{in: "latency{scenario:warmup}", want: Selector{Metric: "latency", Scenario: "warmup"}},
		{in: "ttft{model: llama}", want: Selector{Metric: "ttft", TagKey: "model", TagValue: "llama"}},
		{in: "latancy", err: true},
		{in: "latency{scenario:warmup", err: true},
		{in: "latency{a:b,c:d}", err: true},
		{in: "latency{a}", err: true},
	} {
		got, err := ParseSelector(c.in)
		if c.err {
			if err == nil {
				t.Errorf("%q: no error", c.in)
			}
			continue
		}
		c.want.Raw = c.in
		if err != nil || got != c.want {
			t.Errorf("%q: got %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func TestThresholdSpecUnmarshal(t *testing.T) {
	const y = `
thresholds:
  latency:
    - p(99)<500
    - threshold: p(99.9)<1000
      abortOnFail: true
      delayAbortEval: 10s
  http_req_failed: ["rate<0.01"]
`
	var doc struct {
		Thresholds Thresholds `yaml:"thresholds" json:"thresholds"`
	}
	if err := yaml.Unmarshal([]byte(y), &doc); err != nil {
		t.Fatal(err)
	}
	want := Thresholds{
		"latency": {
			{Threshold: "p(99)<500"},
			{Threshold: "p(99.9)<1000", AbortOnFail: true, DelayAbortEval: 10 * time.Second},
		},
		"http_req_failed": {{Threshold: "rate<0.01"}},
	}
	check := func(what string, got Thresholds) {
		t.Helper()
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Errorf("%s: got %s, want %s", what, gj, wj)
		}
	}
	check("yaml", doc.Thresholds)
	// JSON round trip.
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"p(99)\u003c500"`) || !strings.Contains(string(js), `"delayAbortEval":"10s"`) {
		t.Errorf("json = %s", js)
	}
	doc.Thresholds = nil
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	check("json", doc.Thresholds)
	// YAML round trip.
	out, err := yaml.Marshal(Thresholds{"latency": want["latency"]})
	if err != nil {
		t.Fatal(err)
	}
	var back Thresholds
	if err := yaml.Unmarshal(out, &back); err != nil || len(back["latency"]) != 2 || back["latency"][1] != want["latency"][1] {
		t.Errorf("yaml round trip: %v %+v\n%s", err, back, out)
	}

	for name, bad := range map[string]string{
		"unknown field": "latency:\n  - threshold: p(99)<5\n    abortOnFial: true\n",
		"bad delay":     "latency:\n  - threshold: p(99)<5\n    delayAbortEval: soon\n",
		"no threshold":  "latency:\n  - abortOnFail: true\n",
		"number":        "latency:\n  - 5\n",
	} {
		var th Thresholds
		if err := yaml.Unmarshal([]byte(bad), &th); err == nil {
			t.Errorf("yaml %s: no error", name)
		}
	}
	var th Thresholds
	if err := json.Unmarshal([]byte(`{"latency":[{"threshold":"p(99)<5","abort":true}]}`), &th); err == nil || !strings.Contains(err.Error(), "abort") {
		t.Errorf("json unknown field: %v", err)
	}
}

// summaryFixture: 1000 requests over 10 s, latency 1..100 ms, 20 failed,
// 10 dropped, in scenarios "main" and "warmup" (latency 500 ms).
func summaryFixture(t *testing.T) (*Recorder, *Summary) {
	r := newRec(t, Config{})
	for i := range 1000 {
		res := result("main", t0.Add(time.Duration(i)*10*time.Millisecond), 0, time.Duration(i%100+1)*time.Millisecond)
		res.Request.Tags = map[string]string{"model": "m1"}
		if i < 20 {
			res.Class = gonogo.ErrTimeout
		}
		r.Record(res)
	}
	for range 10 {
		r.Drop(&gonogo.Request{Scenario: "main"})
	}
	r.Record(result("warmup", t0, 0, 500*time.Millisecond))
	return r, r.Summary(t0.Add(10 * time.Second))
}

func TestEvaluate(t *testing.T) {
	_, s := summaryFixture(t)
	ts := Thresholds{
		"latency":                     {{Threshold: "p(99)<101"}, {Threshold: "p(97)<99"}, {Threshold: "avg<50"}},
		"http_req_duration{model:m1}": {{Threshold: "max<=100.1"}},
		"latency{scenario:warmup}":    {{Threshold: "med<400", AbortOnFail: true}},
		"errors":                      {{Threshold: "rate<0.01"}, {Threshold: "count==20"}},
		"requests":                    {{Threshold: "count>1000"}, {Threshold: "rate>=100"}},
		"dropped":                     {{Threshold: "rate<0.01"}, {Threshold: "count<=10"}},
		"ttft":                        {{Threshold: "p(99)<100"}},
		"latency{scenario:none}":      {{Threshold: "p(99)<100"}},
	}
	got, err := Evaluate(ts, s)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		pass   bool
		noData bool
	}
	wants := map[string]want{
		"dropped rate<0.01":                      {pass: true}, // 10/1011
		"dropped count<=10":                      {pass: true},
		"errors rate<0.01":                       {pass: false}, // 20/1001
		"errors count==20":                       {pass: true},
		"http_req_duration{model:m1} max<=100.1": {pass: true},
		"latency p(99)<101":                      {pass: true}, // rank 991 of 1001 is 100 ms
		"latency p(97)<99":                       {pass: true},
		"latency avg<50":                         {pass: false},
		"latency{scenario:none} p(99)<100":       {pass: false, noData: true},
		"latency{scenario:warmup} med<400":       {pass: false},
		"requests count>1000":                    {pass: true},
		"requests rate>=100":                     {pass: true},
		"ttft p(99)<100":                         {pass: false, noData: true},
	}
	if len(got) != len(wants) {
		t.Fatalf("got %d results, want %d: %+v", len(got), len(wants), got)
	}
	for _, g := range got {
		w, ok := wants[g.Metric+" "+g.Expr]
		if !ok {
			t.Errorf("unexpected result %+v", g)
			continue
		}
		if g.Pass != w.pass || g.NoData != w.noData {
			t.Errorf("%s %s: pass=%v noData=%v observed=%v, want pass=%v noData=%v", g.Metric, g.Expr, g.Pass, g.NoData, g.Observed, w.pass, w.noData)
		}
	}
	// Sorted by selector, specs in order.
	if got[0].Metric != "dropped" || got[len(got)-1].Metric != "ttft" {
		t.Errorf("order: first %s, last %s", got[0].Metric, got[len(got)-1].Metric)
	}
	if Passed(got) {
		t.Error("Passed = true")
	}

	// A summary read back from JSON holds only the stored percentiles.
	js, _ := json.Marshal(s)
	var back Summary
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if res, err := Evaluate(Thresholds{"latency": {{Threshold: "p(99)<101"}}}, &back); err != nil || !res[0].Pass {
		t.Errorf("stored p(99): %+v %v", res, err)
	}
	if _, err := Evaluate(Thresholds{"latency": {{Threshold: "p(97)<100"}}}, &back); err == nil || !strings.Contains(err.Error(), "p(97)") {
		t.Errorf("stored p(97): %v", err)
	}
}

func TestEvaluateErrors(t *testing.T) {
	_, s := summaryFixture(t)
	for _, c := range []struct {
		ts   Thresholds
		want []string
	}{
		{Thresholds{"latancy": {{Threshold: "p(99)<5"}}}, []string{"thresholds.latancy", `unknown metric "latancy"`}},
		{Thresholds{"latency": {{Threshold: "p(99)<5"}, {Threshold: "p(99)<<5"}}}, []string{"thresholds.latency[1]", "p(99)<<5"}},
		{Thresholds{"latency": {{Threshold: "rate<0.1"}}}, []string{"thresholds.latency[0]", "rate is not defined for latency"}},
		{Thresholds{"errors": {{Threshold: "p(99)<0.1"}}}, []string{"p(N) is not defined for errors"}},
		{Thresholds{"tokens_per_sec": {{Threshold: "avg>0.1"}}}, []string{"want value"}},
	} {
		_, err := Evaluate(c.ts, s)
		if err == nil {
			t.Errorf("%v: no error", c.ts)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
		if c.ts.Validate() == nil {
			t.Errorf("%v: Validate passes", c.ts)
		}
	}
}

func TestAbortChecker(t *testing.T) {
	ts := Thresholds{
		"errors":  {{Threshold: "rate<0.1", AbortOnFail: true, DelayAbortEval: 5 * time.Second}},
		"latency": {{Threshold: "p(99)<50", AbortOnFail: true}, {Threshold: "p(50)<1"}},
		"ttft":    {{Threshold: "p(99)<50", AbortOnFail: true}},
	}
	a, err := NewAbortChecker(ts)
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 3 {
		t.Fatalf("Len = %d, want 3", a.Len())
	}
	r := newRec(t, Config{})
	if f := a.Check(r, t0.Add(time.Second)); len(f) != 0 {
		t.Errorf("no data yet, failed: %+v", f)
	}
	for i := range 100 {
		res := result("s", t0, 0, 10*time.Millisecond)
		if i < 50 {
			res.Class = gonogo.ErrHTTP5xx
		}
		r.Record(res)
	}
	if f := a.Check(r, t0.Add(time.Second)); len(f) != 0 {
		t.Errorf("errors before delay / fast latency, failed: %+v", f)
	}
	f := a.Check(r, t0.Add(6*time.Second))
	if len(f) != 1 || f[0].Metric != "errors" || f[0].Observed != 0.5 || !f[0].AbortOnFail {
		t.Errorf("after delay: %+v", f)
	}
	r.Record(result("s", t0, 0, time.Second))
	r.Record(result("s", t0, 0, time.Second))
	f = a.Check(r, t0.Add(time.Second))
	if len(f) != 1 || f[0].Metric != "latency" || f[0].Observed < 999 {
		t.Errorf("slow latency: %+v", f)
	}
}

func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{"p(99)<500", "p(99.9)<=1000", "avg<200", "rate<0.01", "count>100", "max != 3", "p(", "p()<", "value>=1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThreshold(s)
		if err != nil {
			if !errors.Is(err, ErrThreshold) {
				t.Fatalf("error does not wrap ErrThreshold: %v", err)
			}
			return
		}
		if th.Expr != s || th.Op == "" || th.Agg == "" {
			t.Fatalf("incomplete threshold %+v", th)
		}
		// The canonical form parses to the same threshold.
		canon := string(th.Agg)
		if th.Agg == AggPercentile {
			canon += "(" + formatFloat(th.QuantilePct) + ")"
		}
		canon += th.Op + formatFloat(th.Value)
		th2, err := ParseThreshold(canon)
		if err != nil {
			t.Fatalf("canonical %q of %q: %v", canon, s, err)
		}
		th2.Expr = th.Expr
		if th2 != th {
			t.Fatalf("%q → %+v, canonical %q → %+v", s, th, canon, th2)
		}
		_ = th.Holds(1)
	})
}
