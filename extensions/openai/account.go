package openai

import (
	"time"

	"github.com/gonogo-dev/gonogo"
)

// maxAccounted bounds what an Accounter holds of one response: a
// non-streaming body, or a stream's unfinished line and event. A response
// that needs more is measured no further.
const maxAccounted = 1 << 20

// Accounter measures a completion's answer from its body's bytes, fed to
// it piece by piece as they pass through something that is not the
// client — a proxy relaying the answer. A piece may end anywhere, inside
// a line or an event.
//
// What the body is comes from its first byte: "{" is a non-streaming
// answer, whose usage End reads (OutputTokens, ReportedPromptTokens and
// CachedPromptTokens; TTFT is left to the caller); a server-sent event
// field or comment is a stream, read as the client reads one (see the
// package comment): TTFT from Result.Sent to the first non-empty content
// chunk, every gap between content chunks appended to Result.ChunkGaps,
// and at End the output tokens (usage.completion_tokens, else the content
// chunks counted) and the prompt tokens the server reported. Anything
// else is not measured.
//
// Unlike the client, an Accounter stops nothing: it is a witness of an
// answer that goes on without it. A stream without [DONE] is counted as
// far as it went; an event it cannot read, or more than maxAccounted
// pending, ends its reading, and what it measured before stays. Err says
// what the client would have failed the answer for.
//
// Reset readies it for an answer; it keeps its buffers from one answer to
// the next, so a reused Accounter reads ordinary streams without
// allocating. It is not safe for concurrent use.
type Accounter struct {
	e    events
	kind kind
	doc  []byte // a non-streaming body so far
	err  error  // what the client would fail the answer for; nil when nothing
}

// kind is what an Accounter found the body to be.
type kind uint8

const (
	kindUnknown  kind = iota // no byte but white space yet
	kindStream               // server-sent events
	kindDocument             // a JSON answer
	kindStopped              // a stream read no further
	kindNone                 // not measured
)

// Reset readies a for the answer whose measurements go to res.
func (a *Accounter) Reset(res *gonogo.Result) {
	a.e.reset()
	a.e.res, a.e.usageN = res, -1
	a.kind, a.err = kindUnknown, nil
	a.doc = a.doc[:0]
	if cap(a.doc) > streamBuffer {
		a.doc = nil
	}
}

// Streamed reports whether the body read so far is a server-sent event
// stream.
func (a *Accounter) Streamed() bool { return a.kind == kindStream || a.kind == kindStopped }

// Feed reads the next piece of the body, which passed at at.
func (a *Accounter) Feed(b []byte, at time.Time) {
	if a.kind == kindUnknown {
		b = a.sniff(b)
	}
	switch a.kind {
	case kindStream:
		if a.err = a.e.feed(b, at); a.err != nil || len(a.e.line)+len(a.e.data) > maxAccounted {
			a.kind = kindStopped
		}
	case kindDocument:
		if len(a.doc)+len(b) > maxAccounted {
			a.kind = kindNone
			return
		}
		a.doc = append(a.doc, b...)
	}
}

// sniff sets a.kind from the first byte of b that is not white space,
// and returns b from there.
func (a *Accounter) sniff(b []byte) []byte {
	for i, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			a.kind = kindDocument
		case 'd', 'e', 'i', 'r', ':': // data, event, id, retry, a comment
			a.kind = kindStream
		default:
			a.kind = kindNone
		}
		return b[i:]
	}
	return nil
}

// End finishes the body, whose end passed at at, and sets the token
// counts of the result.
func (a *Accounter) End(at time.Time) {
	switch a.kind {
	case kindStream:
		a.err = a.e.flush(at)
		a.e.count()
	case kindStopped:
		a.e.count()
	case kindDocument:
		a.err = parseJSON(a.doc, a.e.res, false, nil)
	}
}

// Err is, once End is called, the *extensions.ProtocolError the client
// would have failed the answer with for what it read: an error object the
// server sent (a stream's event, or the JSON answer), an event or answer
// that is not JSON, an answer without choices; nil otherwise. A stream
// that ends without [DONE] and an answer read no further
// (maxAccounted) are not failed.
func (a *Accounter) Err() error { return a.err }
