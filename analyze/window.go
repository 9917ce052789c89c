package analyze

import (
	"fmt"
	"time"
)

// window is a range of slices, [from, to).
type window struct{ from, to int }

// windowsOf returns every window of length span over slices, one ending at
// each slice's end, from the first that covers a whole span; when the run
// is shorter than span, the one window of every slice.
func windowsOf(slices []*Slice, span time.Duration) []window {
	if len(slices) == 0 {
		return nil
	}
	slack := span / 100 // intervals end on the run's ticks, within a little
	start := slices[0].Start
	var out []window
	from := 0
	for to := range slices {
		end := slices[to].End
		if end.Sub(start) < span-slack {
			continue
		}
		for from < to && slices[from].Start.Before(end.Add(-span-slack)) {
			from++
		}
		out = append(out, window{from, to + 1})
	}
	if len(out) == 0 {
		out = append(out, window{0, len(slices)})
	}
	return out
}

// keepFor says which histograms a windowed gate reads.
func keepFor(gt *Gate) func(group, metric string) bool {
	groups := map[string]bool{gt.sel.group(): true}
	if gt.cmp != nil {
		groups[gt.cmp.group()] = true
	}
	metrics := map[string]bool{gt.sel.Metric: true}
	if gt.kind == Goodput {
		metrics = map[string]bool{}
		for _, m := range gt.slo.Metrics() {
			metrics[m] = true
		}
	}
	return func(group, metric string) bool { return groups[group] && metrics[metric] }
}

// windowed judges a windowed gate over every window of cand: it fails when
// a window fails, is inconclusive when none fails and one lacks data, and
// reports the worst window.
func (g *Gates) windowed(gt *Gate, cand, base *RunData) (GateResult, error) {
	if cand.Slices == nil {
		return GateResult{}, inputErr("a windowed gate needs the run's intervals (latency.hlog and timeline.ndjson), which this run does not have")
	}
	slices, err := cand.Slices(keepFor(gt))
	if err != nil {
		return GateResult{}, err
	}
	ws := windowsOf(slices, gt.window)
	if len(ws) == 0 {
		r, err := g.evaluate(gt, &RunData{ID: cand.ID, Summary: &Summary{}}, base)
		if err == nil {
			r.Window = gt.Window
			inconclusive(&r, "the run has no interval to judge over %s windows", gt.Window)
			r.Pass = false
		}
		return r, err
	}
	var worst GateResult
	var worstW window
	failed, inconclusiveN := 0, 0
	for i, w := range ws {
		wd := WindowOf(slices[w.from:w.to], cand.SLOs)
		wd.ID = cand.ID
		r, err := g.evaluate(gt, wd, base)
		if err != nil {
			return r, err
		}
		switch r.Status {
		case GateFail:
			failed++
		case GateInconclusive:
			inconclusiveN++
		}
		if i == 0 || worse(gt, &r, &worst) {
			worst, worstW = r, w
		}
	}
	start := slices[0].Start
	span := &WindowSpan{
		StartS: roundTo(slices[worstW.from].Start.Sub(start).Seconds(), 3),
		EndS:   roundTo(slices[worstW.to-1].End.Sub(start).Seconds(), 3),
	}
	worst.Window, worst.Windows, worst.WindowsFailed, worst.Worst = gt.Window, len(ws), failed, span
	which := "worst"
	if len(ws) == 1 && slices[len(slices)-1].End.Sub(start) < gt.window {
		which = fmt.Sprintf("the run (%.0fs) is shorter than the %s window; whole run", span.EndS-span.StartS, gt.Window)
	}
	worst.Reason = fmt.Sprintf("%s %s window +%gs–+%gs: %s; %d of %d windows failed", which, gt.Window, span.StartS, span.EndS, worst.Reason, failed, len(ws))
	if inconclusiveN > 0 {
		worst.Reason += fmt.Sprintf(", %d had too little data", inconclusiveN)
	}
	switch {
	case failed > 0:
		worst.Status = GateFail
	case inconclusiveN > 0:
		worst.Status = GateInconclusive
	}
	worst.Pass = worst.Status == GatePass
	return worst, nil
}

// worse reports whether a is a worse window result than b: a failure
// before an inconclusive window before a pass, and within one status the
// value furthest on the bad side.
func worse(gt *Gate, a, b *GateResult) bool {
	rank := map[GateStatus]int{GateFail: 2, GateInconclusive: 1, GatePass: 0}
	if ra, rb := rank[a.Status], rank[b.Status]; ra != rb {
		return ra > rb
	}
	if gt.kind == Relative {
		ca, cb := 0.0, 0.0
		if a.ChangePct != nil {
			ca = *a.ChangePct
		}
		if b.ChangePct != nil {
			cb = *b.ChangePct
		}
		switch gt.Direction {
		case "decrease":
			return ca < cb
		case "either":
			return abs(ca) > abs(cb)
		}
		return ca > cb
	}
	switch gt.th.Op {
	case "<", "<=":
		return a.Observed > b.Observed
	case ">", ">=":
		return a.Observed < b.Observed
	}
	return false
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// Watch judges gates while a run goes (gonogo load --gates): windowed
// gates over the last window once the run is that long, and abortOnFail
// gates without a window over the run so far. Divergence gates wait for
// the end of the run.
type Watch struct {
	gates *Gates
	base  *RunData
	live  []*Gate
}

// NewWatch returns a Watch of g's windowed and abortOnFail gates; base is
// the baseline relative gates compare with (nil when none: such gates are
// not watched).
func NewWatch(g *Gates, base *RunData) *Watch {
	w := &Watch{gates: g, base: base}
	for _, gt := range g.Gates {
		if gt.kind == DivergenceGate || (gt.kind == Relative && gt.cmp == nil && base == nil) {
			continue
		}
		if gt.window > 0 || gt.AbortOnFail {
			w.live = append(w.live, gt)
		}
	}
	return w
}

// Len is the number of gates watched.
func (w *Watch) Len() int { return len(w.live) }

// LiveResult is one watched gate's result at a check.
type LiveResult struct {
	GateResult
	// Abort is set when the gate failed and has abortOnFail.
	Abort bool
	// From and To bound what was judged: the window, or the run so far.
	From, To time.Time
}

// Check judges the watched gates on rec at now and returns the results
// of those it could judge (a windowed gate waits for its first full
// window).
func (w *Watch) Check(rec *Recorder, now time.Time) ([]LiveResult, error) {
	var out []LiveResult
	var whole *RunData
	for _, gt := range w.live {
		var d *RunData
		var from time.Time
		if gt.window > 0 {
			if now.Sub(rec.Start()) < gt.window {
				continue
			}
			d = rec.Window(gt.window)
			from = d.Summary.Started
		} else {
			if whole == nil {
				whole = rec.SoFar(now)
			}
			d, from = whole, rec.Start()
		}
		r, err := w.gates.evaluate(gt, d, w.base)
		if err != nil {
			return out, err
		}
		out = append(out, LiveResult{GateResult: r, Abort: r.Status == GateFail && gt.AbortOnFail, From: from, To: now})
	}
	return out, nil
}
