package rollout

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/openai"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/rollout/route"
)

// mirrorEvery makes c's proxy copy every request it routes to stable to
// the canary, as a setMirror step of 100 % (or blue-green's preview)
// does.
func mirrorEvery(c *Controller) {
	tab := *c.proxy.table.Load()
	tab.mirror, tab.mirrorTo = c.mirrorTo(false)
	tab.mirrorBuckets = route.Buckets
	c.proxy.table.Store(&tab)
}

// Mirrored copies are measured like routed requests: with the fixture as
// the canary that only mirrored traffic reaches (blue-green's green in
// preview), their TTFT is the fixture's first step, their chunk gaps its
// decode step, their output and prompt tokens exact, and the same as
// those of the requests routed to stable, one version behind both; an
// answer that is not a completion keeps its first byte's time as TTFT.
func TestMirrorTokenTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("streams for seconds")
	}
	const (
		step, prefill = 12 * time.Millisecond, 400 * time.Microsecond
		prompt, n     = "how many tokens are in here", 6
		requests      = 5
	)
	words := modelserver.PromptTokens(prompt)
	wantTTFT := step + time.Duration(words)*prefill
	for _, slow := range []bool{false, true} {
		c, sink := tokenController(t, tokenFixture(t, step, prefill), tokenFixture(t, step, prefill), slow)
		mirrorEvery(c)
		proxy := "http://" + serveProxy(t, c)
		for _, api := range []string{openai.CompletionsPath, openai.ChatPath} {
			// One request at a time, its copy's answer included: a copy
			// that arrives while the fixture still decodes the previous
			// one waits for its step.
			var got []captured
			for range requests {
				send(t, proxy, api, genBody(api, prompt, n, true), "stable")
				got = append(got, sink.take(t, 2)...)
			}
			ttfts, gaps := map[bool][]time.Duration{}, map[bool][]time.Duration{}
			for _, g := range got {
				if g.backend != map[bool]string{false: "stable", true: "canary"}[g.mirrored] {
					t.Fatalf("slow path %v, %s: a result of %s, mirrored %v: want routed to stable, mirrored to canary", slow, api, g.backend, g.mirrored)
				}
				if g.status != http.StatusOK || g.class != gonogo.ErrNone || g.out != n || g.prompt != words || len(g.gaps) != n-1 {
					t.Fatalf("slow path %v, %s, mirrored %v: status %d %q, %d output tokens, %d prompt tokens, %d gaps; want 200, %d, %d, %d",
						slow, api, g.mirrored, g.status, g.class, g.out, g.prompt, len(g.gaps), n, words, n-1)
				}
				ttfts[g.mirrored] = append(ttfts[g.mirrored], g.ttft)
				var sum time.Duration
				for _, d := range g.gaps {
					sum += d
				}
				gaps[g.mirrored] = append(gaps[g.mirrored], sum/time.Duration(len(g.gaps)))
			}
			for _, mirrored := range []bool{false, true} {
				if len(ttfts[mirrored]) != requests {
					t.Fatalf("slow path %v, %s: %d results mirrored %v, want %d", slow, api, len(ttfts[mirrored]), mirrored, requests)
				}
				ttft, gap := median(ttfts[mirrored]), median(gaps[mirrored])
				t.Logf("slow path %v, %s, mirrored %v: median TTFT %v (fixture %v), median mean gap %v (fixture %v)", slow, api, mirrored, ttft, wantTTFT, gap, step)
				if !within(ttft, wantTTFT, 200*time.Microsecond, 4*time.Millisecond, 0.25) {
					t.Errorf("slow path %v, %s, mirrored %v: median TTFT %v, fixture's %v", slow, api, mirrored, ttft, wantTTFT)
				}
				if !within(gap, step, time.Millisecond, 3*time.Millisecond, 0.2) {
					t.Errorf("slow path %v, %s, mirrored %v: median mean chunk gap %v, fixture's step %v", slow, api, mirrored, gap, step)
				}
			}
			if r, m := median(ttfts[false]), median(ttfts[true]); !within(m, r, max(3*time.Millisecond, r/5), 3*time.Millisecond, 0.2) {
				t.Errorf("slow path %v, %s: median TTFT %v routed, %v mirrored: one version, different figures", slow, api, r, m)
			}
		}
		req, _ := http.NewRequest(http.MethodGet, proxy+openai.ModelsPath, nil)
		req.Header.Set(DefaultOverride, "never")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		for _, g := range sink.take(t, 2) {
			if g.status != http.StatusOK || g.class != gonogo.ErrNone || g.out != 0 || g.ttft <= 0 {
				t.Errorf("slow path %v, %s, mirrored %v: status %d %q, %d output tokens, TTFT %v; want 200, none, a first byte's",
					slow, openai.ModelsPath, g.mirrored, g.status, g.class, g.out, g.ttft)
			}
		}
	}
}

