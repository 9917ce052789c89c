package tcpfault

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo/chaos"
)

// Toxics, in toxiproxy's vocabulary, plus Down.
const (
	Latency   = "latency"    // every chunk held back latency ± jitter
	Bandwidth = "bandwidth"  // throughput capped at rate KB/s
	SlowClose = "slow_close" // the close held back delay
	Timeout   = "timeout"    // no data passes; closed after timeout (0: never)
	ResetPeer = "reset_peer" // connection reset (RST) timeout after data arrives
	Slicer    = "slicer"     // data cut into pieces of averageSize ± sizeVariation bytes
	LimitData = "limit_data" // connection closed after bytes bytes
	Down      = "down"       // the proxy refuses new connections and drops open ones
)

// Streams: the direction of the data a toxic acts on.
const (
	Upstream   = "upstream"   // client to upstream
	Downstream = "downstream" // upstream to client (the default)
)

// MaxDuration bounds every duration of a Spec.
const MaxDuration = 24 * time.Hour

// attrs lists the attributes each toxic takes, by YAML key.
var attrs = map[string][]string{
	Latency:   {"latency", "jitter"},
	Bandwidth: {"rate"},
	SlowClose: {"delay"},
	Timeout:   {"timeout"},
	ResetPeer: {"timeout"},
	Slicer:    {"averageSize", "sizeVariation", "delay"},
	LimitData: {"bytes"},
	Down:      nil,
}

// toxicNames is the list of toxics in the order error messages give it.
var toxicNames = []string{Latency, Bandwidth, SlowClose, Timeout, ResetPeer, Slicer, LimitData, Down}

