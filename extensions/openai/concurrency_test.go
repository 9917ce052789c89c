package openai

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// Many concurrent streams against the fixture: every one gets exactly the
// truth's completion and token count, whichever connection and reactor
// carried it.
func TestConcurrentStreamsMatchFixture(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	_, url := modelservertest.Start(t, cfg)
	const vus, each, prompt, tokens = 96, 3, 5, 8 // more than batchFrom per reactor
	c, err := New(extensions.Options{Target: url, KeepOutput: true, PromptTokens: prompt, MaxTokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for v := range vus {
		wg.Go(func() {
			res := &gonogo.Result{}
			for i := range each {
				req := &gonogo.Request{ID: uint64(v*each + i)}
				*res = gonogo.Result{Request: req, Sent: time.Now(), ChunkGaps: res.ChunkGaps, Output: res.Output}
				c.Do(context.Background(), req, res)
				want := strings.Join(modelserver.Completion(modelserver.VersionV1, string(appendPrompt(nil, req.ID, prompt)), tokens), " ")
				if res.Class != gonogo.ErrNone || res.OutputTokens != tokens || len(res.ChunkGaps) != tokens-1 || string(res.Output) != want {
					t.Errorf("request %d: %s %s, %d tokens, %d gaps, output %q; want %q", req.ID, res.Class, res.Err,
						res.OutputTokens, len(res.ChunkGaps), res.Output, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
