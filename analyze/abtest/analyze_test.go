package abtest

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// summaryOf is the Summary of n users whose values have exactly this
// mean and sample standard deviation.
func summaryOf(n int64, mean, sd float64) Summary {
	f := float64(n)
	return Summary{Users: n, Sum: f * mean, SumSq: (f-1)*sd*sd + f*mean*mean}
}

func conv(n int64, rate float64) Summary {
	x := math.Round(float64(n) * rate)
	return Summary{Users: n, Sum: x, SumSq: x}
}

func twoArms(users int64) []Variant {
	return []Variant{{Name: "stable", Weight: 50, Users: users}, {Name: "v2", Weight: 50, Users: users}}
}

func TestAnalyzeDecisions(t *testing.T) {
	const n = 40000
	better := Metric{Name: "purchase", Kind: Binomial, Summaries: []Summary{conv(n, 0.05), conv(n, 0.056)}}
	flat := Metric{Name: "purchase", Kind: Binomial, Summaries: []Summary{conv(n, 0.05), conv(n, 0.0501)}}
	worse := Metric{Name: "purchase", Kind: Binomial, Summaries: []Summary{conv(n, 0.05), conv(n, 0.044)}}
	latencyOK := Metric{Name: "latency", Kind: Continuous, Role: Guardrail, LowerIsBetter: true, Margin: 0.02,
		Summaries: []Summary{summaryOf(n, 100, 20), summaryOf(n, 100.2, 20)}}
	latencyBad := Metric{Name: "latency", Kind: Continuous, Role: Guardrail, LowerIsBetter: true, Margin: 0.02,
		Summaries: []Summary{summaryOf(n, 100, 20), summaryOf(n, 104, 20)}}
	latencyOpen := Metric{Name: "latency", Kind: Continuous, Role: Guardrail, LowerIsBetter: true, Margin: 0.02,
		Summaries: []Summary{summaryOf(n, 100, 200), summaryOf(n, 101, 200)}}
	equalGoal := flat
	equalGoal.Margin = 0.05
	for _, c := range []struct {
		name     string
		variants []Variant
		metrics  []Metric
		want     Verdict
		statuses []Status
		reason   string
	}{
		{"better and guardrail holds", twoArms(n), []Metric{better, latencyOK}, Ship,
			[]Status{StatusBetter, StatusNonInferior}, "purchase is better"},
		{"goal worse", twoArms(n), []Metric{worse, latencyOK}, Worse,
			[]Status{StatusWorse, StatusNonInferior}, "purchase is worse"},
		{"guardrail beyond its margin", twoArms(n), []Metric{better, latencyBad}, Worse,
			[]Status{StatusBetter, StatusWorse}, "guardrail latency (lower is better) is worse beyond its 2 % margin: lift +4 %, at least +3.7"},
		{"flat goal", twoArms(n), []Metric{flat, latencyOK}, NotYetDecided,
			[]Status{StatusInconclusive, StatusNonInferior}, "purchase is not yet decided"},
		{"guardrail not yet shown", twoArms(n), []Metric{better, latencyOpen}, NotYetDecided,
			[]Status{StatusBetter, StatusInconclusive}, "not yet shown within its 2 % margin"},
		{"equal within the goal's margin", twoArms(n), []Metric{equalGoal, latencyOK}, Ship,
			[]Status{StatusNonInferior, StatusNonInferior}, "purchase is equal or better within its 5 % margin: lift +0.2 %, not below -4.8"},
		{"sample ratio mismatch", []Variant{{Name: "stable", Weight: 50, Users: 10400}, {Name: "v2", Weight: 50, Users: 9600}},
			[]Metric{better, latencyOK}, Invalid, []Status{StatusBetter, StatusNonInferior}, "Sample ratio mismatch: users stable=10400 v2=9600"},
		{"too little data", twoArms(n), []Metric{{Name: "purchase", Kind: Binomial, Summaries: []Summary{conv(100, 0.05), conv(100, 0.05)}}},
			NotYetDecided, []Status{StatusUndefined}, "purchase cannot be judged: too few outcomes"},
		{"no metrics", twoArms(n), nil, NotYetDecided, nil, "no metrics"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Analyze(Experiment{Variants: c.variants, Metrics: c.metrics}, Config{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Decisions) != 1 || rep.Decisions[0].Variant != "v2" || rep.Decisions[0].Verdict != c.want {
				t.Fatalf("decisions %+v, want v2: %s", rep.Decisions, c.want)
			}
			for i, s := range c.statuses {
				if rep.Metrics[i].Status != s {
					t.Errorf("%s: status %s, want %s (%s)", rep.Metrics[i].Metric, rep.Metrics[i].Status, s, rep.Metrics[i].Reason)
				}
			}
			joined := strings.Join(rep.Decisions[0].Reasons, " ")
			if !strings.Contains(joined, c.reason) {
				t.Errorf("reasons %q lack %q", joined, c.reason)
			}
			t.Log(c.want, joined)
			if _, err := json.Marshal(rep); err != nil {
				t.Errorf("report does not marshal: %v", err)
			}
		})
	}
}

