package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/store"
)

func TestCycleLag(t *testing.T) {
	for n, want := range map[int]int{1: 5, 2: 6, 3: 6, 4: 8, 5: 5, 6: 6, 1000: 1000} {
		if got := cycleLag(n); got != want {
			t.Errorf("cycleLag(%d) = %d, want %d", n, got, want)
		}
		if got := cycleLag(n); got < 5 || got%n != 0 {
			t.Errorf("cycleLag(%d) = %d: not whole cycles spanning five", n, got)
		}
	}
}

// A warm backend answers a recorded trace of a long and a short prompt,
// alternating, in 50 ms and 5 ms (± 4 %): comparing the last five with
// the five before never settles (their medians are of opposite
// parities), comparing them with the same requests a cycle before does
// at once.
func TestSteadyWithRecordedVariety(t *testing.T) {
	var lat []time.Duration
	for i := range 40 {
		d := 5 * time.Millisecond
		if i%2 == 0 {
			d = 50 * time.Millisecond
		}
		lat = append(lat, d+time.Duration(i%5-2)*d/50)
	}
	for n := 10; n <= len(lat); n++ {
		if steady(lat[:n], 5, 0.25) {
			t.Fatalf("the five-before rule settled at %d requests on alternating latencies", n)
		}
	}
	lag := cycleLag(2)
	if steady(lat[:lag+4], lag, 0.25) {
		t.Error("settled before it had two windows")
	}
	if !steady(lat[:lag+5], lag, 0.25) {
		t.Errorf("the cycle rule did not settle at %d requests", lag+5)
	}
	// A backend still getting faster (a cold first cycle) is not steady.
	cold := append(append([]time.Duration{}, lat[:6]...), lat[:5]...)
	for i := range 6 {
		cold[i] *= 3
	}
	if steady(cold, lag, 0.25) {
		t.Error("a cycle three times slower than the next counted as steady")
	}
}

// seen is what a counting server in front of a fixture received.
type seen struct {
	method, path, body, traceID string
	took                        time.Duration
}

// countingProxy serves the fixture at target, recording every request
// but the health checks.
func countingProxy(t *testing.T, target string) (string, func() []seen) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		got []seen
	)
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == DefaultHealth {
			rp.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		start := time.Now()
		rp.ServeHTTP(w, r)
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.RequestURI(), string(body), r.Header.Get("X-Trace-Id"), time.Since(start)})
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return append([]seen(nil), got...)
	}
}

// warmController is a controller of the rollout file src, whose files
// are under dir.
func warmController(t *testing.T, dir, src string) (*Controller, *store.DB) {
	t.Helper()
	cfg, err := ParseConfig(filepath.Join(dir, "rollout.yaml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	c, err := New(context.Background(), Options{Config: cfg, Store: db, Log: &lockedBuffer{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, b := range c.backends {
			b.closeIdle()
		}
	})
	return c, db
}

// promptWords is a prompt of n distinct words.
func promptWords(n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = fmt.Sprintf("w%d", i)
	}
	return strings.Join(w, " ")
}

// completionLine is a request log line of a completion of prompt.
func completionLine(i int, prompt string) string {
	body, _ := json.Marshal(map[string]any{"prompt": prompt, "max_tokens": 1, "ignore_eos": true})
	line, _ := json.Marshal(map[string]any{"ts": i, "method": "POST", "path": "/v1/completions",
		"headers": map[string]string{"Content-Type": "application/json", "X-Trace-Id": fmt.Sprint(i), "Authorization": "Bearer s3cret"},
		"body":    string(body)})
	return string(line) + "\n"
}

