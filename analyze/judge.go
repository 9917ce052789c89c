package analyze

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gonogo-dev/gonogo/analyze/divergence"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// Judge evaluates every gate of g against the candidate run, and the
// relative gates against the baseline (nil when none) or against another
// group of the run, and decides. The score is the weighted share of gates
// that passed; inconclusive gates count as not passed (too little data is
// never a silent pass).
//
//   - a failing critical gate is a no-go whatever the score;
//   - so is a score below marginal that stays below it even if every
//     inconclusive gate had passed (failures alone sink it);
//   - otherwise an inconclusive critical gate makes the verdict
//     inconclusive;
//   - otherwise a score at or above pass is a go; anything lower is
//     inconclusive (marginal, or short of data);
//   - a go on a run that ended early (RunData.Partial) is inconclusive:
//     only a failure decides a partial run.
//
// A windowed gate holds over every window of its length (RunData.Slices):
// it fails when any window fails and reports the worst window.
//
// Input errors — a relative gate without a baseline, a baseline without
// the gate's scenario, a divergence gate on a run without divergence.json,
// a goodput gate the run cannot answer, a scenario the run does not have —
// are *GateError (wrapping ErrGates) naming the gate. Other errors (a run's
// files that cannot be read) wrap the cause.
func Judge(g *Gates, cand, base *RunData) (*Verdict, error) {
	v := &Verdict{
		Schema: VerdictSchema, Run: cand.ID, Gatefile: g.Path, Created: time.Now().UTC(),
		PassScore: g.PassScore(), MarginalScore: g.MarginalScore(),
		Gates: make([]GateResult, 0, len(g.Gates)), Reasons: []string{},
	}
	if base != nil && base.missing == "" {
		v.Baseline = base.ID
	}
	for _, gt := range g.Gates {
		r, err := g.Evaluate(gt, cand, base)
		if err != nil {
			return nil, err
		}
		v.Gates = append(v.Gates, r)
	}
	decide(v)
	if cand.Partial != "" && v.Verdict == Go {
		v.Verdict = Inconclusive
		v.Reasons = append([]string{"the run ended early (" + cand.Partial + "): a go needs a complete run"}, v.Reasons...)
	}
	return v, nil
}

// inputError is a gate that does not apply to the run it judges; Evaluate
// turns it into a *GateError.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func inputErr(format string, a ...any) error { return &inputError{fmt.Sprintf(format, a...)} }

// Evaluate judges one gate of g: over the whole of cand, or over each of
// its windows for a windowed gate. See Judge for the errors.
func (g *Gates) Evaluate(gt *Gate, cand, base *RunData) (GateResult, error) {
	if err := hasCheck(gt, cand); err != nil {
		return GateResult{}, g.gateErr(gt, err)
	}
	if gt.window > 0 {
		r, err := g.windowed(gt, cand, base)
		return r, g.gateErr(gt, err)
	}
	return g.EvaluateOnce(gt, cand, base)
}

// EvaluateOnce judges one gate of g over the whole of cand, its window
// left aside: what a live check over the last window does (cand is that
// window). See Judge for the errors.
func (g *Gates) EvaluateOnce(gt *Gate, cand, base *RunData) (GateResult, error) {
	r, err := g.evaluate(gt, cand, base)
	return r, g.gateErr(gt, err)
}

// gateErr names the gate and file in an error of its evaluation.
func (g *Gates) gateErr(gt *Gate, err error) error {
	var ie *inputError
	switch {
	case errors.As(err, &ie):
		return &GateError{File: g.Path, Line: gt.line, Gate: gt.Name, Msg: ie.msg}
	case err != nil:
		return fmt.Errorf("analyze: gate %q: %w", gt.Name, err)
	}
	return nil
}

