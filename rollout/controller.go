package rollout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/analyze/abtest"
	"github.com/gonogo-dev/gonogo/analyze/behaviour"
	"github.com/gonogo-dev/gonogo/internal/input"
	"github.com/gonogo-dev/gonogo/mirror"
	"github.com/gonogo-dev/gonogo/rollout/route"
	"github.com/gonogo-dev/gonogo/store"
)

// Phases of a rollout, as stored.
const (
	PhaseProgressing = "progressing"
	PhasePaused      = "paused"
	PhasePromoted    = "promoted"
	PhaseAborted     = "aborted"
	PhaseRolledBack  = "rolled-back"
)

// Terminal reports whether a phase ends the rollout.
func Terminal(phase string) bool {
	return phase == PhasePromoted || phase == PhaseAborted || phase == PhaseRolledBack
}

// Actors of transitions.
const (
	ActorController = "controller"
	ActorAnalysis   = "analysis"
)

// Router is what moves traffic when gonogo's own proxy does not: an
// external load balancer (rollout/haproxy). The controller drives it with
// the same weights as its proxy.
type Router interface {
	// SetWeights sets every backend's weight in buckets (route.Buckets).
	SetWeights(ctx context.Context, buckets map[string]int) error
	// Drain stops new traffic to a backend; its requests in flight finish.
	Drain(ctx context.Context, backend string) error
}

// Options are what a Controller needs besides its config.
type Options struct {
	Config *Config
	Store  *store.DB
	// Router, when set, is driven beside the embedded proxy.
	Router Router
	// Journal receives every transition as an event; nil writes none.
	Journal Journal
	// Recorder options: the interval log and timeline writers.
	IntervalLog, Timeline io.Writer
	// Log receives one line per transition and per judgement; nil
	// discards.
	Log io.Writer
}

// Journal is the run's event journal (runner.Journal).
type Journal interface {
	Emit(e gonogo.Event) error
}

// Controller runs one rollout: its proxy, its steps and their analysis.
type Controller struct {
	cfg     *Config
	db      *store.DB
	router  Router
	journal Journal
	log     io.Writer

	rec      *analyze.Recorder
	proxy    *Proxy
	backends []*backend // split order: canary, stable, baseline, pinned (Config.order)
	baseline *backend   // backends[2] when the config has a baseline, else nil
	steps    []Step
	judge    *judge
	metrics  *metrics

	mu      sync.Mutex // transitions, one at a time
	st      *store.State
	passes  int       // consecutive go judgements in this step
	holding time.Time // when the current hold began; zero when none
	last    *Judgement
	ab      *abtest.Readout // the experiment step's last report
	// beh tracks the sampled responses' behaviour; nil without
	// behaviour gates.
	beh *behaviour.Tracker
	// splitBase are the proxy's split counts when the step began.
	splitBase map[string]int64
	exitOnEnd bool
	wake      chan struct{}
	// draining counts the drains under way (each bounded by the drain
	// timeout): Serve waits for them, so that their events are kept.
	draining sync.WaitGroup

	fanMu   sync.Mutex
	fanouts [2]*mirror.Fanout // to canary, to stable
}

// New builds a rollout's controller and resumes its stored state, or
// starts it. It checks nothing on the network: Run does.
func New(ctx context.Context, o Options) (*Controller, error) {
	cfg := o.Config
	var slos []analyze.SLO
	if cfg.gates != nil {
		slos = cfg.gates.SLOs()
	}
	rec, err := analyze.NewRecorder(analyze.Config{
		SLOs:        slos,
		Interval:    cfg.Analysis.Interval.D(),
		Ring:        int(cfg.Analysis.Window.D()/cfg.Analysis.Interval.D()) + 1,
		IntervalLog: o.IntervalLog,
		Timeline:    o.Timeline,
	})
	if err != nil {
		return nil, err
	}
	c := &Controller{cfg: cfg, db: o.Store, router: o.Router, journal: o.Journal, log: o.Log, rec: rec,
		steps: cfg.steps(), wake: make(chan struct{}, 1)}
	if c.log == nil {
		c.log = io.Discard
	}
	for _, i := range cfg.order() {
		b := cfg.Backends[i]
		u, _ := url.Parse(b.URL) // checked by ParseConfig
		be := newBackend(b.Name, b.Role, u, b.MaxConns)
		be.health = b.Health
		c.backends = append(c.backends, be)
	}
	c.backends[1].eligible.Store(true) // stable serves from the start
	if cfg.baseline >= 0 {
		c.baseline = c.backends[2]
	}
	if cfg.Analysis.Behaviour != nil {
		c.beh = behaviour.NewTracker(cfg.Analysis.intervals() + 1)
	}
	c.metrics = newMetrics(c)
	c.judge = newJudge(cfg, rec)
	c.judge.beh = c.beh
	c.judge.external = o.Router != nil
	if o.Router != nil && len(cfg.provider) == 0 {
		return nil, &input.Error{File: cfg.Path, Line: cfg.line("analysis"), Field: "analysis.providers",
			Msg: "an external router moves traffic the controller does not see: judge the steps with providers (a PromQL query on the router's or the backends' metrics)"}
	}
	if err := c.resume(ctx); err != nil {
		return nil, err
	}
	var fs = cfg.flagSet
	if fs != nil {
		fs = fs.WithSalt(c.st.Salt)
	}
	c.proxy = &Proxy{cfg: &cfg.Routing, geo: cfg.geo, salt: c.st.Salt, flags: fs, sink: recorderSink{rec, c.metrics},
		counts: map[string]*[numReasons]atomic64{}, users: newUserCounter()}
	if b := cfg.Analysis.Behaviour; b != nil {
		c.proxy.beh, c.proxy.behBuckets = c.beh, buckets(b.Sample)
	}
	if e := cfg.Experiment; e != nil {
		// Outcome times are kept in buckets of the cohort's width.
		if err := o.Store.CreateExperiment(ctx, e.Name, e.Cohort.D()); err != nil {
			return nil, err
		}
		c.proxy.exp = newExposures(e, o.Store, c.logf)
		c.metrics.reg.MustRegister(c.proxy.exp.collectors(cfg.Name)...)
	}
	c.splitBase = map[string]int64{}
	for _, b := range c.backends {
		c.proxy.counts[b.name] = b.routed
	}
	if err := c.apply(c.st); err != nil {
		return nil, err
	}
	return c, nil
}

