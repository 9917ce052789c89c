package openai

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// measure feeds body to a fresh Accounter in pieces of at most n bytes,
// piece i passing at at(i) and the end at at(pieces), and returns the
// result, and Err.
func measure(body []byte, n int, at func(i int) time.Time) (gonogo.Result, error) {
	var a Accounter
	res := gonogo.Result{Sent: t0}
	a.Reset(&res)
	i := 0
	for ; len(body) > 0; i++ {
		k := min(n, len(body))
		a.Feed(body[:k], at(i))
		body = body[k:]
	}
	a.End(at(i))
	return res, a.Err()
}

// account measures body fed in pieces of n bytes, piece i at t0 + i ms.
func account(body string, n int) gonogo.Result {
	res, _ := measure([]byte(body), n, func(i int) time.Time { return t0.Add(time.Duration(i) * time.Millisecond) })
	return res
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// An SSE stream fed whole or byte by byte gives the same token counts,
// and its TTFT and gaps are the times of the pieces that completed the
// content events.
func TestAccounterStream(t *testing.T) {
	roleOnly := `{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`
	body := ": keep-alive\r\n\r\n" + "data: " + roleOnly + "\n\n" +
		"data: " + delta("a") + "\r\n\r\n" + "data: " + delta(" b") + "\n\n" +
		"data: " + delta(" c") + "\n\n" + "data: " + usageChunk(5) + "\n\n" + "data: [DONE]\n\n" +
		"data: " + delta("late") + "\n\n"
	whole := account(body, len(body))
	if whole.TTFT != 0 || whole.OutputTokens != 5 || whole.ReportedPromptTokens != 3 || !slices.Equal(whole.ChunkGaps, []time.Duration{0, 0}) {
		t.Errorf("whole: TTFT %v, gaps %v, output %d, prompt %d; want 0, [0 0], 5 (usage), 3", whole.TTFT, whole.ChunkGaps, whole.OutputTokens, whole.ReportedPromptTokens)
	}
	// Byte by byte, piece i passes at i ms: a content event's time is the
	// time of its blank line's last byte.
	ends := func(s string) time.Duration { // the last byte of its blank line
		i := strings.Index(body, s) + len(s)
		if strings.HasPrefix(body[i:], "\r\n\r\n") {
			return time.Duration(i+3) * time.Millisecond
		}
		return time.Duration(i+1) * time.Millisecond
	}
	a, b, c := ends(delta("a")), ends(delta(" b")), ends(delta(" c"))
	split := account(body, 1)
	if split.TTFT != a || !slices.Equal(split.ChunkGaps, []time.Duration{b - a, c - b}) || split.OutputTokens != 5 || split.ReportedPromptTokens != 3 {
		t.Errorf("byte by byte: TTFT %v, gaps %v, output %d, prompt %d; want %v, [%v %v], 5, 3",
			split.TTFT, split.ChunkGaps, split.OutputTokens, split.ReportedPromptTokens, a, b-a, c-b)
	}
}

// Without usage, output tokens are the content events counted; a stream
// cut before [DONE] counts what came, and an unreadable event or an error
// object stops the count there. Err is what the client's own reading of
// the body fails with (fails, a part of it), or nil where the Accounter
// goes on where the client would not (no [DONE], past maxAccounted).
func TestAccounterCounts(t *testing.T) {
	for _, c := range []struct {
		name, body string
		tokens     int
		streamed   bool
		fails      string
	}{
		{"no usage", "data: " + text("a") + "\n\ndata: " + text("b") + "\n\ndata: [DONE]\n\n", 2, true, ""},
		{"no [DONE], unterminated last event", "data: " + text("a") + "\n\ndata: " + text("b"), 2, true, ""},
		{"bad event", "data: " + text("a") + "\n\ndata: {nope\n\ndata: " + text("b") + "\n\n", 1, true, "invalid JSON in stream chunk 2"},
		{"error event", "data: " + text("a") + "\n\ndata: {\"error\":{\"message\":\"x\"}}\n\ndata: " + text("b") + "\n\n", 1, true, "server error: x"},
		{"error event unterminated", "data: " + text("a") + "\n\ndata: {\"object\":\"error\",\"message\":\"y\"}", 1, true, "server error: y"},
		{"document", `  {"choices":[{"message":{"content":"a b c"}}],"usage":{"prompt_tokens":4,"completion_tokens":3}}`, 3, false, ""},
		{"document without usage", `{"choices":[{"text":"a b"}]}`, 0, false, ""},
		{"error document", `{"error":{"message":"overloaded"},"usage":{"completion_tokens":3}}`, 0, false, "server error: overloaded"},
		{"plain text", "ok", 0, false, ""},
		{"event line too long", "data: " + strings.Repeat("x", maxAccounted+1), 0, true, ""},
	} {
		if c.fails != "" {
			// The client's own reading of the body.
			var res gonogo.Result
			var err error
			if c.streamed {
				_, err = readStream(strings.NewReader(c.body), &res, false, nil)
			} else {
				err = readJSON(strings.NewReader(c.body), &res, false, nil)
			}
			_, got := measure([]byte(c.body), len(c.body), func(int) time.Time { return t0 })
			if err == nil || got == nil || got.Error() != err.Error() || !strings.Contains(got.Error(), c.fails) {
				t.Errorf("%s: Err %v, the client's %v; want the same, with %q", c.name, got, err, c.fails)
			}
		}
		for _, n := range []int{1, 7, len(c.body)} {
			var a Accounter
			res := gonogo.Result{Sent: t0}
			a.Reset(&res)
			for b := []byte(c.body); len(b) > 0; b = b[min(n, len(b)):] {
				a.Feed(b[:min(n, len(b))], t0)
			}
			a.End(t0)
			if res.OutputTokens != c.tokens || a.Streamed() != c.streamed {
				t.Errorf("%s, pieces of %d: output %d, streamed %v; want %d, %v", c.name, n, res.OutputTokens, a.Streamed(), c.tokens, c.streamed)
			}
			if err := a.Err(); (err != nil) != (c.fails != "") || err != nil && !strings.Contains(err.Error(), c.fails) {
				t.Errorf("%s, pieces of %d: Err %v, want one with %q", c.name, n, err, c.fails)
			}
			var pe *extensions.ProtocolError
			if err := a.Err(); err != nil && (!errors.As(err, &pe) || extensions.Classify(err, 200) != gonogo.ErrProtocol) {
				t.Errorf("%s: Err %T of class %s, want a *extensions.ProtocolError, class protocol", c.name, err, extensions.Classify(err, 200))
			}
		}
	}
}

// A reused Accounter reads a stream fed in pieces without allocating.
func TestAccounterAllocs(t *testing.T) {
	var body []byte
	for i := range 50 {
		body = append(body, "data: "+delta("w"+strings.Repeat("o", i%5))+"\n\n"...)
	}
	body = append(body, "data: "+usageChunk(50)+"\n\ndata: [DONE]\n\n"...)
	var a Accounter
	gaps := make([]time.Duration, 0, 64)
	res := gonogo.Result{Sent: t0}
	run := func() {
		res.ChunkGaps = gaps[:0]
		a.Reset(&res)
		for b := body; len(b) > 0; b = b[min(37, len(b)):] {
			a.Feed(b[:min(37, len(b))], t0)
		}
		a.End(t0)
	}
	run()
	if res.OutputTokens != 50 || len(res.ChunkGaps) != 49 {
		t.Fatalf("output %d, %d gaps; want 50, 49", res.OutputTokens, len(res.ChunkGaps))
	}
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("%.1f allocations per stream, want 0", n)
	}
}