// The warm-up sends the recorded requests, in order, cycling, with their
// headers and bodies, until the same requests one cycle apart take the
// same time; the canary is then eligible. The trace alternates a long and
// a short prompt, whose latencies the fixture sets apart by its prefill
// time: the rule of the synthetic warm-up (the five before) would never
// have settled on them.
func TestWarmupSendsRecordedRequests(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	cfg.Knobs.LatencyScale = 0.5
	_, stable := modelservertest.Start(t, cfg)
	_, fixtureURL := modelservertest.Start(t, cfg)
	canary, received := countingProxy(t, fixtureURL)

	dir := t.TempDir()
	prompts := []string{promptWords(3000), "short", promptWords(2500), "tiny prompt"}
	var trace strings.Builder
	for i, p := range prompts {
		trace.WriteString(completionLine(i, p))
	}
	writeFiles(t, dir, map[string]string{"warm.jsonl": trace.String()})
	c, db := warmController(t, dir, warmTraceYAML(stable, canary, "warmup: {trace: warm.jsonl, requests: 8, stableWithin: 0.5, timeout: 30s}\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := c.warm(ctx, c.backends[0]); err != nil {
		t.Fatal(err)
	}
	if !c.backends[0].eligible.Load() {
		t.Error("the warmed canary is not eligible")
	}
	got := received()
	if lag := cycleLag(len(prompts)); len(got) < lag+5 || len(got) > 8*warmCap {
		t.Fatalf("%d warm-up requests, want %d to %d", len(got), lag+5, 8*warmCap)
	}
	var lat []time.Duration
	for i, s := range got {
		want := fmt.Sprint(i % len(prompts))
		var body struct{ Prompt string }
		if err := json.Unmarshal([]byte(s.body), &body); err != nil {
			t.Fatalf("request %d body %q: %v", i, s.body, err)
		}
		if s.method != http.MethodPost || s.path != "/v1/completions" || s.traceID != want || body.Prompt != prompts[i%len(prompts)] {
			t.Fatalf("request %d: %s %s X-Trace-Id %q (prompt of %d words), want the recorded request %s",
				i, s.method, s.path, s.traceID, len(strings.Fields(body.Prompt)), want)
		}
		lat = append(lat, s.took)
	}
	for n := 10; n <= len(lat); n++ {
		if steady(lat[:n], 5, *c.cfg.Warmup.StableWithin) {
			t.Errorf("the five-before rule settled at %d (latencies %v): the trace does not tell the rules apart", n, lat)
			break
		}
	}
	evs, err := db.Events(ctx, c.cfg.Name, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	warmed := false
	for _, e := range evs {
		if strings.Contains(e.Reason, "s3cret") {
			t.Errorf("event %q shows a recorded header", e.Reason)
		}
		warmed = warmed || e.Kind == "warm"
	}
	if !warmed {
		t.Error("no warm event")
	}
}

// cachedTokens sends prompt to the fixture at base and returns the prompt
// tokens its prefix cache served.
func cachedTokens(t *testing.T, base, prompt string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"prompt": prompt, "max_tokens": 1})
	resp, err := http.Post(base+"/v1/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Usage struct {
			PromptTokensDetails *struct {
				CachedTokens int `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/completions: %s, %v", resp.Status, err)
	}
	if out.Usage.PromptTokensDetails == nil {
		t.Fatal("no prompt_tokens_details: is prefix caching on?")
	}
	return out.Usage.PromptTokensDetails.CachedTokens
}

// A prefix-caching canary warmed by recorded prompts answers the first
// real requests with those prompts from its cache (every full block but
// the last token's, as the fixture's truth says); one warmed by the
// synthetic request has nothing of them cached.
func TestWarmupRecordedFillsPrefixCache(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	cfg.Knobs.LatencyScale = 0.2
	cfg.PrefixCaching = true
	_, stable := modelservertest.Start(t, cfg)
	_, recorded := modelservertest.Start(t, cfg)
	_, synthetic := modelservertest.Start(t, cfg)

	dir := t.TempDir()
	prompts := []string{promptWords(203), "system prompt " + promptWords(150)}
	writeFiles(t, dir, map[string]string{"warm.jsonl": completionLine(0, prompts[0]) + completionLine(1, prompts[1])})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	for _, w := range []struct{ url, warmup string }{
		{recorded, "warmup: {trace: warm.jsonl, requests: 10, stableWithin: 1}\n"},
		{synthetic, "warmup: {requests: 10, stableWithin: 1, method: POST, path: /v1/completions, body: '{\"prompt\":\"warm up\",\"max_tokens\":1}'}\n"},
	} {
		c, _ := warmController(t, dir, warmTraceYAML(stable, w.url, w.warmup))
		if err := c.warm(ctx, c.backends[0]); err != nil {
			t.Fatalf("%s: %v", w.warmup, err)
		}
	}
	block := modelserver.DefaultPrefixBlock
	for _, p := range prompts {
		n := len(strings.Fields(p))
		want := n / block * block
		if want == n {
			want -= block // the last token is always computed
		}
		if got := cachedTokens(t, recorded, p); got != want || want == 0 {
			t.Errorf("recorded warm-up: %d of %d prompt tokens cached, want %d", got, n, want)
		}
		if got := cachedTokens(t, synthetic, p); got != 0 {
			t.Errorf("synthetic warm-up: %d of %d prompt tokens cached, want 0", got, n)
		}
	}
}
