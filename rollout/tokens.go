package rollout

import (
	"bytes"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/openai"
)

// maxKeptGaps bounds the chunk gaps whose backing array a meter keeps for
// the next answer; a longer answer's is left to the garbage collector.
const maxKeptGaps = 4096

// tokenMeter measures the LLM figures of one routed answer from its body
// as the proxy relays it — TTFT to the first non-empty content chunk,
// the gaps between chunks, output and reported prompt tokens — with the
// openai client's own reading (openai.Accounter). A nil meter measures
// nothing: the answer keeps the time to its first body byte as TTFT.
// Meters are pooled with their buffers, and the chunk gaps' array with
// them: the sink keeps nothing of a result (gonogo.Sink).
type tokenMeter struct {
	acct openai.Accounter
	gaps []time.Duration
}

var tokenMeters = sync.Pool{New: func() any { return new(tokenMeter) }}

// startMeter returns a meter for res, the result of a request to target
// (path and query), when the target is an OpenAI completion
// (/completions, /chat/completions); nil otherwise.
func startMeter(res *gonogo.Result, target []byte) *tokenMeter {
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		target = target[:i]
	}
	if !bytes.HasSuffix(target, []byte("/completions")) {
		return nil
	}
	m := tokenMeters.Get().(*tokenMeter)
	m.acct.Reset(res)
	res.ChunkGaps = m.gaps[:0]
	return m
}

// feed reads a piece of the body, relayed at at.
func (m *tokenMeter) feed(b []byte, at time.Time) {
	if m != nil {
		m.acct.Feed(b, at)
	}
}

// streamed reports whether the answer is a stream the meter reads: its
// TTFT is then the first content chunk's, not the first body byte's.
func (m *tokenMeter) streamed() bool { return m != nil && m.acct.Streamed() }

// end finishes the body, relayed whole (or cut) at at, and sets the
// token counts of the result.
func (m *tokenMeter) end(at time.Time) {
	if m != nil {
		m.acct.End(at)
	}
}

// classify sets the class of res, an answer relayed whole: by its
// status, or — a 2xx whose body the meter read — a protocol failure when
// the openai client would have failed it (openai.Accounter.Err: an error
// event in the stream, say), with the client's error text.
func (m *tokenMeter) classify(res *gonogo.Result) {
	res.Class = extensions.Classify(nil, res.Status)
	if m == nil || res.Class != gonogo.ErrNone {
		return
	}
	if err := m.acct.Err(); err != nil {
		failed(res, err, false)
	}
}

// release returns m to the pool once res, its result, is recorded.
func (m *tokenMeter) release(res *gonogo.Result) {
	if m == nil {
		return
	}
	if m.gaps = res.ChunkGaps[:0]; cap(m.gaps) > maxKeptGaps {
		m.gaps = nil
	}
	res.ChunkGaps = nil
	m.acct.Reset(nil)
	tokenMeters.Put(m)
}
