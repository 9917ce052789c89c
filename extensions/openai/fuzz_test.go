package openai

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// sseSeeds are valid streams, each also added cut short by the seeding loop.
var sseSeeds = []string{
	"data: " + text("a") + "\n\ndata: " + text(" b") + "\n\ndata: " + usageChunk(2) + "\n\ndata: [DONE]\n\n",
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n" +
		"data: " + delta("x") + "\n\ndata: " + delta("y") + "\n\ndata: [DONE]\n\n",
	": keep-alive\r\n\r\nevent: completion\r\ndata: " + text("a") + "\r\n\r\n" +
		"data: {\"choices\":\ndata: [{\"text\":\"c\"}]}\n\nid: 4\nretry: 10\n\ndata: [DONE]",
	"data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hm\"}}]}\n\ndata: [DONE]\n\ndata: " + text("late") + "\n\n",
	"data: [DONE]\n\n",
	"data: " + usageChunk(7) + "\n\ndata: [DONE]\n\n",
	"data: {\"error\":{\"message\":\"KV cache full\"}}\n\n",
	"data: {\"object\":\"error\",\"message\":\"bad\"}\n\n",
	"data: {\"choices\": [nope\n\n",
	"data: {\"choices\":[{\"text\":\"a\"}],\"usage\":{\"completion_tokens\":-3}}\n\ndata: [DONE]\n\n",
}

// FuzzReadStream feeds arbitrary bytes to the SSE reader Do uses for
// streaming answers, optionally followed by a broken connection instead of
// a clean end. It must never panic; every failure must be a protocol error;
// every success must have seen [DONE] and report consistent numbers.
func FuzzReadStream(f *testing.F) {
	for _, s := range sseSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
		f.Add([]byte(s[:len(s)/2]), false)
		f.Add([]byte(s[:len(s)-1]), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, cut bool) {
		var r io.Reader = bytes.NewReader(body)
		if cut {
			r = io.MultiReader(r, iotest.ErrReader(io.ErrUnexpectedEOF))
		}
		sent := time.Now().Add(-time.Second)
		res := &gonogo.Result{Sent: sent}
		chunks, err := readStream(r, res, false, nil)
		if chunks < 0 {
			t.Fatalf("chunks = %d", chunks)
		}
		if n := len(res.ChunkGaps); (chunks == 0 && n != 0) || (chunks > 0 && n != chunks-1) {
			t.Fatalf("%d gaps for %d content chunks", n, chunks)
		}
		if (res.TTFT > 0) != (chunks > 0) {
			t.Fatalf("TTFT %v with %d content chunks", res.TTFT, chunks)
		}
		for _, g := range res.ChunkGaps {
			if g < 0 {
				t.Fatalf("negative gap %v", g)
			}
		}
		if err != nil {
			var pe *extensions.ProtocolError
			if !errors.As(err, &pe) || extensions.Classify(err, 200) != gonogo.ErrProtocol {
				t.Fatalf("error %v (%T) is not a protocol error", err, err)
			}
			if res.OutputTokens != 0 {
				t.Fatalf("failure reports OutputTokens = %d", res.OutputTokens)
			}
			return
		}
		if !bytes.Contains(body, []byte("[DONE]")) {
			t.Fatalf("success without [DONE] in %q", body)
		}
		if res.Done.Before(sent) {
			t.Fatalf("success with Done %v before Sent %v", res.Done, sent)
		}
		if res.OutputTokens < 0 || (chunks > 0 && res.OutputTokens == 0) {
			t.Fatalf("OutputTokens = %d for %d content chunks", res.OutputTokens, chunks)
		}
	})
}

// FuzzReadJSON feeds arbitrary bytes to the reader of non-streaming answers
// and to the error-message extractor: no panic, failures are protocol errors.
func FuzzReadJSON(f *testing.F) {
	for _, s := range []string{
		`{"choices":[{"text":"a b"}],"usage":{"completion_tokens":2}}`,
		`{"choices":[{"message":{"content":"a b c"}}],"usage":{"completion_tokens":3}}`,
		`{"usage":{"completion_tokens":3}}`,
		`{"error":{"message":"engine dead"}}`,
		`{"error":"plain"}`,
		`{"object":"error","message":"too many"}`,
		`"just a string"`,
		`<html>`,
	} {
		f.Add([]byte(s))
		f.Add([]byte(s[:len(s)/2]))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		res := &gonogo.Result{}
		if err := readJSON(bytes.NewReader(body), res, false, nil); err != nil {
			if extensions.Classify(err, 200) != gonogo.ErrProtocol {
				t.Fatalf("error %v (%T) is not a protocol error", err, err)
			}
		}
		// errorMessage falls back to the (clipped) text itself, so it says
		// something about every non-blank body.
		if len(bytes.TrimSpace(body)) > 0 && errorMessage(body) == "" {
			t.Fatalf("errorMessage(%q) is empty", body)
		}
	})
}

// TestStreamCutAfterDone checks that a connection broken after [DONE] still
// yields a complete, successful answer with its token count.
func TestStreamCutAfterDone(t *testing.T) {
	tests := []struct {
		name string
		body string
		want int
	}{
		{"usage", "data: " + text("a") + "\n\ndata: " + usageChunk(5) + "\n\ndata: [DONE]\n\n", 5},
		{"counted chunks", "data: " + text("a") + "\n\ndata: " + text("b") + "\n\ndata: [DONE]\n\n", 2},
		{"partial tail", "data: " + text("a") + "\n\ndata: [DONE]\n\ndata: {\"cho", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := io.MultiReader(strings.NewReader(tt.body), iotest.ErrReader(io.ErrUnexpectedEOF))
			res := &gonogo.Result{Sent: time.Now()}
			if _, err := readStream(r, res, false, nil); err != nil || res.OutputTokens != tt.want || res.Done.IsZero() {
				t.Errorf("err %v OutputTokens %d Done %v; want nil, %d, set", err, res.OutputTokens, res.Done, tt.want)
			}
		})
	}
}
