package httpfault

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo/chaos"
)

// Fault is one fault of the proxy: which requests it selects (Match),
// when it is in force (Start, Duration, Lease) and what it does — exactly
// one of Delay, Error, Abort, Stream, Body and Bandwidth. It is the http
// block of an experiment's method entry and the body of the admin API's
// POST /v1/faults.
type Fault struct {
	// ID names the fault; the proxy picks one when it is empty.
	ID string `yaml:"id" json:"id,omitempty"`
	// Proxy names the experiment's proxy the fault acts on (experiments
	// only; the admin API ignores it).
	Proxy string `yaml:"proxy" json:"proxy,omitempty"`
	Match Match  `yaml:"match" json:"match"`
	// Start delays the fault after it is added; Duration ends it that long
	// after it started (0: until removed). Experiments time their faults
	// themselves and leave both zero; they serve a person driving the
	// admin API by hand.
	Start    chaos.Duration `yaml:"start" json:"start,omitempty"`
	Duration chaos.Duration `yaml:"duration" json:"duration,omitempty"`
	// Lease, when set, removes the fault unless it is renewed (POST
	// /v1/faults/{id}/renew) within that time: a fault whose runner died
	// goes away by itself.
	Lease chaos.Duration `yaml:"lease" json:"lease,omitempty"`

	Delay     *chaos.Delay `yaml:"delay" json:"delay,omitempty"`
	Error     *Error       `yaml:"error" json:"error,omitempty"`
	Abort     *Abort       `yaml:"abort" json:"abort,omitempty"`
	Stream    *Stream      `yaml:"stream" json:"stream,omitempty"`
	Body      *Body        `yaml:"body" json:"body,omitempty"`
	Bandwidth *Bandwidth   `yaml:"bandwidth" json:"bandwidth,omitempty"`
}

// Match selects requests. Every field given must match; a zero Match
// selects every request.
type Match struct {
	// Path is a glob of the request path: "*" matches any run of
	// characters, "/" included ("/v1/*", "/v2/models/*/infer").
	Path string `yaml:"path" json:"path,omitempty"`
	// Method is the HTTP method (POST).
	Method string `yaml:"method" json:"method,omitempty"`
	// Headers maps header names to the value they must have; "*" only
	// asks that the header be present.
	Headers map[string]string `yaml:"headers" json:"headers,omitempty"`
	// Model is the "model" field of a JSON request body (OpenAI APIs) or
	// the {model} of a KServe v2 path.
	Model string `yaml:"model" json:"model,omitempty"`
	// Percent is the share of matching requests the fault acts on (0 to
	// 100, default 100), decided per request.
	Percent *float64 `yaml:"percent" json:"percent,omitempty"`
}

// Error answers in place of the upstream, which is never contacted.
type Error struct {
	// Status is the HTTP status (400 to 599).
	Status int    `yaml:"status" json:"status"`
	Body   string `yaml:"body" json:"body,omitempty"`
	// ContentType of Body; default application/json when Body is JSON,
	// else text/plain.
	ContentType string `yaml:"contentType" json:"contentType,omitempty"`
	// RetryAfter sets the Retry-After header (whole seconds), as a
	// rate-limited (429) or overloaded (503) server does.
	RetryAfter chaos.Duration `yaml:"retryAfter" json:"retryAfter,omitempty"`
}

// Moments an Abort cuts the connection.
const (
	BeforeHeaders = "before-headers" // no response at all
	AfterHeaders  = "after-headers"  // status and headers, no body
	AfterBytes    = "after-bytes"    // Bytes bytes of the body
	AfterChunks   = "after-chunks"   // Chunks events of an SSE stream
)

// Abort cuts the client's connection at a moment of the response.
type Abort struct {
	When   string `yaml:"when" json:"when"`
	Bytes  int64  `yaml:"bytes" json:"bytes,omitempty"`
	Chunks int    `yaml:"chunks" json:"chunks,omitempty"`
}

// Stream disturbs an SSE stream (a streaming completion) event by event.
type Stream struct {
	// FirstChunkDelay holds the first event back this long (TTFT grows).
	FirstChunkDelay chaos.Duration `yaml:"firstChunkDelay" json:"firstChunkDelay,omitempty"`
	// ChunkDelay holds every later event back this long (the gaps grow).
	ChunkDelay chaos.Duration `yaml:"chunkDelay" json:"chunkDelay,omitempty"`
	// Truncate ends the stream cleanly without its "data: [DONE]": after
	// TruncateAfter events when set, else at the [DONE].
	Truncate      bool `yaml:"truncate" json:"truncate,omitempty"`
	TruncateAfter int  `yaml:"truncateAfter" json:"truncateAfter,omitempty"`
	// MalformedChunk replaces the data of that event (1 = the first) with
	// JSON cut in the middle.
	MalformedChunk int `yaml:"malformedChunk" json:"malformedChunk,omitempty"`
}

