package rollout

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/internal/input"
	"github.com/gonogo-dev/gonogo/internal/yamlpos"
	"github.com/gonogo-dev/gonogo/rollout/flags"
	"github.com/gonogo-dev/gonogo/rollout/provider"
	"github.com/gonogo-dev/gonogo/rollout/route"
)

// Defaults of a rollout file.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultAdminListen  = "127.0.0.1:8081"
	DefaultHealth       = "/healthz"
	DefaultInterval     = 10 * time.Second
	DefaultWindow       = 30 * time.Second
	DefaultMinRequests  = 50
	DefaultMaxHold      = 10 * time.Minute
	DefaultSRMAlpha     = 0.001
	DefaultDrainTimeout = 30 * time.Second
	DefaultWarmRequests = 20
	DefaultWarmTimeout  = 60 * time.Second
	DefaultStableWithin = 0.25
	DefaultOverride     = "X-Canary"
)

// Routing modes.
const (
	ModeRandom     = "random"
	ModeRoundRobin = "roundrobin"
	ModeSticky     = "sticky"
)

// Inconclusive policies: what an inconclusive analysis (not too little
// data, which always holds) does to the step.
const (
	PolicyHold     = "hold"
	PolicyRollback = "rollback"
	PolicyContinue = "continue"
)

// Config is a rollout file (docs/rollout.md).
type Config struct {
	// Name identifies the rollout in the store; a restart with the same
	// name resumes it.
	Name     string        `yaml:"name"`
	Listen   string        `yaml:"listen"`
	Admin    AdminSpec     `yaml:"admin"`
	Backends []BackendSpec `yaml:"backends"`
	Routing  Routing       `yaml:"routing"`
	Warmup   Warmup        `yaml:"warmup"`
	// DrainTimeout bounds how long a backend taken out of the split keeps
	// its requests in flight before they are cut.
	DrainTimeout input.Duration `yaml:"drainTimeout"`
	Analysis     Analysis       `yaml:"analysis"`
	Strategy     Strategy       `yaml:"strategy"`
	// Experiment, when set, makes the sticky users an A/B experiment's
	// exposures (an experiment step judges by its outcomes).
	Experiment *ExperimentSpec `yaml:"experiment"`

	// Path names the file in errors; Src is its content.
	Path string `yaml:"-"`
	Src  []byte `yaml:"-"`

	gates    *analyze.Gates
	flagSet  *flags.Set
	stable   int
	canary   int
	baseline int   // -1 without a baseline backend
	pinned   []int // the pinned backends, in file order
	geo      []geoRange
	provider []provider.Provider
}

// AdminSpec is the admin API's listener and credentials.
type AdminSpec struct {
	Listen    string `yaml:"listen"`
	TokenFile string `yaml:"tokenFile"`
}

// BackendSpec is one version of the service.
type BackendSpec struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
	// Role is stable or canary (exactly one of each), baseline (at most
	// one: the stable version, freshly started, that takes the canary's
	// weight so that the canary is judged against a twin of the same age)
	// or pinned (any number: served only to the requests flag rules send
	// it, such as a model-selection rule, never by the weights).
	Role string `yaml:"role"`
	// MaxConns caps the backend's connection pool (0: unlimited).
	MaxConns int `yaml:"maxConns"`
	// Health is the readiness path (GET, 2xx when ready).
	Health string `yaml:"health"`
	// Weight is the starting percentage of traffic (default 100 for
	// stable, 0 for canary); the weights sum to 100.
	Weight *float64 `yaml:"weight"`
}

// Routing says how the proxy picks a backend per request.
type Routing struct {
	// Mode for requests without a sticky key: random (default) or
	// roundrobin. Requests with a key are always sticky.
	Mode     string    `yaml:"mode"`
	Sticky   Sticky    `yaml:"sticky"`
	Override Override  `yaml:"override"`
	Geo      *Geo      `yaml:"geo"`
	Flags    *FlagSpec `yaml:"flags"`
}

