package behaviour

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// fixture starts the simulated server with small model times.
func fixture(t testing.TB) (modelserver.Config, string) {
	t.Helper()
	cfg := modelserver.DefaultConfig()
	cfg.StepBase = time.Millisecond
	cfg.StepPerSeq = 0
	cfg.PrefillPerToken = 0
	cfg.InferLatency = 0
	cfg.InferJitter = 0
	_, url := modelservertest.Start(t, cfg)
	return cfg, url
}

func post(t testing.TB, url string, body any) []byte {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExtractFixtureKServe: the confidence and class of every row of a
// batch are the fixture's truth (Truth.Classify, Argmax).
func TestExtractFixtureKServe(t *testing.T) {
	cfg, url := fixture(t)
	rows := [][]float32{{0.1, 2, -1, 0.5}, {3, 3, 0, -2}, {-0.7, 0.2, 1.5, 9}}
	var flat []float32
	for _, r := range rows {
		flat = append(flat, r...)
	}
	body := post(t, url+"/v2/models/"+cfg.ClassifierModel+"/infer", map[string]any{
		"inputs": []map[string]any{{"name": "input", "shape": []int{len(rows), 4}, "datatype": "FP32", "data": flat}},
	})
	f := Extract(ProtocolKServe, body)
	if f.Outcome != OK || len(f.Predictions) != len(rows) {
		t.Fatalf("Extract = %+v, want OK with %d predictions; body %s", f, len(rows), body)
	}
	truth := cfg.Truth()
	for i, r := range rows {
		p := truth.Classify(cfg.Version, r)
		want := modelserver.Argmax(p)
		got := f.Predictions[i]
		if got.Class != want || math.Abs(got.Confidence-float64(p[want])) > 1e-6 {
			t.Errorf("row %d: got %+v, want class %d confidence %g", i, got, want, p[want])
		}
	}
	if f.HasLength {
		t.Errorf("a KServe response has no output length: %+v", f)
	}

	bad := post(t, url+"/v2/models/nope/infer", map[string]any{"inputs": []any{}})
	if f := Extract(ProtocolKServe, bad); f.Outcome != Error {
		t.Errorf("error response %s: got %+v, want Error", bad, f)
	}
}

// TestExtractFixtureOpenAI: length, finish reason and outcome of real
// completions, chat completions and their streams match the fixture's
// truth (OutputTokens, Completion).
func TestExtractFixtureOpenAI(t *testing.T) {
	cfg, url := fixture(t)
	truth := cfg.Truth()
	const prompt, maxTok = "the quick brown fox jumps over", 12
	n := modelserver.OutputTokens(prompt, maxTok, 0, false)
	text := strings.Join(truth.Completion(cfg.Version, prompt, n), " ")
	finish := "stop"
	if n == maxTok {
		finish = "length"
	}
	chat := []map[string]string{{"role": "user", "content": prompt}}
	for _, c := range []struct {
		name       string
		path       string
		req        map[string]any
		wantTokens int
	}{
		{"completion", "/v1/completions", map[string]any{"prompt": prompt, "max_tokens": maxTok}, n},
		{"chat", "/v1/chat/completions", map[string]any{"messages": chat, "max_tokens": maxTok}, n},
		{"completion stream", "/v1/completions", map[string]any{"prompt": prompt, "max_tokens": maxTok, "stream": true}, -1},
		{"completion stream with usage", "/v1/completions", map[string]any{"prompt": prompt, "max_tokens": maxTok, "stream": true,
			"stream_options": map[string]bool{"include_usage": true}}, n},
		{"chat stream", "/v1/chat/completions", map[string]any{"messages": chat, "max_tokens": maxTok, "stream": true}, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := post(t, url+c.path, c.req)
			f := Extract(ProtocolOpenAI, body)
			if f.Outcome != OK || !f.HasLength {
				t.Fatalf("Extract = %+v, want OK with a length; body %s", f, body)
			}
			if f.Tokens != c.wantTokens {
				t.Errorf("Tokens = %d, want %d", f.Tokens, c.wantTokens)
			}
			if want := utf8.RuneCountInString(text); f.Chars != want {
				t.Errorf("Chars = %d, want %d (%q)", f.Chars, want, text)
			}
			if f.FinishReason != finish {
				t.Errorf("FinishReason = %q, want %q", f.FinishReason, finish)
			}
			if len(f.Predictions) != 0 {
				t.Errorf("the fixture sends no logprobs, got %+v", f.Predictions)
			}
		})
	}
	bad := post(t, url+"/v1/completions", map[string]any{"model": "nope", "prompt": prompt})
	if f := Extract(ProtocolOpenAI, bad); f.Outcome != Error {
		t.Errorf("error response %s: got %+v, want Error", bad, f)
	}
}

