package analyze

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo/analyze/divergence"
	"github.com/gonogo-dev/gonogo/internal/yamlpos"
)

// ErrGates is wrapped by every gates file error.
var ErrGates = errors.New("analyze: gates")

// Defaults of a gates file.
const (
	DefaultPassScore     = 95
	DefaultMarginalScore = 75
	DefaultMinRequests   = 100
	DefaultAlpha         = 0.01
	// DefaultMinEffect is the smallest |Cliff's delta| a relative latency
	// gate fails on: Romano et al.'s bound of a "small" effect. Below it a
	// significant difference is too small to matter.
	DefaultMinEffect = 0.147
	DefaultQuantile  = 99
)

// Gates is a parsed gates file (docs/gates.md).
type Gates struct {
	// Path names the file in errors and in the verdict.
	Path string `yaml:"-"`
	// Scenario is the default scope of every gate: "" for the whole run.
	Scenario string `yaml:"scenario"`
	// MinRequests is the least number of requests (or pairs, for
	// divergence gates) a gate needs to decide; fewer make it
	// inconclusive.
	MinRequests int     `yaml:"minRequests"`
	Score       Score   `yaml:"score"`
	Gates       []*Gate `yaml:"gates"`

	src  []byte
	list string // the YAML path of the list of gates in src ("$.gates")
}

// Score holds the score thresholds: at or above Pass is a go, below
// Marginal a no-go, in between inconclusive.
type Score struct {
	Pass     *float64 `yaml:"pass"`
	Marginal *float64 `yaml:"marginal"`
}

// Gate is one gate. Exactly one of the kinds applies: Goodput set makes a
// goodput gate, Divergence a divergence gate, Compare a relative gate, and
// otherwise Metric and Expr make an absolute gate.
type Gate struct {
	Name string `yaml:"name"`
	// Metric is a metric selector in threshold syntax (latency,
	// ttft{scenario:chat}, errors, requests, tokens_per_sec).
	Metric string `yaml:"metric"`
	// Expr is a k6 threshold expression (p(99)<500, rate<0.01); for a
	// divergence gate "rate<0.02" or "value<0.2".
	Expr     string   `yaml:"expr"`
	Scenario string   `yaml:"scenario"`
	Critical bool     `yaml:"critical"`
	Weight   *float64 `yaml:"weight"`
	// Window makes the gate hold over every window of this length of the
	// run (a Go duration, 30s): during a run judged live, at every
	// interval over the last window; after it, over every window, the
	// worst one reported. Absolute, goodput and relative gates take one.
	Window string `yaml:"window"`
	// AbortOnFail stops a run judged live (gonogo load --gates) as soon as
	// the gate fails: over a full window for a windowed gate, over the run
	// so far otherwise.
	AbortOnFail bool `yaml:"abortOnFail"`

	// Goodput maps metric names to SLO limits (ttft: 300ms).
	Goodput map[string]string `yaml:"goodput"`

	// Compare makes a relative gate: "baseline" compares the run with a
	// baseline run; a group of the same run in selector syntax
	// ("version:v1", "scenario:warm") compares the metric's group with
	// that one, on the same traffic at the same time.
	Compare string `yaml:"compare"`
	// Stat is the statistic whose change is reported and limited: p(N),
	// avg or med for latency metrics (default p(99)).
	Stat string `yaml:"stat"`
	// Direction is the bad direction: increase, decrease or either.
	Direction string `yaml:"direction"`
	// Allowed is the allowed change in the bad direction: "10%" relative,
	// "0.5pp" in percentage points (error rates).
	Allowed string `yaml:"allowed"`
	// Alpha is the significance level of the test (default 0.01).
	Alpha *float64 `yaml:"alpha"`
	// MinEffect is the least |Cliff's delta| that fails a latency gate.
	MinEffect *float64 `yaml:"minEffect"`

	// Divergence names a shadow run's headline figure (flip_rate,
	// text_mismatch_rate, exact_match_rate, divergence_rate, …) or a drift
	// score (drift_psi, drift_ks, drift_js, drift_wasserstein).
	Divergence string `yaml:"divergence"`
	// Candidate names the shadow candidate; default the only one.
	Candidate string `yaml:"candidate"`
	// Segment restricts a divergence gate to one segment, "key=value".
	Segment string `yaml:"segment"`
	// Raw compares the raw figure instead of the noise-corrected one.
	Raw bool `yaml:"raw"`

	// compiled
	kind      GateKind
	sel       Selector
	cmp       *Selector // the same run's group a relative gate compares with
	window    time.Duration
	th        Threshold
	slo       SLO
	stat      Threshold // Agg and QuantilePct only
	allowed   float64   // fraction (relative) or proportion (pp)
	allowedPP bool
	line      int
	index     int
}

