package openai

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/dataset"
	"github.com/gonogo-dev/gonogo/extensions/tokenize"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

const promptsSample = "../../fixtures/datasets/prompts-sample.jsonl"

// TestDatasetBody checks the bodies of dataset prompts: the entry's
// prompt or messages, its output length unless the request has one, and
// Options.MaxTokens for entries without.
func TestDatasetBody(t *testing.T) {
	for _, chat := range []bool{false, true} {
		api := extensions.APICompletions
		if chat {
			api = extensions.APIChat
		}
		spec := &dataset.Spec{File: promptsSample, Seed: 4}
		c, err := New(extensions.Options{Target: "h:1", Model: "m", API: api, Dataset: spec, MaxTokens: 11})
		if err != nil {
			t.Fatal(err)
		}
		d, err := dataset.Load(*spec, nil, chat)
		if err != nil {
			t.Fatal(err)
		}
		for id := uint64(1); id <= 30; id++ {
			req := &gonogo.Request{ID: id}
			if id == 30 {
				req.OutputTokens = 77
			}
			var body struct {
				Model     string            `json:"model"`
				Prompt    *string           `json:"prompt"`
				Messages  []dataset.Message `json:"messages"`
				MaxTokens int               `json:"max_tokens"`
				MinTokens int               `json:"min_tokens"`
			}
			b := c.Body(req)
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatalf("body %s: %v", b, err)
			}
			e := d.Pick(id)
			want := e.OutputTokens
			switch {
			case req.OutputTokens > 0:
				want = req.OutputTokens
			case want == 0:
				want = 11
			}
			if body.Model != "m" || body.MaxTokens != want || body.MinTokens != want {
				t.Errorf("chat %t id %d: model %q max %d min %d, want %d", chat, id, body.Model, body.MaxTokens, body.MinTokens, want)
			}
			if chat && (body.Prompt != nil || len(body.Messages) != len(e.Messages) || body.Messages[len(body.Messages)-1] != e.Messages[len(e.Messages)-1]) {
				t.Errorf("id %d: messages %v, want %v", id, body.Messages, e.Messages)
			}
			if !chat && (body.Prompt == nil || *body.Prompt != e.Prompt || body.Messages != nil) {
				t.Errorf("id %d: prompt %v, want %q", id, body.Prompt, e.Prompt)
			}
		}
	}
}

func TestDatasetBadOptions(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"prompt\": \"a\"}\n\n{\"messages\": []}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, o := range []extensions.Options{
		{Target: "h:1", Dataset: &dataset.Spec{File: bad}},
		{Target: "h:1", Dataset: &dataset.Spec{File: bad, Format: "yaml"}},
		{Target: "h:1", Tokenizer: "no-such-vocabulary"},
	} {
		_, err := New(o)
		if !errors.Is(err, extensions.ErrBadOptions) {
			t.Errorf("New(%+v) = %v, want ErrBadOptions", o, err)
		}
	}
	_, err := New(extensions.Options{Target: "h:1", Dataset: &dataset.Spec{File: bad}})
	if !strings.Contains(err.Error(), "bad.jsonl:3: messages: empty") {
		t.Errorf("error %q does not name the file, line and field", err)
	}
}

// TestPromptTokensReported runs requests against the fixture counting
// with a tokenizer, streaming and not, over both transports' readers:
// the intended prompt tokens (exact under the tokenizer), those the
// server reported, and the cached ones under prefix caching.
func TestPromptTokensReported(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	cfg.Tokenizer, cfg.PrefixCaching = tokenize.CL100kBase, true
	cfg.StepBase, cfg.StepPerSeq, cfg.PrefillPerToken = 0, 0, 0
	_, url := modelservertest.Start(t, cfg)
	tok, err := tokenize.Load(tokenize.CL100kBase)
	if err != nil {
		t.Fatal(err)
	}
	for _, noStream := range []bool{false, true} {
		o := extensions.Options{Target: url, Tokenizer: tokenize.CL100kBase, NoStream: noStream, MaxTokens: 3}
		c, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 17, 250, 1000} {
			req := &gonogo.Request{ID: uint64(n), InputTokens: n}
			var body struct{ Prompt string }
			if err := json.Unmarshal(c.Body(req), &body); err != nil {
				t.Fatal(err)
			}
			if got := tok.Count(body.Prompt); got != n {
				t.Fatalf("prompt of %d tokens asked has %d", n, got)
			}
			for round := range 2 {
				var res gonogo.Result
				res.Request = req
				c.Do(context.Background(), req, &res)
				if res.Failed() {
					t.Fatalf("n=%d: %s", n, res.Err)
				}
				if res.PromptTokens != n || res.ReportedPromptTokens != n {
					t.Fatalf("stream %t n=%d: intended %d reported %d", !noStream, n, res.PromptTokens, res.ReportedPromptTokens)
				}
				// The second time (or any time after the other mode sent
				// it) the prompt's full blocks of 16 are cached, but the
				// last block of a prompt cached whole is recomputed.
				if wantCached := max((n-1)/16*16, 0); (round == 1 || noStream) && res.CachedPromptTokens != wantCached {
					t.Fatalf("stream %t n=%d round %d: cached %d, want %d", !noStream, n, round, res.CachedPromptTokens, wantCached)
				}
			}
		}
	}
}
