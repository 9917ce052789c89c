package openai

import (
	"context"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// A target written as the OpenAI SDKs write a base URL, ending in /v1,
// is the same target as the bare host: no /v1/v1/... paths.
func TestTargetWithV1(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	_, url := modelservertest.Start(t, cfg)
	for _, tt := range []struct{ name, target string }{{"bare", url}, {"v1", url + "/v1"}, {"v1 slash", url + "/v1/"}} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(extensions.Options{Target: tt.target, Model: modelserver.DefaultModel, MaxTokens: 3, PromptTokens: 4})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Check(context.Background()); err != nil {
				t.Fatalf("Check: %v", err)
			}
			req := &gonogo.Request{ID: 1}
			res := &gonogo.Result{Request: req, Sent: time.Now()}
			c.Do(context.Background(), req, res)
			if res.Class != gonogo.ErrNone || res.OutputTokens != 3 {
				t.Errorf("class %q (%s), %d output tokens; want success with 3", res.Class, res.Err, res.OutputTokens)
			}
		})
	}
}

func TestNewBadAPI(t *testing.T) {
	_, err := New(extensions.Options{Target: "h:1", API: "responses"})
	const want = `openai: extensions: invalid options: --api "responses": want completions or chat`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}
