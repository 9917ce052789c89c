package rollout

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gonogo-dev/gonogo/analyze/abtest"
	"github.com/gonogo-dev/gonogo/internal/input"
	"github.com/gonogo-dev/gonogo/rollout/outcome"
	"github.com/gonogo-dev/gonogo/store"
	"github.com/prometheus/client_golang/prometheus"
)

// ExperimentSpec is a rollout's A/B experiment on real outcomes: the
// users its sticky split routes are its exposures, the outcomes sent to
// the admin API (or imported) are joined to them, and an experiment step
// judges the canary by them (docs/ab.md).
type ExperimentSpec struct {
	// Name is the experiment's name in the store (default: the rollout's).
	Name string `yaml:"name"`
	// Attributes are the segment attributes recorded with a user's first
	// exposure: attribute name → request header.
	Attributes map[string]string `yaml:"attributes"`
	// Metrics are the outcomes judged: goals and guardrails.
	Metrics []ExperimentMetric `yaml:"metrics"`
	// Alpha is the significance level (default 0.05).
	Alpha float64 `yaml:"alpha"`
	// Sequential tests with always-valid confidence sequences, so that
	// the step may decide at any look (default true); false decides
	// only at the step's end.
	Sequential *bool `yaml:"sequential"`
	// Tuning is the sequential test's tuning, in users (default 5000).
	Tuning float64 `yaml:"tuning"`
	// CUPED reduces each metric's variance with the users' pre-period
	// values: their outcomes of the metric from before their exposure
	// (an import of the weeks before the experiment; docs/ab.md).
	CUPED bool `yaml:"cuped"`
	// Correction is holm (default), bh or none, over the goal metrics.
	Correction string `yaml:"correction"`
	// MinSample is the least users (binomial: with and without the
	// outcome) per variant before a metric is tested (default 30;
	// negative: none).
	MinSample int64 `yaml:"minSample"`
	// Cohort is the width of the exposure cohorts of the novelty check
	// and of the stored outcome time buckets, the resolution of the
	// effect over time (default 1h: the report of 10 million outcomes over
	// 14 days takes under 5 s; a day makes it faster).
	Cohort input.Duration `yaml:"cohort"`
	// Undecided is what a step that ends without a decision does: pause
	// (default: a person decides), rollback or promote.
	Undecided string `yaml:"undecided"`
}

// ExperimentMetric is one outcome metric of an experiment.
type ExperimentMetric struct {
	Name string `yaml:"name"`
	// Kind is binomial (a user converted or not: any outcome counts) or
	// continuous (the sum of a user's outcome values).
	Kind string `yaml:"kind"`
	// Role is goal (default) or guardrail.
	Role string `yaml:"role"`
	// LowerIsBetter marks a metric that should go down (support tickets).
	LowerIsBetter bool `yaml:"lowerIsBetter"`
	// Margin is the relative change a guardrail tolerates (0.02: 2 %
	// worse), or within which a goal counts as equal.
	Margin float64 `yaml:"margin"`
}

// ExperimentStep holds the split at Weight for up to Duration while the
// experiment decides: better or equal promotes on to the next step, worse
// rolls back, and the experiment's undecided policy applies at the end.
type ExperimentStep struct {
	Weight   float64        `yaml:"weight"`
	Duration input.Duration `yaml:"duration"`
}

// Undecided policies.
const (
	UndecidedPause    = "pause"
	UndecidedRollback = "rollback"
	UndecidedPromote  = "promote"
)

