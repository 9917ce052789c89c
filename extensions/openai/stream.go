package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// maxEvent bounds one server-sent event line and one event's data.
const maxEvent = maxBody

// streamBuffer is the size of the buffer a stream is read into.
const streamBuffer = 16 << 10

// events reads a server-sent event stream pushed to it in pieces as they
// arrive (feed), each with the time its bytes came, and fills a Result:
// see the package comment for what is measured. It is the one SSE reader
// of both transports: readStream drives it from an io.Reader, the wire
// from a socket.
//
// Lines end at \n (trailing \r removed); an event ends at a blank line.
// Nothing counts after [DONE], but the stream is read to its end so the
// connection can carry the next request.
type events struct {
	res  *gonogo.Result
	keep bool
	obs  extensions.Observer // shown every event's data up to [DONE]; nil for none

	line    []byte // the unfinished line
	data    []byte // the pending event's data lines, joined by \n
	hasData bool
	chunks  int       // non-empty content chunks
	last    time.Time // when the previous one came
	usageN  int       // usage.completion_tokens, -1 until reported
	promptN int       // usage.prompt_tokens; 0 until reported
	cachedN int       // usage.prompt_tokens_details.cached_tokens
	done    bool      // [DONE] came

	scan scan
	ch   chunk
}

var eventsPool = sync.Pool{New: func() any { return new(events) }}

// getEvents returns a reset events for res.
func getEvents(res *gonogo.Result, keep bool) *events {
	e := eventsPool.Get().(*events)
	e.res, e.keep, e.usageN = res, keep, -1
	return e
}

// put returns e to the pool.
func (e *events) put() {
	e.reset()
	eventsPool.Put(e)
}

// reset empties e for another stream, keeping its buffers but those a
// huge event grew.
func (e *events) reset() {
	line, data, texts := e.line[:0], e.data[:0], e.scan.texts[:0]
	if cap(line) > streamBuffer || cap(data) > streamBuffer {
		line, data = nil, nil
	}
	clear(texts[:cap(texts)])
	*e = events{line: line, data: data, scan: scan{texts: texts}}
}

// feed reads the next bytes of the stream, which arrived at at.
func (e *events) feed(b []byte, at time.Time) error {
	for len(b) > 0 {
		if len(e.line) == 0 && !e.hasData {
			// The common event, one data line and a blank one, is read
			// where it lies.
			if v, n := oneLine(b); n > 0 {
				if err := e.event(v, at); err != nil {
					return err
				}
				b = b[n:]
				continue
			}
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(e.line)+len(b) > maxEvent {
				return extensions.Protocolf("stream line longer than %d bytes", maxEvent)
			}
			e.line = append(e.line, b...)
			return nil
		}
		line := b[:i]
		if len(e.line) > 0 {
			e.line = append(e.line, line...)
			line = e.line
		}
		b = b[i+1:]
		err := e.lineDone(line, at)
		e.line = e.line[:0]
		if err != nil {
			return err
		}
	}
	return nil
}

// end finishes the stream after the read error err (io.EOF for a clean
// end) at at, and sets res.Done and, on success, res.OutputTokens.
func (e *events) end(err error, at time.Time) error {
	if err == io.EOF {
		if err := e.flush(at); err != nil {
			return err
		}
	} else if !e.done {
		// What came before the failure still counts.
		if err := e.lineDone(e.line, at); err != nil {
			return err
		}
		e.res.Done = at
		return &extensions.ProtocolError{Msg: fmt.Sprintf("stream cut after %d content chunks", e.chunks), Err: err}
	}
	if !e.done {
		e.res.Done = at
		return extensions.Protocolf("stream ended without [DONE] after %d content chunks", e.chunks)
	}
	e.count()
	return nil
}

// flush reads what a stream that ended cleanly left pending: its
// unfinished last line and event, which came at at.
func (e *events) flush(at time.Time) error {
	if err := e.lineDone(e.line, at); err != nil {
		return err
	}
	if e.hasData {
		return e.dispatch(at)
	}
	return nil
}

// count sets res.OutputTokens (usage.completion_tokens when reported,
// else the content chunks) and the prompt tokens the server reported.
func (e *events) count() {
	e.res.OutputTokens = e.chunks
	if e.usageN > 0 {
		e.res.OutputTokens = e.usageN
	}
	e.res.ReportedPromptTokens, e.res.CachedPromptTokens = e.promptN, e.cachedN
}