// Body changes a response body that is not a stream: Replace puts text
// in its place (invalid JSON: `{"outputs": [`), Patch sets fields of a
// JSON body at dot paths ("outputs.0.shape": [1, 7] — a wrong tensor
// shape). Bodies over MaxBodyBytes pass unchanged.
type Body struct {
	Replace *string        `yaml:"replace" json:"replace,omitempty"`
	Patch   map[string]any `yaml:"patch" json:"patch,omitempty"`
}

// Bandwidth caps the response's rate.
type Bandwidth struct {
	BytesPerSec int64 `yaml:"bytesPerSec" json:"bytesPerSec"`
}

// Bounds of a fault's parameters.
const (
	MaxDelay = time.Hour
	// MaxBodyBytes bounds the bodies the proxy reads whole: a request's
	// for a Model match, a response's for a Body fault.
	MaxBodyBytes = 4 << 20
)

// Kind names what the fault does: http.delay, http.error, http.abort,
// http.stream, http.body, http.bandwidth ("http" when none is set).
func (f *Fault) Kind() string {
	switch {
	case f.Delay != nil:
		return "http.delay"
	case f.Error != nil:
		return "http.error"
	case f.Abort != nil:
		return "http.abort"
	case f.Stream != nil:
		return "http.stream"
	case f.Body != nil:
		return "http.body"
	case f.Bandwidth != nil:
		return "http.bandwidth"
	}
	return "http"
}

// exclusive reports whether the fault decides the response on its own
// (an error, an abort, a changed body): at most one exclusive fault acts
// on a request. Exclusive faults whose selectors overlap share one draw
// per request — 5 % errors and 2 % aborts act on 7 % of requests, never
// both on one — and together may not exceed 100 %.
func (f *Fault) exclusive() bool {
	return f.Error != nil || f.Abort != nil || f.Body != nil
}

// Check says what is wrong with f, "" when nothing; field is the key path
// of the offending field within the fault.
func (f *Fault) Check() (field, msg string) {
	n := 0
	for _, set := range []bool{f.Delay != nil, f.Error != nil, f.Abort != nil, f.Stream != nil, f.Body != nil, f.Bandwidth != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return "", "a fault does exactly one thing: give one of delay, error, abort, stream, body, bandwidth"
	}
	if field, msg := f.Match.check(); msg != "" {
		return "match." + field, msg
	}
	for _, d := range []struct {
		name string
		v    chaos.Duration
	}{{"start", f.Start}, {"duration", f.Duration}, {"lease", f.Lease}} {
		if d.v < 0 || d.v.D() > 24*time.Hour {
			return d.name, "must be between 0 and 24h"
		}
	}
	switch {
	case f.Delay != nil:
		if field, msg := f.Delay.Check(MaxDelay); msg != "" {
			return "delay." + field, msg
		}
	case f.Error != nil:
		e := f.Error
		if e.Status < 400 || e.Status > 599 {
			return "error.status", fmt.Sprintf("%d is not an error status (400 to 599)", e.Status)
		}
		if e.RetryAfter < 0 || e.RetryAfter.D() > 24*time.Hour {
			return "error.retryAfter", "must be between 0 and 24h"
		}
		if len(e.Body) > MaxBodyBytes {
			return "error.body", fmt.Sprintf("longer than %d bytes", MaxBodyBytes)
		}
	case f.Abort != nil:
		a := f.Abort
		switch a.When {
		case BeforeHeaders, AfterHeaders:
			if a.Bytes != 0 || a.Chunks != 0 {
				return "abort.when", "bytes and chunks go with after-bytes and after-chunks"
			}
		case AfterBytes:
			if a.Bytes <= 0 || a.Chunks != 0 {
				return "abort.bytes", "after-bytes needs bytes > 0 (and no chunks)"
			}
		case AfterChunks:
			if a.Chunks <= 0 || a.Bytes != 0 {
				return "abort.chunks", "after-chunks needs chunks > 0 (and no bytes)"
			}
		default:
			return "abort.when", fmt.Sprintf("%q: want %s, %s, %s or %s", a.When, BeforeHeaders, AfterHeaders, AfterBytes, AfterChunks)
		}
	case f.Stream != nil:
		s := f.Stream
		if s.FirstChunkDelay < 0 || s.FirstChunkDelay.D() > MaxDelay || s.ChunkDelay < 0 || s.ChunkDelay.D() > MaxDelay {
			return "stream", fmt.Sprintf("delays must be between 0 and %v", MaxDelay)
		}
		if s.TruncateAfter < 0 || s.MalformedChunk < 0 {
			return "stream", "truncateAfter and malformedChunk count events from 1"
		}
		if s.TruncateAfter > 0 && !s.Truncate {
			return "stream.truncateAfter", "goes with truncate: true"
		}
		if *s == (Stream{}) {
			return "stream", "give firstChunkDelay, chunkDelay, truncate or malformedChunk"
		}
	case f.Body != nil:
		b := f.Body
		if (b.Replace == nil) == (len(b.Patch) == 0) {
			return "body", "give replace or patch"
		}
		for p := range b.Patch {
			if p == "" || strings.Contains(p, "..") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") {
				return "body.patch", fmt.Sprintf("%q is not a dot path (outputs.0.shape)", p)
			}
		}
		if _, err := json.Marshal(b.Patch); err != nil {
			return "body.patch", "values must be JSON values"
		}
	case f.Bandwidth != nil:
		if f.Bandwidth.BytesPerSec <= 0 {
			return "bandwidth.bytesPerSec", "must be > 0"
		}
	}
	return "", ""
}

