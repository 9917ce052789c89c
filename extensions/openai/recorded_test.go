package openai_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/openai"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// A request recorded in a request log is sent as recorded — here a
// streaming chat request — and measured like a generated one.
func TestRecordedRequestAgainstFixture(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	_, url := modelservertest.Start(t, cfg)
	c, err := openai.New(extensions.Options{Target: url, NoStream: true})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"model":"gpt-sim","messages":[{"role":"user","content":"hello there"}],"max_tokens":5,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}`
	req := &gonogo.Request{Recorded: &gonogo.Recorded{Method: "POST", Path: "/v1/chat/completions", Body: []byte(body),
		Header: http.Header{"Content-Type": {"application/json"}}}}
	res := &gonogo.Result{Request: req, Sent: time.Now()}
	c.Do(context.Background(), req, res)
	if res.Class != gonogo.ErrNone {
		t.Fatalf("%s: %s", res.Class, res.Err)
	}
	if res.OutputTokens != 5 || res.TTFT <= 0 || len(res.ChunkGaps) != 4 {
		t.Errorf("output_tokens %d, ttft %v, %d gaps; want 5 streamed tokens", res.OutputTokens, res.TTFT, len(res.ChunkGaps))
	}
}