// Sticky names where a request's user key is: the first of header, cookie
// and JSON body field that is present.
type Sticky struct {
	Header    string `yaml:"header"`
	Cookie    string `yaml:"cookie"`
	BodyField string `yaml:"bodyField"`
}

// Override is the header that sends a request to the canary (always) or
// the stable backend (never) whatever the weights.
type Override struct {
	Header string `yaml:"header"`
}

// Geo restricts the canary to regions: a request from another region goes
// to stable. A request's region is its Header, else the first range its
// client address falls in.
type Geo struct {
	Header        string              `yaml:"header"`
	Ranges        map[string][]string `yaml:"ranges"`
	CanaryRegions []string            `yaml:"canaryRegions"`
}

// FlagSpec routes by a flag of a flags file: a rule that targets a user
// (a list, a segment) sends them to the backend its variant names.
type FlagSpec struct {
	File string `yaml:"file"`
	Flag string `yaml:"flag"`
	// Attributes maps context attributes to the request headers that
	// carry them (tier: X-Tier).
	Attributes map[string]string `yaml:"attributes"`
}

// Warmup says how a backend is made ready before it gets traffic: its
// health path answers 2xx, then Requests requests (Method, Path, Body, or
// the recorded requests of Trace, in order, cycling) until the median
// latency of the last five is within StableWithin of that of the same
// requests one cycle before (see steady).
type Warmup struct {
	Requests int    `yaml:"requests"`
	Method   string `yaml:"method"`
	Path     string `yaml:"path"`
	Body     string `yaml:"body"`
	// Trace is a file of recorded requests (a request log, a HAR, a
	// targets file), relative to the rollout file, sent instead of
	// Method, Path and Body; TraceFormat names its replay format ("" detects).
	Trace       string `yaml:"trace"`
	TraceFormat string `yaml:"traceFormat"`
	// AllowUnsafe also sends the recorded requests that a mirror would not
	// (mirror.SafeToMirror: POST, PUT, PATCH, DELETE outside the inference
	// paths); without it they are skipped.
	AllowUnsafe  bool           `yaml:"allowUnsafe"`
	StableWithin *float64       `yaml:"stableWithin"`
	Timeout      input.Duration `yaml:"timeout"`

	// sends are the recorded requests of Trace (load); nil without one.
	sends []*gonogo.Recorded
}

// Analysis says how every step is judged on the traffic it routes.
type Analysis struct {
	// Interval is how often the live window is judged; Window its length.
	Interval input.Duration `yaml:"interval"`
	Window   input.Duration `yaml:"window"`
	// MinRequests is the least number of canary requests in a window for
	// a judgement: fewer hold the step.
	MinRequests int `yaml:"minRequests"`
	// GatesFile is a gates file (docs/gates.md); Gates an inline list.
	GatesFile string          `yaml:"gatesFile"`
	Gates     []any           `yaml:"gates"`
	Providers []provider.Spec `yaml:"providers"`
	// Inconclusive is hold, rollback or continue.
	Inconclusive string `yaml:"inconclusive"`
	// MaxHold bounds a hold; then the rollout rolls back.
	MaxHold input.Duration `yaml:"maxHold"`
	// StallAfter is how long a request may wait for its response's first
	// byte before each judgement counts it as a timeout of its backend
	// (default: the window, at most MaxStallAfter).
	StallAfter input.Duration `yaml:"stallAfter"`
	SRM        SRM            `yaml:"srm"`
	// Behaviour, when set, samples the backends' responses and judges
	// the model's behaviour on them.
	Behaviour *BehaviourSpec `yaml:"behaviour"`
}

// intervals is how many analysis intervals a window holds.
func (a *Analysis) intervals() int { return max(1, int(a.Window.D()/a.Interval.D())) }

// SRM is the sample-ratio-mismatch check of the router's own split.
type SRM struct {
	Disabled bool     `yaml:"disabled"`
	Alpha    *float64 `yaml:"alpha"`
}