// Spec is the tcp block of an experiment's method entry: one toxic on one
// of the experiment's proxies. Only the attributes of the chosen toxic may
// be given; absent ones take toxiproxy's defaults (see Check).
type Spec struct {
	// Proxy names the experiment's proxy the toxic acts on; the
	// experiment resolves it to a *Proxy.
	Proxy string `yaml:"proxy" json:"proxy"`
	// Toxic is one of latency, bandwidth, slow_close, timeout,
	// reset_peer, slicer, limit_data and down.
	Toxic string `yaml:"toxic" json:"toxic"`
	// Stream is upstream or downstream ("" is downstream).
	Stream string `yaml:"stream,omitempty" json:"stream,omitempty"`
	// Toxicity is the share of connections the toxic acts on, 0 to 1
	// (nil is 1), drawn per connection.
	Toxicity *float64 `yaml:"toxicity,omitempty" json:"toxicity,omitempty"`

	// Latency (latency) holds every chunk back this long, ± Jitter
	// (uniformly). Whole milliseconds.
	Latency *chaos.Duration `yaml:"latency,omitempty" json:"latency,omitempty"`
	Jitter  *chaos.Duration `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	// RateKBPerSec (bandwidth) caps throughput, in KB/s of 1000 bytes.
	RateKBPerSec *int64 `yaml:"rate,omitempty" json:"rate,omitempty"`
	// Delay holds the close back (slow_close, whole milliseconds) or
	// spaces the slices (slicer, whole microseconds).
	Delay *chaos.Duration `yaml:"delay,omitempty" json:"delay,omitempty"`
	// Timeout closes a stalled connection after this long (timeout; 0 or
	// absent: never) or resets one this long after data arrived
	// (reset_peer; 0 or absent: at once). Whole milliseconds.
	Timeout *chaos.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// AverageSizeBytes and SizeVariationBytes (slicer) size the slices:
	// AverageSizeBytes > 0, 0 ≤ SizeVariationBytes < AverageSizeBytes.
	AverageSizeBytes   *int64 `yaml:"averageSize,omitempty" json:"averageSize,omitempty"`
	SizeVariationBytes *int64 `yaml:"sizeVariation,omitempty" json:"sizeVariation,omitempty"`
	// Bytes (limit_data) is how many bytes pass before the connection is
	// closed.
	Bytes *int64 `yaml:"bytes,omitempty" json:"bytes,omitempty"`
}

// Kind is "tcp." followed by the toxic: tcp.latency, tcp.down.
func (s *Spec) Kind() string { return "tcp." + s.Toxic }

// Direction is the stream with its default: upstream or downstream.
func (s *Spec) Direction() string {
	if s.Stream == "" {
		return Downstream
	}
	return s.Stream
}

// ToxicityOrDefault is the toxicity with its default, 1.
func (s *Spec) ToxicityOrDefault() float64 {
	if s.Toxicity == nil {
		return 1
	}
	return *s.Toxicity
}

// given lists the attributes set in s, by YAML key, in a fixed order.
func (s *Spec) given() []string {
	var out []string
	for _, a := range []struct {
		key string
		set bool
	}{
		{"latency", s.Latency != nil},
		{"jitter", s.Jitter != nil},
		{"rate", s.RateKBPerSec != nil},
		{"delay", s.Delay != nil},
		{"timeout", s.Timeout != nil},
		{"averageSize", s.AverageSizeBytes != nil},
		{"sizeVariation", s.SizeVariationBytes != nil},
		{"bytes", s.Bytes != nil},
	} {
		if a.set {
			out = append(out, a.key)
		}
	}
	return out
}

// Check says what is wrong with s, "" when nothing; field is the key of
// the offending field within the block.
func (s *Spec) Check() (field, msg string) {
	if strings.TrimSpace(s.Proxy) == "" {
		return "proxy", "required: the name of one of the experiment's proxies"
	}
	allowed, ok := attrs[s.Toxic]
	if !ok {
		if s.Toxic == "" {
			return "toxic", "required: one of " + strings.Join(toxicNames, ", ")
		}
		return "toxic", fmt.Sprintf("unknown toxic %q: want one of %s", s.Toxic, strings.Join(toxicNames, ", "))
	}
	for _, key := range s.given() {
		if !contains(allowed, key) {
			if len(allowed) == 0 {
				return key, fmt.Sprintf("not an attribute of toxic %s (it takes none)", s.Toxic)
			}
			return key, fmt.Sprintf("not an attribute of toxic %s (it takes %s)", s.Toxic, strings.Join(allowed, ", "))
		}
	}
	if s.Toxic == Down {
		if s.Stream != "" {
			return "stream", "not used by toxic down (the whole proxy goes down)"
		}
		if s.Toxicity != nil {
			return "toxicity", "not used by toxic down (the whole proxy goes down)"
		}
		return "", ""
	}
	switch s.Stream {
	case "", Upstream, Downstream:
	default:
		return "stream", fmt.Sprintf("%q: want upstream or downstream", s.Stream)
	}
	if t := s.Toxicity; t != nil && !(*t >= 0 && *t <= 1) { // NaN fails too
		return "toxicity", fmt.Sprintf("%v: want a share between 0 and 1", *t)
	}
	switch s.Toxic {
	case Latency:
		if s.Latency == nil || *s.Latency <= 0 {
			return "latency", "required, > 0 (200ms)"
		}
		if f, m := checkDuration("latency", s.Latency, time.Millisecond); m != "" {
			return f, m
		}
		if f, m := checkDuration("jitter", s.Jitter, time.Millisecond); m != "" {
			return f, m
		}
		if s.Jitter != nil && *s.Jitter > *s.Latency {
			return "jitter", fmt.Sprintf("%v exceeds latency %v: a chunk cannot be delivered early", s.Jitter.D(), s.Latency.D())
		}
	case Bandwidth:
		if s.RateKBPerSec == nil || *s.RateKBPerSec <= 0 {
			return "rate", "required, > 0 (KB/s)"
		}
	case SlowClose:
		if s.Delay == nil || *s.Delay <= 0 {
			return "delay", "required, > 0 (500ms)"
		}
		if f, m := checkDuration("delay", s.Delay, time.Millisecond); m != "" {
			return f, m
		}
	case Timeout, ResetPeer:
		if f, m := checkDuration("timeout", s.Timeout, time.Millisecond); m != "" {
			return f, m
		}
	case Slicer:
		if s.AverageSizeBytes == nil || *s.AverageSizeBytes <= 0 {
			return "averageSize", "required, > 0 (bytes)"
		}
		if *s.AverageSizeBytes > math.MaxInt32 {
			return "averageSize", fmt.Sprintf("at most %d bytes", math.MaxInt32)
		}
		if v := s.SizeVariationBytes; v != nil && (*v < 0 || *v >= *s.AverageSizeBytes) {
			return "sizeVariation", fmt.Sprintf("%d: want 0 ≤ sizeVariation < averageSize (%d)", *v, *s.AverageSizeBytes)
		}
		if f, m := checkDuration("delay", s.Delay, time.Microsecond); m != "" {
			return f, m
		}
	case LimitData:
		if s.Bytes == nil || *s.Bytes < 0 {
			return "bytes", "required, ≥ 0"
		}
	}
	return "", ""
}

// checkDuration checks an optional duration: 0 to MaxDuration, a whole
// number of unit (toxiproxy's resolution).
func checkDuration(key string, d *chaos.Duration, unit time.Duration) (field, msg string) {
	if d == nil {
		return "", ""
	}
	if *d < 0 || d.D() > MaxDuration {
		return key, fmt.Sprintf("%v: want between 0 and %v", d.D(), MaxDuration)
	}
	if d.D()%unit != 0 {
		return key, fmt.Sprintf("%v: want a whole number of %s", d.D(), unitName(unit))
	}
	return "", ""
}

func unitName(unit time.Duration) string {
	if unit == time.Microsecond {
		return "microseconds"
	}
	return "milliseconds"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ParseSpec decodes a tcp block from YAML, strictly (an unknown field is
// an error), and checks it. Bad input is a *chaos.InputError naming the
// line and the field.
func ParseSpec(src []byte) (*Spec, error) {
	s := &Spec{}
	if err := chaos.ParseBlock("", src, s); err != nil {
		return nil, err
	}
	return s, nil
}
