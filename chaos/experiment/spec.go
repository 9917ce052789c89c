// Package experiment runs gonogo's chaos experiments: a load against an
// inference service, a timeline of faults and actions against it, and a
// steady-state hypothesis — the same gates as verdicts — judged over the
// run's live windows before, during and after the faults.
//
// An experiment file uses Chaos Toolkit's words where they fit (title,
// description, steady-state-hypothesis, method, rollbacks) and
// docs/chaos.md describes it. Run drives one experiment through a
// runner.Run: its hooks apply and revert the faults on time, check the
// hypothesis at every interval, stop the run when an abort condition
// fires, and always revert — at the end, on abort, on SIGINT or SIGTERM.
// Every fault is written to the results directory's ledger before it is
// applied, under a lease that a guard process watches (package chaos).
// The journal (experiment.json) says what happened: the hypothesis per
// phase, every activity with its start, end and outcome, time to detect
// and to recover, the blast radius, and the status.
package experiment

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/chaos/container"
	"github.com/gonogo-dev/gonogo/chaos/grpcfault"
	"github.com/gonogo-dev/gonogo/chaos/httpfault"
	"github.com/gonogo-dev/gonogo/chaos/tcpfault"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/internal/yamlpos"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// Spec is an experiment file.
type Spec struct {
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	// Target is the service under test: its base URL.
	Target    string      `yaml:"target"`
	Load      Load        `yaml:"load"`
	Proxies   []ProxySpec `yaml:"proxies"`
	Steady    SteadyState `yaml:"steady-state-hypothesis"`
	Method    []Activity  `yaml:"method"`
	Abort     []any       `yaml:"abort"`
	Rollbacks []Activity  `yaml:"rollbacks"`
	Lease     LeaseSpec   `yaml:"lease"`
	// Seed seeds the proxies' per-request draws.
	Seed int64 `yaml:"seed"`
}

// Load is the load the experiment runs for its whole length.
type Load struct {
	// Protocol is the protocol client: openai, kserve, http, kserve-grpc.
	Protocol string `yaml:"protocol"`
	// Scenario is a built-in profile or a scenario file (relative to the
	// experiment file); without it, a constant arrival rate.
	Scenario string `yaml:"scenario"`
	// Rate is the arrival rate (the peak of a ramping profile).
	Rate float64 `yaml:"rate"`
	// Duration is the run's length; by default the method's end plus the
	// hypothesis's recovery time.
	Duration chaos.Duration `yaml:"duration"`
	// MaxVUs caps the requests in flight.
	MaxVUs int `yaml:"maxVUs"`
	// Through names the proxy (of Proxies) the load goes through; without
	// it the load goes to Target.
	Through string `yaml:"through"`
	// Request options of the protocol client.
	Model        string         `yaml:"model"`
	API          string         `yaml:"api"`
	PromptTokens int            `yaml:"promptTokens"`
	MaxTokens    int            `yaml:"maxTokens"`
	Path         string         `yaml:"path"`
	Method       string         `yaml:"method"`
	Timeout      chaos.Duration `yaml:"timeout"`
}

// Proxy kinds.
const (
	ProxyHTTP = "http"
	ProxyTCP  = "tcp"
	ProxyGRPC = "grpc"
)

// ProxySpec is a fault proxy of the experiment: started in its process
// (Listen, Upstream), or a gonogo chaos proxy of another process driven
// through its admin API (Admin, TokenFile).
type ProxySpec struct {
	Name string `yaml:"name"`
	// Kind is http (default), tcp or grpc.
	Kind     string `yaml:"kind"`
	Listen   string `yaml:"listen"`
	Upstream string `yaml:"upstream"`
	// Admin is the admin API of an external http proxy; TokenFile holds
	// its bearer token (relative to the experiment file).
	Admin     string `yaml:"admin"`
	TokenFile string `yaml:"tokenFile"`
}

// Hold phases by default: a failure in any phase deviates.
var defaultHold = []string{chaos.PhaseBefore, chaos.PhaseDuring, chaos.PhaseAfter}