// softmaxTop is the top class and its probability, computed directly.
func softmaxTop(row []float64) (int, float64) {
	var z float64
	p := make([]float64, len(row))
	for i, v := range row {
		p[i] = math.Exp(v)
		z += p[i]
	}
	top := 0
	for i := range p {
		if p[i] > p[top] {
			top = i
		}
	}
	return top, p[top] / z
}

func TestExtractKServe(t *testing.T) {
	c1, p1 := softmaxTop([]float64{1, 3, 0.5})
	c2, p2 := softmaxTop([]float64{-2, -1, -4})
	for _, c := range []struct {
		name    string
		body    string
		outcome Outcome
		want    []Prediction
	}{
		{"probabilities", `{"outputs":[{"name":"p","shape":[2,3],"datatype":"FP32","data":[0.2,0.5,0.3,0.9,0.05,0.05]}]}`, OK,
			[]Prediction{{0.5, 1}, {0.9, 0}}},
		{"logits", `{"outputs":[{"name":"l","shape":[2,3],"datatype":"FP32","data":[1,3,0.5,-2,-1,-4]}]}`, OK,
			[]Prediction{{p1, c1}, {p2, c2}}},
		// In [0, 1] but not summing to 1: logits.
		{"scores in unit range", `{"outputs":[{"name":"l","shape":[1,2],"datatype":"FP32","data":[0.5,0.5]}]}`, OK,
			[]Prediction{{0.5, 0}}},
		{"nested rows", `{"outputs":[{"name":"p","shape":[2,2],"datatype":"FP64","data":[[0.3,0.7],[0.6,0.4]]}]}`, OK,
			[]Prediction{{0.7, 1}, {0.6, 0}}},
		{"one dimension", `{"outputs":[{"name":"p","shape":[3],"datatype":"FP32","data":[0.1,0.1,0.8]}]}`, OK,
			[]Prediction{{0.8, 2}}},
		{"binary probability", `{"outputs":[{"name":"p","shape":[2,1],"datatype":"FP32","data":[0.2,0.9]}]}`, OK,
			[]Prediction{{0.8, 0}, {0.9, 1}}},
		{"binary logit", `{"outputs":[{"name":"p","shape":[1,1],"datatype":"FP32","data":[2]}]}`, OK,
			[]Prediction{{1 / (1 + math.Exp(-2)), 1}}},
		{"ties take the lowest index", `{"outputs":[{"name":"p","shape":[1,4],"datatype":"FP32","data":[0.1,0.4,0.4,0.1]}]}`, OK,
			[]Prediction{{0.4, 1}}},
		{"bytes output", `{"outputs":[{"name":"s","shape":[1],"datatype":"BYTES","data":["cat"]}]}`, OK, nil},
		{"empty bytes", `{"outputs":[{"name":"s","shape":[0],"datatype":"BYTES","data":[]}]}`, Empty, nil},
		{"no outputs", `{"model_name":"m","outputs":[]}`, Empty, nil},
		{"null data", `{"outputs":[{"name":"p","shape":[0],"datatype":"FP32","data":null}]}`, Empty, nil},
		{"shape mismatch", `{"outputs":[{"name":"p","shape":[2,3],"datatype":"FP32","data":[1,2,3]}]}`, Error, nil},
		{"negative shape", `{"outputs":[{"name":"p","shape":[-1,3],"datatype":"FP32","data":[1,2,3]}]}`, Error, nil},
		{"strings as numbers", `{"outputs":[{"name":"p","shape":[1],"datatype":"FP32","data":["x"]}]}`, Error, nil},
		{"error object", `{"error":"model not ready"}`, Error, nil},
		{"not json", `<html>502</html>`, Error, nil},
		{"empty body", ``, Error, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := Extract(ProtocolKServe, []byte(c.body))
			if f.Outcome != c.outcome {
				t.Fatalf("Outcome = %v (%s), want %v", f.Outcome, f.Reason, c.outcome)
			}
			if (f.Outcome == Error) != (f.Reason != "") {
				t.Errorf("Reason %q with Outcome %v", f.Reason, f.Outcome)
			}
			if len(f.Predictions) != len(c.want) {
				t.Fatalf("Predictions = %+v, want %+v", f.Predictions, c.want)
			}
			for i, w := range c.want {
				if g := f.Predictions[i]; g.Class != w.Class || math.Abs(g.Confidence-w.Confidence) > 1e-12 {
					t.Errorf("prediction %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

// sse writes events as an SSE stream.
func sse(events ...string) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "data: %s\n\n", e)
	}
	return b.String()
}

func TestExtractOpenAI(t *testing.T) {
	gm := func(lp ...float64) float64 { // geometric-mean probability
		var s float64
		for _, v := range lp {
			s += v
		}
		return math.Exp(s / float64(len(lp)))
	}
	for _, c := range []struct {
		name    string
		body    string
		outcome Outcome
		tokens  int
		chars   int
		conf    float64 // 0: no prediction
		finish  string
	}{
		{"completion with logprobs",
			`{"choices":[{"index":0,"text":"héllo world","logprobs":{"token_logprobs":[-0.1,null,-0.3],"tokens":["h","é","llo"]},"finish_reason":"stop"}],"usage":{"completion_tokens":3}}`,
			OK, 3, 11, gm(-0.1, -0.3), "stop"},
		{"chat with logprobs",
			`{"choices":[{"index":0,"message":{"role":"assistant","content":"yes"},"logprobs":{"content":[{"token":"yes","logprob":-0.05}]},"finish_reason":"stop"}]}`,
			OK, -1, 3, gm(-0.05), "stop"},
		{"second choice ignored",
			`{"choices":[{"index":1,"text":"ignored text"},{"index":0,"text":"ab","finish_reason":"length"}]}`,
			OK, -1, 2, 0, "length"},
		{"blank text", `{"choices":[{"index":0,"text":"  \n ","finish_reason":"stop"}]}`, Empty, -1, 4, 0, "stop"},
		{"null content", `{"choices":[{"index":0,"message":{"role":"assistant","content":null},"finish_reason":"stop"}]}`, Empty, -1, 0, 0, "stop"},
		{"tool call", `{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"1"}]},"finish_reason":"tool_calls"}]}`,
			OK, -1, 0, 0, "tool_calls"},
		{"no choices", `{"choices":[]}`, Empty, -1, 0, 0, ""},
		{"zero tokens", `{"choices":[{"index":0,"text":"x"}],"usage":{"completion_tokens":0}}`, Empty, 0, 1, 0, ""},
		{"error object", `{"error":{"message":"overloaded","code":503}}`, Error, -1, 0, 0, ""},
		{"truncated json", `{"choices":[{"index":0,"text":"ab`, Error, -1, 0, 0, ""},
		{"chat stream with logprobs", sse(
			`{"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"logprobs":{"content":[{"logprob":-0.2}]}}]}`,
			`{"choices":[{"index":0,"delta":{"content":" there"},"logprobs":{"content":[{"logprob":-0.4}]},"finish_reason":"stop"}]}`,
			`{"choices":[],"usage":{"completion_tokens":2}}`,
			`[DONE]`), OK, 2, 8, gm(-0.2, -0.4), "stop"},
		{"stream with comments, CRLF and a split event",
			": keep-alive\r\nevent: message\r\ndata: {\"choices\":[{\"index\":0,\r\ndata: \"text\":\"ok\"}]}\r\n\r\ndata: [DONE]\r\n",
			OK, -1, 2, 0, ""},
		{"blank stream", sse(`{"choices":[{"index":0,"text":" "}]}`, `[DONE]`), Empty, -1, 1, 0, ""},
		{"stream cut before DONE", sse(`{"choices":[{"index":0,"text":"par"}]}`), Error, -1, 0, 0, ""},
		{"stream with an error event", sse(`{"choices":[{"index":0,"text":"a"}]}`, `{"error":{"message":"boom"}}`, `[DONE]`), Error, -1, 0, 0, ""},
		{"stream with a bad chunk", sse(`{"choices":[`, `[DONE]`), Error, -1, 0, 0, ""},
		{"not sse", "HTTP/1.1 502 Bad Gateway", Error, -1, 0, 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := Extract(ProtocolOpenAI, []byte(c.body))
			if f.Outcome != c.outcome {
				t.Fatalf("Outcome = %v (%s), want %v", f.Outcome, f.Reason, c.outcome)
			}
			if f.Outcome == Error {
				if f.Reason == "" || f.HasLength || len(f.Predictions) > 0 {
					t.Errorf("an error has a reason and nothing else: %+v", f)
				}
				return
			}
			if f.Tokens != c.tokens || f.Chars != c.chars || f.FinishReason != c.finish || !f.HasLength {
				t.Errorf("got tokens %d chars %d finish %q, want %d %d %q", f.Tokens, f.Chars, f.FinishReason, c.tokens, c.chars, c.finish)
			}
			switch {
			case c.conf == 0 && len(f.Predictions) != 0:
				t.Errorf("Predictions = %+v, want none", f.Predictions)
			case c.conf != 0 && (len(f.Predictions) != 1 || math.Abs(f.Predictions[0].Confidence-c.conf) > 1e-12 || f.Predictions[0].Class != -1):
				t.Errorf("Predictions = %+v, want confidence %g class -1", f.Predictions, c.conf)
			}
		})
	}
}

func TestExtractUnknownProtocol(t *testing.T) {
	if f := Extract("grpc", []byte(`{}`)); f.Outcome != Error || f.Reason == "" {
		t.Errorf("got %+v, want an error with a reason", f)
	}
}

func FuzzExtract(f *testing.F) {
	f.Add("kserve", []byte(`{"outputs":[{"name":"p","shape":[2,3],"datatype":"FP32","data":[1,3,0.5,-2,-1,-4]}]}`))
	f.Add("kserve", []byte(`{"outputs":[{"name":"p","shape":[1,1],"datatype":"FP32","data":[[0.3]]}]}`))
	f.Add("kserve", []byte(`{"outputs":[{"name":"p","shape":[3,0],"datatype":"FP32","data":[1e308,-1e308]}]}`))
	f.Add("openai", []byte(`{"choices":[{"index":0,"text":"hi","logprobs":{"token_logprobs":[-0.1,null]}}],"usage":{"completion_tokens":1}}`))
	f.Add("openai", []byte(sse(`{"choices":[{"index":0,"delta":{"content":"a"},"logprobs":{"content":[{"logprob":-1}]}}]}`, `[DONE]`)))
	f.Add("openai", []byte("data: {\"choices\":\ndata: []}\n\ndata: [DONE]"))
	f.Fuzz(func(t *testing.T, proto string, body []byte) {
		got := Extract(Protocol(proto), body)
		if (got.Outcome == Error) != (got.Reason != "") {
			t.Fatalf("Reason %q with Outcome %v", got.Reason, got.Outcome)
		}
		for _, p := range got.Predictions {
			if !(p.Confidence >= 0 && p.Confidence <= 1) || p.Class < -1 {
				t.Fatalf("prediction out of range: %+v", p)
			}
		}
		if got.Chars < 0 || got.Tokens < -1 {
			t.Fatalf("negative length: %+v", got)
		}
		var c Counts
		c.Add(&got) // counting never panics either
		if c.Responses != 1 {
			t.Fatalf("Responses = %d", c.Responses)
		}
	})
}

func BenchmarkExtract(b *testing.B) {
	cfg, url := fixture(b)
	rows := make([]float32, 4*8)
	for i := range rows {
		rows[i] = float32(i%7) - 3
	}
	bodies := map[string][]byte{
		"kserve batch 4": post(b, url+"/v2/models/"+cfg.ClassifierModel+"/infer", map[string]any{
			"inputs": []map[string]any{{"name": "input", "shape": []int{4, 8}, "datatype": "FP32", "data": rows}}}),
		"openai sse 16 tokens": post(b, url+"/v1/completions", map[string]any{
			"prompt": "tell me a long story", "max_tokens": 16, "min_tokens": 16, "stream": true}),
		"openai sse 64 tokens": post(b, url+"/v1/completions", map[string]any{
			"prompt": "tell me a long story", "max_tokens": 64, "min_tokens": 64, "stream": true,
			"stream_options": map[string]bool{"include_usage": true}}),
	}
	for name, body := range bodies {
		proto := ProtocolKServe
		if strings.HasPrefix(name, "openai") {
			proto = ProtocolOpenAI
		}
		if f := Extract(proto, body); f.Outcome != OK {
			b.Fatalf("%s: %+v", name, f)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				Extract(proto, body)
			}
		})
	}
}