// hasCheck refuses a gate on a response check that the run does not have:
// every check of a run is in its overall stats, judged or not.
func hasCheck(gt *Gate, cand *RunData) error {
	if !isCheckMetric(gt.sel.Metric) || cand.Summary == nil {
		return nil
	}
	have := cand.Summary.Overall.Checks
	names := make([]string, 0, len(have))
	for n := range have {
		names = append(names, n)
	}
	sort.Strings(names)
	switch _, ok := have[gt.sel.Check]; {
	case len(have) == 0:
		return inputErr("the judged run %s has no checks (a scenario file's checks: list)", cand.ID)
	case gt.sel.Check != "" && !ok:
		return inputErr("the judged run %s has no check %q (it has %s)", cand.ID, gt.sel.Check, strings.Join(names, ", "))
	}
	return nil
}

// metricName names a selector's metric in a verdict: its check too.
func metricName(sel Selector) string {
	if sel.Check != "" {
		return sel.Metric + "{check:" + sel.Check + "}"
	}
	return sel.Metric
}

func (g *Gates) evaluate(gt *Gate, cand, base *RunData) (GateResult, error) {
	r := GateResult{
		Name: gt.Name, Kind: gt.kind, Metric: metricName(gt.sel), Scope: scopeOf(gt.sel),
		Expr: gt.Expr, Critical: gt.Critical, Weight: 1, Unit: unitOf(gt.sel.Metric),
	}
	if gt.Weight != nil {
		r.Weight = *gt.Weight
	}
	var err error
	switch gt.kind {
	case Absolute:
		err = g.absolute(gt, cand, &r)
	case Goodput:
		err = g.goodput(gt, cand, &r)
	case Relative:
		r.Expr = relativeExpr(gt)
		err = g.relative(gt, cand, base, &r)
	case DivergenceGate:
		if gt.Segment != "" {
			r.Scope = "segment:" + gt.Segment
		}
		err = g.divergence(gt, cand, &r)
	}
	r.Pass = r.Status == GatePass
	return r, err
}

func scopeOf(sel Selector) string {
	switch {
	case sel.Scenario != "":
		return "scenario:" + sel.Scenario
	case sel.TagKey != "":
		return "tag:" + sel.TagKey + "=" + sel.TagValue
	}
	return "overall"
}

func unitOf(metric string) string {
	switch metric {
	case MetricOutputTokens, MetricInputTokens:
		return "tokens"
	case MetricTokensPerSecPerUser:
		return "tokens/s"
	case MetricRequests:
		return "req/s"
	case MetricTokensPerSec:
		return "tokens/s"
	}
	if _, ok := metricByName(metric); ok {
		return "ms"
	}
	return ""
}

func relativeExpr(gt *Gate) string {
	what := gt.sel.Metric
	if gt.stat.Expr != "" {
		what = gt.stat.Expr + " " + what
	}
	against := "baseline"
	if gt.cmp != nil {
		against = gt.cmp.Raw
	}
	return fmt.Sprintf("%s vs %s: %s at most %s", what, against, gt.Direction, gt.Allowed)
}

func inconclusive(r *GateResult, format string, a ...any) {
	r.Status = GateInconclusive
	r.Reason = fmt.Sprintf(format, a...)
}

// stats returns the stats of sel's group in d, or an error naming the
// missing scenario or tag.
func statsOf(d *RunData, sel Selector, which string) (*Stats, error) {
	v := d.Summary.view(sel)
	if v.st == nil {
		switch {
		case sel.Scenario != "":
			return nil, inputErr("the %s run %s has no scenario %q (it has %s)", which, d.ID, sel.Scenario, scenarioNames(d.Summary))
		default:
			return nil, inputErr("the %s run %s has no tag group %s=%s", which, d.ID, sel.TagKey, sel.TagValue)
		}
	}
	return v.st, nil
}