func (e *ExperimentSpec) check(rollout string, sticky bool) *fail {
	if e.Name == "" {
		e.Name = rollout
	}
	if !sticky {
		return failf("experiment", "an experiment needs sticky users: set routing.sticky (header, cookie or bodyField)")
	}
	for attr, h := range e.Attributes {
		if attr == "" || !validHeader(h) {
			return failf("experiment.attributes."+attr, "want an attribute name and a header name (got %q)", h)
		}
	}
	if len(e.Metrics) == 0 {
		return failf("experiment.metrics", "at least one metric")
	}
	seen := map[string]bool{}
	for i := range e.Metrics {
		m := &e.Metrics[i]
		at := fmt.Sprintf("experiment.metrics[%d]", i)
		if m.Name == "" {
			return failf(at+".name", "required")
		}
		if seen[m.Name] {
			return failf(at+".name", "%q named twice", m.Name)
		}
		seen[m.Name] = true
		switch m.Kind {
		case "":
			m.Kind = string(abtest.Binomial)
		case string(abtest.Binomial), string(abtest.Continuous):
		default:
			return failf(at+".kind", "want binomial or continuous (got %q)", m.Kind)
		}
		switch m.Role {
		case "":
			m.Role = string(abtest.Goal)
		case string(abtest.Goal), string(abtest.Guardrail):
		default:
			return failf(at+".role", "want goal or guardrail (got %q)", m.Role)
		}
		if m.Margin < 0 || m.Margin >= 1 || math.IsNaN(m.Margin) {
			return failf(at+".margin", "want a relative margin in [0, 1) (got %g)", m.Margin)
		}
	}
	if e.Alpha < 0 || e.Alpha >= 0.5 || math.IsNaN(e.Alpha) {
		return failf("experiment.alpha", "want a level in (0, 0.5) (got %g)", e.Alpha)
	}
	if e.Tuning < 0 || math.IsNaN(e.Tuning) {
		return failf("experiment.tuning", "negative")
	}
	switch e.Correction {
	case "", string(abtest.Holm), string(abtest.BH), string(abtest.NoCorrection):
	default:
		return failf("experiment.correction", "want holm, bh or none (got %q)", e.Correction)
	}
	if e.Cohort < 0 || e.Cohort.D()%time.Second != 0 {
		return failf("experiment.cohort", "want a positive whole number of seconds (got %s)", e.Cohort.D())
	}
	if e.Cohort == 0 {
		e.Cohort = input.Duration(time.Hour)
	}
	switch e.Undecided {
	case "":
		e.Undecided = UndecidedPause
	case UndecidedPause, UndecidedRollback, UndecidedPromote:
	default:
		return failf("experiment.undecided", "want pause, rollback or promote (got %q)", e.Undecided)
	}
	return nil
}

// sequential says whether the experiment tests sequentially (default).
func (e *ExperimentSpec) sequential() bool { return e.Sequential == nil || *e.Sequential }

// abConfig is the statistics' configuration.
func (e *ExperimentSpec) abConfig() abtest.Config {
	return abtest.Config{Alpha: e.Alpha, Sequential: e.sequential(), Tuning: e.Tuning,
		Correction: abtest.Correction(e.Correction), MinSample: e.MinSample, CUPED: e.CUPED}
}

func (s *ExperimentStep) check(at string, hasExperiment bool) *fail {
	if !hasExperiment {
		return failf(at, "an experiment step needs the experiment section")
	}
	if f := checkPercent(at+".weight", s.Weight); f != nil {
		return f
	}
	if s.Weight <= 0 || s.Weight >= 100 {
		return failf(at+".weight", "an experiment needs both versions: want a weight between 0 and 100 (got %g)", s.Weight)
	}
	if s.Duration <= 0 {
		return failf(at+".duration", "required: how long the experiment may run")
	}
	return nil
}

// SplitAttr is the exposure attribute that records the canary's weight
// (percent) when the user was first exposed: users who joined under
// another split than the experiment step's are left out of its analysis,
// and counted.
const SplitAttr = "split"

// maxSeenUsers bounds the users the exposure recorder remembers so as
// not to send their exposure again; past it, it sends every one (the
// store keeps the first).
const maxSeenUsers = 1 << 20

// exposureFlush is how often the recorder writes its exposures.
const exposureFlush = 250 * time.Millisecond

// maxPendingExposures bounds the exposures kept for a store that fails:
// they are written again at each flush, with their own times, until it
// takes them; past the bound the oldest are lost (and counted), and their
// users' next requests send them again.
const maxPendingExposures = 1 << 17

// exposureSink stores batches of exposures (store.DB).
type exposureSink interface {
	RecordExposures(ctx context.Context, exp string, batch []store.Exposure) error
}