// Kind returns the gate's kind once the file is parsed.
func (g *Gate) Kind() GateKind { return g.kind }

// Check returns the response check an absolute gate on checks or
// checks_failed names; "" for all of them, or for other gates.
func (g *Gate) Check() string { return g.sel.Check }

// WindowDuration returns the gate's window, 0 when it holds over the whole
// run.
func (g *Gate) WindowDuration() time.Duration { return g.window }

// SLO returns a goodput gate's SLO (the zero SLO for other kinds).
func (g *Gate) SLO() SLO { return g.slo }

// SLOs returns the distinct SLOs of the file's goodput gates, for a run to
// count live.
func (g *Gates) SLOs() []SLO {
	var out []SLO
	for _, gt := range g.Gates {
		if gt.kind == Goodput && !slices.ContainsFunc(out, func(s SLO) bool { return s.Key == gt.slo.Key }) {
			out = append(out, gt.slo)
		}
	}
	return out
}

// LongestWindow returns the longest window of the file's gates, 0 when
// none has one.
func (g *Gates) LongestWindow() time.Duration {
	var w time.Duration
	for _, gt := range g.Gates {
		w = max(w, gt.window)
	}
	return w
}

// GateError is invalid input in a gates file, or a gate that does not
// apply to the run it judges, naming the file, line and gate.
type GateError struct {
	File  string
	Line  int
	Gate  string // the gate's name, or gates[i]
	Field string
	Msg   string
}

func (e *GateError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Gate != "" {
		fmt.Fprintf(&b, "gate %q: ", e.Gate)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *GateError) Unwrap() error { return ErrGates }

// LoadGates reads and parses a gates file.
func LoadGates(path string) (*Gates, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &GateError{File: path, Msg: err.Error()}
	}
	return ParseGates(path, b)
}

// ParseGates parses and validates a gates file; name is used in errors.
// Unknown fields are errors.
func ParseGates(name string, src []byte) (*Gates, error) {
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, &GateError{File: name, Msg: "empty gates file"}
	}
	g := &Gates{}
	if err := yamlpos.Decode(src, g); err != nil {
		msg, line, _ := yamlpos.OfError(src, err)
		return nil, &GateError{File: name, Line: line, Msg: msg}
	}
	g.Path, g.src, g.list = name, src, "$.gates"
	if err := g.compile(); err != nil {
		return nil, err
	}
	return g, nil
}

// ParseGateList parses a list of gates that another file holds at the
// YAML path at ("$.steady-state-hypothesis.gates": a chaos experiment's
// hypothesis), as a gates file with those gates and minRequests would
// be; errors name name and the line in src.
func ParseGateList(name string, src []byte, at string, minRequests int) (*Gates, error) {
	var list []*Gate
	if err := yamlpos.DecodeAt(src, at, &list); err != nil {
		msg, line, _ := yamlpos.OfError(src, err)
		return nil, &GateError{File: name, Line: line, Msg: msg}
	}
	g := &Gates{Path: name, MinRequests: minRequests, Gates: list, src: src, list: at}
	if err := g.compile(); err != nil {
		return nil, err
	}
	return g, nil
}

// PassScore and MarginalScore return the score thresholds with defaults.
func (g *Gates) PassScore() float64 {
	if g.Score.Pass != nil {
		return *g.Score.Pass
	}
	return DefaultPassScore
}

// MarginalScore returns the marginal score threshold with its default.
func (g *Gates) MarginalScore() float64 {
	if g.Score.Marginal != nil {
		return *g.Score.Marginal
	}
	return DefaultMarginalScore
}

func (g *Gates) minRequests() int64 {
	if g.MinRequests > 0 {
		return int64(g.MinRequests)
	}
	return DefaultMinRequests
}