// Defaults of the hypothesis.
const (
	DefaultWindow = 10 * time.Second
	// MinIntervalRequests is the least requests an interval needs to be
	// judged alone (time to detect and to recover).
	MinIntervalRequests = 10
)

// SteadyState is the steady-state hypothesis: gates (inline, or a gates
// file) judged over the last Window at every interval.
type SteadyState struct {
	Title string `yaml:"title"`
	// Window is the span each check judges (default 10s).
	Window chaos.Duration `yaml:"window"`
	// Hold lists the phases whose failure deviates the experiment
	// (before, during, after; default all three).
	Hold []string `yaml:"hold"`
	// Recovery is how long the load goes on after the last fault before
	// the final check (default twice the window).
	Recovery chaos.Duration `yaml:"recovery"`
	// MinRequests is the least requests a window needs to be judged
	// (default the gates' default, 100).
	MinRequests int `yaml:"minRequests"`
	// Gates are the hypothesis: a list of gates (docs/gates.md) or the
	// path of a gates file.
	Gates any `yaml:"gates"`
}

// LeaseSpec is the lease the run holds on its faults.
type LeaseSpec struct {
	TTL   chaos.Duration `yaml:"ttl"`
	Renew chaos.Duration `yaml:"renew"`
}

// Activity is one entry of the method or of the rollbacks: a fault of a
// family, or an action (a request).
type Activity struct {
	Name string `yaml:"name"`
	// At is when the activity starts, from the run's time zero; Duration
	// how long a fault stays in force (0: until the end of the method
	// for a fault that needs reverting; instant actions ignore it).
	At       chaos.Duration `yaml:"at"`
	Duration chaos.Duration `yaml:"duration"`

	HTTP      *httpfault.Fault `yaml:"http"`
	TCP       *tcpfault.Spec   `yaml:"tcp"`
	GRPC      *GRPCFault       `yaml:"grpc"`
	Container *container.Spec  `yaml:"container"`
	Request   *Request         `yaml:"request"`
}

// GRPCFault is a fault of a grpc proxy of the experiment.
type GRPCFault struct {
	// Proxy names the experiment's grpc proxy.
	Proxy          string `yaml:"proxy"`
	grpcfault.Spec `yaml:",inline"`
}

// Experiment is a parsed, checked experiment file.
type Experiment struct {
	Spec
	// File is the experiment file's path; Dir its directory, which
	// relative paths in it start from.
	File, Dir string
	// Hypothesis and AbortGates are the compiled gates.
	Hypothesis *analyze.Gates
	AbortGates *analyze.Gates
	// Window, Recovery and the lease with their defaults.
	Window, Recovery time.Duration
	Lease            chaos.Lease
	// Workload is the load's scenario file, its duration set.
	Workload *scenarios.File
	// Client holds the load's client options.
	Client extensions.Options

	src []byte
}

// Load reads and checks an experiment file.
func LoadFile(path string) (*Experiment, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &chaos.InputError{File: path, Msg: err.Error()}
	}
	return Parse(path, b)
}

// Parse parses and checks an experiment; name names it in errors and
// relative paths start from its directory. Every error is a
// *chaos.InputError naming the file, the line and the field.
func Parse(name string, src []byte) (*Experiment, error) {
	x := &Experiment{File: name, Dir: filepath.Dir(name), src: src}
	if err := chaos.DecodeYAML(name, src, &x.Spec); err != nil {
		return nil, err
	}
	if err := x.check(); err != nil {
		return nil, err
	}
	return x, nil
}

// fail is an input error at the YAML path of the experiment.
func (x *Experiment) fail(path, format string, a ...any) error {
	line, _ := yamlpos.Parse(x.src).Find(path)
	return &chaos.InputError{File: x.File, Line: line, Field: strings.TrimPrefix(path, "$."), Msg: fmt.Sprintf(format, a...)}
}

