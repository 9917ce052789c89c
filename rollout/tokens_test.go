package rollout

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions/openai"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// tokenFixture starts a simulated server whose every decode step takes
// step (none per sequence) and whose prefill takes prefill a prompt
// token, and returns its URL.
func tokenFixture(t *testing.T, step, prefill time.Duration) string {
	cfg := modelserver.DefaultConfig()
	cfg.StepBase, cfg.StepPerSeq, cfg.PrefillPerToken = step, 0, prefill
	_, url := modelservertest.Start(t, cfg)
	return url
}

// captured is what the sink was handed of one routed request (it may
// keep nothing of the result itself: gonogo.Sink).
type captured struct {
	backend     string
	mirrored    bool // a mirrored copy's
	status      int
	class       gonogo.ErrorClass
	err         string
	ttft        time.Duration
	gaps        []time.Duration
	out, prompt int
}

// captureSink records what it is handed, then hands it on.
type captureSink struct {
	gonogo.Sink
	mu  sync.Mutex
	got []captured
}

func (s *captureSink) Record(res *gonogo.Result) {
	s.mu.Lock()
	s.got = append(s.got, captured{backend: res.Request.Tags["backend"], mirrored: res.Request.Tags["mirrored"] == "true",
		status: res.Status, class: res.Class, err: res.Err, ttft: res.TTFT,
		gaps: slices.Clone(res.ChunkGaps), out: res.OutputTokens, prompt: res.ReportedPromptTokens})
	s.mu.Unlock()
	s.Sink.Record(res)
}

// take waits until k results are recorded since the last take (a
// result is recorded after its answer's last byte went to the client)
// and returns them.
func (s *captureSink) take(t *testing.T, k int) []captured {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		got := s.got
		if len(got) >= k {
			s.got = nil
			s.mu.Unlock()
			if len(got) > k {
				t.Fatalf("%d results recorded, want %d", len(got), k)
			}
			return got
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("%d results recorded in 10s, want %d", len(got), k)
		}
	}
}

// tokenRig serves a proxy in front of stableURL and canaryURL with a
// sink that captures what it records; slow makes both backends ones the
// fast path does not reach (a capped pool), so requests go through
// forward.
func tokenRig(t *testing.T, stableURL, canaryURL string, slow bool) (string, *captureSink) {
	t.Helper()
	c, sink := tokenController(t, stableURL, canaryURL, slow)
	return "http://" + serveProxy(t, c), sink
}

// tokenController is tokenRig's controller, its proxy not yet served.
func tokenController(t *testing.T, stableURL, canaryURL string, slow bool) (*Controller, *captureSink) {
	t.Helper()
	opts := ""
	if slow {
		opts = ", maxConns: 8"
	}
	c := proxyController(t, stableURL, canaryURL, opts)
	for _, b := range c.backends {
		if (b.pool == nil) != slow {
			t.Fatalf("backend %s: fast path %v, want %v", b.name, b.pool != nil, !slow)
		}
	}
	sink := &captureSink{Sink: c.proxy.sink}
	c.proxy.sink = sink
	return c, sink
}

// genBody is a completion request of prompt for exactly n tokens.
func genBody(api, prompt string, n int, stream bool) string {
	p := fmt.Sprintf(`"prompt":%q`, prompt)
	if api == openai.ChatPath {
		p = fmt.Sprintf(`"messages":[{"role":"user","content":%q}]`, prompt)
	}
	return fmt.Sprintf(`{%s,"max_tokens":%d,"ignore_eos":true,"stream":%v,"stream_options":{"include_usage":true}}`, p, n, stream)
}

// send posts body to the proxy's target for backend (stable or canary,
// by the override header) and returns the answer's body; any status but
// 200 fails.
func send(t *testing.T, proxy, target, body, backend string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, proxy+target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(DefaultOverride, map[string]string{"stable": "never", "canary": "always"}[backend])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get(BackendHeader) != backend {
		t.Fatalf("%s to %s: %d from %q, %v: %s", target, backend, resp.StatusCode, resp.Header.Get(BackendHeader), err, b)
	}
	return b
}

// within reports whether got is in [want-below, want+above], above being
// at least abs and at least rel of want.
func within(got, want, below, abs time.Duration, rel float64) bool {
	above := max(abs, time.Duration(rel*float64(want)))
	return got >= want-below && got <= want+above
}

