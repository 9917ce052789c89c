package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	_ "github.com/gonogo-dev/gonogo/extensions/all"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/mirror"
	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// nopClient answers at once.
type nopClient struct{}

func (nopClient) Do(_ context.Context, _ *gonogo.Request, res *gonogo.Result) {
	res.Status, res.Done = 200, time.Now()
}

// BenchmarkClientDo measures what a Client adds on the primary's goroutine
// per request: the copy, the flight, the start of the candidate's
// goroutine, and the pair, written to a discarding pair store.
func BenchmarkClientDo(b *testing.B) {
	c := newClient(b, nopClient{}, []mirror.Target{{Name: "candidate", Client: nopClient{}}}, replay.NewPairWriter(io.Discard), mirror.Options{})
	tags := map[string]string{"region": "eu"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := &gonogo.Request{InputTokens: 100, Tags: tags}
		var res gonogo.Result
		for pb.Next() {
			req.ID++
			res = gonogo.Result{Request: req, Sent: time.Now()}
			c.Do(context.Background(), req, &res)
		}
	})
	b.StopTimer()
	if err := c.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// promptSource replays n recorded OpenAI requests with distinct prompts,
// 2 ms apart: chat for every third, non-streaming for every fifth.
type promptSource struct {
	prompts []string
	bodies  [][]byte
	i       int
}

const e2eMaxTokens = 8

func newPromptSource(n int) *promptSource {
	s := &promptSource{}
	for i := range n {
		prompt := fmt.Sprintf("request %d asks about topic %d in region %d", i, (i*7919)%1000, i%7)
		stream := i%5 != 0
		var body map[string]any
		if i%3 == 0 {
			body = map[string]any{"messages": []map[string]string{{"role": "user", "content": prompt}}}
		} else {
			body = map[string]any{"prompt": prompt}
		}
		body["model"], body["max_tokens"], body["ignore_eos"], body["stream"] = modelserver.DefaultModel, e2eMaxTokens, true, stream
		if stream {
			body["stream_options"] = map[string]bool{"include_usage": true}
		}
		b, _ := json.Marshal(body)
		s.prompts, s.bodies = append(s.prompts, prompt), append(s.bodies, b)
	}
	return s
}

func (s *promptSource) Next(req *gonogo.Request) (time.Duration, bool) {
	if s.i >= len(s.prompts) {
		return 0, false
	}
	i := s.i
	s.i++
	path := "/v1/completions"
	if i%3 == 0 {
		path = "/v1/chat/completions"
	}
	req.Row = int64(i + 1)
	req.Tags = map[string]string{"kind": path}
	req.Recorded = &gonogo.Recorded{Method: "POST", Path: path, Body: s.bodies[i], Header: http.Header{"Content-Type": {"application/json"}}}
	return time.Duration(i) * 2 * time.Millisecond, true
}