func scenarioNames(s *Summary) string {
	names := make([]string, 0, len(s.Scenarios))
	for n := range s.Scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func (g *Gates) absolute(gt *Gate, cand *RunData, r *GateResult) error {
	st, err := statsOf(cand, gt.sel, "judged")
	if err != nil {
		return err
	}
	// Counts, the achieved rate and drops decide on any number of
	// requests: too few is what they are about.
	anyN := gt.th.Agg == AggCount || gt.sel.Metric == MetricRequests || gt.sel.Metric == MetricDropped
	if n := st.Requests.Total; n < g.minRequests() && !anyN {
		inconclusive(r, "%d requests, fewer than the %d a decision needs", n, g.minRequests())
		return nil
	}
	if gt.th.Agg == AggCount {
		r.Unit = ""
	}
	c := check{sel: gt.sel, th: gt.th, spec: ThresholdSpec{Threshold: gt.Expr}}
	obs, ok, err := observe(cand.Summary.view(gt.sel), c)
	if err != nil {
		return err
	}
	what := gt.sel.Metric
	if gt.sel.Check != "" {
		what += " " + strconv.Quote(gt.sel.Check)
	}
	if !ok {
		inconclusive(r, "no %s data in this run", what)
		return nil
	}
	r.Observed = obs
	r.Status = GateFail
	if gt.th.Holds(obs) {
		r.Status = GatePass
	}
	r.Reason = fmt.Sprintf("%s %s is %s (%s %s)", statName(gt.th), what, fmtObserved(obs, r.Unit, gt.sel.Metric, gt.th.Agg),
		verdictWord(r.Status), gt.Expr)
	return nil
}

// goodput judges a goodput gate from the counts the run kept live, else
// from its samples, else — for an SLO on one metric — from that metric's
// histogram (to its 3 significant digits).
func (g *Gates) goodput(gt *Gate, cand *RunData, r *GateResult) error {
	st, err := statsOf(cand, gt.sel, "judged")
	if err != nil {
		return err
	}
	group := gt.sel.group()
	view := cand.Summary.view(gt.sel)
	for _, m := range gt.slo.Metrics() {
		if st.Requests.OK > 0 && histCount(view, m) == 0 {
			inconclusive(r, "no successful request of the run has %s: %s", m, sloText(gt.Goodput))
			return nil
		}
	}
	var met, total int64
	metrics := gt.slo.Metrics()
	switch n, counted := st.Goodput[gt.slo.Key]; {
	case counted:
		met, total = n, st.Requests.Total+st.Requests.Dropped
	case cand.Goodput != nil:
		met, total, err = cand.Goodput(group, gt.slo)
		if errors.Is(err, ErrNoSLOData) {
			inconclusive(r, "%v", err)
			return nil
		} else if err != nil {
			return err
		}
	case len(metrics) == 1 && view.hist != nil:
		h := view.hist(metrics[0])
		met = st.Requests.OK - histTotal(h) + countAtMost(h, gt.slo.limits[mustMetric(metrics[0])])
		total = st.Requests.Total + st.Requests.Dropped
	default:
		return inputErr("a goodput gate over %s needs the SLO counted during the run (gonogo load --gates FILE) or per-request samples (--samples)", strings.Join(metrics, " and "))
	}
	if total < g.minRequests() {
		inconclusive(r, "%d requests, fewer than the %d a decision needs", total, g.minRequests())
		return nil
	}
	share := float64(met) / float64(total)
	r.Observed = roundTo(share, 6)
	r.Status = GateFail
	if gt.th.Holds(share) {
		r.Status = GatePass
	}
	r.Reason = fmt.Sprintf("goodput %s of %d requests met %s (%s %s)", numfmt.Percent(share), total, sloText(gt.Goodput), verdictWord(r.Status), gt.Expr)
	return nil
}

// histCount is the number of values of a metric in a view, from its
// histogram or else its digest.
func histCount(v view, metric string) int64 {
	if v.hist != nil {
		return histTotal(v.hist(metric))
	}
	if ms := v.st.Metric(metric); ms != nil {
		return ms.Count
	}
	return 0
}

// countAtMost counts the values of h in buckets wholly at or below v.
func countAtMost(h *hdr.Histogram, v int64) int64 {
	if h == nil {
		return 0
	}
	var n int64
	for _, b := range h.Distribution() {
		if b.Count > 0 && b.To <= v {
			n += b.Count
		}
	}
	return n
}

func mustMetric(name string) metricID {
	m, ok := metricByName(name)
	if !ok {
		panic("analyze: unknown metric " + name)
	}
	return m
}

func sloText(slo map[string]string) string {
	keys := make([]string, 0, len(slo))
	for k := range slo {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " ≤ " + slo[k]
	}
	return strings.Join(parts, " and ")
}

// relative compares the gate's group of cand with the same group of base,
// or with the gate's compare group of cand itself.
func (g *Gates) relative(gt *Gate, cand, base *RunData, r *GateResult) error {
	bsel, bwhich := gt.sel, "baseline"
	switch {
	case gt.cmp != nil:
		base, bsel, bwhich = cand, *gt.cmp, "judged"
	case base == nil:
		return inputErr("a relative gate needs a baseline: pass --baseline DIR (or last-go)")
	case base.missing != "":
		inconclusive(r, "no baseline: %s", base.missing)
		return nil
	}
	cst, err := statsOf(cand, gt.sel, "judged")
	if err != nil {
		return err
	}
	bst, err := statsOf(base, bsel, bwhich)
	if err != nil {
		if gt.cmp == nil {
			return inputErr("%v: is the baseline from another scenario?", err)
		}
		return err
	}
	minN := g.minRequests()
	if cst.Requests.Total < minN || bst.Requests.Total < minN {
		inconclusive(r, "%d requests in %s and %d in %s; a comparison needs %d on each side",
			cst.Requests.Total, groupName(gt.sel, "the run"), bst.Requests.Total, groupName(bsel, bwhich), minN)
		return nil
	}
	alpha := DefaultAlpha
	if gt.Alpha != nil {
		alpha = *gt.Alpha
	}
	switch gt.sel.Metric {
	case MetricErrors:
		return relativeErrors(gt, cst, bst, alpha, r)
	case MetricRequests, MetricTokensPerSec:
		return relativeRate(gt, cst, bst, r)
	}
	hc, hb := cand.Histogram(gt.sel.group(), gt.sel.Metric), base.Histogram(bsel.group(), gt.sel.Metric)
	return relativeHist(gt, hc, hb, alpha, minN, r)
}

// groupName names a selector's group in a sentence.
func groupName(sel Selector, whole string) string {
	if s := scopeOf(sel); s != "overall" {
		return s
	}
	return whole
}

func (gt *Gate) bad(change float64) bool {
	switch gt.Direction {
	case "increase":
		return change > gt.allowed
	case "decrease":
		return change < -gt.allowed
	}
	return math.Abs(change) > gt.allowed
}

func relativeHist(gt *Gate, hc, hb *hdr.Histogram, alpha float64, minN int64, r *GateResult) error {
	metric := gt.sel.Metric
	if histTotal(hc) < minN || histTotal(hb) < minN {
		inconclusive(r, "too few %s values to compare (%d in the run, %d in the baseline; %d needed)", metric, histTotal(hc), histTotal(hb), minN)
		return nil
	}
	id, _ := metricByName(metric)
	statOf := func(h *hdr.Histogram) float64 {
		switch gt.stat.Agg {
		case AggAvg:
			return roundTo(h.Mean()/unitScale(id), 3)
		case AggMed:
			return roundTo(float64(h.ValueAtPercentile(50))/unitScale(id), 3)
		}
		return roundTo(float64(h.ValueAtPercentile(gt.stat.QuantilePct))/unitScale(id), 3)
	}
	c, b := statOf(hc), statOf(hb)
	change := relChange(b, c)
	fill(r, c, b, change, math.NaN(), math.NaN())
	head := fmt.Sprintf("%s %s %s (%s → %s), allowed %s", gt.stat.Expr, metric, changeText(change),
		fmtValue(b, r.Unit, AggPercentile), fmtValue(c, r.Unit, AggPercentile), gt.Allowed)
	var significant bool
	var test string
	var err error
	if gt.stat.Agg == AggPercentile && gt.stat.QuantilePct != 50 {
		significant, test, err = tailTest(gt, hb, hc, alpha, r)
	} else {
		significant, test, err = shiftTest(gt, hb, hc, alpha, r)
	}
	if errors.Is(err, ErrTooFewSamples) {
		inconclusive(r, "%s; too few values for the test", head)
		return nil
	} else if err != nil {
		return err
	}
	r.Status = GatePass
	r.Reason = head + "; " + test
	if gt.bad(change) {
		if significant {
			r.Status = GateFail
		} else {
			r.Reason += ": not significant, so not failed"
		}
	}
	return nil
}

// shiftTest compares whole distributions (for avg, med and p(50) gates)
// with a Mann–Whitney U test; a shift is significant when the one-sided
// p-value in the bad direction is below alpha and |Cliff's delta| reaches
// minEffect.
func shiftTest(gt *Gate, hb, hc *hdr.Histogram, alpha float64, r *GateResult) (bool, string, error) {
	mw, err := MannWhitneyHist(hb, hc)
	if err != nil {
		return false, "", err
	}
	minEffect := DefaultMinEffect
	if gt.MinEffect != nil {
		minEffect = *gt.MinEffect
	}
	p, significant := mw.PTwoSided, false
	switch gt.Direction {
	case "increase":
		p = mw.PGreater
		significant = p < alpha && mw.CliffsDelta >= minEffect
	case "decrease":
		p = mw.PLess
		significant = p < alpha && mw.CliffsDelta <= -minEffect
	default:
		significant = p < alpha && math.Abs(mw.CliffsDelta) >= minEffect
	}
	delta := roundTo(mw.CliffsDelta, 4)
	r.PValue, r.EffectSize = &p, &delta
	return significant, fmt.Sprintf("Mann–Whitney %s, Cliff's δ %+.2f (significant: p < %g and |δ| ≥ %g)", numfmt.P(p), mw.CliffsDelta, alpha, minEffect), nil
}

// tailTest checks a percentile gate where the change is: the share of
// candidate values beyond the baseline's N-th percentile against the
// baseline's own share (about 1 − N/100), with a two-proportion test. A
// whole-distribution test would miss a tail regression — a few per cent
// of requests stalling — which is what p99 gates are for.
func tailTest(gt *Gate, hb, hc *hdr.Histogram, alpha float64, r *GateResult) (bool, string, error) {
	v := hb.ValueAtPercentile(gt.stat.QuantilePct)
	above := gt.Direction != "decrease"
	xb, xc := beyond(hb, v, above), beyond(hc, v, above)
	pr, err := TwoProportion(xb, hb.TotalCount(), xc, hc.TotalCount())
	if err != nil {
		return false, "", err
	}
	p := pr.PTwoSided
	switch gt.Direction {
	case "increase":
		p = pr.PGreater
	case "decrease":
		p = pr.PGreater // more values below the baseline's percentile
	}
	diff := roundTo(pr.Diff, 6)
	r.PValue, r.EffectSize = &p, &diff
	side := "above"
	if !above {
		side = "below"
	}
	return p < alpha, fmt.Sprintf("%s of requests %s the baseline's %s (baseline %s), two-proportion %s",
		numfmt.Percent(pr.PCandidate), side, gt.stat.Expr, numfmt.Percent(pr.PBaseline), numfmt.P(p)), nil
}

// beyond counts the values of h in buckets wholly above (or below) the
// bucket of v.
func beyond(h *hdr.Histogram, v int64, above bool) int64 {
	var n int64
	for _, b := range h.Distribution() {
		if b.Count > 0 && ((above && b.From > v) || (!above && b.To < v)) {
			n += b.Count
		}
	}
	return n
}

func relativeErrors(gt *Gate, cst, bst *Stats, alpha float64, r *GateResult) error {
	xc, xb := cst.Requests.FailedTotal(), bst.Requests.FailedTotal()
	pr, err := TwoProportion(xb, bst.Requests.Total, xc, cst.Requests.Total)
	if errors.Is(err, ErrTooFewSamples) {
		inconclusive(r, "too few requests for the two-proportion test")
		return nil
	} else if err != nil {
		return err
	}
	diff := pr.Diff
	p := pr.PTwoSided
	switch gt.Direction {
	case "increase":
		p = pr.PGreater
	case "decrease":
		p = pr.PLess
	}
	r.Unit = ""
	fill(r, roundTo(pr.PCandidate, 6), roundTo(pr.PBaseline, 6), math.NaN(), p, roundTo(diff, 6))
	r.Status = GatePass
	if p < alpha && gt.bad(diff) {
		r.Status = GateFail
	}
	r.Reason = fmt.Sprintf("error rate %s %s pp (%s → %s), allowed %s; two-proportion test %s",
		changeVerb(diff), numfmt.Sig(100*math.Abs(diff)), numfmt.Percent(pr.PBaseline), numfmt.Percent(pr.PCandidate), gt.Allowed, numfmt.P(p))
	if p >= alpha && gt.bad(diff) {
		r.Reason += fmt.Sprintf(": not significant at %g, so not failed", alpha)
	}
	return nil
}

func relativeRate(gt *Gate, cst, bst *Stats, r *GateResult) error {
	c, b := cst.Rate.AchievedPerSec, bst.Rate.AchievedPerSec
	what := "achieved rate"
	if gt.sel.Metric == MetricTokensPerSec {
		if cst.TokensPerSec == nil || bst.TokensPerSec == nil {
			inconclusive(r, "no tokens/s in the run or the baseline")
			return nil
		}
		c, b, what = *cst.TokensPerSec, *bst.TokensPerSec, "tokens/s"
	}
	if b <= 0 {
		inconclusive(r, "the baseline's %s is 0", what)
		return nil
	}
	change := relChange(b, c)
	fill(r, roundTo(c, 3), roundTo(b, 3), change, math.NaN(), math.NaN())
	r.Status = GatePass
	if gt.bad(change) {
		r.Status = GateFail
	}
	r.Reason = fmt.Sprintf("%s %s (%s → %s; ratio %s), allowed %s", what, changeText(change),
		numfmt.Unit(b, r.Unit), numfmt.Unit(c, r.Unit), numfmt.Sig(c/b), gt.Allowed)
	return nil
}

// fill sets the comparison fields; NaN leaves p or effect unset.
func fill(r *GateResult, obs, base, change, p, effect float64) {
	r.Observed = obs
	r.Baseline = &base
	if !math.IsNaN(change) && !math.IsInf(change, 0) {
		pct := roundTo(100*change, 2)
		r.ChangePct = &pct
	}
	if !math.IsNaN(p) {
		r.PValue = &p
	}
	if !math.IsNaN(effect) {
		e := roundTo(effect, 4)
		r.EffectSize = &e
	}
}

// relChange is (c − b)/b; ±Inf when b is 0 and c is not, 0 when both are.
func relChange(b, c float64) float64 {
	switch {
	case b != 0:
		return (c - b) / b
	case c == 0:
		return 0
	case c > 0:
		return math.Inf(1)
	}
	return math.Inf(-1)
}

func (g *Gates) divergence(gt *Gate, cand *RunData, r *GateResult) error {
	rep := cand.Divergence
	if rep == nil {
		return inputErr("a divergence gate needs a shadow run (divergence.json): run gonogo shadow, or gonogo analyze divergence DIR")
	}
	cr, err := pickCandidate(rep, gt.Candidate)
	if err != nil {
		return err
	}
	r.Metric = gt.Divergence
	if gt.Candidate != "" || len(rep.Candidates) > 1 {
		r.Metric = gt.Divergence + "{" + cr.Target + "}"
	}
	n := cr.Raw.Compared
	var v float64
	var ok bool
	if gt.Segment != "" {
		v, n, ok = segmentValue(cr, gt)
		if n < 0 { // segments follow the data: a night without short prompts has none
			inconclusive(r, "shadow candidate %s has no segment %s in this run", cr.Target, gt.Segment)
			return nil
		}
	} else {
		v, ok = headlineValue(cr, gt.Divergence, gt.Raw)
	}
	if n < g.minRequests() {
		inconclusive(r, "%d compared pairs, fewer than the %d a decision needs", n, g.minRequests())
		return nil
	}
	if !ok {
		inconclusive(r, "no %s in this shadow run (outputs were compared as %s)", gt.Divergence, kindsText(rep))
		return nil
	}
	r.Observed = roundTo(v, 6)
	r.Status = GateFail
	if gt.th.Holds(v) {
		r.Status = GatePass
	}
	which := "noise-corrected"
	if gt.Raw || strings.HasPrefix(gt.Divergence, "drift_") {
		which = "raw"
	}
	r.Reason = fmt.Sprintf("%s of %s is %s (%s, %d pairs; %s %s)", gt.Divergence, cr.Target, numfmt.Sig(v), which, n, verdictWord(r.Status), gt.Expr)
	return nil
}

func pickCandidate(rep *divergence.Report, name string) (*divergence.CandidateReport, error) {
	var names []string
	for i := range rep.Candidates {
		c := &rep.Candidates[i]
		if c.Target == name || (name == "" && len(rep.Candidates) == 1) {
			return c, nil
		}
		names = append(names, c.Target)
	}
	if name == "" {
		return nil, inputErr("the shadow run has %d candidates (%s): name one with candidate:", len(names), strings.Join(names, ", "))
	}
	return nil, inputErr("the shadow run has no candidate %q (it has %s)", name, strings.Join(names, ", "))
}

func kindsText(rep *divergence.Report) string {
	var ks []string
	for k := range rep.Kinds {
		ks = append(ks, string(k))
	}
	sort.Strings(ks)
	if len(ks) == 0 {
		return "nothing"
	}
	return strings.Join(ks, ", ")
}

func headlineValue(cr *divergence.CandidateReport, metric string, raw bool) (float64, bool) {
	if d, ok := strings.CutPrefix(metric, "drift_"); ok {
		dr := cr.Raw.Drift
		if dr == nil {
			return 0, false
		}
		return map[string]float64{"psi": dr.PSI, "ks": dr.KSD, "js": dr.JS, "wasserstein": dr.WassersteinNorm}[d], true
	}
	name, invert := metric, false
	if metric == "exact_match_rate" {
		name, invert = "text_mismatch_rate", true
	}
	for _, h := range cr.Headline {
		if h.Metric != name {
			continue
		}
		v := h.Corrected
		if raw {
			v = h.Raw
		}
		if invert {
			v = 1 - v
		}
		return v, true
	}
	return 0, false
}

// segmentValue returns the segment's figure and compared pairs; n < 0 when
// the segment does not exist.
func segmentValue(cr *divergence.CandidateReport, gt *Gate) (v float64, n int64, ok bool) {
	k, val, _ := strings.Cut(gt.Segment, "=")
	for _, s := range cr.Segments {
		if s.Key != k || s.Value != val {
			continue
		}
		switch {
		case gt.Divergence == "error_rate":
			return s.ErrorRate, s.Compared, true
		case gt.Raw:
			return s.DivergedRate, s.Compared, true
		}
		return s.Corrected, s.Compared, true
	}
	return 0, -1, false
}

// decide sets the verdict, score and reasons from the gate results.
func decide(v *Verdict) {
	var total, passed, failed float64
	var critFail, critInc, fails, incs []GateResult
	for _, r := range v.Gates {
		total += r.Weight
		switch r.Status {
		case GatePass:
			passed += r.Weight
		case GateFail:
			failed += r.Weight
			if r.Critical {
				critFail = append(critFail, r)
			} else {
				fails = append(fails, r)
			}
		case GateInconclusive:
			if r.Critical {
				critInc = append(critInc, r)
			} else {
				incs = append(incs, r)
			}
		}
	}
	score, best := 0.0, 0.0 // best: the score if every inconclusive gate had passed
	if total > 0 {
		score, best = 100*passed/total, 100*(total-failed)/total
	}
	v.Score = roundTo(score, 1)
	var summary string
	switch {
	case len(critFail) > 0:
		v.Verdict = NoGo
	case total == 0:
		v.Verdict, summary = Inconclusive, "every gate has weight 0: nothing to score"
	case best < v.MarginalScore:
		v.Verdict = NoGo
		summary = fmt.Sprintf("score %s < marginal %g", numfmt.Decimals(v.Score, 1), v.MarginalScore)
		if best > score {
			summary += fmt.Sprintf(" even if the inconclusive gates had passed (%s)", numfmt.Decimals(best, 1))
		}
	case len(critInc) > 0:
		v.Verdict = Inconclusive
	case score >= v.PassScore:
		v.Verdict = Go
		summary = fmt.Sprintf("score %s ≥ pass %g: %d of %d gates passed", numfmt.Decimals(v.Score, 1), v.PassScore, countStatus(v.Gates, GatePass), len(v.Gates))
	case score >= v.MarginalScore:
		v.Verdict = Inconclusive
		summary = fmt.Sprintf("score %s is marginal (pass %g, marginal %g)", numfmt.Decimals(v.Score, 1), v.PassScore, v.MarginalScore)
	default:
		v.Verdict = Inconclusive
		summary = fmt.Sprintf("score %s < marginal %g only because gates lacked data: not enough evidence for a no-go", numfmt.Decimals(v.Score, 1), v.MarginalScore)
	}
	add := func(prefix string, rs []GateResult) {
		for _, r := range rs {
			v.Reasons = append(v.Reasons, fmt.Sprintf("%s %q: %s", prefix, r.Name, r.Reason))
		}
	}
	add("critical gate failed:", critFail)
	add("critical gate inconclusive:", critInc)
	add("gate failed:", fails)
	add("gate inconclusive:", incs)
	if summary != "" {
		v.Reasons = append(v.Reasons, summary)
	}
}

func countStatus(rs []GateResult, s GateStatus) int {
	n := 0
	for _, r := range rs {
		if r.Status == s {
			n++
		}
	}
	return n
}

// ExitCode maps a decision to the exit code of DESIGN.md: 0 go, 3 no-go,
// 4 inconclusive.
func (d Decision) ExitCode() int {
	switch d {
	case Go:
		return 0
	case NoGo:
		return 3
	}
	return 4
}

func verdictWord(s GateStatus) string {
	if s == GatePass {
		return "within"
	}
	return "outside"
}

func statName(th Threshold) string {
	if th.Agg == AggPercentile {
		return fmt.Sprintf("p%g", th.QuantilePct)
	}
	return string(th.Agg)
}

func changeVerb(change float64) string {
	if change < 0 {
		return "fell"
	}
	return "rose"
}

// changeText says how a relative change went: "rose 12.5 %", "fell 3 %",
// "rose from 0".
func changeText(change float64) string {
	if math.IsInf(change, 0) {
		return changeVerb(change) + " from 0"
	}
	return changeVerb(change) + " " + numfmt.Percent(math.Abs(change))
}

// fmtValue formats a gate's value as its aggregation reads: a rate as a
// percentage, a count whole, anything else with its unit.
func fmtValue(v float64, unit string, agg Aggregation) string {
	switch agg {
	case AggRate:
		return numfmt.Percent(v)
	case AggCount:
		return numfmt.Decimals(v, 0)
	}
	return numfmt.Unit(v, unit)
}

// fmtObserved formats an absolute gate's value: rates of errors and drops
// as percentages, the achieved rate (requests rate) in req/s.
func fmtObserved(v float64, unit, metric string, agg Aggregation) string {
	if agg == AggRate && metric == MetricRequests {
		return numfmt.Unit(v, "req/s")
	}
	return fmtValue(v, unit, agg)
}
