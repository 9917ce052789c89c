package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// step is one thing the fake server does: wait, then write raw bytes.
type step struct {
	wait time.Duration
	raw  string
}

func data(s string) step                   { return step{raw: "data: " + s + "\n\n"} }
func after(d time.Duration, s string) step { return step{wait: d, raw: "data: " + s + "\n\n"} }
func text(s string) string                 { return fmt.Sprintf(`{"choices":[{"index":0,"text":%q}]}`, s) }
func delta(s string) string {
	return fmt.Sprintf(`{"choices":[{"index":0,"delta":{"content":%q}}]}`, s)
}
func usageChunk(n int) string {
	return fmt.Sprintf(`{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":%d}}`, n)
}
func done() step   { return data("[DONE]") }
func hangup() step { return step{raw: "HANGUP"} }
func status(code int, body string) []step {
	return []step{{raw: fmt.Sprintf("STATUS %d %s", code, body)}}
}
func seq(steps ...step) []step { return steps }
func closedAddr(t testing.TB) (addr string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// fakeServer is a scripted OpenAI server. It records the last request body.
type fakeServer struct {
	*httptest.Server
	mu       sync.Mutex
	lastPath string
	lastBody map[string]any
}

func newFake(t *testing.T, contentType string, steps []step) *fakeServer {
	f := &fakeServer{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("client sent invalid JSON %q: %v", b, err)
		}
		f.mu.Lock()
		f.lastPath, f.lastBody = r.URL.Path, body
		f.mu.Unlock()
		if len(steps) == 1 && strings.HasPrefix(steps[0].raw, "STATUS ") {
			var code int
			var msg string
			fmt.Sscanf(steps[0].raw, "STATUS %d", &code)
			msg = strings.SplitN(steps[0].raw, " ", 3)[2]
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			io.WriteString(w, msg)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for _, s := range steps {
			select {
			case <-time.After(s.wait):
			case <-r.Context().Done():
				return
			}
			if s.raw == "HANGUP" {
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close()
				return
			}
			io.WriteString(w, s.raw)
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) last() (string, map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastPath, f.lastBody
}

func do(t *testing.T, o extensions.Options, ctx context.Context, req *gonogo.Request) *gonogo.Result {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	res := &gonogo.Result{Request: req, Sent: time.Now(), ChunkGaps: make([]time.Duration, 3, 16)}
	c.Do(ctx, req, res)
	if res.Done.Before(res.Sent) {
		t.Errorf("Done %v before Sent %v", res.Done, res.Sent)
	}
	return res
}

func TestStreamTiming(t *testing.T) {
	const first, gap = 100 * time.Millisecond, 30 * time.Millisecond
	const slack = 150 * time.Millisecond // generous: the test machine is shared
	tests := []struct {
		name  string
		api   string
		steps []step
		want  int // output tokens
	}{
		{"completions with usage", extensions.APICompletions, seq(
			after(first, text("a")), after(gap, text(" b")), after(gap, text("")), // empty chunk: no gap
			after(gap, text(" c")), after(gap, text(" d")), data(usageChunk(4)), done()), 4},
		{"chat without usage", extensions.APIChat, seq(
			data(`{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`),
			after(first, delta("x")), after(gap, delta("y")), after(gap, delta("z")), done()), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, "text/event-stream", tt.steps)
			res := do(t, extensions.Options{Target: f.URL, API: tt.api, Model: "m1"}, context.Background(), &gonogo.Request{ID: 1})
			if res.Class != gonogo.ErrNone {
				t.Fatalf("class %q err %q", res.Class, res.Err)
			}
			if res.OutputTokens != tt.want {
				t.Errorf("OutputTokens = %d, want %d", res.OutputTokens, tt.want)
			}
			if res.TTFT < first || res.TTFT > first+slack {
				t.Errorf("TTFT = %v, want %v (+%v)", res.TTFT, first, slack)
			}
			chunks := 4
			if tt.api == extensions.APIChat {
				chunks = 3
			}
			if len(res.ChunkGaps) != chunks-1 {
				t.Fatalf("ChunkGaps = %v, want %d gaps", res.ChunkGaps, chunks-1)
			}
			var sum time.Duration
			for _, g := range res.ChunkGaps {
				sum += g
				if g <= 0 || g > 2*gap+slack {
					t.Errorf("gap %v out of range", g)
				}
			}
			if tt.api == extensions.APICompletions && res.ChunkGaps[1] < 2*gap-10*time.Millisecond {
				t.Errorf("gap across an empty chunk = %v, want ≥ %v", res.ChunkGaps[1], 2*gap)
			}
			if res.E2E() < res.TTFT+sum-time.Millisecond {
				t.Errorf("E2E %v < TTFT %v + gaps %v", res.E2E(), res.TTFT, sum)
			}
			if res.BytesIn == 0 {
				t.Error("BytesIn = 0")
			}
		})
	}
}

func TestRequestBody(t *testing.T) {
	tests := []struct {
		name             string
		o                extensions.Options
		req              gonogo.Request
		path             string
		wantIn, wantOut  int
		wantStream, chat bool
	}{
		{"defaults", extensions.Options{Model: "m"}, gonogo.Request{ID: 7}, CompletionsPath, extensions.DefaultPromptTokens, extensions.DefaultMaxTokens, true, false},
		{"per request", extensions.Options{Model: "m", PromptTokens: 5, MaxTokens: 9}, gonogo.Request{ID: 8, InputTokens: 300, OutputTokens: 17}, CompletionsPath, 300, 17, true, false},
		{"chat options", extensions.Options{API: "chat", PromptTokens: 40000, MaxTokens: 3}, gonogo.Request{ID: 9}, ChatPath, 40000, 3, true, true},
		{"no stream", extensions.Options{Model: "m", NoStream: true}, gonogo.Request{ID: 10, InputTokens: 1, OutputTokens: 1}, CompletionsPath, 1, 1, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, "text/event-stream", seq(data(text("a")), done()))
			tt.o.Target = f.URL
			do(t, tt.o, context.Background(), &tt.req)
			path, b := f.last()
			if path != tt.path {
				t.Errorf("path = %s, want %s", path, tt.path)
			}
			var prompt string
			if tt.chat {
				msgs := b["messages"].([]any)
				prompt = msgs[0].(map[string]any)["content"].(string)
			} else {
				prompt = b["prompt"].(string)
			}
			if n := len(strings.Fields(prompt)); n != tt.wantIn || strings.Join(strings.Fields(prompt), " ") != prompt {
				t.Errorf("prompt has %d words, want %d", n, tt.wantIn)
			}
			for _, k := range []string{"max_tokens", "min_tokens"} {
				if b[k] != float64(tt.wantOut) {
					t.Errorf("%s = %v, want %d", k, b[k], tt.wantOut)
				}
			}
			if b["ignore_eos"] != true || b["stream"] != tt.wantStream {
				t.Errorf("ignore_eos %v stream %v", b["ignore_eos"], b["stream"])
			}
			if tt.wantStream && b["stream_options"].(map[string]any)["include_usage"] != true {
				t.Errorf("stream_options = %v", b["stream_options"])
			}
			if _, has := b["model"]; has != (tt.o.Model != "") {
				t.Errorf("model = %v", b["model"])
			}
		})
	}
}