func (x *Experiment) check() error {
	s := &x.Spec
	if s.Title == "" {
		return x.fail("$.title", "an experiment needs a title")
	}
	if s.Target == "" {
		return x.fail("$.target", "the service under test: its base URL (http://127.0.0.1:8000)")
	}
	if err := x.checkProxies(); err != nil {
		return err
	}
	if err := x.checkHypothesis(); err != nil {
		return err
	}
	if err := x.checkLease(); err != nil {
		return err
	}
	if len(s.Method) == 0 {
		return x.fail("$.method", "the method needs at least one activity")
	}
	names := map[string]bool{}
	iv := analyze.DefaultInterval
	for i := range s.Method {
		path := fmt.Sprintf("$.method[%d]", i)
		a := &s.Method[i]
		if err := x.checkActivity(path, a, names); err != nil {
			return err
		}
		for _, d := range []struct {
			field string
			v     time.Duration
		}{{"at", a.At.D()}, {"duration", a.Duration.D()}} {
			if d.v%iv != 0 {
				return x.fail(path+"."+d.field, "%v: activities start and end on interval boundaries (whole multiples of %v)", d.v, iv)
			}
		}
	}
	first := slices.MinFunc(s.Method, func(a, b Activity) int { return int(a.At - b.At) })
	if first.At.D() < x.Window {
		return x.fail("$.method", "the first activity starts at %v, before one window (%v) of steady state could be judged: start it at %v or later",
			first.At.D(), x.Window, x.Window)
	}
	for i := range s.Rollbacks {
		a := &s.Rollbacks[i]
		path := fmt.Sprintf("$.rollbacks[%d]", i)
		if err := x.checkActivity(path, a, names); err != nil {
			return err
		}
		if a.At != 0 || a.Duration != 0 {
			return x.fail(path, "rollbacks run once the method is over: no at or duration")
		}
		if a.Request == nil {
			return x.fail(path, "a rollback is an action (request); faults are reverted by themselves")
		}
	}
	if err := x.checkContradictions(); err != nil {
		return err
	}
	return x.checkLoad()
}

func (x *Experiment) checkProxies() error {
	names := map[string]bool{}
	for i := range x.Proxies {
		p := &x.Proxies[i]
		path := fmt.Sprintf("$.proxies[%d]", i)
		if p.Name == "" {
			return x.fail(path+".name", "a proxy needs a name")
		}
		if names[p.Name] {
			return x.fail(path+".name", "duplicate proxy name %q", p.Name)
		}
		names[p.Name] = true
		if p.Kind == "" {
			p.Kind = ProxyHTTP
		}
		switch p.Kind {
		case ProxyHTTP, ProxyTCP, ProxyGRPC:
		default:
			return x.fail(path+".kind", "%q: want http, tcp or grpc", p.Kind)
		}
		if p.Admin != "" {
			if p.Kind != ProxyHTTP {
				return x.fail(path+".admin", "only http proxies have an admin API")
			}
			if p.Upstream != "" || p.Listen != "" {
				return x.fail(path+".admin", "an external proxy (admin) has its own listen address and upstream")
			}
			if p.TokenFile == "" {
				return x.fail(path+".tokenFile", "an external proxy's admin API needs its token file")
			}
			if !filepath.IsAbs(p.TokenFile) {
				p.TokenFile = filepath.Join(x.Dir, p.TokenFile)
			}
			continue
		}
		if p.Upstream == "" {
			return x.fail(path+".upstream", "a proxy needs its upstream (http://127.0.0.1:8000; host:port for tcp)")
		}
		if p.Listen == "" {
			p.Listen = "127.0.0.1:0"
		}
	}
	return nil
}

