package analyze

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// ErrThreshold is wrapped by every threshold parse and evaluation error.
var ErrThreshold = errors.New("analyze: threshold")

// Metric names that exist only for thresholds (they are not histograms).
const (
	MetricTokensPerSec = "tokens_per_sec"
	MetricErrors       = "errors"
	MetricRequests     = "requests"
	MetricDropped      = "dropped"
	// MetricChecks is the response checks that passed (k6's checks): rate
	// is the share of judgements that passed, count their number;
	// checks{check:NAME} selects one check.
	MetricChecks = "checks"
	// MetricChecksFailed is the response checks that failed: rate is the
	// share of judgements that failed, count their number.
	MetricChecksFailed = "checks_failed"
)

// k6Aliases maps k6 metric names to gonogo's.
var k6Aliases = map[string]string{
	"http_req_duration":  MetricLatency,
	"http_req_failed":    MetricErrors,
	"http_reqs":          MetricRequests,
	"iterations":         MetricRequests,
	"dropped_iterations": MetricDropped,
}

// Aggregation is what a threshold computes from a metric.
type Aggregation string

// Aggregations, in k6 syntax.
const (
	AggPercentile Aggregation = "p" // p(N), N in 0..100
	AggAvg        Aggregation = "avg"
	AggMin        Aggregation = "min"
	AggMax        Aggregation = "max"
	AggMed        Aggregation = "med"
	AggCount      Aggregation = "count"
	AggRate       Aggregation = "rate"
	AggValue      Aggregation = "value"
)

var trendAggs = []Aggregation{AggPercentile, AggAvg, AggMin, AggMax, AggMed, AggCount}

// allowedAggs lists the aggregations each metric accepts.
func allowedAggs(metric string) []Aggregation {
	if _, ok := metricByName(metric); ok {
		return trendAggs
	}
	switch metric {
	case MetricTokensPerSec:
		return []Aggregation{AggValue}
	case MetricErrors, MetricRequests, MetricDropped, MetricChecks, MetricChecksFailed:
		return []Aggregation{AggRate, AggCount}
	}
	return nil
}

// isCheckMetric reports whether metric counts response checks.
func isCheckMetric(metric string) bool { return metric == MetricChecks || metric == MetricChecksFailed }

// Threshold is one parsed expression such as p(99)<500.
type Threshold struct {
	Expr string
	Agg  Aggregation
	// QuantilePct is N of p(N), 0..100.
	QuantilePct float64
	Op          string // < <= > >= == !=
	Value       float64
}

var operators = []string{"<=", ">=", "==", "!=", "<", ">"}

// ParseThreshold parses a k6 threshold expression: an aggregation (p(N),
// avg, min, max, med, count, rate, value), an operator (< <= > >= == !=) and
// a number. Time values are in milliseconds.
func ParseThreshold(expr string) (Threshold, error) {
	t := Threshold{Expr: expr}
	s := strings.TrimSpace(expr)
	bad := func(format string, a ...any) (Threshold, error) {
		return Threshold{}, fmt.Errorf("%w %q: %s", ErrThreshold, expr, fmt.Sprintf(format, a...))
	}
	i := 0
	for i < len(s) && s[i] >= 'a' && s[i] <= 'z' {
		i++
	}
	name := s[:i]
	s = strings.TrimLeft(s[i:], " \t")
	switch Aggregation(name) {
	case AggPercentile:
		if !strings.HasPrefix(s, "(") {
			return bad("p needs a percentile, as in p(99)")
		}
		end := strings.IndexByte(s, ')')
		if end < 0 {
			return bad("missing ) after p(")
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(s[1:end]), 64)
		if err != nil || math.IsNaN(q) || q < 0 || q > 100 {
			return bad("percentile %q is not a number from 0 to 100", s[1:end])
		}
		t.QuantilePct = q
		s = strings.TrimLeft(s[end+1:], " \t")
	case AggAvg, AggMin, AggMax, AggMed, AggCount, AggRate, AggValue:
	case "":
		return bad("missing aggregation (p(N), avg, min, max, med, count, rate or value)")
	default:
		return bad("unknown aggregation %q (want p(N), avg, min, max, med, count, rate or value)", name)
	}
	t.Agg = Aggregation(name)
	for _, op := range operators {
		if strings.HasPrefix(s, op) {
			t.Op = op
			break
		}
	}
	if t.Op == "" {
		return bad("missing operator (< <= > >= == !=)")
	}
	num := strings.TrimSpace(s[len(t.Op):])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return bad("%q is not a number", num)
	}
	t.Value = v
	return t, nil
}

