package extensions

import (
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"

	"github.com/gonogo-dev/gonogo"
)

// TraceparentHeader is the W3C Trace Context request header
// (https://www.w3.org/TR/trace-context/), in Go's canonical spelling.
const TraceparentHeader = "Traceparent"

// TraceparentLen is the length of a version-00 traceparent value:
// 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>.
const TraceparentLen = 55

// Tracer draws the W3C trace context of each request: a random trace id
// and parent (span) id, and the sampled flag for a share SampleFrac of the
// requests. Ids come from a ChaCha8 stream seeded with the run's --seed
// when one is set (the same seed draws the same sequence of ids), else
// from crypto/rand. It is safe for concurrent use; a nil *Tracer is off.
//
// Protocol clients call Next for every request they send and put the
// header on the wire; a request replayed from a log that carries a
// traceparent of its own is sent with the fresh one instead, so that every
// request of a run has a unique id recorded in its samples (the recorded
// id names a trace of the recorded traffic, not of this run).
type Tracer struct {
	sampleFrac float64
	mu         sync.Mutex
	rng        *rand.ChaCha8
}

// NewTracer returns a tracer that marks a share sampleFrac (0 to 1) of the
// requests sampled. A seed > 0 makes the ids reproducible; 0 seeds the
// stream from crypto/rand.
func NewTracer(sampleFrac float64, seed int64) (*Tracer, error) {
	if !(sampleFrac >= 0 && sampleFrac <= 1) {
		return nil, fmt.Errorf("extensions: %w: trace sample %v not in [0, 1]", ErrBadOptions, sampleFrac)
	}
	var key [32]byte
	if seed > 0 {
		binary.LittleEndian.PutUint64(key[:], uint64(seed))
		copy(key[8:], "gonogo traceparent")
	} else if _, err := crand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("extensions: trace ids: %w", err)
	}
	return &Tracer{sampleFrac: sampleFrac, rng: rand.NewChaCha8(key)}, nil
}

// SampleFrac is the share of requests marked sampled.
func (t *Tracer) SampleFrac() float64 { return t.sampleFrac }

// Next draws a fresh trace context into res (TraceID, SpanID,
// TraceSampled). Neither id is ever all zeros, which W3C forbids.
func (t *Tracer) Next(res *gonogo.Result) {
	t.mu.Lock()
	a, b, c, d := t.rng.Uint64(), t.rng.Uint64(), t.rng.Uint64(), t.rng.Uint64()
	t.mu.Unlock()
	if a == 0 && b == 0 {
		b = 1
	}
	if c == 0 {
		c = 1
	}
	binary.BigEndian.PutUint64(res.TraceID[:8], a)
	binary.BigEndian.PutUint64(res.TraceID[8:], b)
	binary.BigEndian.PutUint64(res.SpanID[:], c)
	res.TraceSampled = float64(d>>11)/(1<<53) < t.sampleFrac
}

// AppendTraceparent appends res's trace context as a traceparent value
// (TraceparentLen bytes).
func AppendTraceparent(dst []byte, res *gonogo.Result) []byte {
	dst = append(dst, "00-"...)
	dst = hex.AppendEncode(dst, res.TraceID[:])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, res.SpanID[:])
	if res.TraceSampled {
		return append(dst, "-01"...)
	}
	return append(dst, "-00"...)
}

// AppendTraceparentLine appends res's trace context as a header line of
// an HTTP/1.1 request head, CRLF included.
func AppendTraceparentLine(dst []byte, res *gonogo.Result) []byte {
	dst = append(dst, TraceparentHeader+": "...)
	return append(AppendTraceparent(dst, res), "\r\n"...)
}

// WithTraceparent returns a shallow copy of r whose header is r's with
// res's traceparent set (any other traceparent replaced). It allocates:
// clients call it only when tracing is on.
func WithTraceparent(r *http.Request, res *gonogo.Result) *http.Request {
	c := *r
	c.Header = r.Header.Clone()
	if c.Header == nil {
		c.Header = http.Header{}
	}
	delete(c.Header, "Tracestate") // it belongs to the replaced parent
	c.Header[TraceparentHeader] = []string{string(AppendTraceparent(make([]byte, 0, TraceparentLen), res))}
	return &c
}

// ErrBadTraceparent is a traceparent value that does not parse.
var ErrBadTraceparent = errors.New("extensions: bad traceparent")

// ParseTraceparent reads a traceparent value (version 00, or a later
// version's first four fields as W3C asks) into its trace id, parent id
// and sampled flag.
func ParseTraceparent(v string) (traceID [16]byte, spanID [8]byte, sampled bool, err error) {
	if len(v) < TraceparentLen || (len(v) > TraceparentLen && (v[:2] == "00" || v[TraceparentLen] != '-')) {
		return traceID, spanID, false, fmt.Errorf("%w: length %d", ErrBadTraceparent, len(v))
	}
	if v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return traceID, spanID, false, fmt.Errorf("%w: %q: want 00-<32 hex>-<16 hex>-<2 hex>", ErrBadTraceparent, v)
	}
	var ver, flags [1]byte
	for _, f := range []struct {
		dst []byte
		src string
	}{{ver[:], v[0:2]}, {traceID[:], v[3:35]}, {spanID[:], v[36:52]}, {flags[:], v[53:55]}} {
		if !isLowerHex(f.src) {
			return traceID, spanID, false, fmt.Errorf("%w: %q: not lowercase hex", ErrBadTraceparent, f.src)
		}
		hex.Decode(f.dst, []byte(f.src))
	}
	switch {
	case ver[0] == 0xff:
		return traceID, spanID, false, fmt.Errorf("%w: version ff", ErrBadTraceparent)
	case traceID == [16]byte{}:
		return traceID, spanID, false, fmt.Errorf("%w: all-zero trace id", ErrBadTraceparent)
	case spanID == [8]byte{}:
		return traceID, spanID, false, fmt.Errorf("%w: all-zero parent id", ErrBadTraceparent)
	}
	return traceID, spanID, flags[0]&1 == 1, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