// The proxy measures the truth of a stream on both of its paths and
// both completion APIs: TTFT from the request's arrival to the first
// content event is the fixture's first step (decode plus the prompt's
// prefill), the gaps between events its decode step, output tokens what
// it generated and prompt tokens what it reported — and one version
// behind both roles gives both the same figures.
func TestProxyTokenTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("streams for seconds")
	}
	const (
		step, prefill = 12 * time.Millisecond, 400 * time.Microsecond
		prompt, n     = "how many tokens are in here", 6
		perBackend    = 5
	)
	words := modelserver.PromptTokens(prompt)
	wantTTFT := step + time.Duration(words)*prefill
	for _, slow := range []bool{false, true} {
		stableURL, canaryURL := tokenFixture(t, step, prefill), tokenFixture(t, step, prefill)
		proxy, sink := tokenRig(t, stableURL, canaryURL, slow)
		for _, api := range []string{openai.CompletionsPath, openai.ChatPath} {
			for _, backend := range []string{"stable", "canary"} {
				for range perBackend {
					send(t, proxy, api, genBody(api, prompt, n, true), backend)
				}
			}
			ttfts, gaps := map[string][]time.Duration{}, map[string][]time.Duration{}
			for _, c := range sink.take(t, 2*perBackend) {
				if c.status != http.StatusOK || c.class != gonogo.ErrNone || c.out != n || c.prompt != words || len(c.gaps) != n-1 {
					t.Fatalf("slow path %v, %s, %s: status %d %q, %d output tokens, %d prompt tokens, %d gaps; want 200, %d, %d, %d",
						slow, api, c.backend, c.status, c.class, c.out, c.prompt, len(c.gaps), n, words, n-1)
				}
				ttfts[c.backend] = append(ttfts[c.backend], c.ttft)
				var sum time.Duration
				for _, g := range c.gaps {
					sum += g
				}
				gaps[c.backend] = append(gaps[c.backend], sum/time.Duration(len(c.gaps)))
			}
			for _, backend := range []string{"stable", "canary"} {
				if len(ttfts[backend]) != perBackend {
					t.Fatalf("slow path %v, %s: %d results of %s, want %d", slow, api, len(ttfts[backend]), backend, perBackend)
				}
				ttft, gap := median(ttfts[backend]), median(gaps[backend])
				t.Logf("slow path %v, %s, %s: median TTFT %v (fixture %v), median mean gap %v (fixture %v)", slow, api, backend, ttft, wantTTFT, gap, step)
				if !within(ttft, wantTTFT, 200*time.Microsecond, 4*time.Millisecond, 0.25) {
					t.Errorf("slow path %v, %s, %s: median TTFT %v, fixture's %v", slow, api, backend, ttft, wantTTFT)
				}
				if !within(gap, step, time.Millisecond, 3*time.Millisecond, 0.2) {
					t.Errorf("slow path %v, %s, %s: median mean chunk gap %v, fixture's step %v", slow, api, backend, gap, step)
				}
			}
			st, ca := median(ttfts["stable"]), median(ttfts["canary"])
			if !within(ca, st, max(3*time.Millisecond, st/5), 3*time.Millisecond, 0.2) {
				t.Errorf("slow path %v, %s: median TTFT %v on stable, %v on canary: one version, different figures", slow, api, st, ca)
			}
			sg, cg := median(gaps["stable"]), median(gaps["canary"])
			if !within(cg, sg, max(2*time.Millisecond, sg/5), 2*time.Millisecond, 0.2) {
				t.Errorf("slow path %v, %s: median chunk gap %v on stable, %v on canary: one version, different figures", slow, api, sg, cg)
			}
		}
	}
}

// A non-streaming answer is read for its usage and keeps the time to its
// first byte — the whole answer, after every decode step — as TTFT; an
// answer that is not a completion keeps it too and counts no tokens.
func TestProxyTokensNotStreamed(t *testing.T) {
	const step, prompt, n = 5 * time.Millisecond, "four words of prompt", 4
	url := tokenFixture(t, step, 0)
	for _, slow := range []bool{false, true} {
		proxy, sink := tokenRig(t, url, url, slow)
		send(t, proxy, openai.ChatPath, genBody(openai.ChatPath, prompt, n, false), "canary")
		req, _ := http.NewRequest(http.MethodGet, proxy+openai.ModelsPath, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got := sink.take(t, 2)
		if c := got[0]; c.out != n || c.prompt != 4 || len(c.gaps) != 0 || c.ttft < n*step {
			t.Errorf("slow path %v, JSON answer: %d output, %d prompt tokens, %d gaps, TTFT %v; want %d, 4, 0, at least %v",
				slow, c.out, c.prompt, len(c.gaps), c.ttft, n, n*step)
		}
		if c := got[1]; c.status != http.StatusOK || c.out != 0 || c.prompt != 0 || c.ttft <= 0 {
			t.Errorf("slow path %v, %s: status %d, %d output, %d prompt tokens, TTFT %v; want 200, none, a first byte's", slow, openai.ModelsPath, c.status, c.out, c.prompt, c.ttft)
		}
	}
}

// Events split anywhere across the upstream's writes are measured when
// they are whole: TTFT and gaps are the times their last pieces passed.
func TestProxyTokensSplitEvents(t *testing.T) {
	const pause = 40 * time.Millisecond
	stream := "data: " + `{"choices":[{"text":"one"}]}` + "\n\n" + "data: " + `{"choices":[{"text":" two"}]}` + "\r\n\r\n" +
		"data: " + `{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}}` + "\n\ndata: [DONE]\n\n"
	// Cut inside the first event's JSON, inside the second's blank line.
	cut1, cut2 := strings.Index(stream, `"one"`), strings.Index(stream, "\r\n\r\n")+2
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i, piece := range []string{stream[:cut1], stream[cut1:cut2], stream[cut2:]} {
			if i > 0 {
				time.Sleep(pause)
			}
			_, _ = io.WriteString(w, piece)
			_ = rc.Flush()
		}
	}))
	defer up.Close()
	for _, slow := range []bool{false, true} {
		proxy, sink := tokenRig(t, up.URL, up.URL, slow)
		send(t, proxy, "/v1/completions", `{"prompt":"x","stream":true}`, "stable")
		got := sink.take(t, 1)
		c := got[0]
		if c.out != 2 || c.prompt != 9 || len(c.gaps) != 1 || !within(c.ttft, pause, 0, 25*time.Millisecond, 0) || !within(c.gaps[0], pause, 0, 25*time.Millisecond, 0) {
			t.Errorf("slow path %v: %d output, %d prompt tokens, TTFT %v, gaps %v; want 2, 9, %v and [%v] (each at most 25ms more)",
				slow, c.out, c.prompt, c.ttft, c.gaps, pause, pause)
		}
	}
}