// resume loads the stored state, or stores a new one.
func (c *Controller) resume(ctx context.Context) error {
	st, err := c.db.Load(ctx, c.cfg.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		salt := make([]byte, 16)
		_, _ = rand.Read(salt)
		st = &store.State{Rollout: c.cfg.Name, Spec: c.cfg.Src, Salt: hex.EncodeToString(salt), Phase: PhaseProgressing,
			StepStarted: time.Now(), Weights: c.cfg.startWeights()}
		c.st = st
		_, err = c.save(st, store.Event{Kind: "start", Actor: ActorController, Reason: "rollout started"})
		return err
	case err != nil:
		return err
	}
	if Terminal(st.Phase) {
		// A new rollout under the same name: a new spec from the stable
		// weights, keeping the salt so that users keep their buckets.
		next := &store.State{Rollout: st.Rollout, Spec: c.cfg.Src, Salt: st.Salt, Phase: PhaseProgressing,
			StepStarted: time.Now(), Weights: c.cfg.startWeights(), Revision: st.Revision}
		c.st = st
		_, err = c.save(next, store.Event{Kind: "start", Actor: ActorController, Reason: "rollout started after " + st.Phase})
		return err
	}
	// A rollout that never moved traffic (its first start failed, say on a
	// wrong URL) starts again under the new config.
	if string(st.Spec) != string(c.cfg.Src) && st.Step == 0 && st.Weights[c.cfg.Backends[c.cfg.canary].Name] == 0 {
		next := &store.State{Rollout: st.Rollout, Spec: c.cfg.Src, Salt: st.Salt, Phase: PhaseProgressing,
			StepStarted: time.Now(), Weights: c.cfg.startWeights(), Revision: st.Revision}
		c.st = st
		_, err = c.save(next, store.Event{Kind: "start", Actor: ActorController, Reason: "rollout started again with a new config before any step"})
		return err
	}
	if string(st.Spec) != string(c.cfg.Src) {
		return fmt.Errorf("%w: rollout %q is in progress (step %d) with another config: abort it first, or name this one differently", ErrInput, st.Rollout, st.Step)
	}
	c.st = st
	_, err = c.save(cloneState(st), store.Event{Kind: "resume-after-restart", Actor: ActorController,
		Reason: fmt.Sprintf("controller restarted at step %d", st.Step)})
	return err
}

// startWeights are the backends' configured starting weights.
func (c *Config) startWeights() map[string]int {
	w := map[string]int{}
	for _, b := range c.Backends {
		if b.Role != RolePinned { // never in the split
			w[b.Name] = buckets(*b.Weight)
		}
	}
	return w
}

