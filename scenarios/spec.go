// Package scenarios describes and runs load: the scenario file (YAML, with
// k6-familiar executor names and parameters), its validation with file:line
// errors, the built-in profiles (load, stress, spike, soak, breakpoint), the
// arrival schedules of open-model executors, and the engine that drives a
// protocol client (gonogo.Client) and feeds a gonogo.Sink.
//
// Open-model executors (constant-arrival-rate, ramping-arrival-rate) give
// every request an intended send time; the engine never waits for a response
// before sending the next arrival, so latency measured from the intended time
// is free of coordinated omission. Closed-model executors (constant-vus,
// ramping-vus, shared-iterations) loop virtual users.
package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/token"

	"github.com/gonogo-dev/gonogo/extensions/dataset"
	"github.com/gonogo-dev/gonogo/internal/yamlpos"
	chk "github.com/gonogo-dev/gonogo/scenarios/checks"
)

// Executor names, as in k6.
const (
	ConstantArrivalRate = "constant-arrival-rate"
	RampingArrivalRate  = "ramping-arrival-rate"
	ConstantVUs         = "constant-vus"
	RampingVUs          = "ramping-vus"
	SharedIterations    = "shared-iterations"
	// RecordedArrivals is the open model of a timestamps replay: arrivals
	// at a trace's recorded times. A scenario whose traffic block replays
	// timestamps gets it when it names no executor.
	RecordedArrivals = "recorded-arrivals"
)

// Executors lists the executor names the engine knows.
var Executors = []string{ConstantArrivalRate, RampingArrivalRate, ConstantVUs, RampingVUs, SharedIterations, RecordedArrivals}

// Replay modes of a traffic block.
const (
	ReplayTimestamps   = "timestamps"   // arrivals at the recorded times (sped up, scaled, windowed, looped)
	ReplayDistribution = "distribution" // draws from the trace's joint size distribution and its gaps, at the scenario's rate
	ReplaySequential   = "sequential"   // the rows in recorded order, at the scenario's rate
)

// Arrival processes of the open-model executors.
const (
	ArrivalConstant = "constant" // evenly spaced, as k6 does
	ArrivalPoisson  = "poisson"  // exponential inter-arrival times
	ArrivalGamma    = "gamma"    // gamma inter-arrival times; burstiness is the shape (vLLM bench)
)

// Saturation policies: what an arrival does when every VU is busy.
const (
	SaturationDrop  = "drop"  // count it as dropped (k6's dropped_iterations)
	SaturationQueue = "queue" // wait for a VU, up to maxQueue waiting arrivals
)

// Defaults applied by Validate where a field is left out.
const (
	DefaultTimeUnit        = time.Second
	DefaultMaxVUs          = 1000
	DefaultPreAllocatedVUs = 50
	DefaultMaxQueue        = 10000
	DefaultGracefulStop    = 30 * time.Second
	DefaultMaxDuration     = 10 * time.Minute // shared-iterations
)

// File is a scenario file: several named scenarios that run side by side,
// the thresholds that decide the exit code, and a default request.
type File struct {
	// Description says what the file is for; it appears in reports.
	Description string `yaml:"description"`
	// Scenarios maps names to scenarios.
	Scenarios map[string]*Scenario `yaml:"scenarios"`
	// Thresholds maps a metric selector (latency, errors, ttft{scenario:x}, …)
	// to k6-style threshold expressions.
	Thresholds map[string][]Threshold `yaml:"thresholds"`
	// Request is the default request of every scenario without its own.
	Request *RequestSpec `yaml:"request"`
	// Checks are asserted on every response of every scenario (k6's
	// check): see package scenarios/checks and docs/scenarios.md.
	Checks []chk.Spec `yaml:"checks"`

	// Path names the file the spec came from ("" for flags only); errors
	// use it.
	Path string `yaml:"-"`
	src  []byte
}