func (x *Experiment) checkHypothesis() error {
	h := &x.Steady
	x.Window = DefaultWindow
	if h.Window != 0 {
		x.Window = h.Window.D()
	}
	iv := analyze.DefaultInterval
	if x.Window < iv || x.Window%iv != 0 || x.Window > time.Hour {
		return x.fail("$.steady-state-hypothesis.window", "%v: want whole seconds from %v to 1h", x.Window, iv)
	}
	x.Recovery = 2 * x.Window
	if h.Recovery != 0 {
		x.Recovery = h.Recovery.D()
	}
	if x.Recovery < x.Window || x.Recovery%iv != 0 {
		return x.fail("$.steady-state-hypothesis.recovery", "%v: want whole seconds, at least one window (%v), so that the last check sees only the time after the faults", x.Recovery, x.Window)
	}
	if len(h.Hold) == 0 {
		h.Hold = defaultHold
	}
	for i, p := range h.Hold {
		if !slices.Contains(defaultHold, p) {
			return x.fail(fmt.Sprintf("$.steady-state-hypothesis.hold[%d]", i), "%q: want before, during or after", p)
		}
	}
	if h.MinRequests < 0 {
		return x.fail("$.steady-state-hypothesis.minRequests", "must not be negative")
	}
	var err error
	switch g := h.Gates.(type) {
	case nil:
		return x.fail("$.steady-state-hypothesis.gates", "the hypothesis needs gates: a list, or a gates file")
	case string:
		path := g
		if !filepath.IsAbs(path) {
			path = filepath.Join(x.Dir, path)
		}
		x.Hypothesis, err = analyze.LoadGates(path)
		if err == nil && h.MinRequests > 0 {
			x.Hypothesis.MinRequests = h.MinRequests
		}
	case []any:
		x.Hypothesis, err = analyze.ParseGateList(x.File, x.src, "$.steady-state-hypothesis.gates", h.MinRequests)
	default:
		return x.fail("$.steady-state-hypothesis.gates", "a list of gates or the path of a gates file")
	}
	if err != nil {
		return err
	}
	if err := x.checkLiveGates("$.steady-state-hypothesis.gates", x.Hypothesis); err != nil {
		return err
	}
	if len(x.Abort) > 0 {
		if x.AbortGates, err = analyze.ParseGateList(x.File, x.src, "$.abort", 0); err != nil {
			return err
		}
		if err := x.checkLiveGates("$.abort", x.AbortGates); err != nil {
			return err
		}
	}
	return nil
}

// checkLiveGates refuses gates a live window cannot judge.
func (x *Experiment) checkLiveGates(path string, g *analyze.Gates) error {
	for i, gt := range g.Gates {
		switch {
		case gt.Kind() == analyze.DivergenceGate:
			return x.fail(fmt.Sprintf("%s[%d]", path, i), "gate %q: divergence gates judge shadow runs, not live windows", gt.Name)
		case gt.Kind() == analyze.Relative && gt.Compare == "baseline":
			return x.fail(fmt.Sprintf("%s[%d].compare", path, i), "gate %q: an experiment has no baseline run; compare groups of the run (version:v1) or use absolute gates", gt.Name)
		}
	}
	return nil
}

func (x *Experiment) checkLease() error {
	x.Lease = chaos.DefaultLease()
	if x.Spec.Lease.TTL != 0 {
		x.Lease.TTL = x.Spec.Lease.TTL.D()
	}
	if x.Spec.Lease.Renew != 0 {
		x.Lease.Renew = x.Spec.Lease.Renew.D()
	}
	if field, msg := x.Lease.Check(); msg != "" {
		return x.fail("$.lease."+field, "%s", msg)
	}
	return nil
}