// Strategy is exactly one of canary and blueGreen.
type Strategy struct {
	Canary    *Canary    `yaml:"canary"`
	BlueGreen *BlueGreen `yaml:"blueGreen"`
}

// Canary moves traffic in steps.
type Canary struct {
	Steps []Step `yaml:"steps"`
}

// Step is one canary step: exactly one field set.
type Step struct {
	SetWeight      *float64        `yaml:"setWeight"`
	Pause          *Pause          `yaml:"pause"`
	Analysis       *StepJudge      `yaml:"analysis"`
	SetMirror      *Mirror         `yaml:"setMirror"`
	SetHeaderRoute *HeaderRoute    `yaml:"setHeaderRoute"`
	Experiment     *ExperimentStep `yaml:"experiment"`
}

// Pause waits Duration, or until promoted when it is zero.
type Pause struct {
	Duration input.Duration `yaml:"duration"`
}

// StepJudge is an analysis step: it passes after Passes consecutive go
// windows, within Timeout (then the inconclusive policy applies).
type StepJudge struct {
	Passes  int            `yaml:"passes"`
	Timeout input.Duration `yaml:"timeout"`
}

// Mirror copies Percent of the stable backend's requests to the canary.
type Mirror struct {
	Percent float64 `yaml:"percent"`
	// toStable mirrors to the stable backend instead (a blue-green
	// rollout's rollback window keeps blue warm so).
	toStable bool
}

// HeaderRoute sends requests whose Header equals Value to the canary;
// an empty Header removes the route.
type HeaderRoute struct {
	Header string `yaml:"header"`
	Value  string `yaml:"value"`
}

// BlueGreen runs the new version (green, the canary backend) beside the
// active one (blue, stable), judges it on mirrored traffic, flips all
// traffic at once, judges it again, and keeps blue warm for a rollback
// window.
type BlueGreen struct {
	// PreviewMirror is the percentage of requests mirrored to green before
	// the flip (default 100).
	PreviewMirror *float64 `yaml:"previewMirror"`
	// PrePromotionAnalysis judges green before the flip; Post after it.
	PrePromotionAnalysis  *StepJudge `yaml:"prePromotionAnalysis"`
	PostPromotionAnalysis *StepJudge `yaml:"postPromotionAnalysis"`
	// AutoPromote flips after the pre-promotion analysis; false waits for
	// promote.
	AutoPromote *bool `yaml:"autoPromote"`
	// RollbackWindow keeps blue warm (mirrored) after the flip: an undo
	// within it is instant.
	RollbackWindow input.Duration `yaml:"rollbackWindow"`
	// ScaleDownDelay is how long after the rollback window blue is
	// drained and retired.
	ScaleDownDelay input.Duration `yaml:"scaleDownDelay"`
}

// geoRange is one client-address range of a region.
type geoRange struct {
	region string
	prefix netip.Prefix
}

// LoadConfig reads and checks a rollout file.
func LoadConfig(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &input.Error{File: path, Msg: err.Error()}
	}
	return ParseConfig(path, src)
}

