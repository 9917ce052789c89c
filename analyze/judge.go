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
)

// Judge evaluates every gate of g against the candidate run, and the
// relative gates against the baseline (nil when none), and decides. The
// score is the weighted share of gates that passed; inconclusive gates
// count as not passed (too little data is never a silent pass).
//
//   - a failing critical gate is a no-go whatever the score;
//   - so is a score below marginal that stays below it even if every
//     inconclusive gate had passed (failures alone sink it);
//   - otherwise an inconclusive critical gate makes the verdict
//     inconclusive;
//   - otherwise a score at or above pass is a go; anything lower is
//     inconclusive (marginal, or short of data).
//
// Errors are about the input, not the outcome: a relative gate without a
// baseline, a baseline without the gate's scenario, a divergence gate on a
// run without divergence.json, a goodput gate on a run without samples, a
// scenario the run does not have. They wrap ErrGates and name the gate.
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
		r, err := g.evaluate(gt, cand, base)
		if err != nil {
			return nil, &GateError{File: g.Path, Line: gt.line, Gate: gt.Name, Msg: err.Error()}
		}
		v.Gates = append(v.Gates, r)
	}
	decide(v)
	return v, nil
}

func (g *Gates) evaluate(gt *Gate, cand, base *RunData) (GateResult, error) {
	r := GateResult{
		Name: gt.Name, Kind: gt.kind, Metric: gt.sel.Metric, Scope: scopeOf(gt.sel),
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
	case MetricOutputTokens:
		return "tokens"
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
	return fmt.Sprintf("%s vs baseline: %s at most %s", what, gt.Direction, gt.Allowed)
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
			return nil, fmt.Errorf("the %s run %s has no scenario %q (it has %s)", which, d.ID, sel.Scenario, scenarioNames(d.Summary))
		default:
			return nil, fmt.Errorf("the %s run %s has no tag group %s=%s", which, d.ID, sel.TagKey, sel.TagValue)
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
	if !ok {
		inconclusive(r, "no %s data in this run", gt.sel.Metric)
		return nil
	}
	r.Observed = obs
	r.Status = GateFail
	if gt.th.Holds(obs) {
		r.Status = GatePass
	}
	r.Reason = fmt.Sprintf("%s %s is %s (%s %s)", statName(gt.th), gt.sel.Metric, fmtObserved(obs, r.Unit, gt.sel.Metric, gt.th.Agg),
		verdictWord(r.Status), gt.Expr)
	return nil
}

func (g *Gates) goodput(gt *Gate, cand *RunData, r *GateResult) error {
	if cand.Goodput == nil {
		return errors.New("a goodput gate needs per-request samples: run with --samples (samples.ndjson.gz)")
	}
	group := gt.sel.group()
	if gt.sel.Scenario != "" {
		if _, err := statsOf(cand, gt.sel, "judged"); err != nil {
			return err
		}
	}
	met, total, err := cand.Goodput(group, gt.slo)
	if errors.Is(err, ErrNoSLOData) {
		inconclusive(r, "%v", err)
		return nil
	} else if err != nil {
		return err
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
	r.Reason = fmt.Sprintf("goodput %.1f %% of %d requests met %s (%s %s)", 100*share, total, sloText(gt.Goodput), verdictWord(r.Status), gt.Expr)
	return nil
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

func (g *Gates) relative(gt *Gate, cand, base *RunData, r *GateResult) error {
	if base == nil {
		return errors.New("a relative gate needs a baseline: pass --baseline DIR (or last-go)")
	}
	if base.missing != "" {
		inconclusive(r, "no baseline: %s", base.missing)
		return nil
	}
	cst, err := statsOf(cand, gt.sel, "judged")
	if err != nil {
		return err
	}
	bst, err := statsOf(base, gt.sel, "baseline")
	if err != nil {
		return fmt.Errorf("%w: is the baseline from another scenario?", err)
	}
	minN := g.minRequests()
	if cst.Requests.Total < minN || bst.Requests.Total < minN {
		inconclusive(r, "%d requests in the run and %d in the baseline; a comparison needs %d on each side",
			cst.Requests.Total, bst.Requests.Total, minN)
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
	return relativeHist(gt, cand, base, alpha, minN, r)
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

func relativeHist(gt *Gate, cand, base *RunData, alpha float64, minN int64, r *GateResult) error {
	group, metric := gt.sel.group(), gt.sel.Metric
	hc, hb := cand.Histogram(group, metric), base.Histogram(group, metric)
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
	head := fmt.Sprintf("%s %s %s %s (%s → %s), allowed %s", gt.stat.Expr, metric, changeVerb(change), fmtPct(change),
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
	return significant, fmt.Sprintf("Mann–Whitney %s, Cliff's δ %+.2f (significant: p < %g and |δ| ≥ %g)", fmtP(p), mw.CliffsDelta, alpha, minEffect), nil
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
	return p < alpha, fmt.Sprintf("%.2f %% of requests %s the baseline's %s (baseline %.2f %%), two-proportion %s",
		100*pr.PCandidate, side, gt.stat.Expr, 100*pr.PBaseline, fmtP(p)), nil
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
	r.Reason = fmt.Sprintf("error rate %s %.2f pp (%.2f %% → %.2f %%), allowed %s; two-proportion test %s",
		changeVerb(diff), 100*math.Abs(diff), 100*pr.PBaseline, 100*pr.PCandidate, gt.Allowed, fmtP(p))
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
	r.Reason = fmt.Sprintf("%s %s %s (%.1f → %.1f %s; ratio %.3f), allowed %s", what, changeVerb(change), fmtPct(change), b, c, r.Unit, c/b, gt.Allowed)
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
		return errors.New("a divergence gate needs a shadow run (divergence.json): run gonogo shadow, or gonogo analyze divergence DIR")
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
	r.Reason = fmt.Sprintf("%s of %s is %s (%s, %d pairs; %s %s)", gt.Divergence, cr.Target, fmtNum3(v), which, n, verdictWord(r.Status), gt.Expr)
	return nil
}

func pickCandidate(rep *DivergenceReport, name string) (*CandidateReport, error) {
	var names []string
	for i := range rep.Candidates {
		c := &rep.Candidates[i]
		if c.Target == name || (name == "" && len(rep.Candidates) == 1) {
			return c, nil
		}
		names = append(names, c.Target)
	}
	if name == "" {
		return nil, fmt.Errorf("the shadow run has %d candidates (%s): name one with candidate:", len(names), strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("the shadow run has no candidate %q (it has %s)", name, strings.Join(names, ", "))
}

func kindsText(rep *DivergenceReport) string {
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

func headlineValue(cr *CandidateReport, metric string, raw bool) (float64, bool) {
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
func segmentValue(cr *CandidateReport, gt *Gate) (v float64, n int64, ok bool) {
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
		summary = fmt.Sprintf("score %.1f < marginal %g", v.Score, v.MarginalScore)
		if best > score {
			summary += fmt.Sprintf(" even if the inconclusive gates had passed (%.1f)", best)
		}
	case len(critInc) > 0:
		v.Verdict = Inconclusive
	case score >= v.PassScore:
		v.Verdict = Go
		summary = fmt.Sprintf("score %.1f ≥ pass %g: %d of %d gates passed", v.Score, v.PassScore, countStatus(v.Gates, GatePass), len(v.Gates))
	case score >= v.MarginalScore:
		v.Verdict = Inconclusive
		summary = fmt.Sprintf("score %.1f is marginal (pass %g, marginal %g)", v.Score, v.PassScore, v.MarginalScore)
	default:
		v.Verdict = Inconclusive
		summary = fmt.Sprintf("score %.1f < marginal %g only because gates lacked data: not enough evidence for a no-go", v.Score, v.MarginalScore)
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

func fmtPct(change float64) string {
	if math.IsInf(change, 0) {
		return "from 0"
	}
	return fmt.Sprintf("%.1f %%", 100*math.Abs(change))
}

func fmtP(p float64) string {
	if p < 0.001 {
		return "p < 0.001"
	}
	return fmt.Sprintf("p = %.3f", p)
}

func fmtValue(v float64, unit string, agg Aggregation) string {
	switch {
	case agg == AggRate:
		return fmt.Sprintf("%.2f %%", 100*v)
	case agg == AggCount:
		return fmt.Sprintf("%.0f", v)
	case unit == "":
		return fmtNum3(v)
	}
	return fmtNum3(v) + " " + unit
}

// fmtObserved formats an absolute gate's value: rates of errors and drops
// as percentages, the achieved rate (requests rate) in req/s.
func fmtObserved(v float64, unit, metric string, agg Aggregation) string {
	if agg == AggRate && metric == MetricRequests {
		return fmtNum3(v) + " req/s"
	}
	return fmtValue(v, unit, agg)
}

// fmtNum3 formats v with three significant digits, whole from 100.
func fmtNum3(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100 || a == 0:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