func (g *Gates) compile() error {
	src := yamlpos.Parse(g.src)
	fail := func(path, gate, field, format string, a ...any) error {
		line, _ := src.Find(path)
		return &GateError{File: g.Path, Line: line, Gate: gate, Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	if len(g.Gates) == 0 {
		return fail(g.list, "", "gates", "no gates")
	}
	if g.MinRequests < 0 {
		return fail("$.minRequests", "", "minRequests", "must not be negative (0 or absent means %d)", DefaultMinRequests)
	}
	pass, marginal := g.PassScore(), g.MarginalScore()
	if !(0 <= marginal && marginal <= pass && pass <= 100) {
		return fail("$.score", "", "score", "want 0 ≤ marginal (%g) ≤ pass (%g) ≤ 100", marginal, pass)
	}
	names := map[string]bool{}
	for i, gt := range g.Gates {
		path := fmt.Sprintf("%s[%d]", g.list, i)
		if gt == nil {
			return fail(path, fmt.Sprintf("gates[%d]", i), "", "empty gate")
		}
		gt.index = i
		gt.line, _ = src.Find(path)
		if gt.Name == "" {
			gt.Name = fmt.Sprintf("gates[%d]", i)
		}
		if names[gt.Name] {
			return fail(path+".name", gt.Name, "name", "duplicate gate name")
		}
		names[gt.Name] = true
		if gt.Scenario == "" {
			gt.Scenario = g.Scenario
		}
		if field, msg := gt.compile(); msg != "" {
			return fail(path+"."+field, gt.Name, field, "%s", msg)
		}
	}
	return nil
}

// Bounds of a gate's window.
const (
	MinWindow = time.Second
	MaxWindow = 24 * time.Hour
)

// ErrNoSLOData is wrapped by a RunData.Goodput error when no request of
// the run has a metric an SLO names (ttft of a non-streaming protocol): the
// gate is then inconclusive.
var ErrNoSLOData = errors.New("analyze: no request has the SLO's metric")

// divergenceMetrics are the figures a divergence gate may name.
var divergenceMetrics = map[string]bool{
	"exact_match_rate": true, "drift_psi": true, "drift_ks": true, "drift_js": true, "drift_wasserstein": true,
}

func init() {
	for _, m := range divergence.Metrics {
		divergenceMetrics[m] = true
	}
}

// compile checks one gate and returns the offending field and a message.
func (g *Gate) compile() (field, msg string) {
	kinds := 0
	for _, set := range []bool{g.Goodput != nil, g.Divergence != "", g.Compare != ""} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		return "goodput", "a gate is one of goodput, divergence or compare, not several"
	}
	if g.Weight != nil && !(*g.Weight >= 0 && !math.IsInf(*g.Weight, 0)) {
		return "weight", "must be a finite number ≥ 0"
	}
	type opt struct {
		name string
		set  bool
	}
	only := func(kind string, fields ...opt) (string, string) {
		for _, f := range fields {
			if f.set {
				return f.name, "only " + kind + " take " + f.name
			}
		}
		return "", ""
	}
	if g.Compare == "" {
		if f, msg := only("relative gates (compare: baseline)", opt{"stat", g.Stat != ""}, opt{"direction", g.Direction != ""},
			opt{"allowed", g.Allowed != ""}, opt{"alpha", g.Alpha != nil}, opt{"minEffect", g.MinEffect != nil}); msg != "" {
			return f, msg
		}
	}
	if g.Divergence == "" {
		if f, msg := only("divergence gates", opt{"candidate", g.Candidate != ""}, opt{"segment", g.Segment != ""}, opt{"raw", g.Raw}); msg != "" {
			return f, msg
		}
	} else if g.Metric != "" {
		return "metric", "a divergence gate names its figure under divergence, not metric"
	}
	if g.Window != "" {
		d, err := time.ParseDuration(g.Window)
		switch {
		case err != nil:
			return "window", fmt.Sprintf("%q is not a duration such as 30s", g.Window)
		case d < MinWindow || d > MaxWindow:
			return "window", fmt.Sprintf("%s: want %s to %s", g.Window, MinWindow, MaxWindow)
		case g.Divergence != "":
			return "window", "divergence gates hold over the whole shadow run, not over windows"
		}
		g.window = d
	}
	switch {
	case g.Goodput != nil:
		return g.compileGoodput()
	case g.Divergence != "":
		if g.AbortOnFail {
			return "abortOnFail", "divergence gates are judged after the shadow run, not during it"
		}
		return g.compileDivergence()
	case g.Compare != "":
		return g.compileRelative()
	}
	g.kind = Absolute
	if field, msg := g.compileSelector(); msg != "" {
		return field, msg
	}
	return g.compileExpr(nil)
}

func (g *Gate) compileSelector() (field, msg string) {
	if g.Metric == "" {
		return "metric", "missing (latency, ttft, errors, requests, …)"
	}
	sel, err := ParseSelector(g.Metric)
	if err != nil {
		return "metric", trimErr(err)
	}
	if sel.Scenario == "" && sel.TagKey == "" && g.Scenario != "" {
		sel.Scenario = g.Scenario
	}
	if sel.Scenario != "" && g.Scenario != "" && sel.Scenario != g.Scenario {
		return "scenario", fmt.Sprintf("%q contradicts metric %s", g.Scenario, g.Metric)
	}
	g.sel = sel
	return "", ""
}

// compileExpr parses Expr; aggs restricts the aggregations (nil: those of
// the selected metric).
func (g *Gate) compileExpr(aggs []Aggregation) (field, msg string) {
	if g.Expr == "" {
		return "expr", "missing (e.g. p(99)<500, rate<0.01)"
	}
	th, err := ParseThreshold(g.Expr)
	if err != nil {
		return "expr", trimErr(err)
	}
	if aggs == nil {
		aggs = allowedAggs(g.sel.Metric)
	}
	ok := false
	for _, a := range aggs {
		ok = ok || a == th.Agg
	}
	if !ok {
		var names []string
		for _, a := range aggs {
			names = append(names, aggName(a))
		}
		return "expr", fmt.Sprintf("%s is not defined here (want %s)", aggName(th.Agg), strings.Join(names, ", "))
	}
	g.th = th
	return "", ""
}

func (g *Gate) compileGoodput() (field, msg string) {
	g.kind = Goodput
	if g.Metric != "" {
		return "metric", "a goodput gate has no metric: its SLOs are under goodput"
	}
	if len(g.Goodput) == 0 {
		return "goodput", "no SLOs (e.g. ttft: 300ms, tpot: 50ms)"
	}
	limits := map[string]float64{}
	for m, lim := range g.Goodput {
		if !slices.Contains(GoodputMetrics, m) {
			return "goodput." + m, "unknown SLO metric (want " + strings.Join(GoodputMetrics, ", ") + ")"
		}
		d, err := time.ParseDuration(lim)
		if err != nil || d <= 0 || d > time.Hour {
			return "goodput." + m, fmt.Sprintf("%q is not a duration from 1µs to 1h (300ms, 1.5s)", lim)
		}
		limits[m] = float64(d) / float64(time.Millisecond)
	}
	slo, err := NewSLO(limits)
	if err != nil {
		return "goodput", trimErr(err)
	}
	g.slo = slo
	g.sel = Selector{Metric: "goodput", Scenario: g.Scenario}
	return g.compileExpr([]Aggregation{AggRate})
}

func (g *Gate) compileDivergence() (field, msg string) {
	g.kind = DivergenceGate
	if !divergenceMetrics[g.Divergence] {
		return "divergence", fmt.Sprintf("unknown figure %q (want one of flip_rate, exact_match_rate, text_mismatch_rate, divergence_rate, error_rate, drift_psi, drift_ks, drift_js, drift_wasserstein, …; see docs/gates.md)", g.Divergence)
	}
	if g.Segment != "" {
		if k, v, ok := strings.Cut(g.Segment, "="); !ok || k == "" || v == "" {
			return "segment", fmt.Sprintf("%q: want key=value, e.g. input_tokens=129-256", g.Segment)
		}
		if g.Divergence != "divergence_rate" && g.Divergence != "error_rate" {
			return "segment", "segments hold divergence_rate and error_rate only"
		}
	}
	g.sel = Selector{Metric: g.Divergence}
	return g.compileExpr([]Aggregation{AggRate, AggValue})
}

func (g *Gate) compileRelative() (field, msg string) {
	g.kind = Relative
	if g.Expr != "" {
		return "expr", "a relative gate has no expr: say direction and allowed"
	}
	if field, msg := g.compileSelector(); msg != "" {
		return field, msg
	}
	if g.Compare != "baseline" {
		k, v, ok := strings.Cut(g.Compare, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return "compare", fmt.Sprintf("%q: want baseline, or a group of the run as key:value (version:v1, scenario:warm)", g.Compare)
		}
		cmp := Selector{Raw: g.Compare, Metric: g.sel.Metric}
		if k == "scenario" {
			cmp.Scenario = v
		} else {
			cmp.TagKey, cmp.TagValue = k, v
		}
		if cmp.group() == g.sel.group() {
			return "compare", fmt.Sprintf("%q is the gate's own group (%s): compare it with another one", g.Compare, g.Metric)
		}
		g.cmp = &cmp
	}
	switch g.sel.Metric {
	case MetricRequests, MetricTokensPerSec, MetricErrors:
	case MetricDropped:
		return "metric", "dropped cannot be compared; gate it with an absolute expr"
	case MetricChecks, MetricChecksFailed:
		return "metric", "checks cannot be compared; gate them with an absolute expr (rate>=0.99)"
	}
	switch g.Direction {
	case "":
		g.Direction = "increase"
		if g.sel.Metric == MetricRequests || g.sel.Metric == MetricTokensPerSec {
			g.Direction = "decrease"
		}
	case "increase", "decrease", "either":
	default:
		return "direction", fmt.Sprintf("%q: want increase, decrease or either (the bad direction)", g.Direction)
	}
	if g.Allowed == "" {
		return "allowed", "missing: the allowed change in the bad direction, e.g. 10% (or 0.5pp for errors)"
	}
	v, pp, err := parseAllowed(g.Allowed)
	if err != nil {
		return "allowed", err.Error()
	}
	if pp != (g.sel.Metric == MetricErrors) {
		if pp {
			return "allowed", "percentage points (pp) apply to errors only; say 10%"
		}
		return "allowed", "errors change in percentage points: say e.g. 0.5pp"
	}
	g.allowed, g.allowedPP = v, pp
	if g.Alpha != nil && !(*g.Alpha > 0 && *g.Alpha < 1) {
		return "alpha", "want 0 < alpha < 1"
	}
	if g.MinEffect != nil && !(*g.MinEffect >= 0 && *g.MinEffect <= 1) {
		return "minEffect", "want 0 ≤ minEffect ≤ 1 (|Cliff's delta|)"
	}
	if _, isHist := metricByName(g.sel.Metric); isHist {
		stat := g.Stat
		if stat == "" {
			stat = fmt.Sprintf("p(%g)", float64(DefaultQuantile))
		}
		th, err := ParseThreshold(stat + "<0")
		if err != nil || (th.Agg != AggPercentile && th.Agg != AggAvg && th.Agg != AggMed) {
			return "stat", fmt.Sprintf("%q: want p(N), avg or med", g.Stat)
		}
		g.stat = th
		g.stat.Expr = stat
	} else if g.Stat != "" {
		return "stat", "only latency-like metrics take a stat"
	}
	return "", ""
}

// parseAllowed reads "10%" (→ 0.10, false) or "0.5pp" (→ 0.005, true).
func parseAllowed(s string) (v float64, pp bool, err error) {
	num, unit := strings.TrimSpace(s), ""
	switch {
	case strings.HasSuffix(num, "pp"):
		num, unit = strings.TrimSpace(strings.TrimSuffix(num, "pp")), "pp"
	case strings.HasSuffix(num, "%"):
		num, unit = strings.TrimSpace(strings.TrimSuffix(num, "%")), "%"
	default:
		return 0, false, fmt.Errorf("%q: want a percentage (10%%) or percentage points (0.5pp)", s)
	}
	v, err = strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, false, fmt.Errorf("%q: not a non-negative number", s)
	}
	return v / 100, unit == "pp", nil
}

// trimErr drops the package prefix of an analyze error for messages that
// already say where they come from.
func trimErr(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, ErrThreshold.Error()+": ")
	return strings.TrimPrefix(s, ErrThreshold.Error()+" ")
}