func (m *Match) check() (field, msg string) {
	if m.Path != "" && !strings.HasPrefix(m.Path, "/") && m.Path != "*" {
		return "path", fmt.Sprintf("%q: a path starts with /", m.Path)
	}
	if m.Method != "" {
		if strings.ToUpper(m.Method) != m.Method || strings.ContainsAny(m.Method, " \t/") {
			return "method", fmt.Sprintf("%q is not an HTTP method (GET, POST)", m.Method)
		}
	}
	for k := range m.Headers {
		if k == "" || strings.ContainsAny(k, " \t:\r\n") {
			return "headers", fmt.Sprintf("%q is not a header name", k)
		}
	}
	if m.Percent != nil {
		p := *m.Percent
		if math.IsNaN(p) || p <= 0 || p > 100 {
			return "percent", "must be above 0 and at most 100 (a fault on 0 % of requests selects nothing)"
		}
	}
	return "", ""
}

// percent is the share with its default.
func (m *Match) percent() float64 {
	if m.Percent == nil {
		return 100
	}
	return *m.Percent
}

// Overlaps reports whether some request could match both a and b: their
// methods, models and a header they both name agree, and their paths can
// both match one path. It errs towards yes.
func (m *Match) Overlaps(o *Match) bool {
	if m.Method != "" && o.Method != "" && m.Method != o.Method {
		return false
	}
	if m.Model != "" && o.Model != "" && m.Model != o.Model {
		return false
	}
	for k, v := range m.Headers {
		if w, ok := o.Headers[k]; ok && v != "*" && w != "*" && v != w {
			return false
		}
	}
	switch {
	case m.Path == "" || o.Path == "":
		return true
	case !strings.Contains(m.Path, "*"):
		return globMatch(o.Path, m.Path)
	case !strings.Contains(o.Path, "*"):
		return globMatch(m.Path, o.Path)
	}
	// Two globs: their literal prefixes must agree.
	pa, _, _ := strings.Cut(m.Path, "*")
	pb, _, _ := strings.Cut(o.Path, "*")
	return strings.HasPrefix(pa, pb) || strings.HasPrefix(pb, pa)
}

// Selects reports whether the match selects a request with this method,
// path, header and model, before its percentage.
func (m *Match) Selects(method, path string, h http.Header, model string) bool {
	if m.Method != "" && m.Method != method {
		return false
	}
	if m.Path != "" && m.Path != "*" && !globMatch(m.Path, path) {
		return false
	}
	for k, v := range m.Headers {
		got := h.Values(k)
		if len(got) == 0 {
			return false
		}
		if v != "*" && !contains(got, v) {
			return false
		}
	}
	return m.Model == "" || m.Model == model
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// globMatch matches s against a pattern where "*" stands for any run of
// characters, "/" included. It runs in O(len(p)·len(s)) at worst.
func globMatch(p, s string) bool {
	// Classic wildcard matching with one backtrack point.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// Contradict reports whether a and b, in force at the same time on one
// proxy, contradict each other: both decide the response on their own
// (errors, aborts, changed bodies), their selectors overlap, and their
// percentages add up to more than 100.
func Contradict(a, b *Fault) bool {
	return a.exclusive() && b.exclusive() && a.Match.Overlaps(&b.Match) && a.Match.percent()+b.Match.percent() > 100
}