// TestAnalyzeCorrection: three variants and two goals make a family of
// four goal tests, Holm-adjusted together; guardrails stay unadjusted.
func TestAnalyzeCorrection(t *testing.T) {
	const n = 20000
	variants := []Variant{{Name: "a", Users: n}, {Name: "b", Users: n}, {Name: "c", Users: n}}
	exp := Experiment{Variants: variants, Metrics: []Metric{
		{Name: "purchase", Kind: Binomial, Summaries: []Summary{conv(n, 0.05), conv(n, 0.055), conv(n, 0.051)}},
		{Name: "revenue", Kind: Continuous, Summaries: []Summary{summaryOf(n, 10, 30), summaryOf(n, 10.5, 30), summaryOf(n, 9.8, 30)}},
		{Name: "errors", Kind: Binomial, Role: Guardrail, LowerIsBetter: true, Margin: 0.1, Summaries: []Summary{conv(n, 0.01), conv(n, 0.01), conv(n, 0.0105)}},
	}}
	for _, corr := range []Correction{Holm, BH, NoCorrection} {
		rep, err := Analyze(exp, Config{Correction: corr})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Metrics) != 6 || len(rep.Decisions) != 2 || rep.Control != "a" {
			t.Fatalf("%d metric results, %d decisions, control %q", len(rep.Metrics), len(rep.Decisions), rep.Control)
		}
		var raw []float64
		var got []float64
		for _, m := range rep.Metrics {
			if m.Role == Goal {
				raw = append(raw, m.Result.Relative.PValue)
				got = append(got, m.AdjustedP)
			} else if m.AdjustedP != m.Result.Relative.PValue {
				t.Errorf("%s guardrail p adjusted: %g from %g", corr, m.AdjustedP, m.Result.Relative.PValue)
			}
		}
		want, _ := Adjust(raw, corr)
		for i := range want {
			near(t, string(corr)+" adjusted p", got[i], want[i], 1e-15)
		}
		// Each decision reads its own variant's metrics only.
		for _, d := range rep.Decisions {
			for _, r := range d.Reasons {
				if strings.Contains(r, "variant") {
					t.Errorf("reason %q", r)
				}
			}
		}
	}
}