// Holds reports whether observed satisfies the threshold.
func (t Threshold) Holds(observed float64) bool {
	switch t.Op {
	case "<":
		return observed < t.Value
	case "<=":
		return observed <= t.Value
	case ">":
		return observed > t.Value
	case ">=":
		return observed >= t.Value
	case "==":
		return observed == t.Value
	case "!=":
		return observed != t.Value
	}
	return false
}

// Selector names a metric and optionally one group, in k6 syntax:
// latency, latency{scenario:warmup}, latency{model:llama}. The check
// metrics also name one check: checks{check:has-choices},
// checks{scenario:chat,check:has-choices}.
type Selector struct {
	Raw      string
	Metric   string // canonical name (k6 aliases resolved)
	Scenario string
	TagKey   string
	TagValue string
	// Check names one response check (checks, checks_failed); "" means
	// all the group's checks together.
	Check string
}

// ParseSelector parses a threshold key.
func ParseSelector(raw string) (Selector, error) {
	sel := Selector{Raw: raw}
	s := strings.TrimSpace(raw)
	name, filter, hasFilter := strings.Cut(s, "{")
	name = strings.TrimSpace(name)
	if a, ok := k6Aliases[name]; ok {
		name = a
	}
	if allowedAggs(name) == nil {
		return sel, fmt.Errorf("%w: unknown metric %q in %q (want latency, latency_service, scheduling_lag, ttft, chunk_gap, tpot, e2e, output_tokens, tokens_per_sec, errors, requests, dropped, checks or checks_failed)", ErrThreshold, name, raw)
	}
	sel.Metric = name
	if !hasFilter {
		return sel, nil
	}
	if !strings.HasSuffix(filter, "}") {
		return sel, fmt.Errorf("%w: missing } in %q", ErrThreshold, raw)
	}
	filter = filter[:len(filter)-1]
	parts := []string{filter}
	if isCheckMetric(name) {
		parts = strings.Split(filter, ",")
	}
	if strings.ContainsAny(filter, "{}") || len(parts) > 2 || strings.Contains(filter, ",") && len(parts) == 1 {
		return sel, fmt.Errorf("%w: %q: only one key:value filter is supported (and check:NAME for checks)", ErrThreshold, raw)
	}
	group := false
	for _, part := range parts {
		k, v, ok := strings.Cut(part, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return sel, fmt.Errorf("%w: %q: filter must be {key:value}", ErrThreshold, raw)
		}
		switch {
		case k == "check" && isCheckMetric(name):
			if sel.Check != "" {
				return sel, fmt.Errorf("%w: %q: one check:NAME at most", ErrThreshold, raw)
			}
			sel.Check = v
		case group:
			return sel, fmt.Errorf("%w: %q: one group filter at most, beside check:NAME", ErrThreshold, raw)
		case k == "scenario":
			sel.Scenario, group = v, true
		default:
			sel.TagKey, sel.TagValue, group = k, v, true
		}
	}
	return sel, nil
}

// group returns the Recorder group key the selector names.
func (s Selector) group() string {
	switch {
	case s.Scenario != "":
		return ScenarioGroup(s.Scenario)
	case s.TagKey != "":
		return TagGroup(s.TagKey, s.TagValue)
	}
	return Overall
}

// ThresholdSpec is one threshold of a metric: in YAML or JSON either a
// string ("p(99)<500") or an object {threshold, abortOnFail, delayAbortEval}.
type ThresholdSpec struct {
	Threshold   string
	AbortOnFail bool
	// DelayAbortEval postpones abortOnFail evaluation until this much of the
	// run has passed (k6 delayAbortEval, a Go duration such as "10s").
	DelayAbortEval time.Duration
}

type specObject struct {
	Threshold      string `json:"threshold" yaml:"threshold"`
	AbortOnFail    bool   `json:"abortOnFail,omitempty" yaml:"abortOnFail,omitempty"`
	DelayAbortEval string `json:"delayAbortEval,omitempty" yaml:"delayAbortEval,omitempty"`
}

func (s *ThresholdSpec) fromObject(o specObject) error {
	if strings.TrimSpace(o.Threshold) == "" {
		return fmt.Errorf("%w: field threshold is missing", ErrThreshold)
	}
	*s = ThresholdSpec{Threshold: o.Threshold, AbortOnFail: o.AbortOnFail}
	if o.DelayAbortEval != "" {
		d, err := time.ParseDuration(o.DelayAbortEval)
		if err != nil || d < 0 {
			return fmt.Errorf("%w %q: field delayAbortEval: %q is not a duration such as 10s", ErrThreshold, o.Threshold, o.DelayAbortEval)
		}
		s.DelayAbortEval = d
	}
	return nil
}

