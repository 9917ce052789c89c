package runner

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/scenarios"
	chk "github.com/gonogo-dev/gonogo/scenarios/checks"
)

// runChecks are the response checks of a run: every scenario's set, and
// the run's names, which the recorder counts by index.
type runChecks struct {
	names []string
	// index maps each scenario's set to the run's indices of its checks.
	index map[*chk.Set][]int
}

var (
	_ scenarios.CheckSink = (*Run)(nil)
	_ extensions.Observer = (*chk.State)(nil)
)

// newClient builds a scenario's client with the options its checks need:
// the response's content kept when a check reads it. It refuses checks
// that the protocol cannot show what they read.
func (r *Run) newClient(s *scenarios.Scenario, opts extensions.Options) (gonogo.Client, error) {
	c, err := extensions.New(r.cfg.Protocol, opts)
	set := s.CheckSet()
	if err != nil || set.Len() == 0 {
		return c, err
	}
	var shows extensions.Shows
	if oc, ok := c.(extensions.ObservingClient); ok {
		shows = oc.Shows()
	}
	for _, k := range set.Kinds() {
		need, what := extensions.Shows(0), ""
		switch k {
		case chk.KindHeader:
			need, what = extensions.ShowsHeaders, "response headers"
		case chk.KindSSE:
			need, what = extensions.ShowsEvents, "server-sent events (openai with streaming)"
		}
		if need != 0 && shows&need == 0 {
			closeClient(c)
			return nil, inputf("%s: scenario %s: %s checks read %s, which protocol %s does not show", r.fileName(), s.Name, k, what, r.cfg.Protocol)
		}
	}
	if r.cfg.Shadow != nil && set.NeedsObserver() {
		closeClient(c)
		return nil, inputf("%s: scenario %s: header, json and sse checks are not judged in a shadow run, whose primary is read through its mirror; status, body and length checks are", r.fileName(), s.Name)
	}
	if set.NeedsContent(shows&extensions.ShowsDocuments != 0) && !opts.KeepOutput {
		closeClient(c)
		opts.KeepOutput = true
		return extensions.New(r.cfg.Protocol, opts)
	}
	return c, nil
}

func closeClient(c gonogo.Client) {
	if cl, ok := c.(io.Closer); ok {
		_ = cl.Close()
	}
}

// fileName names the workload in messages.
func (r *Run) fileName() string {
	if p := r.cfg.File.Path; p != "" {
		return p
	}
	return "flags"
}

// bindChecks gives every plan its checks and, when its client can show
// what it reads, the observer's path; it numbers the run's checks.
func (r *Run) bindChecks() {
	r.checks = runChecks{index: map[*chk.Set][]int{}}
	for i := range r.plans {
		p := &r.plans[i]
		set := p.Scenario.CheckSet()
		if set.Len() == 0 {
			continue
		}
		p.Checks = set
		if oc, ok := p.Client.(extensions.ObservingClient); ok {
			p.Observe = func(ctx context.Context, req *gonogo.Request, res *gonogo.Result, st *chk.State) {
				oc.DoObserved(ctx, req, res, st)
			}
		}
		idx := make([]int, set.Len())
		for j, name := range set.Names() {
			k := slices.Index(r.checks.names, name)
			if k < 0 {
				k = len(r.checks.names)
				r.checks.names = append(r.checks.names, name)
			}
			idx[j] = k
		}
		r.checks.index[set] = idx
	}
}

// RecordChecked passes a result to the run's sinks, and the outcome of its
// checks to the recorder (the engine's scenarios.CheckSink).
func (r *Run) RecordChecked(res *gonogo.Result, set *chk.Set, failed uint64) {
	var checked, bad uint64
	for j, k := range r.checks.index[set] {
		checked |= 1 << k
		if failed&(1<<j) != 0 {
			bad |= 1 << k
		}
	}
	for _, s := range r.sinks {
		if rec, ok := s.(*analyze.Recorder); ok {
			rec.RecordChecked(res, checked, bad)
		} else {
			s.Record(res)
		}
	}
}

// checkNames checks that the thresholds and gates that name a response
// check name one of the run's.
func (r *Run) checkNames() error {
	have := r.checks.names
	known := func(name string) bool { return name == "" && len(have) > 0 || slices.Contains(have, name) }
	list := "none"
	if len(have) > 0 {
		list = strings.Join(have, ", ")
	}
	for metric, ths := range r.cfg.File.Thresholds {
		sel, err := analyze.ParseSelector(metric)
		if err != nil || (sel.Metric != analyze.MetricChecks && sel.Metric != analyze.MetricChecksFailed) || known(sel.Check) {
			continue
		}
		pos := r.fileName()
		if len(ths) > 0 {
			pos = ths[0].Pos
		}
		if sel.Check == "" {
			return inputf("%s: thresholds.%s: the workload has no checks", pos, metric)
		}
		return inputf("%s: thresholds.%s: no check %q (the workload's checks: %s)", pos, metric, sel.Check, list)
	}
	if g := r.cfg.Gates; g != nil {
		for _, gt := range g.Gates {
			sel, err := analyze.ParseSelector(gt.Metric)
			if gt.Kind() != analyze.Absolute || err != nil || (sel.Metric != analyze.MetricChecks && sel.Metric != analyze.MetricChecksFailed) {
				continue
			}
			if name := gt.Check(); !known(name) {
				if name == "" {
					return inputf("%s: gate %q: the workload has no checks", g.Path, gt.Name)
				}
				return inputf("%s: gate %q: no check %q (the workload's checks: %s)", g.Path, gt.Name, name, list)
			}
		}
	}
	return nil
}

// describeChecks lists a scenario's checks for the plan.
func describeChecks(set *chk.Set) string {
	parts := make([]string, set.Len())
	for i := range parts {
		c := set.Check(i)
		parts[i] = fmt.Sprintf("%s (%s %s)", c.Name, c.Kind, c)
	}
	return strings.Join(parts, ", ")
}
