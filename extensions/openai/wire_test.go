package openai

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// sse frames events as one chunked body, one HTTP chunk per event.
func sse(events ...string) string {
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
	for _, e := range events {
		ev := "data: " + e + "\n\n"
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(ev), ev)
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

// outcome is what reading a response gave, for comparisons.
type outcome struct {
	done, reusable bool
	status         int
	mode           int
	n              int64
	body           string
	err            string
	tokens, chunks int
}

// readResponse feeds raw to a response in the given pieces (sizes; the
// rest in one), then the server's close when eof.
func readResponse(raw string, stream, eof bool, pieces ...int) outcome {
	res := &gonogo.Result{Sent: time.Now()}
	var r response
	r.reset("POST", stream, false, res, nil)
	b := []byte(raw)
	for _, n := range pieces {
		n = min(n, len(b))
		r.consume(b[:n], time.Now())
		b = b[n:]
	}
	if len(b) > 0 {
		r.consume(b, time.Now())
	}
	if eof {
		r.eof(time.Now())
	}
	o := outcome{done: r.done, reusable: r.done && r.err == nil && r.head.h.keep && r.f.done && !r.extra,
		status: r.head.h.status, mode: r.mode, n: r.n, body: string(r.body), tokens: res.OutputTokens, chunks: len(res.ChunkGaps)}
	if r.err != nil {
		o.err = r.err.Error()
	}
	if r.ev != nil {
		r.ev.put()
	}
	return o
}

func TestResponse(t *testing.T) {
	stream := sse(text("a"), text("b"), usageChunk(2), "[DONE]")
	tests := []struct {
		name   string
		raw    string
		stream bool
		eof    bool
		want   outcome
	}{
		{"stream", stream, true, false, outcome{done: true, reusable: true, status: 200, mode: modeStream, n: 174, tokens: 2, chunks: 1}},
		{"stream cut", stream[:len(stream)-30], true, true, outcome{done: true, status: 200, mode: modeStream, n: 156, chunks: 1,
			err: "protocol error: stream cut after 2 content chunks: unexpected EOF"}},
		{"cut after [DONE] still counts", stream[:len(stream)-5], true, true, outcome{done: true, status: 200, mode: modeStream, n: 174, tokens: 2, chunks: 1}},
		{"json by length", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}", true, false,
			outcome{done: true, reusable: true, status: 200, mode: modeJSON, n: 7, body: `{"a":1}`}},
		{"json until close", "HTTP/1.0 200 OK\r\n\r\n{}", false, true, outcome{done: true, status: 200, mode: modeJSON, n: 2, body: "{}"}},
		{"interim response skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", false, false,
			outcome{done: true, reusable: true, status: 204, mode: modeJSON}},
		{"error keeps a snippet", "HTTP/1.1 503 Busy\r\nContent-Length: 600\r\n\r\n" + strings.Repeat("x", 600), true, false,
			outcome{done: true, reusable: true, status: 503, mode: modeError, n: 600, body: strings.Repeat("x", errorSnippet)}},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", false, false,
			outcome{done: true, status: 200, mode: modeJSON, n: 2, body: "{}"}},
		{"bytes after the body", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}junk", false, false,
			outcome{done: true, status: 200, mode: modeJSON, n: 2, body: "{}"}},
		{"closed before answering", "", false, true, outcome{done: true, err: "EOF"}},
		{"closed in the head", "HTTP/1.1 200 OK\r\nContent-", false, true, outcome{done: true, status: 200, err: "unexpected EOF"}},
		{"bad status line", "HTTP/2 200\r\n\r\n", false, false, outcome{done: true, err: `protocol error: malformed status line "HTTP/2 200"`}},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, false,
			outcome{done: true, status: 200, mode: modeJSON, err: `protocol error: bad chunk size "zz"`}},
		{"chunk longer than its size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", false, false,
			outcome{done: true, status: 200, mode: modeJSON, n: 1, body: "a", err: "protocol error: chunk data longer than its size"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := readResponse(tt.raw, tt.stream, tt.eof); got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
			// However the bytes are cut up, the outcome is the same.
			ones := make([]int, len(tt.raw))
			for i := range ones {
				ones[i] = 1
			}
			if got := readResponse(tt.raw, tt.stream, tt.eof, ones...); got != tt.want {
				t.Errorf("byte by byte: got %+v", got)
			}
			for cut := 1; cut < len(tt.raw); cut += 7 {
				if got := readResponse(tt.raw, tt.stream, tt.eof, cut); got != tt.want {
					t.Fatalf("cut at %d: got %+v", cut, got)
				}
			}
		})
	}
}

// FuzzResponse feeds arbitrary bytes to the wire's response reader, whole
// and cut in two: it must not panic, and the cut must not change the
// outcome.
func FuzzResponse(f *testing.F) {
	f.Add([]byte(sse(text("a"), usageChunk(1), "[DONE]")), 17, true, false)
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"), 3, false, false)
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 500 x\r\n\r\nboom"), 30, false, true)
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n"), 60, false, false)
	f.Fuzz(func(t *testing.T, raw []byte, cut int, stream, eof bool) {
		whole := readResponse(string(raw), stream, eof)
		if cut < 0 || cut > len(raw) {
			return
		}
		split := readResponse(string(raw), stream, eof, cut)
		if whole.err != "" {
			split.n = whole.n // bytes read past a failure depend on the reads
		}
		if split != whole {
			t.Fatalf("whole %+v\ncut at %d %+v", whole, cut, split)
		}
		if whole.err != "" && !whole.done {
			t.Fatalf("a failure that is not done: %+v", whole)
		}
	})
}

// FuzzEventsSplit holds the events reader's reading of whole events in
// place to its line-by-line reading: the same stream fed at once and one
// byte at a time gives the same result.
func FuzzEventsSplit(f *testing.F) {
	for _, s := range sseSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, keep bool) {
		read := func(step int) (string, *gonogo.Result) {
			res := &gonogo.Result{Sent: time.Now()}
			e := getEvents(res, keep)
			defer e.put()
			at := res.Sent.Add(time.Second)
			var err error
			for b := body; len(b) > 0 && err == nil; {
				n := min(step, len(b))
				err = e.feed(b[:n], at)
				b = b[n:]
			}
			if err == nil {
				err = e.end(io.EOF, at)
			}
			msg := "ok"
			if err != nil {
				msg = err.Error()
				var pe *extensions.ProtocolError
				if !errors.As(err, &pe) {
					t.Fatalf("error %v is not a protocol error", err)
				}
			}
			return msg, res
		}
		m1, r1 := read(len(body) + 1)
		m2, r2 := read(1)
		if m1 != m2 || r1.OutputTokens != r2.OutputTokens || len(r1.ChunkGaps) != len(r2.ChunkGaps) ||
			r1.TTFT != r2.TTFT || string(r1.Output) != string(r2.Output) {
			t.Fatalf("whole: %s, %d tokens, %d gaps, output %q\nbyte by byte: %s, %d tokens, %d gaps, output %q",
				m1, r1.OutputTokens, len(r1.ChunkGaps), r1.Output, m2, r2.OutputTokens, len(r2.ChunkGaps), r2.Output)
		}
	})
}
