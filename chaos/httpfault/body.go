package httpfault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// errAborted makes the reverse proxy abort the client's connection
// (http.ErrAbortHandler) where the body stands.
var errAborted = errors.New("httpfault: connection aborted by a fault")

// malformedEvent is the event a Stream fault's MalformedChunk sends: JSON
// cut in the middle.
const malformedEvent = "data: {\"id\":\"gonogo-malformed\",\"choices\":[{\"text\":\n\n"

// faultBody acts out a response's faults as the reverse proxy reads the
// upstream's body: it hands an SSE stream over one event per Read (the
// proxy flushes every Read of a stream), holding events back, cutting,
// truncating or breaking them; it cuts a body after some bytes; it paces
// reads to a bandwidth.
type faultBody struct {
	src       io.ReadCloser
	ctx       context.Context
	stream    *Stream
	abort     *Abort
	bandwidth *Bandwidth
	sse       bool

	pending []byte // read from src, not yet handed over
	srcErr  error  // src's error once it has one
	events  int    // events handed over
	bytes   int64  // bytes handed over
	start   time.Time
	out     []byte // the current event, partly handed over
	done    error  // the error every later Read returns
}

func (b *faultBody) Close() error { return b.src.Close() }

func (b *faultBody) Read(p []byte) (int, error) {
	if b.done != nil {
		return 0, b.done
	}
	if b.abort != nil && b.abort.When == AfterHeaders {
		b.done = errAborted
		return 0, b.done
	}
	if b.start.IsZero() {
		b.start = time.Now()
	}
	if len(b.out) == 0 {
		var err error
		if b.sse {
			err = b.nextEvent()
		} else {
			err = b.nextBytes(len(p))
		}
		if err != nil {
			b.done = err
			return 0, err
		}
	}
	n := copy(p, b.out)
	if bw := b.bandwidth; bw != nil {
		n = min(n, int(max(bw.BytesPerSec/20, 1))) // 50 ms worth at most per read
	}
	if a := b.abort; a != nil && a.When == AfterBytes {
		if left := a.Bytes - b.bytes; int64(n) >= left {
			n = int(left)
			b.done = errAborted
		}
	}
	b.out = b.out[n:]
	b.bytes += int64(n)
	if bw := b.bandwidth; bw != nil {
		due := b.start.Add(time.Duration(float64(b.bytes) / float64(bw.BytesPerSec) * float64(time.Second)))
		if !sleep(b.ctx, time.Until(due)) {
			b.done = b.ctx.Err()
		}
	}
	if n == 0 && b.done != nil {
		return 0, b.done
	}
	return n, nil
}

// nextBytes reads the next piece of a body that is not an SSE stream.
func (b *faultBody) nextBytes(size int) error {
	if len(b.pending) == 0 {
		if b.srcErr != nil {
			return b.srcErr
		}
		buf := make([]byte, size)
		n, err := b.src.Read(buf)
		b.pending, b.srcErr = buf[:n], err
		if n == 0 && err != nil {
			return err
		}
	}
	b.out, b.pending = b.pending, nil
	return nil
}

// nextEvent reads the next whole SSE event and acts out the stream
// faults on it.
func (b *faultBody) nextEvent() error {
	ev, err := b.readEvent()
	if err != nil {
		return err
	}
	b.events++
	if a := b.abort; a != nil && a.When == AfterChunks && b.events > a.Chunks {
		return errAborted
	}
	if s := b.stream; s != nil {
		if s.Truncate && (isDone(ev) || (s.TruncateAfter > 0 && b.events > s.TruncateAfter)) {
			return io.EOF // a clean end, without [DONE]
		}
		if s.MalformedChunk == b.events {
			ev = []byte(malformedEvent)
		}
		wait := s.ChunkDelay
		if b.events == 1 {
			wait = s.FirstChunkDelay
		}
		if !sleep(b.ctx, wait.D()) {
			return b.ctx.Err()
		}
	}
	b.out = ev
	return nil
}

// readEvent returns the next event of the stream, its blank line
// included; the last, unterminated piece at the end of the stream counts
// as an event too.
func (b *faultBody) readEvent() ([]byte, error) {
	for {
		if i, n := eventEnd(b.pending); i >= 0 {
			ev := b.pending[: i+n : i+n]
			b.pending = b.pending[i+n:]
			return ev, nil
		}
		if b.srcErr != nil {
			if len(b.pending) > 0 {
				ev := b.pending
				b.pending = nil
				return ev, nil
			}
			return nil, b.srcErr
		}
		if len(b.pending) > MaxBodyBytes {
			return nil, fmt.Errorf("httpfault: an SSE event longer than %d bytes", MaxBodyBytes)
		}
		buf := make([]byte, 4096)
		n, err := b.src.Read(buf)
		b.pending = append(b.pending, buf[:n]...)
		b.srcErr = err
	}
}

// eventEnd finds the blank line that ends the first event of p: its index
// and length; -1 when p holds no whole event.
func eventEnd(p []byte) (int, int) {
	i := bytes.Index(p, []byte("\n\n"))
	j := bytes.Index(p, []byte("\r\n\r\n"))
	switch {
	case i < 0 && j < 0:
		return -1, 0
	case j >= 0 && (i < 0 || j < i):
		return j, 4
	}
	return i, 2
}

func isDone(ev []byte) bool {
	return bytes.Equal(bytes.TrimSpace(ev), []byte("data: [DONE]")) || bytes.Equal(bytes.TrimSpace(ev), []byte("data:[DONE]"))
}

// rewriteBody replaces or patches a whole response body. A body that is
// compressed, longer than MaxBodyBytes, or (for a patch) not JSON passes
// unchanged.
func rewriteBody(res *http.Response, f *Body) error {
	if res.Header.Get("Content-Encoding") != "" {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, MaxBodyBytes+1))
	if err != nil || len(b) > MaxBodyBytes {
		res.Body = readCloser{io.MultiReader(bytes.NewReader(b), res.Body), res.Body}
		return nil
	}
	res.Body.Close()
	out := b
	if f.Replace != nil {
		out = []byte(*f.Replace)
	} else if patched, ok := patchJSON(b, f.Patch); ok {
		out = patched
	}
	res.Body = io.NopCloser(bytes.NewReader(out))
	res.ContentLength = int64(len(out))
	res.Header.Set("Content-Length", strconv.Itoa(len(out)))
	res.TransferEncoding = nil
	return nil
}

// patchJSON sets the fields of doc at the dot paths of patch ("a.0.b":
// field a, element 0, field b), creating missing object fields. It
// reports false when doc is not JSON or a path crosses a value that is
// neither an object nor an array.
func patchJSON(doc []byte, patch map[string]any) ([]byte, bool) {
	var root any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if dec.Decode(&root) != nil {
		return nil, false
	}
	for path, v := range patch {
		var ok bool
		if root, ok = setPath(root, strings.Split(path, "."), v); !ok {
			return nil, false
		}
	}
	out, err := json.Marshal(root)
	return out, err == nil
}

func setPath(node any, path []string, v any) (any, bool) {
	if len(path) == 0 {
		return v, true
	}
	switch n := node.(type) {
	case map[string]any:
		child, ok := setPath(n[path[0]], path[1:], v)
		n[path[0]] = child
		return n, ok
	case []any:
		i, err := strconv.Atoi(path[0])
		if err != nil || i < 0 || i >= len(n) {
			return n, false
		}
		child, ok := setPath(n[i], path[1:], v)
		n[i] = child
		return n, ok
	case nil:
		child, ok := setPath(nil, path[1:], v)
		return map[string]any{path[0]: child}, ok
	}
	return node, false
}