// UnmarshalJSON accepts a string or an object.
func (s *ThresholdSpec) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		*s = ThresholdSpec{Threshold: str}
		return nil
	}
	var o specObject
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return fmt.Errorf("%w: want a string or {threshold, abortOnFail, delayAbortEval}: %w", ErrThreshold, err)
	}
	return s.fromObject(o)
}

// MarshalJSON writes a plain string when only Threshold is set.
func (s ThresholdSpec) MarshalJSON() ([]byte, error) {
	if !s.AbortOnFail && s.DelayAbortEval == 0 {
		return json.Marshal(s.Threshold)
	}
	o := specObject{Threshold: s.Threshold, AbortOnFail: s.AbortOnFail}
	if s.DelayAbortEval != 0 {
		o.DelayAbortEval = s.DelayAbortEval.String()
	}
	return json.Marshal(o)
}

// UnmarshalYAML accepts a string or a mapping (goccy/go-yaml's
// InterfaceUnmarshaler).
func (s *ThresholdSpec) UnmarshalYAML(unmarshal func(any) error) error {
	var v any
	if err := unmarshal(&v); err != nil {
		return err
	}
	switch v := v.(type) {
	case string:
		*s = ThresholdSpec{Threshold: v}
		return nil
	case map[string]any:
		var o specObject
		for k, val := range v {
			switch k {
			case "threshold":
				str, ok := val.(string)
				if !ok {
					return fmt.Errorf("%w: field threshold must be a string", ErrThreshold)
				}
				o.Threshold = str
			case "abortOnFail":
				b, ok := val.(bool)
				if !ok {
					return fmt.Errorf("%w: field abortOnFail must be true or false", ErrThreshold)
				}
				o.AbortOnFail = b
			case "delayAbortEval":
				str, ok := val.(string)
				if !ok {
					return fmt.Errorf("%w: field delayAbortEval must be a duration such as \"10s\"", ErrThreshold)
				}
				o.DelayAbortEval = str
			default:
				return fmt.Errorf("%w: unknown field %q (want threshold, abortOnFail, delayAbortEval)", ErrThreshold, k)
			}
		}
		return s.fromObject(o)
	}
	return fmt.Errorf("%w: want a string such as \"p(99)<500\" or a mapping {threshold, abortOnFail, delayAbortEval}, got %T", ErrThreshold, v)
}

// MarshalYAML mirrors MarshalJSON.
func (s ThresholdSpec) MarshalYAML() (any, error) {
	if !s.AbortOnFail && s.DelayAbortEval == 0 {
		return s.Threshold, nil
	}
	o := specObject{Threshold: s.Threshold, AbortOnFail: s.AbortOnFail}
	if s.DelayAbortEval != 0 {
		o.DelayAbortEval = s.DelayAbortEval.String()
	}
	return o, nil
}

// Thresholds maps a metric selector (see ParseSelector) to its thresholds.
type Thresholds map[string][]ThresholdSpec

// ThresholdResult is the outcome of one threshold.
type ThresholdResult struct {
	Metric string `json:"metric"` // the selector as written
	Expr   string `json:"expr"`
	// Observed is the value compared, in the threshold's units
	// (milliseconds for time metrics); 0 when NoData.
	Observed    float64 `json:"observed"`
	Pass        bool    `json:"pass"`
	AbortOnFail bool    `json:"abort_on_fail,omitempty"`
	// NoData is set when the metric or group had no data; such a threshold
	// fails.
	NoData bool `json:"no_data,omitempty"`
	// Default marks a threshold the workload did not set (see
	// runner.DefaultThresholds).
	Default bool `json:"default,omitempty"`
}

type check struct {
	sel  Selector
	th   Threshold
	spec ThresholdSpec
}

// compile parses every selector and expression, in a stable order.
func (ts Thresholds) compile() ([]check, error) {
	keys := make([]string, 0, len(ts))
	for k := range ts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []check
	for _, k := range keys {
		sel, err := ParseSelector(k)
		if err != nil {
			return nil, fmt.Errorf("thresholds.%s: %w", k, err)
		}
		for i, spec := range ts[k] {
			th, err := ParseThreshold(spec.Threshold)
			if err != nil {
				return nil, fmt.Errorf("thresholds.%s[%d]: %w", k, i, err)
			}
			if !aggAllowed(sel.Metric, th.Agg) {
				return nil, fmt.Errorf("thresholds.%s[%d]: %w %q: %s is not defined for %s (want %s)",
					k, i, ErrThreshold, spec.Threshold, aggName(th.Agg), sel.Metric, aggList(sel.Metric))
			}
			out = append(out, check{sel: sel, th: th, spec: spec})
		}
	}
	return out, nil
}