// exposures records the first exposure of each sticky user the split
// routes, in batches, in the background.
type exposures struct {
	spec *ExperimentSpec
	sink exposureSink
	logf func(string, ...any)

	mu      sync.Mutex
	seen    map[string]string // user → variant sent
	pending []store.Exposure
	failing bool         // the last write failed
	warned  bool         // a loss was logged while failing
	lost    atomic.Int64 // exposures dropped past maxPendingExposures
	kick    chan struct{}
}

func newExposures(spec *ExperimentSpec, sink exposureSink, logf func(string, ...any)) *exposures {
	return &exposures{spec: spec, sink: sink, logf: logf, seen: map[string]string{}, kick: make(chan struct{}, 1)}
}

// add notes that user was routed to variant now, under the canary weight
// split (percent).
func (x *exposures) add(r incoming, user, variant string, split float64) {
	x.mu.Lock()
	if v, ok := x.seen[user]; ok && v == variant {
		x.mu.Unlock()
		return
	}
	if len(x.seen) < maxSeenUsers {
		x.seen[user] = variant
	}
	x.mu.Unlock()
	attrs := headerAttrs(r, x.spec.Attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs[SplitAttr] = strconv.FormatFloat(split, 'g', -1, 64)
	x.mu.Lock()
	x.pending = append(x.pending, store.Exposure{User: user, Variant: variant, Time: time.Now(), Attrs: attrs})
	full := len(x.pending) >= 1000
	x.mu.Unlock()
	if full {
		select {
		case x.kick <- struct{}{}:
		default:
		}
	}
}

// run writes the exposures every exposureFlush (or when a batch is
// full) until ctx ends, then once more.
func (x *exposures) run(ctx context.Context) {
	t := time.NewTicker(exposureFlush)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			x.flush()
			return
		case <-t.C:
		case <-x.kick:
		}
		x.flush()
	}
}

// flush writes the pending exposures. A batch the store does not take
// stays pending, ahead of newer ones, up to maxPendingExposures.
func (x *exposures) flush() {
	x.mu.Lock()
	batch := x.pending
	x.pending = nil
	x.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := x.sink.RecordExposures(ctx, x.spec.Name, batch)
	x.mu.Lock()
	defer x.mu.Unlock()
	if err == nil {
		if x.failing {
			x.logf("experiment %s: exposures stored again", x.spec.Name)
		}
		x.failing, x.warned = false, false
		return
	}
	if !x.failing {
		x.logf("experiment %s: %d exposures not stored, kept to try again: %v", x.spec.Name, len(batch), err)
	}
	x.failing = true
	x.pending = append(batch, x.pending...)
	if over := len(x.pending) - maxPendingExposures; over > 0 {
		// Forget the oldest, so that their users' next requests send
		// them again.
		for _, e := range x.pending[:over] {
			if x.seen[e.User] == e.Variant {
				delete(x.seen, e.User)
			}
		}
		x.pending = slices.Delete(x.pending, 0, over)
		x.lost.Add(int64(over))
		if !x.warned {
			x.warned = true
			x.logf("experiment %s: exposures lost: more than %d wait for the store", x.spec.Name, maxPendingExposures)
		}
	}
}

// collectors are the recorder's metrics.
func (x *exposures) collectors(rollout string) []prometheus.Collector {
	labels := prometheus.Labels{"rollout": rollout}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gonogo_rollout_exposures_pending",
			Help: "Exposures waiting to be stored.", ConstLabels: labels},
			func() float64 { x.mu.Lock(); defer x.mu.Unlock(); return float64(len(x.pending)) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gonogo_rollout_exposures_lost_total",
			Help: "Exposures dropped while the store failed (their users' next requests send them again).", ConstLabels: labels},
			func() float64 { return float64(x.lost.Load()) }),
	}
}

// ActorExperiment causes the transitions an experiment step decides.
const ActorExperiment = "experiment"

// experimentStep returns the current step's experiment, nil when it is
// not an experiment step.
func (c *Controller) experimentStep(st *store.State) *ExperimentStep {
	if st.Step < len(c.steps) {
		return c.steps[st.Step].Experiment
	}
	return nil
}

