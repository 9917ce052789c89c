// Package outputs sends a run's live metrics and events to the dashboards
// people already have: Prometheus remote-write (outputs/remotewrite),
// OpenTelemetry metrics over OTLP/HTTP (outputs/otlp) and Grafana
// annotations (outputs/annotations).
//
// The run hands every result to a Collector, a gonogo.Sink of atomic
// counters and fixed-bucket histograms that is safe on the hot path. A
// Driver reads a Snapshot of the run at every push interval and gives it
// to each Output on a goroutine of its own, so that an output never slows
// the load: a snapshot that an output is still too busy to take is
// replaced by the next one (every series is cumulative, so a skipped push
// loses a point on a graph, never a count); a push that still fails after
// its bounded retries is dropped and counted; and the Driver says at the
// end what each output sent and dropped. The last snapshot, taken once the
// results are written, carries the run's events (Final).
//
// Each implementation registers a Factory under its name in init();
// import outputs/all for every one of them:
//
//	import _ "github.com/gonogo-dev/gonogo/outputs/all"
//
//	out, err := outputs.New("remote-write", outputs.Config{URL: "http://127.0.0.1:9090/api/v1/write"})
package outputs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// Output sends snapshots of a run somewhere. Implementations check
// themselves with var _ outputs.Output = (*T)(nil), and say what they are
// (their kind and redacted URL) with a String method.
type Output interface {
	// Push sends s before ctx's deadline, retrying as it sees fit within
	// it. A Driver calls Push from one goroutine, with snapshots in time
	// order; the last has Final set. An error means s was dropped.
	Push(ctx context.Context, s *Snapshot) error
	// Close releases what the output holds; no Push follows.
	Close() error
}

// Factory builds an output from its configuration; its errors wrap
// ErrInput.
type Factory func(Config) (Output, error)

// ErrInput marks bad configuration: a URL that is not http(s), a token
// file that cannot be read. The command line exits 2 on it.
var ErrInput = errors.New("outputs: bad input")

// ErrUnknown is returned by New for a name no output registered.
var ErrUnknown = errors.New("outputs: unknown output")

var (
	regMu    sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes an output available by name; it panics on an empty name,
// a nil factory or a name registered twice (a programming error).
func Register(name string, f Factory) {
	if name == "" || f == nil {
		panic("outputs: Register with empty name or nil factory")
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("outputs: output " + name + " registered twice")
	}
	registry[name] = f
}

// New builds the named output. An unknown name gives an error wrapping
// ErrUnknown that lists the known names.
func New(name string, cfg Config) (Output, error) {
	regMu.RLock()
	f, ok := registry[name]
	regMu.RUnlock()
	if !ok {
		known := "none registered (import outputs/all)"
		if names := Names(); len(names) > 0 {
			known = strings.Join(names, ", ")
		}
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, known)
	}
	return f(cfg)
}

// Names lists the registered outputs, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Describe says what an output is: its String method when it has one,
// else its Go type.
func Describe(o Output) string {
	if s, ok := o.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", o)
}

// Snapshot is the state of a run at one moment, as every output sends it.
// Outputs must not modify it: the Driver hands the same snapshot to every
// output.
type Snapshot struct {
	// Time is when the values were read.
	Time time.Time
	// Start is the run's time zero, the start of every cumulative series.
	Start time.Time
	// RunID identifies the run (run.json's id).
	RunID string
	// Scenarios names the run's scenarios, sorted.
	Scenarios []string
	// Labels are the run's labels (--label version=v2): outputs put them on
	// every series or on the resource.
	Labels map[string]string
	// Series are the values, in a fixed order: the series of one metric
	// follow each other.
	Series []Series
	// Final is set on the last snapshot only, once the results are
	// written.
	Final *Final
}

// Final is what the last snapshot of a run adds.
type Final struct {
	// Dir is the results directory.
	Dir string
	// Events are the run's timeline in time order: its start, the stages
	// of its scenarios, the journal (faults, flips, steps, markers, failed
	// gates), its end and its verdict.
	Events []gonogo.Event
}

// Kind is the kind of a metric.
type Kind uint8

// Kinds of metrics.
const (
	// Counter is a cumulative count since the run's start.
	Counter Kind = iota + 1
	// Gauge is a value at the snapshot's time.
	Gauge
	// Histogram is a cumulative fixed-bucket histogram since the run's start.
	Histogram
)

// Metric describes one metric family.
type Metric struct {
	// Name is the Prometheus name, with its unit and _total suffixes, as
	// /metrics serves it (gonogo_latency_seconds).
	Name string
	// OTelName is the OpenTelemetry name (gonogo.latency): Prometheus's
	// OTLP translation of OTelName and Unit gives Name back.
	OTelName string
	// Unit is the UCUM unit: "s", "{request}", "{token}"; "" when the
	// series mix units (quantiles: seconds for times, tokens for
	// output_tokens).
	Unit string
	// Help says what the metric measures.
	Help string
	Kind Kind
}

// Label is one name="value" pair of a series.
type Label struct{ Name, Value string }

// Labels builds labels from name, value pairs (an odd last name is
// dropped).
func Labels(pairs ...string) []Label {
	out := make([]Label, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Label{Name: pairs[i], Value: pairs[i+1]})
	}
	return out
}

// Series is one series of a snapshot: a counter's or a gauge's Value, or a
// histogram's Hist.
type Series struct {
	Metric *Metric
	// Labels are the series' own labels, sorted by name; an empty value
	// means the label is absent (Prometheus's rule).
	Labels []Label
	Value  float64
	Hist   *HistogramValue
}

// HistogramValue is a cumulative fixed-bucket histogram.
type HistogramValue struct {
	// Bounds are the buckets' upper bounds (inclusive), ascending, in the
	// metric's unit.
	Bounds []float64
	// Counts holds the observations of each bucket (not cumulative):
	// len(Bounds)+1 entries, the last for values above every bound.
	Counts []uint64
	// Count is the number of observations, the sum of Counts.
	Count uint64
	// Sum is the sum of the observations, in the metric's unit.
	Sum float64
}