// ParseConfig decodes and checks a rollout file; every error is an
// *input.Error naming file, line and field.
func ParseConfig(path string, src []byte) (*Config, error) {
	c := &Config{}
	if err := input.DecodeYAML(path, src, c); err != nil {
		return nil, err
	}
	c.Path, c.Src = path, src
	if field, msg := c.check(); msg != "" {
		line, _ := yamlpos.Parse(src).Find("$." + field)
		return nil, &input.Error{File: path, Line: line, Field: field, Msg: msg}
	}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// fail is a check's finding: the field's path and what is wrong.
type fail struct{ field, msg string }

func (c *Config) check() (string, string) {
	f := c.checks()
	if f == nil {
		return "", ""
	}
	return f.field, f.msg
}

func failf(field, format string, a ...any) *fail { return &fail{field, fmt.Sprintf(format, a...)} }

func (c *Config) checks() *fail {
	if c.Name == "" {
		return failf("name", "required: the rollout's name")
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Admin.Listen == "" {
		c.Admin.Listen = DefaultAdminListen
	}
	if f := c.checkBackends(); f != nil {
		return f
	}
	if f := c.checkRouting(); f != nil {
		return f
	}
	if len(c.pinned) > 0 && c.Routing.Flags == nil {
		return failf(fmt.Sprintf("backends[%d].role", c.pinned[0]), "a pinned backend is reached by flag rules only: give routing.flags")
	}
	if f := c.checkWarmup(); f != nil {
		return f
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = input.Duration(DefaultDrainTimeout)
	}
	if f := c.checkAnalysis(); f != nil {
		return f
	}
	if b := c.Analysis.Behaviour; b != nil {
		if f := b.check(); f != nil {
			return f
		}
	}
	if e := c.Experiment; e != nil {
		if c.baseline >= 0 {
			return failf("experiment", "an experiment compares two variants: drop the baseline backend")
		}
		st := c.Routing.Sticky
		if f := e.check(c.Name, st.Header != "" || st.Cookie != "" || st.BodyField != ""); f != nil {
			return f
		}
	}
	return c.checkStrategy()
}

func (c *Config) checkBackends() *fail {
	if len(c.Backends) < 2 {
		return failf("backends", "want at least two backends, one with role stable and one with role canary (got %d)", len(c.Backends))
	}
	c.stable, c.canary, c.baseline, c.pinned = -1, -1, -1, nil
	seen := map[string]bool{}
	for i := range c.Backends {
		b := &c.Backends[i]
		at := fmt.Sprintf("backends[%d]", i)
		if b.Name == "" {
			return failf(at+".name", "required")
		}
		if seen[b.Name] {
			return failf(at+".name", "%q named twice", b.Name)
		}
		seen[b.Name] = true
		u, err := url.Parse(b.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return failf(at+".url", "want an http:// or https:// URL (got %q)", b.URL)
		}
		one := map[string]*int{RoleStable: &c.stable, RoleCanary: &c.canary, RoleBaseline: &c.baseline}
		switch b.Role {
		case RoleStable, RoleCanary, RoleBaseline:
			if *one[b.Role] >= 0 {
				return failf(at+".role", "a second %s backend", b.Role)
			}
			*one[b.Role] = i
		case RolePinned:
			c.pinned = append(c.pinned, i)
		default:
			return failf(at+".role", "want stable, canary, baseline or pinned (got %q)", b.Role)
		}
		if b.MaxConns < 0 {
			return failf(at+".maxConns", "negative")
		}
		if b.Health == "" {
			b.Health = DefaultHealth
		}
		if !strings.HasPrefix(b.Health, "/") {
			return failf(at+".health", "want a path starting with / (got %q)", b.Health)
		}
	}
	if c.stable < 0 || c.canary < 0 {
		return failf("backends", "want one backend with role stable and one with role canary")
	}
	sum, given := 0.0, -1
	for i := range c.Backends {
		b := &c.Backends[i]
		at := fmt.Sprintf("backends[%d].weight", i)
		switch {
		case b.Weight != nil && b.Role != RoleStable && b.Role != RoleCanary && *b.Weight != 0:
			// A baseline follows the canary's weight; a pinned backend has
			// none.
			return failf(at, "a %s backend takes no weight of its own", b.Role)
		case b.Weight != nil:
			given = i
		default:
			w := 0.0
			if b.Role == RoleStable {
				w = 100
			}
			b.Weight = &w
		}
		if f := checkPercent(at, *b.Weight); f != nil {
			return f
		}
		sum += *b.Weight
	}
	if math.Abs(sum-100) > 1e-9 {
		// The defaults sum to 100: a weight written in the file is off.
		return failf(fmt.Sprintf("backends[%d].weight", given), "weights sum to %g, want 100", sum)
	}
	if c.baseline >= 0 && *c.Backends[c.canary].Weight > 0 {
		return failf(fmt.Sprintf("backends[%d].weight", c.canary), "with a baseline the canary starts at 0: its steps give both their weight")
	}
	return nil
}

// checkPercent checks a weight: 0–100 at 0.001 % resolution.
func checkPercent(at string, w float64) *fail {
	if w < 0 || w > 100 || math.IsNaN(w) {
		return failf(at, "want a percentage (0–100), got %g", w)
	}
	if b := w * route.Buckets / 100; math.Abs(b-math.Round(b)) > 1e-6 {
		return failf(at, "finer than 0.001 %%: %g", w)
	}
	return nil
}

// buckets turns a percentage into buckets.
func buckets(pct float64) int { return int(math.Round(pct * route.Buckets / 100)) }

func (c *Config) checkRouting() *fail {
	r := &c.Routing
	switch r.Mode {
	case "":
		r.Mode = ModeRandom
	case ModeRandom, ModeRoundRobin:
	default:
		return failf("routing.mode", "want random or roundrobin (got %q)", r.Mode)
	}
	if r.Override.Header == "" {
		r.Override.Header = DefaultOverride
	}
	if r.Sticky.Header != "" && !validHeader(r.Sticky.Header) {
		return failf("routing.sticky.header", "not a header name: %q", r.Sticky.Header)
	}
	if g := r.Geo; g != nil {
		if g.Header == "" && len(g.Ranges) == 0 {
			return failf("routing.geo", "want a header or ranges to find a request's region")
		}
		if len(g.CanaryRegions) == 0 {
			return failf("routing.geo.canaryRegions", "required: the regions the canary serves")
		}
		for _, region := range slices.Sorted(maps.Keys(g.Ranges)) {
			for j, s := range g.Ranges[region] {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					return failf(fmt.Sprintf("routing.geo.ranges.%s[%d]", region, j), "not a CIDR range: %q", s)
				}
				c.geo = append(c.geo, geoRange{region, p.Masked()})
			}
		}
	}
	if f := r.Flags; f != nil {
		if f.File == "" || f.Flag == "" {
			return failf("routing.flags", "want file and flag")
		}
	}
	return nil
}

func (c *Config) checkWarmup() *fail {
	w := &c.Warmup
	if w.Requests < 0 {
		return failf("warmup.requests", "negative")
	}
	if f := w.checkTrace(); f != nil {
		return f
	}
	if w.Requests == 0 {
		w.Requests = DefaultWarmRequests
	}
	if w.Method == "" {
		w.Method = http.MethodGet
	}
	if w.Path == "" {
		w.Path = c.Backends[c.canary].Health
	}
	if w.StableWithin == nil {
		v := DefaultStableWithin
		w.StableWithin = &v
	}
	if *w.StableWithin <= 0 {
		return failf("warmup.stableWithin", "want a positive fraction (0.25 = 25 %%)")
	}
	if w.Timeout <= 0 {
		w.Timeout = input.Duration(DefaultWarmTimeout)
	}
	return nil
}

func (c *Config) checkAnalysis() *fail {
	a := &c.Analysis
	if a.Interval <= 0 {
		a.Interval = input.Duration(DefaultInterval)
	}
	if a.Interval.D() < time.Second || a.Interval.D()%time.Second != 0 {
		return failf("analysis.interval", "want whole seconds, at least 1s (got %s)", a.Interval.D())
	}
	if a.Window <= 0 {
		a.Window = input.Duration(DefaultWindow)
	}
	if a.Window < a.Interval {
		return failf("analysis.window", "shorter than the interval (%s)", a.Interval.D())
	}
	if a.Window.D() > time.Duration(analyze.MaxRing)*time.Second {
		return failf("analysis.window", "longer than %s", time.Duration(analyze.MaxRing)*time.Second)
	}
	if a.MinRequests < 0 {
		return failf("analysis.minRequests", "negative")
	}
	if a.MinRequests == 0 {
		a.MinRequests = DefaultMinRequests
	}
	if a.GatesFile != "" && len(a.Gates) > 0 {
		return failf("analysis.gates", "give gatesFile or gates, not both")
	}
	switch a.Inconclusive {
	case "":
		a.Inconclusive = PolicyHold
	case PolicyHold, PolicyRollback, PolicyContinue:
	default:
		return failf("analysis.inconclusive", "want hold, rollback or continue (got %q)", a.Inconclusive)
	}
	if a.MaxHold <= 0 {
		a.MaxHold = input.Duration(DefaultMaxHold)
	}
	switch {
	case a.StallAfter < 0:
		return failf("analysis.stallAfter", "negative")
	case a.StallAfter > input.Duration(MaxStallAfter):
		return failf("analysis.stallAfter", "longer than %s", MaxStallAfter)
	case a.StallAfter == 0:
		a.StallAfter = input.Duration(min(a.Window.D(), MaxStallAfter))
	}
	if a.SRM.Alpha == nil {
		v := DefaultSRMAlpha
		a.SRM.Alpha = &v
	}
	if *a.SRM.Alpha <= 0 || *a.SRM.Alpha >= 1 {
		return failf("analysis.srm.alpha", "want a probability between 0 and 1")
	}
	for i := range a.Providers {
		if field, msg := a.Providers[i].Check(); msg != "" {
			return failf(fmt.Sprintf("analysis.providers[%d].%s", i, field), "%s", msg)
		}
	}
	return nil
}

func (c *Config) checkStrategy() *fail {
	s := &c.Strategy
	switch {
	case s.Canary == nil && s.BlueGreen == nil:
		return failf("strategy", "want canary or blueGreen")
	case s.Canary != nil && s.BlueGreen != nil:
		return failf("strategy", "give canary or blueGreen, not both")
	case s.BlueGreen != nil && c.baseline >= 0:
		return failf(fmt.Sprintf("backends[%d].role", c.baseline), "a baseline takes a canary's steps: a blue-green rollout has none")
	case s.BlueGreen != nil:
		bg := s.BlueGreen
		if bg.PreviewMirror == nil {
			v := 100.0
			bg.PreviewMirror = &v
		}
		if p := *bg.PreviewMirror; p < 0 || p > 100 {
			return failf("strategy.blueGreen.previewMirror", "want a percentage (0–100)")
		}
		if bg.AutoPromote == nil {
			v := true
			bg.AutoPromote = &v
		}
		for name, j := range map[string]*StepJudge{"prePromotionAnalysis": bg.PrePromotionAnalysis, "postPromotionAnalysis": bg.PostPromotionAnalysis} {
			if f := j.check("strategy.blueGreen." + name); f != nil {
				return f
			}
		}
		return nil
	}
	if len(s.Canary.Steps) == 0 {
		return failf("strategy.canary.steps", "no steps")
	}
	for i := range s.Canary.Steps {
		if f := c.checkStep(i); f != nil {
			return f
		}
	}
	return nil
}

func (c *Config) checkStep(i int) *fail {
	st := &c.Strategy.Canary.Steps[i]
	at := fmt.Sprintf("strategy.canary.steps[%d]", i)
	set := 0
	for _, p := range []bool{st.SetWeight != nil, st.Pause != nil, st.Analysis != nil, st.SetMirror != nil, st.SetHeaderRoute != nil, st.Experiment != nil} {
		if p {
			set++
		}
	}
	if set != 1 {
		return failf(at, "want exactly one of setWeight, pause, analysis, setMirror, setHeaderRoute, experiment (got %d)", set)
	}
	switch {
	case st.SetWeight != nil:
		if f := checkPercent(at+".setWeight", *st.SetWeight); f != nil {
			return f
		}
		return c.checkBaselineWeight(at+".setWeight", *st.SetWeight)
	case st.Pause != nil:
		if st.Pause.Duration < 0 {
			return failf(at+".pause.duration", "negative")
		}
		// A pause without a duration waits for a person to promote, which
		// ends the rollout: a step after it would never run.
		if st.Pause.Duration == 0 && i < len(c.Strategy.Canary.Steps)-1 {
			return failf(fmt.Sprintf("strategy.canary.steps[%d]", i+1), "a step after an unbounded pause (steps[%d]) never runs: give the pause a duration", i)
		}
	case st.Analysis != nil:
		return st.Analysis.check(at + ".analysis")
	case st.SetMirror != nil:
		if p := st.SetMirror.Percent; p < 0 || p > 100 {
			return failf(at+".setMirror.percent", "want a percentage (0–100)")
		}
	case st.SetHeaderRoute != nil:
		if h := st.SetHeaderRoute.Header; h != "" && !validHeader(h) {
			return failf(at+".setHeaderRoute.header", "not a header name: %q", h)
		}
	case st.Experiment != nil:
		if c.baseline >= 0 {
			return failf(at+".experiment", "an experiment compares two variants: drop the baseline backend")
		}
		return st.Experiment.check(at+".experiment", c.Experiment != nil)
	}
	return nil
}

// checkBaselineWeight checks a canary weight against the baseline, which
// takes as much: together at most 100, unless the canary takes it all.
func (c *Config) checkBaselineWeight(at string, w float64) *fail {
	if c.baseline >= 0 && w > 50 && w != 100 {
		return failf(at, "with a baseline the canary and the baseline each take %g %%: at most 50 (or 100, all to the canary)", w)
	}
	return nil
}

func (j *StepJudge) check(at string) *fail {
	if j == nil {
		return nil
	}
	if j.Passes < 0 {
		return failf(at+".passes", "negative")
	}
	if j.Passes == 0 {
		j.Passes = 1
	}
	if j.Timeout < 0 {
		return failf(at+".timeout", "negative")
	}
	return nil
}

// load reads the files the config names: gates, flags and the warm-up
// trace, relative to the config's directory.
func (c *Config) load() error {
	dir := filepath.Dir(c.Path)
	rel := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	a := &c.Analysis
	switch {
	case a.GatesFile != "":
		g, err := analyze.LoadGates(rel(a.GatesFile))
		if err != nil {
			return &input.Error{File: c.Path, Line: c.line("analysis.gatesFile"), Field: "analysis.gatesFile", Msg: err.Error()}
		}
		c.gates = g
	case len(a.Gates) > 0:
		g, err := analyze.ParseGateList(c.Path, c.Src, "$.analysis.gates", a.MinRequests)
		if err != nil {
			return c.gatesError(err)
		}
		c.gates = g
	}
	if f := c.Routing.Flags; f != nil {
		path := rel(f.File)
		src, err := os.ReadFile(path)
		if err != nil {
			return &input.Error{File: c.Path, Line: c.line("routing.flags.file"), Field: "routing.flags.file", Msg: err.Error()}
		}
		set, err := flags.Parse(path, src, c.names())
		if err != nil {
			return err
		}
		if !slices.Contains(set.Flags(), f.Flag) {
			return &input.Error{File: c.Path, Line: c.line("routing.flags.flag"), Field: "routing.flags.flag", Msg: fmt.Sprintf("no flag %q in %s", f.Flag, f.File)}
		}
		c.flagSet = set
	}
	if w := &c.Warmup; w.Trace != "" {
		if err := w.loadTrace(rel(w.Trace)); err != nil {
			return &input.Error{File: c.Path, Line: c.line("warmup.trace"), Field: "warmup.trace", Msg: err.Error()}
		}
	}
	for i, s := range a.Providers {
		if v := s.Verdict; v != nil {
			v2 := *v
			if v2.File != "" {
				v2.File = rel(v2.File)
			}
			if v2.TokenFile != "" {
				v2.TokenFile = rel(v2.TokenFile)
			}
			s.Verdict = &v2
		}
		if pr := s.Prometheus; pr != nil && pr.TokenFile != "" {
			p2 := *pr
			p2.TokenFile = rel(p2.TokenFile)
			s.Prometheus = &p2
		}
		p, err := provider.New(s)
		if err != nil {
			field := fmt.Sprintf("analysis.providers[%d]", i)
			return &input.Error{File: c.Path, Line: c.line(field), Field: field, Msg: err.Error()}
		}
		c.provider = append(c.provider, p)
	}
	return nil
}

// gatesError places an error of the inline gates on its line of the
// file.
func (c *Config) gatesError(err error) error {
	e := &input.Error{File: c.Path, Line: c.line("analysis.gates"), Field: "analysis.gates", Msg: err.Error()}
	var ge *analyze.GateError
	if errors.As(err, &ge) {
		e.Msg = ge.Msg
		if ge.Field != "" {
			e.Msg = ge.Field + ": " + e.Msg
		}
		if ge.Gate != "" {
			e.Msg = fmt.Sprintf("gate %q: %s", ge.Gate, e.Msg)
		}
		if ge.Line > 0 {
			e.Line = ge.Line
		}
	}
	return e
}

// line is the line of a field of the file, 0 when it is not there.
func (c *Config) line(field string) int {
	l, _ := yamlpos.Parse(c.Src).Find("$." + field)
	return l
}

// order is the backends' indexes in split order: the canary first, so
// that its buckets are the lowest, then stable, then the baseline, whose
// buckets are the highest (see route): raising the canary's and the
// baseline's weight together only moves users away from stable, lowering
// it only moves them back. Pinned backends come last, with no buckets.
func (c *Config) order() []int {
	o := []int{c.canary, c.stable}
	if c.baseline >= 0 {
		o = append(o, c.baseline)
	}
	return append(o, c.pinned...)
}

// names are the names of the backends that take weights, in split order:
// those a flag's rollout rule may give.
func (c *Config) names() []string {
	var names []string
	for _, i := range c.order()[:len(c.order())-len(c.pinned)] {
		names = append(names, c.Backends[i].Name)
	}
	return names
}

func validHeader(h string) bool {
	if h == "" {
		return false
	}
	for _, r := range h {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// canaryRegion says whether a request comes from a region the canary
// serves.
func (g *Geo) canaryRegion(r incoming, ranges []geoRange) bool {
	region := ""
	if g.Header != "" {
		region = r.header(g.Header)
	}
	if region == "" && len(ranges) > 0 {
		if a, err := netip.ParseAddr(r.clientIP()); err == nil {
			a = a.Unmap()
			for _, gr := range ranges {
				if gr.prefix.Contains(a) {
					region = gr.region
					break
				}
			}
		}
	}
	return region != "" && slices.Contains(g.CanaryRegions, region)
}

// key returns a request's sticky user key, "" when it has none.
func (s *Sticky) key(r incoming, body []byte) string {
	if s.Header != "" {
		if v := r.header(s.Header); v != "" {
			return v
		}
	}
	if s.Cookie != "" {
		if v := r.cookie(s.Cookie); v != "" {
			return v
		}
	}
	if s.BodyField != "" && len(body) > 0 {
		return bodyField(body, s.BodyField)
	}
	return ""
}

// attrs are a flag evaluation's attributes, from the request's headers.
func (f *FlagSpec) attrs(r incoming) map[string]string { return headerAttrs(r, f.Attributes) }

// headerAttrs are the attributes (name → header) a request's headers
// give values to; nil without attributes.
func headerAttrs(r incoming, attributes map[string]string) map[string]string {
	if len(attributes) == 0 {
		return nil
	}
	m := make(map[string]string, len(attributes))
	for attr, h := range attributes {
		if v := r.header(h); v != "" {
			m[attr] = v
		}
	}
	return m
}