// FuzzAccounter feeds arbitrary bodies in pieces of arbitrary size: it
// must not panic, and what it measures must not depend on where the
// pieces end (every piece passes at the same time).
func FuzzAccounter(f *testing.F) {
	for _, s := range sseSeeds {
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(13))
	}
	f.Add([]byte(`{"choices":[{"text":"a"}],"usage":{"prompt_tokens":2,"completion_tokens":9}}`), uint8(5))
	f.Fuzz(func(t *testing.T, body []byte, n uint8) {
		at := func(int) time.Time { return t0.Add(time.Second) }
		got, gotErr := measure(body, max(int(n), 1), at)
		want, wantErr := measure(body, len(body)+1, at)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Errorf("in pieces of %d: Err %v; whole: %v", n, gotErr, wantErr)
		}
		if got.TTFT != want.TTFT || got.OutputTokens != want.OutputTokens || got.ReportedPromptTokens != want.ReportedPromptTokens ||
			got.CachedPromptTokens != want.CachedPromptTokens || !slices.Equal(got.ChunkGaps, want.ChunkGaps) {
			t.Errorf("in pieces of %d: TTFT %v, output %d, prompt %d, cached %d, gaps %v; whole: %v, %d, %d, %d, %v",
				n, got.TTFT, got.OutputTokens, got.ReportedPromptTokens, got.CachedPromptTokens, got.ChunkGaps,
				want.TTFT, want.OutputTokens, want.ReportedPromptTokens, want.CachedPromptTokens, want.ChunkGaps)
		}
	})
}

// BenchmarkAccounter measures reading a streamed completion of 16
// content events, usage and [DONE], fed in pieces of 512 bytes: what the
// rollout proxy spends per stream it measures.
func BenchmarkAccounter(b *testing.B) {
	var body []byte
	for i := range 16 {
		body = append(body, "data: "+text(" word"+strings.Repeat("x", i%4))+"\n\n"...)
	}
	body = append(body, "data: "+usageChunk(16)+"\n\ndata: [DONE]\n\n"...)
	var a Accounter
	res := gonogo.Result{Sent: t0, ChunkGaps: make([]time.Duration, 0, 16)}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		res.ChunkGaps = res.ChunkGaps[:0]
		a.Reset(&res)
		for p := body; len(p) > 0; p = p[min(512, len(p)):] {
			a.Feed(p[:min(512, len(p))], t0)
		}
		a.End(t0)
	}
}
