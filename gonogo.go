// Package gonogo holds the shared vocabulary of the gonogo harness: the
// request the engine intends to send, the result a protocol client measures,
// the client and sink contracts that connect them, and the error classes that
// turn per-request failures into data.
//
// It imports nothing of the project. The load engine (package scenarios), the
// protocol clients (extensions/...), the recorders (analyze) and the reports
// all speak in these types.
//
// Measurement semantics: every request carries an intended send time from its
// arrival process. Latency is measured from that intended time (free of
// coordinated omission) and from the actual send; scheduling lag is actual
// minus intended. See DESIGN.md, "Measurement semantics".
package gonogo

import (
	"context"
	"net/http"
	"time"
)

// Request is one unit of work that the engine asks a protocol client to do.
// The engine owns it; clients must not keep it after Do returns.
type Request struct {
	// ID numbers requests within a run, from 1.
	ID uint64
	// Scenario names the scenario that produced the request.
	Scenario string
	// Intended is when the arrival process wanted the request sent. For
	// closed models (VU executors) it is the moment the VU became ready.
	Intended time.Time
	// Tags are the scenario's tags plus any carried by recorded traffic.
	Tags map[string]string
	// InputTokens asks a generative client for a prompt of about this many
	// tokens; zero means the client's default.
	InputTokens int
	// OutputTokens asks a generative client for exactly this many output
	// tokens; zero means the client's default.
	OutputTokens int
	// Row identifies the row of recorded traffic the request replays (its
	// line or entry number, from 1); 0 when nothing is replayed.
	Row int64
	// Recorded is the request a request log recorded; clients that can send
	// it do so instead of their configured request. nil otherwise.
	Recorded *Recorded
}

// Recorded is one request as a request log (JSONL, HAR) recorded it.
type Recorded struct {
	Method string
	// Path is the request target: path and query.
	Path string
	// Header holds the recorded headers, repeated values kept.
	Header http.Header
	Body   []byte
}

// ErrorClass says why a request failed. The empty class means success.
type ErrorClass string

// Error classes recorded in results. They are stable names used in run.json.
const (
	ErrNone     ErrorClass = ""
	ErrConnect  ErrorClass = "connect"  // dial refused, reset before a response, DNS
	ErrTimeout  ErrorClass = "timeout"  // the request deadline passed
	ErrHTTP4xx  ErrorClass = "http_4xx" // the server answered 4xx
	ErrHTTP5xx  ErrorClass = "http_5xx" // the server answered 5xx
	ErrProtocol ErrorClass = "protocol" // the response could not be parsed or broke the protocol
	ErrCanceled ErrorClass = "canceled" // the run was stopped while the request was in flight
	ErrOther    ErrorClass = "other"    // anything else
)

// ErrorClasses lists every failure class in a fixed order, for reports.
var ErrorClasses = []ErrorClass{ErrConnect, ErrTimeout, ErrHTTP4xx, ErrHTTP5xx, ErrProtocol, ErrCanceled, ErrOther}

// Result is what a protocol client measured for one request. The engine fills
// the identity and timing fields it owns (Request, Intended, Sent); the client
// fills the rest. A zero duration in an LLM field means "not measured".
type Result struct {
	// Request is the request this result answers.
	Request *Request
	// Sent is when the client actually started the request.
	Sent time.Time
	// Queued is set when the arrival waited for a free VU before it was sent
	// (saturation policy "queue"); its latency includes that wait.
	Queued bool
	// Done is when the response was complete (or the request failed).
	Done time.Time
	// Status is the protocol status (an HTTP status code), 0 if none.
	Status int
	// Class is the failure class; ErrNone on success.
	Class ErrorClass
	// Err describes the failure in words; empty on success.
	Err string
	// BytesIn counts response bytes read.
	BytesIn int64
	// TTFT is the time from Sent to the first non-empty content chunk.
	TTFT time.Duration
	// ChunkGaps holds every gap between consecutive streamed content chunks.
	// The engine reuses its backing array between requests.
	ChunkGaps []time.Duration
	// OutputTokens is the number of generated tokens, from the server's usage
	// report when it gives one, else counted from the stream; 0 if unknown.
	OutputTokens int
	// PromptTokens is the length of the prompt the client sent, as the
	// client counts it: exact under its tokenizer, else its estimate (see
	// the client's documentation); 0 if unknown.
	PromptTokens int
	// ReportedPromptTokens is the prompt's length as the server reported
	// it (OpenAI's usage.prompt_tokens); 0 if not reported.
	ReportedPromptTokens int
	// CachedPromptTokens is the part of ReportedPromptTokens that the
	// server's prefix cache served (usage.prompt_tokens_details.
	// cached_tokens); 0 if none or not reported.
	CachedPromptTokens int
	// Output is the response's content, kept only when the client was asked
	// to (shadow runs compare it between versions): the generated text
	// (openai), the output tensors as JSON (kserve), the body (http). The
	// engine reuses its backing array between requests.
	Output []byte
	// TraceID, SpanID and TraceSampled are the W3C trace context the
	// client sent in the request's traceparent header (--traceparent);
	// all zero when none was sent.
	TraceID      [16]byte
	SpanID       [8]byte
	TraceSampled bool
}

// Failed reports whether the request failed.
func (r *Result) Failed() bool { return r.Class != ErrNone }

// Latency is the time from the intended send to completion: the latency a
// user of an open system sees, free of coordinated omission.
func (r *Result) Latency() time.Duration { return r.Done.Sub(r.Request.Intended) }