// Scenario is one workload with its own executor, start time and tags.
type Scenario struct {
	// Name is the scenario's key in the file.
	Name string `yaml:"-"`
	// Executor is one of Executors.
	Executor string `yaml:"executor"`
	// StartTime delays the scenario from the start of the run.
	StartTime time.Duration `yaml:"startTime"`
	// GracefulStop is how long in-flight requests may finish after the
	// scenario's arrivals end (or after an interrupt).
	GracefulStop time.Duration `yaml:"gracefulStop"`
	// Tags are attached to every request of the scenario.
	Tags map[string]string `yaml:"tags"`

	// Rate is arrivals per TimeUnit (constant-arrival-rate).
	Rate float64 `yaml:"rate"`
	// TimeUnit is the period Rate and stage targets count in (default 1s).
	TimeUnit time.Duration `yaml:"timeUnit"`
	// Duration is how long the scenario runs (constant-* executors).
	Duration time.Duration `yaml:"duration"`
	// StartRate is the rate before the first stage (ramping-arrival-rate).
	StartRate float64 `yaml:"startRate"`
	// Stages ramp the rate (ramping-arrival-rate) or the VUs (ramping-vus)
	// linearly to each target over each duration.
	Stages []Stage `yaml:"stages"`
	// PreAllocatedVUs are started before the first arrival.
	PreAllocatedVUs int `yaml:"preAllocatedVUs"`
	// MaxVUs caps concurrent requests of an arrival-rate scenario.
	MaxVUs int `yaml:"maxVUs"`
	// Arrival is the arrival process: constant (default), poisson or gamma.
	Arrival string `yaml:"arrival"`
	// Burstiness is the gamma shape: 1 is Poisson, below 1 burstier, above
	// 1 smoother (vLLM bench's burstiness).
	Burstiness float64 `yaml:"burstiness"`
	// Seed seeds random arrival processes; 0 picks 1.
	Seed int64 `yaml:"seed"`
	// Saturation is drop (default) or queue.
	Saturation string `yaml:"saturation"`
	// MaxQueue bounds the arrivals waiting for a VU under queue.
	MaxQueue int `yaml:"maxQueue"`

	// VUs is the number of virtual users (constant-vus, shared-iterations).
	VUs int `yaml:"vus"`
	// StartVUs is the VU count before the first stage (ramping-vus).
	StartVUs int `yaml:"startVUs"`
	// Iterations is the total shared among VUs (shared-iterations).
	Iterations int `yaml:"iterations"`
	// MaxDuration bounds a shared-iterations scenario.
	MaxDuration time.Duration `yaml:"maxDuration"`
	// Warmup runs a closed-model scenario's VUs this long before its start
	// and leaves their requests out of the results (Engine.WarmupRequests
	// counts them), so that the measured part starts with warm
	// connections, caches and VUs at their pace. ramping-vus warms up with
	// its startVUs. Open-model executors have none: their connections are
	// opened before time zero (Engine.Warm).
	Warmup time.Duration `yaml:"warmup"`

	// Request overrides the file's default request.
	Request *RequestSpec `yaml:"request"`
	// Traffic replays recorded traffic: arrivals, sizes and tags come from
	// a trace instead of (timestamps) or on top of (distribution) the
	// executor's schedule.
	Traffic *Traffic `yaml:"traffic"`
	// Checks are asserted on every response of the scenario, after the
	// file's checks.
	Checks []chk.Spec `yaml:"checks"`

	checkSet *chk.Set // the file's checks and the scenario's, compiled
}

// CheckSet returns the scenario's checks — the file's, then its own —
// compiled by Validate; nil when there are none.
func (s *Scenario) CheckSet() *chk.Set { return s.checkSet }