func aggName(a Aggregation) string {
	if a == AggPercentile {
		return "p(N)"
	}
	return string(a)
}

func aggAllowed(metric string, a Aggregation) bool {
	for _, x := range allowedAggs(metric) {
		if x == a {
			return true
		}
	}
	return false
}

func aggList(metric string) string {
	var names []string
	for _, a := range allowedAggs(metric) {
		names = append(names, aggName(a))
	}
	return strings.Join(names, ", ")
}

// Validate parses every selector and expression; the error names the
// offending field (thresholds.<selector>[i]) and expression.
func (ts Thresholds) Validate() error {
	_, err := ts.compile()
	return err
}

// view is what a threshold reads: the stats of one group and, when
// available, its histograms.
type view struct {
	st   *Stats
	hist func(metric string) *hdr.Histogram
}

// observe computes the value a threshold compares.
func observe(v view, c check) (obs float64, ok bool, err error) {
	st := v.st
	if st == nil {
		return 0, false, nil
	}
	rq := st.Requests
	switch c.sel.Metric {
	case MetricTokensPerSec:
		if st.TokensPerSec == nil {
			return 0, false, nil
		}
		return *st.TokensPerSec, true, nil
	case MetricErrors:
		if c.th.Agg == AggCount {
			return float64(rq.FailedTotal()), true, nil
		}
		if rq.Total == 0 {
			return 0, false, nil
		}
		return float64(rq.FailedTotal()) / float64(rq.Total), true, nil
	case MetricRequests:
		if c.th.Agg == AggCount {
			return float64(rq.Total), true, nil
		}
		return st.Rate.AchievedPerSec, true, nil
	case MetricDropped:
		if c.th.Agg == AggCount {
			return float64(rq.Dropped), true, nil
		}
		if rq.Total+rq.Dropped == 0 {
			return 0, false, nil
		}
		return float64(rq.Dropped) / float64(rq.Total+rq.Dropped), true, nil
	case MetricChecks, MetricChecksFailed:
		cc, ok := st.CheckCounts(c.sel.Check)
		hits := cc.Passed
		if c.sel.Metric == MetricChecksFailed {
			hits = cc.Failed
		}
		switch {
		case !ok:
			return 0, false, nil
		case c.th.Agg == AggCount:
			return float64(hits), true, nil
		case cc.Total() == 0:
			return 0, false, nil
		}
		return float64(hits) / float64(cc.Total()), true, nil
	}
	// The histogram, when there is one, answers every aggregation exactly
	// (a window has nothing else); else the stored digest does.
	if v.hist != nil {
		if h := v.hist(c.sel.Metric); h != nil && h.TotalCount() > 0 {
			return histAggregate(h, c.sel.Metric, c.th), true, nil
		}
	}
	ms := st.Metric(c.sel.Metric)
	if ms == nil || ms.Count == 0 {
		return 0, false, nil
	}
	switch c.th.Agg {
	case AggAvg:
		return ms.Mean, true, nil
	case AggMin:
		return ms.Min, true, nil
	case AggMax:
		return ms.Max, true, nil
	case AggMed:
		return ms.P50, true, nil
	case AggCount:
		return float64(ms.Count), true, nil
	}
	if c.th.QuantilePct > 0 {
		if f, ok := st.Percentile(c.sel.Metric, c.th.QuantilePct); ok {
			return f, true, nil
		}
	}
	return 0, false, fmt.Errorf("thresholds.%s: %w %q: p(%g) needs the histograms; a stored summary holds only p(1), p(5), p(10), p(25), p(50), p(75), p(90), p(95), p(99), p(99.9), p(100) and those asked for with --percentiles",
		c.sel.Raw, ErrThreshold, c.th.Expr, c.th.QuantilePct)
}

