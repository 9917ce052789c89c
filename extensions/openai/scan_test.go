package openai

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// Chunks as servers send them: the hot path must read these itself.
const (
	vllmChunk  = `{"id":"cmpl-1","object":"text_completion","created":1700000000,"model":"m","choices":[{"index":0,"text":" tok","logprobs":null,"finish_reason":null,"stop_reason":null}]}`
	vllmUsage  = `{"id":"cmpl-1","object":"text_completion","created":1700000000,"model":"m","choices":[],"usage":{"prompt_tokens":128,"total_tokens":178,"completion_tokens":50}}`
	chatChunk  = `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"logprobs":null,"finish_reason":null}],"usage":null}`
	chatReason = `{"choices":[{"index":0,"delta":{"reasoning_content":"hm","content":null}}]}`
)

func TestScanChunk(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		keep    bool
		ok      bool
		content bool
		tokens  int
		text    string
	}{
		{"vllm", vllmChunk, true, true, true, 0, " tok"},
		{"vllm usage", vllmUsage, false, true, false, 50, ""},
		{"chat", chatChunk, true, true, true, 0, "Hi"},
		{"reasoning", chatReason, true, true, true, 0, ""},
		{"delta reasoning", `{"choices":[{"delta":{"reasoning":"x"}}]}`, false, true, true, 0, ""},
		{"message reasoning is no content", `{"choices":[{"message":{"reasoning":"x"}}]}`, false, true, false, 0, ""},
		{"two choices kept in order", `{"choices":[{"message":{"content":"c"},"text":"a","delta":{"content":"b"}},{"text":"d"}]}`, true, true, true, 0, "abcd"},
		{"empty text", `{"choices":[{"text":""}]}`, false, true, false, 0, ""},
		{"null choices", `{"choices":null,"usage":{"completion_tokens":3}}`, false, true, false, 3, ""},
		{"escapes without keep", `{"choices":[{"text":"\u00e9\n"}]}`, false, true, true, 0, ""},
		{"unknown members skipped", `{"x":[1,-2.5e3,true,false,null,{"a":"\"}"}],"choices":[{"text":"a","y":{}}]}`, false, true, true, 0, ""},
		{"white space", " {\n\"choices\" : [ { \"text\" : \"a\" } ] }\t", false, true, true, 0, ""},
		// left to encoding/json
		{"escapes with keep", `{"choices":[{"text":"\u00e9"}]}`, true, false, false, 0, ""},
		{"invalid UTF-8 with keep", "{\"choices\":[{\"text\":\"\xff\"}]}", true, false, false, 0, ""},
		{"error member", `{"error":{"message":"x"}}`, false, false, false, 0, ""},
		{"error object", `{"object":"error","message":"x"}`, false, false, false, 0, ""},
		{"name in another case", `{"choices":[{"Text":"a"}]}`, false, false, false, 0, ""},
		{"name with escape", `{"choices":[{"te\u0078t":"a"}]}`, false, false, false, 0, ""},
		{"field twice", `{"choices":[{"text":"a","text":""}]}`, false, false, false, 0, ""},
		{"wrong type", `{"choices":[{"text":1}]}`, false, false, false, 0, ""},
		{"fractional tokens", `{"usage":{"completion_tokens":1.0}}`, false, false, false, 0, ""},
		{"null choice", `{"choices":[null]}`, false, false, false, 0, ""},
		{"not an object", `null`, false, false, false, 0, ""},
		{"trailing bytes", `{}x`, false, false, false, 0, ""},
		{"cut", `{"choices":[{"text":"a"}]`, false, false, false, 0, ""},
		{"control byte", "{\"choices\":[{\"text\":\"a\x01\"}]}", false, false, false, 0, ""},
		{"deep", strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100), false, false, false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s scan
			ok := s.scanChunk([]byte(tt.in), tt.keep)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			var text []byte
			for _, v := range s.texts {
				text = append(text, v...)
			}
			if s.content != tt.content || s.tokens != tt.tokens || string(text) != tt.text {
				t.Errorf("content %v tokens %d text %q; want %v %d %q", s.content, s.tokens, text, tt.content, tt.tokens, tt.text)
			}
		})
	}
}