// ServiceTime is the time from the actual send to completion: what a
// closed-loop tool would report.
func (r *Result) ServiceTime() time.Duration { return r.Done.Sub(r.Sent) }

// SchedulingLag is how late the request was sent relative to its intended
// time (actual minus intended).
func (r *Result) SchedulingLag() time.Duration { return r.Sent.Sub(r.Request.Intended) }

// E2E is the end-to-end time of a generative request from the actual send.
func (r *Result) E2E() time.Duration { return r.Done.Sub(r.Sent) }

// TPOT is the mean time per output token after the first,
// (e2e − ttft)/(output_tokens − 1); 0 when it is undefined.
func (r *Result) TPOT() time.Duration {
	if r.TTFT <= 0 || r.OutputTokens < 2 {
		return 0
	}
	return (r.E2E() - r.TTFT) / time.Duration(r.OutputTokens-1)
}

// Client performs requests of one protocol against one target. Do must be
// safe for concurrent use. It records failures in res (Class, Err) rather
// than returning them: a failed request is data, not an error.
type Client interface {
	// Do sends req and fills res.Done, res.Status, res.Class and the
	// protocol's measurements. res.Sent is set by the caller just before Do.
	Do(ctx context.Context, req *Request, res *Result)
}

// Sink receives every finished result and every dropped arrival. Its methods
// must be safe for concurrent use and must not keep res after they return.
type Sink interface {
	// Record takes one finished request.
	Record(res *Result)
	// Drop notes an arrival that was never sent because every VU was busy.
	Drop(req *Request)
}

// Exchange is what one target answered to one request of a shadow run.
type Exchange struct {
	// Target is the target's role: primary, secondary, candidate (or
	// candidate-2, … when there are several).
	Target string     `json:"target"`
	Status int        `json:"status,omitempty"`
	Class  ErrorClass `json:"class,omitempty"`
	Err    string     `json:"err,omitempty"`
	// LatencyMicros is the time from the request's intended send time
	// (Request.Intended, the same base for every target of the pair)
	// until this target's answer was complete, when FromIntended; pair
	// stores written before FromIntended existed timed it from this
	// target's own send (see docs/divergence.md, "Pair store").
	LatencyMicros int64 `json:"latency_us"`
	// ServiceMicros is the time from this target's own actual send until
	// its answer was complete: the closed-loop view.
	ServiceMicros int64 `json:"service_us,omitempty"`
	// FromIntended says LatencyMicros is timed from the intended send
	// time. It is false for an answer that never came (dropped, or still
	// missing when the mirror closed) and in older pair stores.
	FromIntended bool `json:"from_intended,omitempty"`
	// TTFTMicros is the time from this target's own send to its first
	// content chunk (Result.TTFT), as in a load run.
	TTFTMicros   int64 `json:"ttft_us,omitempty"`
	OutputTokens int   `json:"output_tokens,omitempty"`
	Bytes        int64 `json:"bytes,omitempty"`
	// Output is the answer's content (Result.Output) as text.
	Output string `json:"output,omitempty"`
	// Dropped is set when the request was never sent to this target: its
	// mirror was at its in-flight cap or closing, or the method is not
	// mirrored (Err says which).
	Dropped bool `json:"dropped,omitempty"`
}

// Pair is one request of a shadow run with every target's answer, the unit
// of the pair store and of divergence analysis.
type Pair struct {
	ID  uint64 `json:"id"`
	Row int64  `json:"row,omitempty"`
	// Tags are the request's tags; a "label" tag is taken as the ground
	// truth of a classification.
	Tags        map[string]string `json:"tags,omitempty"`
	InputTokens int               `json:"input_tokens,omitempty"`
	// Request is the request as sent (its body, capped), for reports.
	Request   string     `json:"request,omitempty"`
	Exchanges []Exchange `json:"exchanges"`
}

// Sinks fans every result out to several sinks, in order.
type Sinks []Sink

// Record passes res to every sink.
func (s Sinks) Record(res *Result) {
	for _, k := range s {
		k.Record(res)
	}
}

// Drop passes req to every sink.
func (s Sinks) Drop(req *Request) {
	for _, k := range s {
		k.Drop(req)
	}
}

var _ Sink = Sinks(nil)

// EventSchema is the version of the event journal's records (Event.Schema).
const EventSchema = 1

// Event kinds written by gonogo. Other kinds are allowed; reports draw
// every kind.
const (
	EventFault    = "fault"    // a fault injected (a span: start and end)
	EventFlip     = "flip"     // traffic weights changed
	EventStep     = "step"     // a rollout or experiment step
	EventRollback = "rollback" // traffic moved back to the stable version
	EventMarker   = "marker"   // a person's note
	EventRun      = "run"      // the run itself: warm-up, abort, interrupt
)

// Event is one record of a run's journal (events.ndjson): something that
// happened during the run and belongs on every time axis of its report. An
// event with End is a span (a fault that lasted, a rollout step); without
// it, an instant. Attrs carry what the event is about in key=value form
// (the fault's parameters, the weights after a flip).
type Event struct {
	Schema int        `json:"schema"`
	Time   time.Time  `json:"time"`
	End    *time.Time `json:"end,omitempty"`
	Kind   string     `json:"kind"`
	// Target names what the event acted on: a backend, a container, a
	// proxy; empty when it is the run itself.
	Target string `json:"target,omitempty"`
	// Source says who wrote the event: "run", "chaos", "rollout",
	// "marker" (a person, through gonogo mark or the HTTP endpoint).
	Source string `json:"source"`
	// Message says in a few words what happened.
	Message string            `json:"message,omitempty"`
	Attrs   map[string]string `json:"attrs,omitempty"`
}