func TestAnalyzeCUPEDAndSequential(t *testing.T) {
	// Users whose outcome follows their pre-period value closely.
	var c, tr Summary
	for i := range 4000 {
		x := float64(i%100) / 10
		c.AddWithCovariate(2*x+float64(i%7)/7, x)
		tr.AddWithCovariate(2*x+float64(i%7)/7+0.1, x)
	}
	exp := Experiment{Variants: twoArms(4000), Metrics: []Metric{{Name: "revenue", Kind: Continuous, Summaries: []Summary{c, tr}}}}
	plain, err := Analyze(exp, Config{})
	if err != nil {
		t.Fatal(err)
	}
	cuped, err := Analyze(exp, Config{CUPED: true, Sequential: true})
	if err != nil {
		t.Fatal(err)
	}
	p, q := plain.Metrics[0].Result, cuped.Metrics[0].Result
	if q.CUPED == nil || !(q.CUPED.VarianceReduction > 0.9) || q.Method != MethodSequential || q.DF != 0 {
		t.Fatalf("CUPED %+v method %s df %g", q.CUPED, q.Method, q.DF)
	}
	// The slope is 2; the residual i%7/7 is all but uncorrelated with x.
	near(t, "theta", q.CUPED.Theta, 2, 1e-5)
	if !(q.Absolute.Upper-q.Absolute.Lower < p.Absolute.Upper-p.Absolute.Lower) || cuped.Decisions[0].Verdict != Ship {
		t.Errorf("CUPED+sequential interval %g wide, plain %g; verdict %s", q.Absolute.Upper-q.Absolute.Lower, p.Absolute.Upper-p.Absolute.Lower, cuped.Decisions[0].Verdict)
	}
}

func TestAnalyzeBadInput(t *testing.T) {
	ok := func() Experiment {
		return Experiment{Variants: twoArms(1000), Metrics: []Metric{{Name: "m", Kind: Binomial, Summaries: []Summary{conv(1000, 0.1), conv(1000, 0.1)}}}}
	}
	for _, c := range []struct {
		name  string
		edit  func(*Experiment)
		cfg   Config
		field string
	}{
		{"one variant", func(e *Experiment) { e.Variants = e.Variants[:1] }, Config{}, "variants"},
		{"no name", func(e *Experiment) { e.Variants[1].Name = "" }, Config{}, "variants[1].name"},
		{"same name", func(e *Experiment) { e.Variants[1].Name = "stable" }, Config{}, "variants[1].name"},
		{"negative users", func(e *Experiment) { e.Variants[0].Users = -5 }, Config{}, "variants[0].users"},
		{"NaN weight", func(e *Experiment) { e.Variants[0].Weight = math.NaN() }, Config{}, "variants[0].weight"},
		{"one weight 0", func(e *Experiment) { e.Variants[0].Weight = 0 }, Config{}, "variants[0].weight"},
		{"summaries short", func(e *Experiment) { e.Metrics[0].Summaries = e.Metrics[0].Summaries[:1] }, Config{}, "metrics[0].summaries"},
		{"NaN in a summary", func(e *Experiment) { e.Metrics[0].Summaries[1].Sum = math.NaN() }, Config{}, "metrics[m].summaries[v2].sum"},
		{"negative summary users", func(e *Experiment) { e.Metrics[0].Summaries[0].Users = -1 }, Config{}, "metrics[m].summaries[stable].users"},
		{"unknown role", func(e *Experiment) { e.Metrics[0].Role = "primary" }, Config{}, "metrics[0].role"},
		{"unknown kind", func(e *Experiment) { e.Metrics[0].Kind = "count" }, Config{}, "metrics[0].kind"},
		{"negative margin", func(e *Experiment) { e.Metrics[0].Margin = -0.1 }, Config{}, "metrics[0].margin"},
		{"same metric twice", func(e *Experiment) { e.Metrics = append(e.Metrics, e.Metrics[0]) }, Config{}, "metrics[1].name"},
		{"bad alpha", func(*Experiment) {}, Config{Alpha: -1}, "alpha"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := ok()
			c.edit(&e)
			_, err := Analyze(e, c.cfg)
			var ie *input.Error
			if !errors.Is(err, input.ErrInput) || !errors.As(err, &ie) || ie.Field != c.field {
				t.Fatalf("err = %v, want an input error on %q", err, c.field)
			}
		})
	}
	// All weights 0: an equal split.
	e := ok()
	e.Variants[0].Weight, e.Variants[1].Weight = 0, 0
	if rep, err := Analyze(e, Config{}); err != nil || rep.SRM == nil || rep.SRM.Expected["v2"] != 1000 {
		t.Errorf("equal split: %+v, %v", rep, err)
	}
}