// histAggregate computes a threshold's aggregation of a histogram, in the
// metric's reporting unit, as MetricStats rounds it.
func histAggregate(h *hdr.Histogram, metric string, th Threshold) float64 {
	m, _ := metricByName(metric)
	sc := unitScale(m)
	switch th.Agg {
	case AggAvg:
		return roundTo(h.Mean()/sc, 3)
	case AggMin:
		return roundTo(float64(h.Min())/sc, 3)
	case AggMax:
		return roundTo(float64(h.Max())/sc, 3)
	case AggMed:
		return roundTo(float64(h.ValueAtPercentile(50))/sc, 3)
	case AggCount:
		return float64(h.TotalCount())
	}
	return roundTo(float64(h.ValueAtPercentile(th.QuantilePct))/sc, 3)
}

func thresholdResult(c check, obs float64, ok bool) ThresholdResult {
	r := ThresholdResult{Metric: c.sel.Raw, Expr: c.spec.Threshold, AbortOnFail: c.spec.AbortOnFail}
	if !ok {
		r.NoData = true
		return r
	}
	r.Observed = obs
	r.Pass = c.th.Holds(obs)
	return r
}

// summaryView returns the stats of sel's group in s.
func (s *Summary) view(sel Selector) view {
	var st *Stats
	switch {
	case sel.Scenario != "":
		if x, ok := s.Scenarios[sel.Scenario]; ok {
			st = &x
		}
	case sel.TagKey != "":
		if x, ok := s.Tags[sel.TagKey+"="+sel.TagValue]; ok {
			st = &x
		}
	default:
		st = &s.Overall
	}
	v := view{st: st}
	if s.hist != nil {
		key := sel.group()
		v.hist = func(metric string) *hdr.Histogram { return s.hist(key, metric) }
	}
	return v
}

// Evaluate checks every threshold against a summary, in selector order. A
// threshold whose metric or group has no data fails with NoData set. An
// unknown metric or malformed expression is an error naming the field.
func Evaluate(ts Thresholds, s *Summary) ([]ThresholdResult, error) {
	checks, err := ts.compile()
	if err != nil {
		return nil, err
	}
	out := make([]ThresholdResult, 0, len(checks))
	for _, c := range checks {
		obs, ok, err := observe(s.view(c.sel), c)
		if err != nil {
			return nil, err
		}
		out = append(out, thresholdResult(c, obs, ok))
	}
	return out, nil
}

// Passed reports whether every result passed.
func Passed(results []ThresholdResult) bool {
	for _, r := range results {
		if !r.Pass {
			return false
		}
	}
	return true
}

// AbortChecker evaluates the abortOnFail thresholds against a running
// Recorder, so that the engine can stop early.
type AbortChecker struct {
	checks []check
}

// NewAbortChecker keeps the abortOnFail thresholds of ts; it fails like
// Validate.
func NewAbortChecker(ts Thresholds) (*AbortChecker, error) {
	checks, err := ts.compile()
	if err != nil {
		return nil, err
	}
	a := &AbortChecker{}
	for _, c := range checks {
		if c.spec.AbortOnFail {
			a.checks = append(a.checks, c)
		}
	}
	return a, nil
}

// Len is the number of abortOnFail thresholds.
func (a *AbortChecker) Len() int { return len(a.checks) }

// Check evaluates, against the cumulative state of r at now, every
// abortOnFail threshold whose delayAbortEval has passed, and returns those
// that fail. Thresholds without data yet are not failed. Rates use the time
// elapsed since the run start.
func (a *AbortChecker) Check(r *Recorder, now time.Time) []ThresholdResult {
	var failed []ThresholdResult
	elapsed := now.Sub(r.start)
	for _, c := range a.checks {
		if elapsed < c.spec.DelayAbortEval {
			continue
		}
		obs, ok := r.observeLive(c, elapsed)
		if !ok {
			continue
		}
		if res := thresholdResult(c, obs, true); !res.Pass {
			failed = append(failed, res)
		}
	}
	return failed
}

// observeLive computes one threshold value from the live groups, computing
// only the metric it needs.
func (r *Recorder) observeLive(c check, elapsed time.Duration) (float64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.lookup(c.sel.group())
	if g == nil {
		return 0, false
	}
	only := metricID(-1)
	if m, ok := metricByName(c.sel.Metric); ok {
		only = m
	}
	activeS := 0.0
	if g == r.overall {
		activeS = elapsed.Seconds()
	}
	st := g.statsFor(activeS, 0, only, r.slos, nil)
	v := view{st: &st, hist: func(metric string) *hdr.Histogram {
		m, ok := metricByName(metric)
		if !ok {
			return nil
		}
		return g.hist(m, false)
	}}
	obs, ok, err := observe(v, c)
	if err != nil {
		return 0, false
	}
	return obs, ok
}