func TestPromptsDiffer(t *testing.T) {
	c, _ := New(extensions.Options{Target: "h:1"})
	a := string(c.Body(&gonogo.Request{ID: 1}))
	b := string(c.Body(&gonogo.Request{ID: 2}))
	if a == b {
		t.Error("requests 1 and 2 have the same prompt")
	}
	if a != string(c.Body(&gonogo.Request{ID: 1})) {
		t.Error("prompt of request 1 is not reproducible")
	}
}

func TestFailures(t *testing.T) {
	dead := "http://" + closedAddr(t)
	tests := []struct {
		name      string
		ctype     string
		steps     []step
		o         extensions.Options
		ctx       func() (context.Context, context.CancelFunc)
		wantClass gonogo.ErrorClass
		wantErr   string
	}{
		{name: "no DONE", steps: seq(data(text("a")), data(text("b"))), wantClass: gonogo.ErrProtocol, wantErr: "stream ended without [DONE] after 2"},
		{name: "garbage", steps: seq(data(text("a")), data(`{"choices": [nope`), done()), wantClass: gonogo.ErrProtocol, wantErr: "invalid JSON in stream chunk 2"},
		{name: "error object", steps: seq(data(`{"error":{"message":"KV cache full","type":"server_error"}}`)), wantClass: gonogo.ErrProtocol, wantErr: "KV cache full"},
		{name: "vllm error object", steps: seq(data(`{"object":"error","message":"bad things","code":500}`)), wantClass: gonogo.ErrProtocol, wantErr: "bad things"},
		{name: "500", steps: status(500, `{"error":{"message":"engine dead"}}`), wantClass: gonogo.ErrHTTP5xx, wantErr: "HTTP 500: engine dead"},
		{name: "429", steps: status(429, `{"object":"error","message":"too many"}`), wantClass: gonogo.ErrHTTP4xx, wantErr: "too many"},
		{name: "hangup mid stream", steps: seq(data(text("a")), hangup()), wantClass: gonogo.ErrProtocol, wantErr: "after 1 content chunks"},
		{name: "stall before first chunk", steps: seq(after(2*time.Second, text("a"))), o: extensions.Options{Timeout: 80 * time.Millisecond},
			wantClass: gonogo.ErrTimeout, wantErr: "timed out after 80ms"},
		{name: "stall mid stream", steps: seq(data(text("a")), after(2*time.Second, text("b"))), o: extensions.Options{Timeout: 80 * time.Millisecond},
			wantClass: gonogo.ErrTimeout},
		{name: "run stopped", steps: seq(after(2*time.Second, text("a"))), wantClass: gonogo.ErrCanceled,
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			}},
		{name: "refused", o: extensions.Options{Target: dead}, wantClass: gonogo.ErrConnect, wantErr: "connection refused"},
		{name: "json without choices", ctype: "application/json", steps: seq(step{raw: `{"usage":{"completion_tokens":3}}`}), wantClass: gonogo.ErrProtocol, wantErr: "no choices"},
		{name: "json garbage", ctype: "application/json", steps: seq(step{raw: `<html>`}), wantClass: gonogo.ErrProtocol, wantErr: "invalid JSON response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctype := tt.ctype
			if ctype == "" {
				ctype = "text/event-stream"
			}
			if tt.o.Target == "" {
				tt.o.Target = newFake(t, ctype, tt.steps).URL
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			res := do(t, tt.o, ctx, &gonogo.Request{ID: 1})
			if res.Class != tt.wantClass || !strings.Contains(res.Err, tt.wantErr) {
				t.Errorf("class %q err %q; want %q containing %q", res.Class, res.Err, tt.wantClass, tt.wantErr)
			}
		})
	}
}