// steps are the strategy as canary-style steps: a blue-green rollout is a
// fixed sequence of them.
func (c *Config) steps() []Step {
	if c.Strategy.Canary != nil {
		// An experiment step sets its weight first, as a step of its own.
		var steps []Step
		for _, st := range c.Strategy.Canary.Steps {
			if e := st.Experiment; e != nil {
				w := e.Weight
				steps = append(steps, Step{SetWeight: &w})
			}
			steps = append(steps, st)
		}
		return steps
	}
	bg := c.Strategy.BlueGreen
	hundred := 100.0
	steps := []Step{{SetMirror: &Mirror{Percent: *bg.PreviewMirror}}}
	if bg.PrePromotionAnalysis != nil {
		steps = append(steps, Step{Analysis: bg.PrePromotionAnalysis})
	}
	if !*bg.AutoPromote {
		steps = append(steps, Step{Pause: &Pause{}})
	}
	// The flip: all traffic to green, blue kept warm by mirroring to it.
	steps = append(steps, Step{SetWeight: &hundred}, Step{SetMirror: &Mirror{Percent: 100, toStable: true}})
	if bg.PostPromotionAnalysis != nil {
		steps = append(steps, Step{Analysis: bg.PostPromotionAnalysis})
	}
	if bg.RollbackWindow > 0 {
		steps = append(steps, Step{Pause: &Pause{Duration: bg.RollbackWindow}})
	}
	steps = append(steps, Step{SetMirror: &Mirror{}})
	if bg.ScaleDownDelay > 0 {
		steps = append(steps, Step{Pause: &Pause{Duration: bg.ScaleDownDelay}})
	}
	return steps
}

// save persists a transition; only then may it be acted on.
func (c *Controller) save(next *store.State, ev store.Event) (store.Event, error) {
	ev.Step = next.Step
	ev.Weights = next.Weights
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	saved, err := c.db.Save(ctx, next, ev)
	if err != nil {
		return saved, err
	}
	c.st = next
	c.metrics.transition(saved.Kind)
	if c.journal != nil {
		attrs := map[string]string{"step": strconv.Itoa(next.Step), "phase": next.Phase, "actor": saved.Actor, "transition": saved.Kind}
		for name, w := range next.Weights {
			attrs["weight."+name] = strconv.FormatFloat(pct(w), 'f', -1, 64)
		}
		maps.Copy(attrs, ev.Attrs)
		_ = c.journal.Emit(gonogo.Event{Time: saved.Time, Kind: journalKind(saved.Kind), Source: "rollout", Target: c.cfg.Name,
			Message: saved.Reason, Attrs: attrs})
	}
	fmt.Fprintf(c.log, "rollout %s: %s (step %d, %s) by %s: %s\n", c.cfg.Name, saved.Kind, next.Step, weightsText(next.Weights), saved.Actor, saved.Reason)
	return saved, nil
}

// journalKind maps a transition to the journal's kinds: flip (weights
// changed), rollback, step, marker.
func journalKind(kind string) string {
	switch kind {
	case "flip", "rollback", "step":
		return kind
	case "abort", "undo":
		return "rollback"
	}
	return "step"
}

func weightsText(w map[string]int) string {
	s := ""
	for _, name := range slices.Sorted(maps.Keys(w)) {
		if s != "" {
			s += " "
		}
		s += name + "=" + strconv.FormatFloat(pct(w[name]), 'f', -1, 64) + "%"
	}
	return s
}

func cloneState(st *store.State) *store.State {
	n := *st
	n.Weights = maps.Clone(st.Weights)
	return &n
}

// apply makes the proxy (and the external router) route by st: one atomic
// swap of the proxy's table.
func (c *Controller) apply(st *store.State) error {
	names := make([]string, len(c.backends))
	weights := make([]int, len(c.backends))
	for i, b := range c.backends {
		names[i], weights[i] = b.name, st.Weights[b.name] // a pinned backend has none
	}
	split, err := route.NewSplit(names, weights)
	if err != nil {
		return err
	}
	t := &table{backends: c.backends, split: split, stable: 1, canary: 0}
	step := c.stepState(st)
	t.headerRoute = step.headerRoute
	if step.mirror != nil && step.mirror.Percent > 0 {
		t.mirror, t.mirrorTo = c.mirrorTo(step.mirror.toStable)
		t.mirrorBuckets = buckets(step.mirror.Percent)
	}
	for i, b := range c.backends {
		if split.Weight(i) > 0 {
			b.eligible.Store(true)
		}
	}
	c.proxy.table.Store(t)
	c.metrics.weights(st.Weights)
	if c.router != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.router.SetWeights(ctx, st.Weights); err != nil {
			return fmt.Errorf("router: %w", err)
		}
	}
	return nil
}

// stepSettings are the lasting effects of the steps up to the current
// one: the header route and the mirror the last such steps set.
type stepSettings struct {
	headerRoute *HeaderRoute
	mirror      *Mirror
}

func (c *Controller) stepState(st *store.State) stepSettings {
	var s stepSettings
	if Terminal(st.Phase) {
		return s
	}
	for i := 0; i < st.Step && i < len(c.steps); i++ {
		switch step := c.steps[i]; {
		case step.SetHeaderRoute != nil:
			s.headerRoute = step.SetHeaderRoute
			if s.headerRoute.Header == "" {
				s.headerRoute = nil
			}
		case step.SetMirror != nil:
			s.mirror = step.SetMirror
		}
	}
	return s
}

// mirrorTo returns the fan-out that mirrors to the canary (or the
// stable backend), built once per target.
func (c *Controller) mirrorTo(toStable bool) (*mirror.Fanout, int) {
	i := 0
	if toStable {
		i = 1
	}
	return c.fanout(i), i
}