// received is a request as an upstream received it.
type received struct {
	method, uri, agent string
	probe              []string
	body               string
}

// recordingUpstream is an upstream that answers ok and keeps what it received.
func recordingUpstream(t *testing.T) (*httptest.Server, func() []received) {
	var mu sync.Mutex
	var got []received
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{r.Method, r.RequestURI, r.Header.Get("User-Agent"), r.Header.Values("X-Probe"), string(b)})
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	return up, func() []received {
		mu.Lock()
		defer mu.Unlock()
		return append([]received(nil), got...)
	}
}

// A mirrored copy is the request as the client sent it — method, path
// and query (under the backend's base path, as a routed request's),
// headers, no user agent where it sent none, body.
func TestMirrorForwardsAsSent(t *testing.T) {
	stable, _ := recordingUpstream(t)
	canary, mirrored := recordingUpstream(t)
	c, sink := tokenController(t, stable.URL, canary.URL+"/base", true)
	mirrorEvery(c)
	proxy := "http://" + serveProxy(t, c)
	for _, agent := range []string{"probe/1", ""} {
		req, _ := http.NewRequest(http.MethodPut, proxy+"/v1/x?q=1&r=%2F", strings.NewReader("the body"))
		req.Header["X-Probe"] = []string{"a", "b"}
		req.Header.Set("User-Agent", agent) // "": none
		req.Header.Set(DefaultOverride, "never")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		sink.take(t, 2)
	}
	want := []received{
		{http.MethodPut, "/base/v1/x?q=1&r=%2F", "probe/1", []string{"a", "b"}, "the body"},
		{http.MethodPut, "/base/v1/x?q=1&r=%2F", "", []string{"a", "b"}, "the body"},
	}
	got := mirrored()
	if len(got) != len(want) {
		t.Fatalf("the canary received %d mirrored requests, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.method != w.method || g.uri != w.uri || g.agent != w.agent || strings.Join(g.probe, ",") != strings.Join(w.probe, ",") || g.body != w.body {
			t.Errorf("mirrored request %d: %+v, want %+v", i, g, w)
		}
	}
}

// An error event in a 200 stream fails the request as the openai client
// fails it — the same class (protocol) and text — whether routed on the
// fast path, on the slow one, or mirrored; the client still gets every
// byte of the answer unchanged.
func TestProxyErrorEvent(t *testing.T) {
	stream := "data: " + `{"choices":[{"index":0,"delta":{"content":"one"}}]}` + "\n\n" +
		"data: " + `{"choices":[{"index":0,"delta":{"content":" two"}}]}` + "\n\n" +
		"data: " + `{"error":{"object":"error","message":"CUDA out of memory","type":"InternalServerError","code":500}}` + "\n\n" +
		"data: [DONE]\n\n"
	cut := strings.Index(stream, `data: {"error"`)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i, piece := range []string{stream[:cut], stream[cut:]} {
			if i > 0 {
				time.Sleep(5 * time.Millisecond)
			}
			_, _ = io.WriteString(w, piece)
			_ = rc.Flush()
		}
	}))
	defer up.Close()
	body := genBody(openai.ChatPath, "hi", 4, true)

	// What the load client makes of the same answer.
	client, err := openai.New(extensions.Options{Target: up.URL})
	if err != nil {
		t.Fatal(err)
	}
	req := &gonogo.Request{Recorded: &gonogo.Recorded{Method: http.MethodPost, Path: openai.ChatPath, Body: []byte(body),
		Header: http.Header{"Content-Type": {"application/json"}}}}
	want := gonogo.Result{Request: req, Sent: time.Now()}
	client.Do(context.Background(), req, &want)
	if want.Status != http.StatusOK || want.Class != gonogo.ErrProtocol || !strings.Contains(want.Err, "CUDA out of memory") {
		t.Fatalf("the openai client: status %d, %q: %s; want 200, protocol, the server's message", want.Status, want.Class, want.Err)
	}

	for _, slow := range []bool{false, true} {
		c, sink := tokenController(t, up.URL, up.URL, slow)
		mirrorEvery(c)
		proxy := "http://" + serveProxy(t, c)
		if got := send(t, proxy, openai.ChatPath, body, "stable"); string(got) != stream {
			t.Errorf("slow path %v: the client got %q, the upstream sent %q", slow, got, stream)
		}
		for _, g := range sink.take(t, 2) {
			if g.status != http.StatusOK || g.class != want.Class || g.err != want.Err || g.out != 2 {
				t.Errorf("slow path %v, mirrored %v: status %d, %q: %s, %d output tokens; want 200, %q: %s, 2 (as far as it went)",
					slow, g.mirrored, g.status, g.class, g.err, g.out, want.Class, want.Err)
			}
		}
	}
}