// Traffic says which recorded traffic a scenario replays, and how.
type Traffic struct {
	// Trace is the trace file; a relative path is relative to the scenario
	// file's folder.
	Trace string `yaml:"trace"`
	// Format is the trace format (csv, jsonl, requestlog, har); "" detects it.
	Format string `yaml:"format"`
	// Preset names the columns of a known public trace; "" detects it.
	Preset string `yaml:"preset"`
	// Columns maps fields (timestamp, input_tokens, output_tokens,
	// tag:NAME) to the trace's column names; known traces need none.
	Columns map[string]string `yaml:"columns"`
	// TimeFormat names the timestamp format; "" detects it.
	TimeFormat string `yaml:"timeFormat"`
	// Strict makes the first malformed row an error instead of a skip.
	Strict bool `yaml:"strict"`
	// Replay is timestamps (default) or distribution.
	Replay string `yaml:"replay"`
	// Speed compresses time in timestamps mode: 10 replays ten times faster.
	Speed float64 `yaml:"speed"`
	// Scale multiplies the traffic in timestamps mode, keeping its shape.
	Scale float64 `yaml:"scale"`
	// From and To cut a window out of the trace (offsets from its start,
	// before Speed); To 0 means the end.
	From time.Duration `yaml:"from"`
	To   time.Duration `yaml:"to"`
	// Loop replays the window this many times (timestamps mode).
	Loop int `yaml:"loop"`
}

// Stage is one linear ramp: reach Target in Duration.
type Stage struct {
	Duration time.Duration `yaml:"duration"`
	Target   float64       `yaml:"target"`
}

// RequestSpec describes what each request sends; which fields matter
// depends on the protocol.
type RequestSpec struct {
	Method  string            `yaml:"method"`
	Path    string            `yaml:"path"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
	// Model is the served model name (openai, kserve).
	Model string `yaml:"model"`
	// API is "completions" or "chat" (openai).
	API string `yaml:"api"`
	// PromptTokens and MaxTokens size generated requests (openai).
	PromptTokens int `yaml:"promptTokens"`
	MaxTokens    int `yaml:"maxTokens"`
	// Dataset supplies the prompts instead (openai): a ShareGPT or JSONL
	// file, or random lengths; see docs/datasets.md.
	Dataset *dataset.Spec `yaml:"dataset"`
	// Tokenizer counts the prompts: cl100k_base, o200k_base, p50k_base,
	// r50k_base, or a tiktoken file (openai).
	Tokenizer string `yaml:"tokenizer"`
}

// Threshold is one k6-style threshold expression on a metric, such as
// "p(99)<500" or "rate<0.01". In YAML it is either that string or an
// object {threshold, abortOnFail, delayAbortEval}.
type Threshold struct {
	Expr           string        `yaml:"threshold"`
	AbortOnFail    bool          `yaml:"abortOnFail"`
	DelayAbortEval time.Duration `yaml:"delayAbortEval"`
	// Pos is "file:line" of the expression, for error messages.
	Pos string `yaml:"-"`
}

// UnmarshalYAML accepts a plain expression string or the object form.
func (t *Threshold) UnmarshalYAML(b []byte) error {
	var s string
	if err := yaml.Unmarshal(b, &s); err == nil {
		t.Expr = s
		return nil
	}
	type plain Threshold
	var p plain
	if err := yaml.UnmarshalWithOptions(b, &p, yaml.DisallowUnknownField()); err != nil {
		return err
	}
	*t = Threshold(p)
	return nil
}

// ValidationError is invalid input in a scenario file or in the flags that
// stand for one. It names the file, line and field when they are known.
type ValidationError struct {
	File   string // "" for flags
	Line   int    // 0 when unknown
	Column int
	Field  string // a path such as scenarios.warmup.rate, or a flag such as --rate
	Msg    string
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Column > 0 {
				fmt.Fprintf(&b, ":%d", e.Column)
			}
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Parse reads a scenario file. name is used in error messages. Unknown
// fields are errors. The result is validated and has defaults applied.
func Parse(name string, data []byte) (*File, error) {
	f := &File{Path: name, src: data}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &ValidationError{File: name, Msg: "empty scenario file"}
	}
	if err := yamlpos.Decode(data, f); err != nil {
		return nil, yamlError(name, data, err)
	}
	if path, line, col, text := yamlpos.Parse(data).Fractional(f); path != "" {
		return nil, &ValidationError{File: name, Line: line, Column: col, Field: strings.TrimPrefix(path, "$."),
			Msg: fmt.Sprintf("want a whole number (got %s)", text)}
	}
	f.Path, f.src = name, data
	if dir := filepath.Dir(name); !strings.HasPrefix(name, "profile:") && dir != "." {
		for _, s := range f.Scenarios {
			if s != nil && s.Traffic != nil && s.Traffic.Trace != "" && !filepath.IsAbs(s.Traffic.Trace) {
				s.Traffic.Trace = filepath.Join(dir, s.Traffic.Trace)
			}
		}
		f.resolvePromptPaths(dir)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// Load reads and parses the scenario file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ValidationError{File: path, Msg: err.Error()}
	}
	return Parse(path, data)
}

// yamlError turns a go-yaml error into a ValidationError with its
// position and field, and a value of the wrong type into what the field
// wants ("want a number (got "fast")") instead of Go's type names.
func yamlError(name string, src []byte, err error) error {
	msg, line, col := yamlpos.OfError(src, err)
	var (
		te *yaml.TypeError
		oe *yaml.OverflowError
		ue *yaml.UnknownFieldError
	)
	switch {
	case errors.As(err, &te):
		msg = want(te.DstType) + " (got " + got(te.SrcType, te.Token) + ")"
	case errors.As(err, &oe):
		msg = fmt.Sprintf("out of range: %s (got %s)", want(oe.DstType), oe.SrcNum)
	case strings.HasPrefix(msg, "time: "): // time.ParseDuration's error: the duration is quoted last
		if i := strings.LastIndex(strings.TrimSuffix(msg, `"`), `"`); i >= 0 && strings.HasSuffix(msg, `"`) {
			bad := msg[i+1 : len(msg)-1]
			line, col = yamlpos.Locate(src, bad)
			msg = fmt.Sprintf("%s (got %q)", want(durationType), bad)
		}
	}
	e := &ValidationError{File: name, Line: line, Column: col, Msg: msg}
	if path := yamlpos.Parse(src).PathAt(line, col); path != "" {
		if errors.As(err, &ue) { // the key is the problem: name the mapping it is in
			path = path[:max(strings.LastIndex(path, "."), 0)]
		}
		e.Field = strings.TrimPrefix(path, "$.")
	}
	return e
}

