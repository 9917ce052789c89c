package reports

import (
	"html/template"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// The journal's vocabulary of a rollout's transitions, as the rollout
// controller writes it: its events' source, their attributes, and the
// phases a rollout ends in.
const (
	rolloutSource       = "rollout"
	rolloutWeightPrefix = "weight."
	phasePromoted       = "promoted"
	phaseRolledBack     = "rolled-back"
	phaseAborted        = "aborted"
	phasePaused         = "paused"
)

// rolloutBackendColors colour a rollout's backends in name order; red
// and pink, which fault and marker events use, come last.
var rolloutBackendColors = []color.Color{palette.blue, palette.orange, palette.green, palette.grey, palette.red, palette.pink}

// rolloutTransition is one stored transition of a rollout, read from its
// journal event.
type rolloutTransition struct {
	event gonogo.Event
	// kind is the precise transition (start, warm, flip, step, promote,
	// rollback, abort, undo, pause, resume, hold, drain,
	// resume-after-restart), else the event's kind.
	kind                       string
	actor, step, phase, reason string
	// weightPct is each backend's share of traffic after the transition,
	// in percent, for the backends the event names.
	weightPct map[string]float64
}

// rolloutHistory is one rollout's transitions in time order.
type rolloutHistory struct {
	name string
	// backends are the backends any transition gave a weight, by name.
	backends    []string
	transitions []rolloutTransition
}

// rolloutHistories reads the rollouts of a run from its journal: one
// history per rollout (event target) that gave its backends weights,
// ordered by its first transition. Rollout events without weights are
// kept as transitions; weights that are not percentages (0 to 100) are
// left out.
func rolloutHistories(events []gonogo.Event) []rolloutHistory {
	var out []rolloutHistory
	index := map[string]int{}
	for _, e := range sortedEvents(events) {
		if e.Source != rolloutSource {
			continue
		}
		i, ok := index[e.Target]
		if !ok {
			i = len(out)
			index[e.Target] = i
			out = append(out, rolloutHistory{name: e.Target})
		}
		out[i].transitions = append(out[i].transitions, newRolloutTransition(e))
	}
	kept := out[:0]
	for _, h := range out {
		for _, t := range h.transitions {
			for b := range t.weightPct {
				if !slices.Contains(h.backends, b) {
					h.backends = append(h.backends, b)
				}
			}
		}
		if len(h.backends) > 0 {
			slices.Sort(h.backends)
			kept = append(kept, h)
		}
	}
	return kept
}

func newRolloutTransition(e gonogo.Event) rolloutTransition {
	t := rolloutTransition{event: e, kind: e.Attrs["transition"], actor: e.Attrs["actor"], step: e.Attrs["step"],
		phase: e.Attrs["phase"], reason: e.Message}
	if t.kind == "" {
		t.kind = e.Kind
	}
	for k, v := range e.Attrs {
		b, ok := strings.CutPrefix(k, rolloutWeightPrefix)
		if !ok || b == "" {
			continue
		}
		w, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(w) || w < 0 || w > 100 {
			continue
		}
		if t.weightPct == nil {
			t.weightPct = map[string]float64{}
		}
		t.weightPct[b] = w
	}
	return t
}

// weightSeries is backend's weight over ax as a step function: each
// weight holds until the next transition that changes it, up to the end
// of the axis. Transitions outside the axis sit on its edges; before the
// first transition that names the backend, its weight is unknown and
// the series has no points.
func (h *rolloutHistory) weightSeries(backend string, ax timeAxis) plotter.XYs {
	var pts plotter.XYs
	for _, t := range h.transitions {
		w, ok := t.weightPct[backend]
		if !ok {
			continue
		}
		x := min(max(ax.at(t.event.Time), 0), ax.max)
		if n := len(pts); n > 0 {
			if pts[n-1].Y == w {
				continue
			}
			pts = append(pts, plotter.XY{X: x, Y: pts[n-1].Y})
		}
		pts = append(pts, plotter.XY{X: x, Y: w})
	}
	if n := len(pts); n > 0 {
		pts = append(pts, plotter.XY{X: ax.max, Y: pts[n-1].Y})
	}
	return pts
}

// outcome is how the rollout ended, as the phase of its last transition
// says: promoted, rolled back or aborted (class go or no-go, with the
// reason of the transition that entered the phase), or still paused or
// progressing when the run ended (inconclusive, no reason).
func (h *rolloutHistory) outcome() (text, class, reason string) {
	last := len(h.transitions) - 1
	phase := h.transitions[last].phase
	first := last
	for first > 0 && h.transitions[first-1].phase == phase {
		first--
	}
	entered := h.transitions[first]
	switch phase {
	case phasePromoted:
		return "promoted", "go", entered.reason
	case phaseRolledBack:
		if entered.kind == "undo" {
			return "rolled back (undo after promotion)", "no-go", entered.reason
		}
		return "rolled back", "no-go", entered.reason
	case phaseAborted:
		return "aborted", "no-go", entered.reason
	case phasePaused:
		return "paused when the run ended", "inconclusive", ""
	case "":
		return "outcome not recorded", "inconclusive", ""
	}
	return phase + " when the run ended", "inconclusive", ""
}

// htmlRollout is one rollout in the report's rollout section.
type htmlRollout struct {
	Name, Outcome, Class, Reason string
	Chart                        htmlChart
	Rows                         []htmlTransition
	// More counts the transitions left out of the table.
	More int
}

// htmlTransition is one row of a rollout's transitions table.
type htmlTransition struct {
	Offset, Transition, Actor, Step, Phase, Weights, Reason string
	// Class marks rollbacks (fail) and holds (inconclusive).
	Class  string
	Swatch template.CSS
}

// newHTMLRollouts builds the rollout section: for each rollout in the
// run's journal, its outcome, a chart of its backends' weights over the
// run's time axis with every transition marked, and its transitions.
// Runs without rollout weights have none.
func newHTMLRollouts(in Input) ([]htmlRollout, error) {
	hs := rolloutHistories(in.Data.Events)
	if len(hs) == 0 {
		return nil, nil
	}
	ax := rolloutAxis(in, hs)
	out := make([]htmlRollout, 0, len(hs))
	for i := range hs {
		h := &hs[i]
		r := htmlRollout{Name: h.name}
		r.Outcome, r.Class, r.Reason = h.outcome()
		f, err := h.figure(in.Data.Events, ax)
		if err != nil {
			return nil, err
		}
		f.addEventLegend()
		svg, err := f.svg()
		if err != nil {
			return nil, err
		}
		r.Chart = htmlChart{Caption: f.caption, SVG: svg}
		r.Rows, r.More = h.rows(ax.start)
		out = append(out, r)
	}
	return out, nil
}

// rolloutAxis is the run's time axis, or, for a run without one, the
// span of its rollouts' transitions (at least a second).
func rolloutAxis(in Input, hs []rolloutHistory) timeAxis {
	if ax := runTimeAxis(in); !ax.start.IsZero() && ax.max > 0 {
		return ax
	}
	var first, last time.Time
	for _, h := range hs {
		a, b := h.transitions[0].event.Time, h.transitions[len(h.transitions)-1].event.Time
		if first.IsZero() || a.Before(first) {
			first = a
		}
		if b.After(last) {
			last = b
		}
	}
	return newTimeAxis(first, max(1, last.Sub(first).Seconds()))
}

// figure plots each backend's weight over ax with the run's events as
// markers, the rollout's own labelled with their transition and moved
// onto the axis when they fall outside it, so that every transition
// shows.
func (h *rolloutHistory) figure(events []gonogo.Event, ax timeAxis) (*chartFigure, error) {
	title := "Traffic weights"
	if h.name != "" {
		title += ": " + truncRunes(h.name, 60)
	}
	f := &chartFigure{title: title, caption: "Share of traffic the rollout gave each backend; a weight holds until the next transition that changes it. " +
		"Every transition of the rollout is a line labelled with its kind; those before the run's start or after its end sit on the axis' edge."}
	marked := make([]gonogo.Event, 0, len(events))
	for _, e := range events {
		if e.Source != rolloutSource || e.Target != h.name {
			marked = append(marked, e)
		}
	}
	lo, hi := ax.start, ax.start.Add(secondsDur(ax.max*ax.div))
	for _, t := range h.transitions {
		e := t.event
		e.Message, e.End = t.kind, nil
		if e.Time.Before(lo) {
			e.Time = lo
		} else if e.Time.After(hi) {
			e.Time = hi
		}
		marked = append(marked, e)
	}
	f.markers = eventMarkers(marked, ax)
	p := ax.panel("weight (%)")
	f.panels = []*plot.Plot{p}
	for i, b := range h.backends {
		// The first backend's line is wider, so that where weights are
		// equal both show; past the colours, the series repeat them dashed.
		c, width := rolloutBackendColors[i%len(rolloutBackendColors)], vg.Length(1.5)
		if i == 0 {
			width = 3
		}
		if err := f.addLine(p, b, h.weightSeries(b, ax), c, width, i >= len(rolloutBackendColors)); err != nil {
			return nil, err
		}
	}
	p.Y.Min, p.Y.Max = 0, 100
	headroom(p)
	return f, nil
}

// rows are the rollout's transitions as table rows, offsets from start,
// at most htmlMaxEvents; more counts those left out.
func (h *rolloutHistory) rows(start time.Time) (rows []htmlTransition, more int) {
	ts := h.transitions
	if len(ts) > htmlMaxEvents {
		ts, more = ts[:htmlMaxEvents], len(ts)-htmlMaxEvents
	}
	rows = make([]htmlTransition, len(ts))
	for i, t := range ts {
		var ws []string
		for _, b := range h.backends {
			if w, ok := t.weightPct[b]; ok {
				ws = append(ws, b+" "+numfmt.Percent(w/100))
			}
		}
		rows[i] = htmlTransition{
			Offset: fmtOffset(t.event.Time.Sub(start)), Transition: t.kind, Actor: t.actor, Step: t.step, Phase: t.phase,
			Weights: strings.Join(ws, " · "), Reason: t.reason, Class: transitionClass(t.kind),
			Swatch: template.CSS("background:" + colorHex(eventColor(t.event.Kind))),
		}
	}
	return rows, more
}

// transitionClass is the row class of a transition: fail for those that
// move traffic back, inconclusive for a held step.
func transitionClass(kind string) string {
	switch kind {
	case "rollback", "abort", "undo":
		return "fail"
	case "hold":
		return "inconclusive"
	}
	return ""
}