// A canary whose decode is three times slower, but whose prefill is
// shorter by as much, answers in the same time as stable: the latency
// gate passes it, and the tpot gate on the traffic the proxy routed rolls
// it back. The same version in both roles is promoted.
func TestTPOTGateRollsBackSlowDecode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs rollouts for seconds")
	}
	// Answers are n tokens: stable's prompt takes 2·n·step of prefill
	// and its answer n steps, the slow canary's n steps of 3·step and no
	// prefill — (3n)·step both.
	const step, n = 2 * time.Millisecond, 4
	prefill := 2 * n * step / time.Duration(modelserver.PromptTokens(loadPrompt(0)))
	stable := tokenFixture(t, step, prefill)
	for _, c := range []struct {
		name, canary string
		phase        string
	}{
		{"same", tokenFixture(t, step, prefill), PhasePromoted},
		{"slow-decode", tokenFixture(t, 3*step, 0), PhaseRolledBack},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := serve(t, fmt.Sprintf(`name: %s
listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0}
backends:
  - {name: stable, url: %q, role: stable}
  - {name: canary, url: %q, role: canary}
routing: {sticky: {header: X-User}}
analysis:
  interval: 1s
  window: 3s
  minRequests: 20
  gates:
    - {name: canary tpot, metric: "tpot{role:canary}", compare: "role:stable", stat: p(50), allowed: 50%%, critical: true}
    - {name: canary median latency, metric: "latency{role:canary}", compare: "role:stable", stat: p(50), allowed: 50%%, critical: true}
    - {name: canary errors, metric: "errors{role:canary}", expr: rate<0.05, critical: true}
strategy:
  canary:
    steps:
      - setWeight: 50
      - pause: {duration: 6s}
`, c.name, stable, c.canary), filepath.Join(t.TempDir(), "s.db"))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			failed := streamLoad(ctx, s, 20, n)
			wait(t, s, 40*time.Second)
			cancel()
			byTPOT := strings.Contains(s.st.Message, "canary tpot") && !strings.Contains(s.st.Message, "latency")
			if s.st.Phase != c.phase || (c.phase == PhaseRolledBack && !byTPOT) {
				t.Fatalf("ended %s: %s; want %s, by the tpot gate alone when rolled back", s.st.Phase, s.st.Message, c.phase)
			}
			if f := failed.Load(); f > 0 {
				t.Errorf("%d requests failed while the proxy served", f)
			}
			t.Logf("ended %s: %s", s.st.Phase, s.st.Message)
		})
	}
}

// loadPrompt is streamLoad's prompt i: three words.
func loadPrompt(i int) string { return fmt.Sprintf("user question %d", i) }

// streamLoad sends rps streamed completions of n tokens a second to s's
// proxy from random sticky users until ctx ends, and counts the answers
// that were not 200 while the proxy served.
func streamLoad(ctx context.Context, s *served, rps, n int) *atomic.Int64 {
	failed := &atomic.Int64{}
	tick := time.NewTicker(time.Second / time.Duration(rps))
	go func() {
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			go func(i int) {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.proxy+openai.CompletionsPath,
					strings.NewReader(genBody(openai.CompletionsPath, loadPrompt(i), n, true)))
				req.Header.Set("X-User", fmt.Sprintf("user-%d", rand.IntN(5000)))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // refused once the rollout ended and the proxy closed
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}(i)
		}
	}()
	return failed
}