var durationType = reflect.TypeOf(time.Duration(0))

// want says what a field of type t takes, in a user's words.
func want(t reflect.Type) string {
	if t == durationType {
		return "want a duration such as 30s, 1m30s or 2h"
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return "want a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "want a whole number"
	case reflect.Bool:
		return "want true or false"
	case reflect.String:
		return "want a string"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "want a mapping (key: value)"
	case reflect.Slice, reflect.Array:
		return "want a list"
	}
	return "want a " + t.String()
}

// got describes the value a type error found.
func got(t reflect.Type, tk *token.Token) string {
	if t != nil {
		switch t.Kind() {
		case reflect.Map:
			return "a mapping"
		case reflect.Slice:
			return "a list"
		}
	}
	if tk == nil {
		return "another type"
	}
	if tk.Type == token.StringType || tk.Type == token.DoubleQuoteType || tk.Type == token.SingleQuoteType {
		return strconv.Quote(tk.Value)
	}
	return tk.Value
}

// Names returns the scenario names in the order they start (by start time,
// then name).
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Scenarios))
	for n := range f.Scenarios {
		names = append(names, n)
	}
	start := func(name string) time.Duration {
		if s := f.Scenarios[name]; s != nil { // an empty scenario is an error Validate reports
			return s.StartTime
		}
		return 0
	}
	sort.Slice(names, func(i, j int) bool {
		if a, b := start(names[i]), start(names[j]); a != b {
			return a < b
		}
		return names[i] < names[j]
	})
	return names
}