// TestShadowEndToEnd replays 500 recorded requests with distinct prompts
// into a v1 primary, a v1 secondary with sampling noise and a v2
// candidate (the fixture), and checks the pair store against the
// fixture's truth: the candidate's text differs from the primary's exactly
// where modelserver.TextDiffers says, and the secondary differs only by
// its noise.
func TestShadowEndToEnd(t *testing.T) {
	const n = 500
	const noise = 0.2
	start := func(version string, seed int64, noise float64) (string, modelserver.Truth) {
		cfg := modelserver.DefaultConfig()
		cfg.Addr, cfg.Version, cfg.Seed = "", version, seed
		cfg.Knobs.Noise = noise
		cfg.Knobs.LatencyScale = 0.25
		_, url := modelservertest.Start(t, cfg)
		return url, cfg.Truth()
	}
	primaryURL, truth := start(modelserver.VersionV1, 1, 0)
	secondaryURL, _ := start(modelserver.VersionV1, 2, noise)
	candidateURL, _ := start(modelserver.VersionV2, 3, 0)
	client := func(url string) gonogo.Client {
		c, err := extensions.New("openai", extensions.Options{Target: url, KeepOutput: true, Timeout: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var store bytes.Buffer
	pw := replay.NewPairWriter(&store)
	fan := newClient(t, client(primaryURL), []mirror.Target{
		{Name: "secondary", Client: client(secondaryURL)},
		{Name: "candidate", Client: client(candidateURL)},
	}, pw, mirror.Options{})
	src := newPromptSource(n)
	s := &scenarios.Scenario{Executor: scenarios.ConstantArrivalRate, Rate: 500, Duration: time.Minute}
	if err := (&scenarios.File{Scenarios: map[string]*scenarios.Scenario{"shadow": s}}).Validate(); err != nil {
		t.Fatal(err)
	}
	rec, _ := analyze.NewRecorder(analyze.Config{})
	scenarios.NewEngine(rec).Run(context.Background(), []scenarios.Plan{{Scenario: s, Client: fan, Source: src}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := fan.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if sum := rec.Summary(time.Now()); sum.Overall.Requests.OK != n {
		t.Fatalf("engine: %+v, want %d ok", sum.Overall.Requests, n)
	}
	for name, st := range fan.Stats() {
		if st != (mirror.Stats{Sent: n}) {
			t.Errorf("%s: %+v, want %d sent and nothing else", name, st, n)
		}
	}

	var pairs, candDiffs, wantDiffs, noisy int
	rows := map[int64]bool{}
	err := replay.ReadPairs(&store, func(p *gonogo.Pair) error {
		pairs++
		if p.Row < 1 || p.Row > n || rows[p.Row] {
			return fmt.Errorf("pair %d: row %d out of range or repeated", p.ID, p.Row)
		}
		rows[p.Row] = true
		prompt := src.prompts[p.Row-1]
		if p.Request != string(src.bodies[p.Row-1]) || p.Tags["kind"] == "" {
			t.Errorf("pair %d: request %q tags %v", p.ID, p.Request, p.Tags)
		}
		if len(p.Exchanges) != 3 {
			return fmt.Errorf("pair %d: %d exchanges", p.ID, len(p.Exchanges))
		}
		for i, target := range []string{"primary", "secondary", "candidate"} {
			ex := p.Exchanges[i]
			if ex.Target != target || ex.Dropped || ex.Class != gonogo.ErrNone || ex.OutputTokens != e2eMaxTokens || ex.LatencyMicros <= 0 || !ex.FromIntended {
				return fmt.Errorf("pair %d row %d: exchange %d: %+v", p.ID, p.Row, i, ex)
			}
		}
		prim, sec, cand := p.Exchanges[0].Output, p.Exchanges[1].Output, p.Exchanges[2].Output
		if want := strings.Join(truth.Completion(modelserver.VersionV1, prompt, e2eMaxTokens), " "); prim != want {
			t.Errorf("row %d: primary %q, want %q", p.Row, prim, want)
		}
		if want := strings.Join(truth.Completion(modelserver.VersionV2, prompt, e2eMaxTokens), " "); cand != want {
			t.Errorf("row %d: candidate %q, want %q", p.Row, cand, want)
		}
		differs := truth.TextDiffers(modelserver.VersionV1, modelserver.VersionV2, prompt)
		if (cand != prim) != differs {
			t.Errorf("row %d: candidate differs = %v, truth says %v", p.Row, cand != prim, differs)
		}
		if differs {
			wantDiffs++
		}
		if cand != prim {
			candDiffs++
		}
		if sec != prim {
			noisy++
			if d := wordDiffs(sec, prim); d != 1 {
				t.Errorf("row %d: secondary differs from primary in %d words, noise changes exactly 1", p.Row, d)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d pairs: candidate differs on %d (truth: %d, %.1f%%); secondary noise on %d (%.1f%%, knob %.0f%%)",
		pairs, candDiffs, wantDiffs, 100*float64(wantDiffs)/n, noisy, 100*float64(noisy)/n, 100*noise)
	if pairs != n {
		t.Errorf("%d pairs, want %d", pairs, n)
	}
	if wantDiffs == 0 {
		t.Error("no prompt selected for divergence: the check proves nothing")
	}
	if lo, hi := n*noise/2, n*noise*1.6; float64(noisy) < lo || float64(noisy) > hi {
		t.Errorf("secondary noise on %d of %d, want about %.0f", noisy, n, n*noise)
	}
}

func wordDiffs(a, b string) int {
	wa, wb := strings.Fields(a), strings.Fields(b)
	if len(wa) != len(wb) {
		return -1
	}
	d := 0
	for i := range wa {
		if wa[i] != wb[i] {
			d++
		}
	}
	return d
}