func TestNonStreaming(t *testing.T) {
	tests := []struct {
		name string
		o    extensions.Options
		body string
		want int
	}{
		{"completions", extensions.Options{NoStream: true}, `{"choices":[{"text":"a b"}],"usage":{"completion_tokens":2}}`, 2},
		{"chat", extensions.Options{NoStream: true, API: "chat"}, `{"choices":[{"message":{"content":"a b c"}}],"usage":{"completion_tokens":3}}`, 3},
		{"server ignored stream", extensions.Options{}, `{"choices":[{"text":"a"}],"usage":{"completion_tokens":1}}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Target = newFake(t, "application/json", seq(step{raw: tt.body})).URL
			res := do(t, tt.o, context.Background(), &gonogo.Request{ID: 1})
			if res.Class != gonogo.ErrNone || res.OutputTokens != tt.want || res.TTFT != 0 || len(res.ChunkGaps) != 0 {
				t.Errorf("class %q err %q tokens %d ttft %v gaps %v", res.Class, res.Err, res.OutputTokens, res.TTFT, res.ChunkGaps)
			}
		})
	}
}

func TestSSEFraming(t *testing.T) {
	long := strings.Repeat("w", 40<<10) // longer than the reader's buffer
	raw := ": keep-alive\r\n\r\n" +
		"event: completion\r\ndata: " + text("a") + "\r\n\r\n" +
		"data:" + text(long) + "\n\n" +
		"data: {\"choices\":\ndata: [{\"text\":\"c\"}]}\n\n" + // one event split over two data lines
		"id: 4\nretry: 10\n\n" +
		"data: [DONE]" // no final blank line
	f := newFake(t, "text/event-stream", seq(step{raw: raw}))
	res := do(t, extensions.Options{Target: f.URL}, context.Background(), &gonogo.Request{ID: 1})
	if res.Class != gonogo.ErrNone || res.OutputTokens != 3 || len(res.ChunkGaps) != 2 {
		t.Errorf("class %q err %q tokens %d gaps %v", res.Class, res.Err, res.OutputTokens, res.ChunkGaps)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		model   string
		wantErr string
	}{
		{"ok", 200, `{"data":[{"id":"m1"},{"id":"m2"}]}`, "m2", ""},
		{"ok any model", 200, `{"data":[{"id":"m1"}]}`, "", ""},
		{"unlisted body", 200, `not json`, "m9", ""},
		{"model missing", 200, `{"data":[{"id":"m1"}]}`, "m9", `model "m9" is not served`},
		{"not openai", 404, `404 page not found`, "m1", "not an OpenAI-compatible server"},
		{"unauthorized", 401, `{"error":{"message":"bad key"}}`, "m1", `GET /v1/models answered 401 Unauthorized: "bad key"; the credentials sent (header Authorization) were refused: check them`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != ModelsPath || r.Header.Get("Authorization") != "Bearer k" {
					t.Errorf("check asked %s with auth %q", r.URL.Path, r.Header.Get("Authorization"))
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c, _ := New(extensions.Options{Target: srv.URL, Model: tt.model, Headers: map[string]string{"Authorization": "Bearer k"}})
			err := c.Check(context.Background())
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Check = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(extensions.Options{Target: "h:1", API: "embeddings"}); err == nil {
		t.Error("API embeddings accepted")
	}
	if _, err := New(extensions.Options{}); err == nil {
		t.Error("empty target accepted")
	}
}

func BenchmarkStream(b *testing.B) {
	var sb strings.Builder
	for i := 0; i < 64; i++ {
		sb.WriteString("data: " + text(" tok") + "\n\n")
	}
	sb.WriteString("data: " + usageChunk(64) + "\n\ndata: [DONE]\n\n")
	stream := sb.String()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, stream)
	}))
	defer srv.Close()
	c, _ := New(extensions.Options{Target: srv.URL})
	b.ReportAllocs()
	res := &gonogo.Result{}
	for i := 0; b.Loop(); i++ {
		*res = gonogo.Result{Sent: time.Now(), ChunkGaps: res.ChunkGaps}
		c.Do(context.Background(), &gonogo.Request{ID: uint64(i)}, res)
		if res.Class != gonogo.ErrNone || res.OutputTokens != 64 {
			b.Fatalf("class %q err %q tokens %d", res.Class, res.Err, res.OutputTokens)
		}
	}
}