// Validate checks every field, applies defaults, and returns the first
// problem as a *ValidationError with the file position when known.
func (f *File) Validate() error {
	if len(f.Scenarios) == 0 {
		return f.errAt("$.scenarios", "scenarios", "no scenarios defined")
	}
	if f.Request != nil {
		if field, msg := f.Request.checkBounds(); msg != "" {
			return f.errAt("$.request."+field, "request."+field, msg)
		}
	}
	if _, err := chk.NewSet(f.Checks); err != nil {
		return f.checkErr(err, "$.checks", "checks")
	}
	names := map[string]bool{}
	for _, sp := range f.Checks {
		names[sp.Name] = true
	}
	for _, name := range f.Names() {
		s := f.Scenarios[name]
		if s == nil {
			return f.errAt("$.scenarios."+name, "scenarios."+name, "empty scenario")
		}
		s.Name = name
		if field, msg := s.validate(); msg != "" {
			return f.errAt("$.scenarios."+name+"."+field, "scenarios."+name+"."+field, msg)
		}
		if s.Request == nil {
			s.Request = f.Request
		}
		if err := f.compileChecks(s, names); err != nil {
			return err
		}
	}
	for metric, list := range f.Thresholds {
		for i := range list {
			t := &list[i]
			at := fmt.Sprintf("$.thresholds.%s[%d]", metric, i)
			t.Pos = f.pos(at)
			if strings.TrimSpace(t.Expr) == "" {
				return f.errAt(at, "thresholds."+metric, "empty threshold expression")
			}
			var c checks
			if c.duration("delayAbortEval", t.DelayAbortEval, 0, LimitDuration); c.msg != "" {
				return f.errAt(at+".delayAbortEval", "thresholds."+metric+".delayAbortEval", c.msg)
			}
		}
	}
	return nil
}

// compileChecks compiles the file's checks and the scenario's into
// s.checkSet, adding the scenario's names to names: the run counts at most
// chk.MaxChecks distinct names.
func (f *File) compileChecks(s *Scenario, names map[string]bool) error {
	at, field := "$.scenarios."+s.Name+".checks", "scenarios."+s.Name+".checks"
	all := append(slices.Clip(f.Checks), s.Checks...)
	if len(all) == 0 {
		s.checkSet = nil
		return nil
	}
	set, err := chk.NewSet(all)
	if err != nil {
		var e *chk.Error
		if errors.As(err, &e) && e.Index >= len(f.Checks) {
			e.Index -= len(f.Checks)
			if e.Field == "name" && strings.HasSuffix(e.Msg, "two checks have this name") {
				e.Msg += " (the file's checks apply to every scenario)"
			}
		}
		return f.checkErr(err, at, field)
	}
	for i, sp := range s.Checks {
		if !names[sp.Name] {
			names[sp.Name] = true
			if len(names) > chk.MaxChecks {
				return f.checkErr(&chk.Error{Index: i, Field: "name", Msg: fmt.Sprintf("more than %d distinct check names in the file", chk.MaxChecks)}, at, field)
			}
		}
	}
	s.checkSet = set
	return nil
}

// checkErr turns a check's compile error into a ValidationError at the
// check's field under the list at yamlPath (field in messages).
func (f *File) checkErr(err error, yamlPath, field string) error {
	var e *chk.Error
	if !errors.As(err, &e) {
		return f.errAt(yamlPath, field, err.Error())
	}
	item := fmt.Sprintf("[%d]", e.Index)
	return f.errAt(yamlPath+item+"."+e.Field, field+item+"."+e.Field, e.Msg)
}

