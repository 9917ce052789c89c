package openai

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// With KeepOutput the generated text lands in Result.Output; reasoning and
// usage-only chunks add nothing; without it Output stays empty.
func TestKeepOutput(t *testing.T) {
	reasoning := `{"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]}`
	tests := []struct {
		name, ctype string
		o           extensions.Options
		steps       []step
		want        string
	}{
		{"stream completions", "text/event-stream", extensions.Options{},
			seq(data(text("Hello")), data(text(" world")), data(usageChunk(2)), done()), "Hello world"},
		{"stream chat without reasoning", "text/event-stream", extensions.Options{API: "chat"},
			seq(data(reasoning), data(delta("a")), data(delta(" b")), done()), "a b"},
		{"non-stream completions", "application/json", extensions.Options{NoStream: true},
			seq(step{raw: `{"choices":[{"text":"x y"}],"usage":{"completion_tokens":2}}`}), "x y"},
		{"non-stream chat", "application/json", extensions.Options{NoStream: true, API: "chat"},
			seq(step{raw: `{"choices":[{"message":{"content":"p q r"}}]}`}), "p q r"},
		{"cut stream keeps what came", "text/event-stream", extensions.Options{},
			seq(data(text("part")), hangup()), "part"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, keep := range []bool{false, true} {
				tt.o.Target = newFake(t, tt.ctype, tt.steps).URL
				tt.o.KeepOutput = keep
				c, err := New(tt.o)
				if err != nil {
					t.Fatal(err)
				}
				req := &gonogo.Request{ID: 1}
				res := &gonogo.Result{Request: req, Sent: time.Now()}
				if keep {
					res.Output = append(make([]byte, 0, 64), "stale"...)
				}
				c.Do(context.Background(), req, res)
				want := tt.want
				if !keep {
					want = ""
				}
				if string(res.Output) != want {
					t.Errorf("keep=%v: Output %q, want %q (class %q %s)", keep, res.Output, want, res.Class, res.Err)
				}
			}
		})
	}
}

// Against the fixture, the kept text is exactly the truth's completion.
func TestKeepOutputMatchesFixture(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	_, url := modelservertest.Start(t, cfg)
	for _, o := range []extensions.Options{
		{Target: url, KeepOutput: true, PromptTokens: 5, MaxTokens: 6},
		{Target: url, KeepOutput: true, PromptTokens: 5, MaxTokens: 6, NoStream: true, API: "chat"},
	} {
		c, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		req := &gonogo.Request{ID: 7}
		res := &gonogo.Result{Request: req, Sent: time.Now()}
		c.Do(context.Background(), req, res)
		if res.Class != gonogo.ErrNone {
			t.Fatalf("%s: %s", res.Class, res.Err)
		}
		prompt := string(appendPrompt(nil, req.ID, o.PromptTokens))
		want := strings.Join(modelserver.Completion(modelserver.VersionV1, prompt, o.MaxTokens), " ")
		if string(res.Output) != want {
			t.Errorf("api %q stream %v: Output %q, want %q", o.API, !o.NoStream, res.Output, want)
		}
	}
}