func (x *Experiment) checkActivity(path string, a *Activity, names map[string]bool) error {
	if a.Name == "" {
		return x.fail(path+".name", "an activity needs a name")
	}
	if names[a.Name] {
		return x.fail(path+".name", "duplicate activity name %q", a.Name)
	}
	names[a.Name] = true
	if a.At < 0 || a.Duration < 0 {
		return x.fail(path, "at and duration must not be negative")
	}
	n := 0
	for _, set := range []bool{a.HTTP != nil, a.TCP != nil, a.GRPC != nil, a.Container != nil, a.Request != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return x.fail(path, "an activity is one fault or action: give one of http, tcp, grpc, container, request")
	}
	switch {
	case a.HTTP != nil:
		if field, msg := a.HTTP.Check(); msg != "" {
			return x.fail(join(path+".http", field), "%s", msg)
		}
		if a.HTTP.Start != 0 || a.HTTP.Duration != 0 || a.HTTP.Lease != 0 || a.HTTP.ID != "" {
			return x.fail(path+".http", "an experiment times its faults with at and duration, and leases them itself: no id, start, duration or lease here")
		}
		p := x.proxy(a.HTTP.Proxy)
		if p == nil || p.Kind != ProxyHTTP {
			return x.fail(path+".http.proxy", "%q is not an http proxy of the experiment (proxies:)", a.HTTP.Proxy)
		}
	case a.TCP != nil:
		if field, msg := a.TCP.Check(); msg != "" {
			return x.fail(join(path+".tcp", field), "%s", msg)
		}
		p := x.proxy(a.TCP.Proxy)
		if p == nil || p.Kind != ProxyTCP {
			return x.fail(path+".tcp.proxy", "%q is not a tcp proxy of the experiment (proxies:)", a.TCP.Proxy)
		}
	case a.GRPC != nil:
		if field, msg := a.GRPC.Check(); msg != "" {
			return x.fail(join(path+".grpc", field), "%s", msg)
		}
		p := x.proxy(a.GRPC.Proxy)
		if p == nil || p.Kind != ProxyGRPC {
			return x.fail(path+".grpc.proxy", "%q is not a grpc proxy of the experiment (proxies:)", a.GRPC.Proxy)
		}
	case a.Container != nil:
		if field, msg := a.Container.Check(); msg != "" {
			return x.fail(join(path+".container", field), "%s", msg)
		}
	case a.Request != nil:
		if field, msg := a.Request.check(); msg != "" {
			return x.fail(join(path+".request", field), "%s", msg)
		}
	}
	return nil
}

// join appends a field's key path to a YAML path.
func join(path, field string) string {
	if field == "" {
		return path
	}
	return path + "." + field
}

// proxy returns the proxy named name, nil when there is none.
func (x *Experiment) proxy(name string) *ProxySpec {
	for i := range x.Proxies {
		if x.Proxies[i].Name == name {
			return &x.Proxies[i]
		}
	}
	return nil
}

// checkContradictions refuses two http faults on one proxy that overlap
// in time and selectors and would together act on more than all of the
// requests (two error faults of 100 %).
func (x *Experiment) checkContradictions() error {
	m := x.Method
	for i := range m {
		for j := i + 1; j < len(m); j++ {
			a, b := &m[i], &m[j]
			if a.HTTP == nil || b.HTTP == nil || a.HTTP.Proxy != b.HTTP.Proxy || !overlapsInTime(a, b) {
				continue
			}
			if httpfault.Contradict(a.HTTP, b.HTTP) {
				return x.fail(fmt.Sprintf("$.method[%d].http", j), "contradicts %q: both decide the response of requests their selectors share, on more than 100 %% of them together, at the same time", a.Name)
			}
		}
	}
	return nil
}

// end is when an activity's fault ends, nominally; a fault without a
// duration lasts to the end of the method (lastEnd).
func (a *Activity) end(lastEnd time.Duration) time.Duration {
	if a.Duration == 0 {
		return lastEnd
	}
	return a.At.D() + a.Duration.D()
}

func overlapsInTime(a, b *Activity) bool {
	const forever = 1 << 62
	return a.At.D() < b.end(forever) && b.At.D() < a.end(forever)
}

// MethodEnd is when the method's last activity ends, from time zero.
func (x *Experiment) MethodEnd() time.Duration {
	var end time.Duration
	for i := range x.Method {
		a := &x.Method[i]
		end = max(end, a.At.D()+a.Duration.D())
	}
	return end
}

// RunLength is the load's length: the method's end plus the recovery.
func (x *Experiment) RunLength() time.Duration {
	return x.MethodEnd() + x.Recovery
}