// validate checks one scenario and applies defaults. It returns the field
// (YAML name) and a message when something is wrong.
func (s *Scenario) validate() (field, msg string) {
	if f, m := s.checkBounds(); m != "" {
		return f, m
	}
	if s.GracefulStop == 0 {
		s.GracefulStop = DefaultGracefulStop
	}
	if s.Traffic != nil {
		if f, m := s.validateTraffic(); m != "" {
			return f, m
		}
	}
	if s.Warmup > 0 && s.openModel() {
		return "warmup", fmt.Sprintf("%s is an open-model executor: its arrivals come at their times whatever the server does, so nothing needs warming but the connections, which are opened before time zero; warm-up is for constant-vus, ramping-vus and shared-iterations", s.Executor)
	}
	switch s.Executor {
	case ConstantArrivalRate, RampingArrivalRate, RecordedArrivals:
		return s.validateArrivalRate()
	case ConstantVUs:
		if s.VUs <= 0 {
			return "vus", fmt.Sprintf("must be > 0 (got %d)", s.VUs)
		}
		if s.Duration <= 0 {
			return "duration", fmt.Sprintf("must be > 0 (got %s)", s.Duration)
		}
	case RampingVUs:
		if f, m := validStages(s.Stages, true); m != "" {
			return f, m
		}
		if s.Warmup > 0 && s.StartVUs == 0 {
			return "warmup", "ramping-vus warms up with its startVUs, which is 0: set startVUs"
		}
	case SharedIterations:
		if s.VUs <= 0 {
			s.VUs = 1
		}
		if s.Iterations <= 0 {
			return "iterations", fmt.Sprintf("must be > 0 (got %d)", s.Iterations)
		}
		if s.VUs > s.Iterations {
			s.VUs = s.Iterations
		}
		if s.MaxDuration == 0 {
			s.MaxDuration = DefaultMaxDuration
		}
	case "":
		return "executor", "missing; one of " + strings.Join(Executors, ", ")
	default:
		return "executor", fmt.Sprintf("unknown executor %q; one of %s", s.Executor, strings.Join(Executors, ", "))
	}
	return "", ""
}

// validateTraffic checks a traffic block, applies its defaults and picks
// the executor a timestamps replay implies.
func (s *Scenario) validateTraffic() (field, msg string) {
	t := s.Traffic // its numbers are bounded by checkBounds
	switch {
	case strings.TrimSpace(t.Trace) == "":
		return "traffic.trace", "missing: the trace file to replay"
	case t.To != 0 && t.To <= t.From:
		return "traffic.to", fmt.Sprintf("must be after from (%s)", t.From)
	}
	if t.Speed == 0 {
		t.Speed = 1
	}
	if t.Scale == 0 {
		t.Scale = 1
	}
	switch t.Replay {
	case "":
		t.Replay = ReplayTimestamps
	case ReplayTimestamps, ReplayDistribution, ReplaySequential:
	default:
		return "traffic.replay", fmt.Sprintf("unknown mode %q; one of timestamps, distribution, sequential", t.Replay)
	}
	paced := t.Replay == ReplayDistribution || t.Replay == ReplaySequential
	if t.Replay == ReplayTimestamps && s.Executor == "" {
		s.Executor = RecordedArrivals
	}
	if paced && s.Executor == "" {
		s.Executor = ConstantArrivalRate
	}
	switch {
	case t.Replay == ReplayTimestamps && s.Executor != RecordedArrivals:
		return "executor", fmt.Sprintf("a timestamps replay sets its own arrivals: leave executor out or use %s (got %s)", RecordedArrivals, s.Executor)
	case paced && s.Executor != ConstantArrivalRate && s.Executor != RampingArrivalRate:
		return "executor", fmt.Sprintf("a %s replay needs constant-arrival-rate or ramping-arrival-rate (got %s)", t.Replay, s.Executor)
	case t.Replay == ReplayDistribution && s.Arrival != "" && s.Arrival != ArrivalConstant:
		return "arrival", "a distribution replay draws its gaps from the trace: leave arrival out"
	}
	return "", ""
}