// lineDone reads one line, without its \n.
func (e *events) lineDone(line []byte, at time.Time) error {
	line = bytes.TrimRight(line, "\r\n")
	switch {
	case len(line) == 0:
		if e.hasData {
			return e.dispatch(at)
		}
	case line[0] == ':': // comment / keep-alive
	default:
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		if string(field) == "data" {
			if len(e.data)+len(value) >= maxEvent {
				return extensions.Protocolf("stream event longer than %d bytes", maxEvent)
			}
			if e.hasData {
				e.data = append(e.data, '\n')
			}
			e.data = append(e.data, value...)
			e.hasData = true
		}
	}
	return nil
}

// oneLine returns the value of the event at the start of b when it is
// whole and one "data:" line, and the length of the event; 0 otherwise.
func oneLine(b []byte) (value []byte, n int) {
	if !bytes.HasPrefix(b, []byte("data:")) {
		return nil, 0
	}
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, 0
	}
	j := i + 1
	for j < len(b) && b[j] == '\r' {
		j++
	}
	if j == len(b) || b[j] != '\n' {
		return nil, 0
	}
	value = bytes.TrimRight(b[len("data:"):i], "\r\n")
	return bytes.TrimPrefix(value, []byte(" ")), j + 1
}

// dispatch reads the pending event, whose last line came at at.
func (e *events) dispatch(at time.Time) error {
	err := e.event(e.data, at)
	e.data, e.hasData = e.data[:0], false
	return err
}

// event reads one event's data, which came at at.
func (e *events) event(data []byte, at time.Time) error {
	payload := bytes.TrimSpace(data)
	if e.done {
		return nil // nothing counts after [DONE]
	}
	if string(payload) == "[DONE]" {
		if e.obs != nil {
			e.obs.Event(payload)
		}
		e.done = true
		e.res.Done = at
		return nil
	}
	content, tokens, prompt, cached := false, 0, 0, 0
	if sc := &e.scan; sc.scanChunk(payload, e.keep) {
		if e.obs != nil { // read as JSON: the observer may take it as such
			e.obs.Event(payload)
		}
		content, tokens, prompt, cached = sc.content, sc.tokens, sc.prompt, sc.cached
		if content && e.keep {
			for _, t := range sc.texts {
				extensions.AppendOutput(e.res, t)
			}
		}
	} else {
		ch := &e.ch
		ch.reset()
		if err := json.Unmarshal(payload, ch); err != nil {
			return extensions.Protocolf("invalid JSON in stream chunk %d (%s): %w", e.chunks+1, clip(payload, 80), err)
		}
		if e.obs != nil {
			e.obs.Event(payload)
		}
		if err := ch.failure(); err != nil {
			return err
		}
		if content = ch.hasContent(); content && e.keep {
			ch.keepText(e.res)
		}
		if ch.Usage != nil {
			tokens, prompt, cached = ch.Usage.CompletionTokens, ch.Usage.PromptTokens, ch.Usage.cachedTokens()
		}
	}
	if content {
		if e.chunks == 0 {
			e.res.TTFT = at.Sub(e.res.Sent)
		} else {
			e.res.ChunkGaps = append(e.res.ChunkGaps, at.Sub(e.last))
		}
		e.last = at
		e.chunks++
	}
	if tokens > 0 {
		e.usageN = tokens
	}
	if prompt > 0 {
		e.promptN, e.cachedN = prompt, cached
	}
	return nil
}

var bufferPool = sync.Pool{New: func() any { b := make([]byte, streamBuffer); return &b }}

// readStream reads a server-sent event stream from body and fills res. It
// sets res.Done when [DONE] arrives or the stream ends, and returns the
// number of non-empty content chunks seen before [DONE] (or before the
// failure). With keep, the chunks' text is appended to res.Output; obs,
// when not nil, is shown every event's data up to [DONE].
// Failures are *extensions.ProtocolError values.
//
// A chunk's time is when the read that brought its last byte returned,
// not when it is parsed: chunks that came in one read share it.
func readStream(body io.Reader, res *gonogo.Result, keep bool, obs extensions.Observer) (chunks int, err error) {
	e := getEvents(res, keep)
	e.obs = obs
	defer e.put()
	bp := bufferPool.Get().(*[]byte)
	defer bufferPool.Put(bp)
	buf := *bp
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if err := e.feed(buf[:n], time.Now()); err != nil {
				return e.chunks, err
			}
		}
		if rerr != nil {
			err := e.end(rerr, time.Now())
			return e.chunks, err
		}
	}
}