// judgeExperiment reads the experiment's outcomes when the current step
// is an experiment step, and keeps the report for stepDone.
func (c *Controller) judgeExperiment(ctx context.Context, now time.Time) {
	c.mu.Lock()
	st := cloneState(c.st)
	c.mu.Unlock()
	es := c.experimentStep(st)
	if es == nil || Terminal(st.Phase) || c.cfg.Experiment == nil {
		return
	}
	spec := c.cfg.Experiment
	rep, err := BuildABReport(ctx, c.db, spec, c.backends[1].name, c.backends[0].name, es.Weight, st.StepStarted, now, false)
	if err != nil {
		if !errors.Is(err, store.ErrNoExperiment) {
			c.logf("experiment %s: %v", spec.Name, err)
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.Step != st.Step || Terminal(c.st.Phase) {
		return
	}
	c.ab = rep
	c.logf("experiment %s at step %d: %s: %s", spec.Name, st.Step, rep.Verdict, strings.Join(rep.Reasons, " "))
}

// experimentDone says whether experiment step s is over: the
// experiment decided (better or equal: the step passes; worse or an
// invalid split: rollback), or its time is up (the undecided policy).
// Sequential testing decides at any look; a fixed-horizon test only at
// the end. Call with c.mu held.
func (c *Controller) experimentDone(s *ExperimentStep, st *store.State) (time.Duration, bool) {
	left := s.Duration.D() - time.Since(st.StepStarted)
	spec := c.cfg.Experiment
	if rep := c.ab; rep != nil && (spec.sequential() || left <= 0) {
		reason := fmt.Sprintf("experiment %s: %s: %s", spec.Name, rep.Verdict, strings.Join(rep.Reasons, " "))
		switch rep.Verdict {
		case abtest.Ship:
			return 0, true
		case abtest.Worse, abtest.Invalid:
			c.rollback(ActorExperiment, "rollback", reason)
			return 0, false
		}
	}
	if left > 0 {
		return left, false
	}
	reason := fmt.Sprintf("experiment %s undecided after %s", spec.Name, s.Duration.D())
	if rep := c.ab; rep != nil {
		reason += ": " + strings.Join(rep.Reasons, " ")
	}
	switch spec.Undecided {
	case UndecidedPromote:
		return 0, true
	case UndecidedRollback:
		c.rollback(ActorExperiment, "rollback", reason+" (policy rollback)")
	default:
		n := cloneState(st)
		n.Paused, n.Phase, n.Message = true, PhasePaused, reason+" (policy pause: promote or abort)"
		if _, err := c.save(n, store.Event{Kind: "pause", Actor: ActorExperiment, Reason: n.Message}); err != nil {
			c.logf("cannot store the pause: %v", err)
		}
	}
	return 0, false
}

// maxOutcomeBody bounds a POST /v1/outcomes body.
const maxOutcomeBody = 32 << 20

// OutcomesResult is what POST /v1/outcomes answers: what became of the
// outcomes sent.
type OutcomesResult struct {
	Experiment string              `json:"experiment"`
	Received   int                 `json:"received"`
	Counts     store.OutcomeCounts `json:"counts"`
}

// outcomes ingests the outcomes of a POST /v1/outcomes: one JSON object,
// or NDJSON (one per line), or CSV with Content-Type text/csv — the
// fields of outcome files (docs/ab.md). A bad line refuses the whole body
// (400, naming the line and field); nothing of it is stored.
func (c *Controller) outcomes(w http.ResponseWriter, r *http.Request) {
	name := c.cfg.Experiment.Name
	// The exposures of users whose outcomes may be in this body are
	// stored first: an outcome of a user not yet exposed would not count.
	c.proxy.exp.flush()
	f := outcome.NDJSON
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(ct) == "text/csv" {
		f = outcome.CSV
	}
	var batch []store.Outcome
	var ids outcome.ContentIDs // a body sent again counts once
	err := outcome.Read(http.MaxBytesReader(w, r.Body, maxOutcomeBody), "request", f, time.Now(), func(e outcome.Event) error {
		ids.Assign(&e)
		batch = append(batch, store.Outcome{ID: e.ID, User: e.User, Metric: e.Metric, Value: e.Value, Time: e.Time})
		return nil
	})
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	counts, err := c.db.RecordOutcomes(r.Context(), name, batch)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, OutcomesResult{Experiment: name, Received: len(batch), Counts: counts})
}