func (s *Scenario) validateArrivalRate() (field, msg string) {
	if s.TimeUnit == 0 {
		s.TimeUnit = DefaultTimeUnit
	}
	switch s.Executor {
	case RecordedArrivals:
		if s.Traffic == nil || s.Traffic.Replay != ReplayTimestamps {
			return "traffic", "recorded-arrivals needs a traffic block with replay: timestamps"
		}
	case ConstantArrivalRate:
		// A distribution replay without a rate runs at the trace's mean
		// rate, which is known once the trace is read (SetRate).
		rateFromTrace := s.Traffic != nil && s.Traffic.Replay == ReplayDistribution && s.Rate == 0
		if !rateFromTrace && !(s.Rate > 0) {
			return "rate", fmt.Sprintf("must be > 0 (got %g)", s.Rate)
		}
		if s.Duration <= 0 {
			return "duration", fmt.Sprintf("must be > 0 (got %s)", s.Duration)
		}
	default:
		if f, m := validStages(s.Stages, false); m != "" {
			return f, m
		}
	}
	switch s.Arrival {
	case "":
		s.Arrival = ArrivalConstant
	case ArrivalConstant, ArrivalPoisson:
	case ArrivalGamma:
		if s.Burstiness == 0 {
			s.Burstiness = 1
		}
	default:
		return "arrival", fmt.Sprintf("unknown arrival process %q; one of constant, poisson, gamma", s.Arrival)
	}
	if s.Burstiness != 0 && s.Arrival != ArrivalGamma {
		return "burstiness", fmt.Sprintf("is the shape of arrival: gamma (arrival is %s)", s.Arrival)
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	if s.MaxVUs == 0 {
		s.MaxVUs = max(DefaultMaxVUs, s.PreAllocatedVUs)
	}
	if s.PreAllocatedVUs == 0 {
		s.PreAllocatedVUs = min(DefaultPreAllocatedVUs, s.MaxVUs)
	}
	if s.PreAllocatedVUs > s.MaxVUs {
		return "preAllocatedVUs", fmt.Sprintf("must not exceed maxVUs (%d > %d)", s.PreAllocatedVUs, s.MaxVUs)
	}
	switch s.Saturation {
	case "":
		s.Saturation = SaturationDrop
	case SaturationDrop:
	case SaturationQueue:
		if s.MaxQueue == 0 {
			s.MaxQueue = DefaultMaxQueue
		}
	default:
		return "saturation", fmt.Sprintf("unknown policy %q; one of drop, queue", s.Saturation)
	}
	return "", ""
}

// validStages checks what checkBounds leaves to the executor: that there
// are stages, that they last, and that VU targets are whole.
func validStages(stages []Stage, integer bool) (field, msg string) {
	if len(stages) == 0 {
		return "stages", "at least one stage is required"
	}
	var total time.Duration
	for i, st := range stages {
		f := fmt.Sprintf("stages[%d]", i)
		if integer && st.Target != math.Trunc(st.Target) {
			return f + ".target", fmt.Sprintf("must be a whole number of VUs (got %g)", st.Target)
		}
		total += st.Duration
	}
	if total <= 0 {
		return "stages", "total duration must be > 0"
	}
	return "", ""
}

// errAt builds a ValidationError for a YAML path; the line is looked up in
// the source when the file has one.
func (f *File) errAt(yamlPath, field, msg string) error {
	e := &ValidationError{File: f.Path, Field: field, Msg: msg}
	if f.Path == "" {
		e.Field = flagFor(field)
	}
	e.Line, e.Column = f.lineOf(yamlPath)
	return e
}

// pos renders the position of a YAML path as "file:line".
func (f *File) pos(yamlPath string) string {
	line, _ := f.lineOf(yamlPath)
	if f.Path == "" {
		return "flags"
	}
	if line == 0 {
		return f.Path
	}
	return fmt.Sprintf("%s:%d", f.Path, line)
}

// lineOf finds the line and column of a YAML path in the source, walking up
// to the nearest existing parent when the field itself is absent.
func (f *File) lineOf(yamlPath string) (int, int) {
	return yamlpos.Parse(f.src).Find(yamlPath)
}

// flagFor maps a field path to the flag that sets it, for flag-only specs.
func flagFor(field string) string {
	i := strings.LastIndex(field, ".")
	name := field[i+1:]
	if j := strings.Index(name, "["); j >= 0 {
		name = name[:j]
	}
	switch name {
	case "rate", "startRate":
		return "--rate"
	case "duration", "maxDuration":
		return "--duration"
	case "vus", "startVUs", "preAllocatedVUs":
		return "--vus"
	case "maxVUs":
		return "--max-vus"
	case "iterations":
		return "--iterations"
	case "stages", "target":
		return "--stages"
	case "executor":
		return "--executor"
	case "arrival":
		return "--arrival"
	case "burstiness", "saturation", "warmup":
		return "--" + name
	case "trace", "replay", "speed", "scale", "from", "to", "loop":
		return "--" + name
	}
	return field
}