func (x *Experiment) checkLoad() error {
	l := &x.Load
	if l.Protocol == "" {
		l.Protocol = "http"
	}
	if !slices.Contains(extensions.Names(), l.Protocol) {
		return x.fail("$.load.protocol", "%q: want one of %s", l.Protocol, strings.Join(extensions.Names(), ", "))
	}
	if l.Through != "" && x.proxy(l.Through) == nil {
		return x.fail("$.load.through", "%q is not a proxy of the experiment (proxies:)", l.Through)
	}
	if l.Through != "" && x.proxy(l.Through).Admin != "" {
		return x.fail("$.load.through", "%q is an external proxy: give its listen address as the target instead", l.Through)
	}
	need := x.RunLength()
	length := need
	if l.Duration != 0 {
		if l.Duration.D() < need {
			return x.fail("$.load.duration", "%v is shorter than the method and its recovery (%v)", l.Duration.D(), need)
		}
		length = l.Duration.D()
	}
	// One interval more than the checks need, so that the run's last
	// interval closes before the load ends and the final check sees it.
	length += analyze.DefaultInterval
	var ov scenarios.Overrides
	ov.Duration = &length
	if l.Rate != 0 {
		ov.Rate = &l.Rate
	}
	if l.MaxVUs != 0 {
		ov.MaxVUs = &l.MaxVUs
	}
	var err error
	if l.Scenario == "" {
		exec := scenarios.ConstantArrivalRate
		ov.Executor = &exec
		if l.Rate == 0 {
			return x.fail("$.load.rate", "give the load's rate (or a scenario)")
		}
		x.Workload, err = scenarios.FromFlags(ov)
	} else {
		name := l.Scenario
		if !slices.Contains(scenarios.Profiles(), name) && !filepath.IsAbs(name) {
			name = filepath.Join(x.Dir, name)
		}
		if x.Workload, err = scenarios.Resolve(name); err == nil {
			err = x.Workload.Apply(ov)
		}
	}
	if err != nil {
		return x.fail("$.load", "%v", err)
	}
	x.Client = extensions.Options{Model: l.Model, API: l.API, PromptTokens: l.PromptTokens, MaxTokens: l.MaxTokens,
		Path: l.Path, Method: l.Method, Timeout: l.Timeout.D()}
	return x.checkSelectors()
}

// checkSelectors refuses an http fault on the load's proxy whose selector
// matches none of the requests the load sends.
func (x *Experiment) checkSelectors() error {
	if x.Load.Through == "" {
		return nil
	}
	method, path, model, ok := loadRequest(x.Load.Protocol, x.Client)
	if !ok {
		return nil
	}
	for _, sc := range x.Workload.Scenarios {
		if sc.Traffic != nil || sc.Request != nil {
			return nil // recorded traffic or a request of its own: any request may come
		}
	}
	for i := range x.Method {
		a := &x.Method[i]
		if a.HTTP == nil || a.HTTP.Proxy != x.Load.Through {
			continue
		}
		m := a.HTTP.Match
		if len(m.Headers) == 0 && !m.Selects(method, path, nil, model) {
			return x.fail(fmt.Sprintf("$.method[%d].http.match", i), "selects none of the load's requests (%s %s, model %q)", method, path, model)
		}
	}
	return nil
}

// loadRequest says what request a protocol's client sends with opts.
func loadRequest(protocol string, o extensions.Options) (method, path, model string, ok bool) {
	o = o.WithDefaults()
	switch protocol {
	case "openai":
		p := "/v1/completions"
		if o.API == extensions.APIChat {
			p = "/v1/chat/completions"
		}
		return "POST", p, o.Model, true
	case "kserve":
		return "POST", "/v2/models/" + o.Model + "/infer", o.Model, true
	case "http":
		p, _, _ := strings.Cut(o.Path, "?")
		return o.Method, p, "", true
	}
	return "", "", "", false
}