// FuzzScanChunk holds the hot path to encoding/json, the reference:
// whenever scanChunk answers, encoding/json reads the chunk without error
// or failure and to the same content, token count and kept text.
func FuzzScanChunk(f *testing.F) {
	for _, s := range []string{vllmChunk, vllmUsage, chatChunk, chatReason,
		`{"choices":[{"message":{"content":"c","reasoning":"r"},"text":"a","delta":{"content":"b"}},{"text":"d"}]}`,
		`{"choices":null,"usage":{"prompt_tokens":null,"completion_tokens":-3}}`,
		`{"choices":[],"usage":{"prompt_tokens":70,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":64,"audio_tokens":0}}}`,
		`{"choices":[],"usage":{"prompt_tokens":7,"prompt_tokens_details":null}}`,
		`{"choices":[],"usage":{"prompt_tokens":7,"prompt_tokens_details":"n/a"}}`,
		`{"choices":[],"usage":{"prompt_tokens":7,"prompt_tokens_details":{"cached_tokens":1.5}}}`,
		`{"object":"x","message":null,"error":null,"k":[[],{},"\ud800",0.5e-3]}`,
		`{"choices":[{"TEXT":"a","ſ":1,"K":2}]}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, b []byte, keep bool) {
		var s scan
		if !s.scanChunk(b, keep) {
			return
		}
		var ch chunk
		if err := json.Unmarshal(b, &ch); err != nil {
			t.Fatalf("scan read %q; encoding/json: %v", b, err)
		}
		if err := ch.failure(); err != nil {
			t.Fatalf("scan read %q; it is a failure: %v", b, err)
		}
		tokens, prompt, cached := 0, 0, 0
		if ch.Usage != nil {
			tokens, prompt, cached = ch.Usage.CompletionTokens, ch.Usage.PromptTokens, ch.Usage.cachedTokens()
		}
		if s.content != ch.hasContent() || s.tokens != tokens || s.prompt != prompt || s.cached != cached {
			t.Fatalf("%q: scan content %v tokens %d prompt %d cached %d; encoding/json %v %d %d %d", b,
				s.content, s.tokens, s.prompt, s.cached, ch.hasContent(), tokens, prompt, cached)
		}
		if !keep {
			return
		}
		var got, want gonogo.Result
		for _, v := range s.texts {
			got.Output = append(got.Output, v...)
		}
		ch.keepText(&want)
		if !bytes.Equal(got.Output, want.Output) {
			t.Fatalf("%q: scan kept %q; encoding/json %q", b, got.Output, want.Output)
		}
	})
}

// benchStream is a vLLM-shaped stream of 50 content chunks.
func benchStream() []byte {
	var b bytes.Buffer
	for range 50 {
		b.WriteString("data: " + vllmChunk + "\n\n")
	}
	b.WriteString("data: " + vllmUsage + "\n\ndata: [DONE]\n\n")
	return b.Bytes()
}

// BenchmarkReadStream is the client's per-stream parsing cost: SSE framing,
// chunk reading and time stamps of a 50-chunk vLLM stream (no network).
func BenchmarkReadStream(b *testing.B) {
	for _, keep := range []bool{false, true} {
		name := "measure"
		if keep {
			name = "keep"
		}
		b.Run(name, func(b *testing.B) {
			stream := benchStream()
			r := bytes.NewReader(stream)
			res := &gonogo.Result{Sent: time.Now()}
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(stream)
				res.ChunkGaps, res.Output = res.ChunkGaps[:0], res.Output[:0]
				if n, err := readStream(r, res, keep, nil); err != nil || n != 50 || res.OutputTokens != 50 {
					b.Fatalf("chunks %d tokens %d err %v", n, res.OutputTokens, err)
				}
			}
		})
	}
}

// BenchmarkChunk compares the hot path's reading of one chunk with
// encoding/json's.
func BenchmarkChunk(b *testing.B) {
	payload := []byte(vllmChunk)
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		var s scan
		for b.Loop() {
			if !s.scanChunk(payload, false) || !s.content {
				b.Fatal("not read")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		var ch chunk
		for b.Loop() {
			ch.reset()
			if json.Unmarshal(payload, &ch) != nil || !ch.hasContent() {
				b.Fatal("not read")
			}
		}
	})
}
