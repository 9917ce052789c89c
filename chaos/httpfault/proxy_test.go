package httpfault

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/kserve"
	"github.com/gonogo-dev/gonogo/extensions/openai"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// The two ways a proxy serves: its Server (the fast path, as gonogo
// chaos proxy runs it) and as an http.Handler under net/http.
const (
	modeServer  = "server"
	modeHandler = "handler"
)

var serveModes = []string{modeServer, modeHandler}

// startProxy serves a proxy to upstream on loopback for the test, with
// its Server.
func startProxy(t *testing.T, upstream string, opts ...Option) (*Proxy, string) {
	t.Helper()
	return startProxyMode(t, modeServer, upstream, opts...)
}

// forModes runs fn for each way a proxy serves.
func forModes(t *testing.T, fn func(t *testing.T, mode string)) {
	for _, m := range serveModes {
		t.Run(m, func(t *testing.T) { fn(t, m) })
	}
}

// startProxyMode serves a proxy to upstream one way or the other.
func startProxyMode(t *testing.T, mode, upstream string, opts ...Option) (*Proxy, string) {
	t.Helper()
	p, err := New(upstream, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if mode == modeHandler {
		srv := httptest.NewServer(p)
		t.Cleanup(srv.Close)
		return p, srv.URL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(p)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return p, "http://" + ln.Addr().String()
}

func pct(v float64) *float64 { return &v }

// Duration shortens chaos.Duration in the fault literals below.
type Duration = chaos.Duration

func mustAdd(t *testing.T, p *Proxy, f Fault) string {
	t.Helper()
	id, err := p.Add(f)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// run sends n requests through c with w workers and returns the results.
func run(t *testing.T, c gonogo.Client, n, w int) []gonogo.Result {
	t.Helper()
	out := make([]gonogo.Result, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				req := &gonogo.Request{ID: uint64(i + 1), Intended: time.Now()}
				res := &out[i]
				res.Request, res.Sent = req, req.Intended
				c.Do(context.Background(), req, res)
				res.ChunkGaps = slices.Clone(res.ChunkGaps)
			}
		}()
	}
	wg.Wait()
	return out
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func latencies(rs []gonogo.Result) []time.Duration {
	var out []time.Duration
	for i := range rs {
		if !rs[i].Failed() {
			out = append(out, rs[i].ServiceTime())
		}
	}
	return out
}

func kserveClient(t *testing.T, target string) gonogo.Client {
	t.Helper()
	c, err := kserve.New(extensions.Options{Target: target, Model: modelserver.DefaultClassifierModel})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openaiClient(t *testing.T, target string, maxTokens int) gonogo.Client {
	t.Helper()
	c, err := openai.New(extensions.Options{Target: target, MaxTokens: maxTokens, PromptTokens: 8})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDelayTruth: a 200 ms ± 50 ms uniform delay moves the client-side
// median by 200 ms, within 5 ms, and leaves requests it does not select
// alone.
func TestDelayTruth(t *testing.T) {
	if raceEnabled {
		t.Skip("a timing truth: the race detector's slowdown swamps its 5 ms tolerance")
	}
	_, up := modelservertest.Start(t, modelserver.DefaultConfig())
	p, addr := startProxy(t, up, WithSeed(7))
	direct := median(latencies(run(t, kserveClient(t, up), 400, 8)))
	mustAdd(t, p, Fault{ID: "slow", Match: Match{Path: "/v2/models/*/infer"},
		Delay: &chaos.Delay{Mean: Duration(200 * time.Millisecond), Variation: Duration(50 * time.Millisecond), Distribution: chaos.DistUniform}})
	// The truth: the delays the proxy draws for requests 1..n are known
	// from its seed, so the test's own sampling adds no error.
	const n = 800
	e := p.list()[0]
	drawn := make([]time.Duration, n)
	for i := range drawn {
		drawn[i] = e.delayOf(p.seed, uint64(i+1))
	}
	rs := run(t, kserveClient(t, addr), n, 60)
	got := median(latencies(rs))
	want := median(drawn) + direct
	if d := got - want; d < -5*time.Millisecond || d > 5*time.Millisecond {
		t.Errorf("median through the delay = %v, want %v ± 5 ms (drawn median %v, direct %v)", got, want, median(drawn), direct)
	}
	lat := latencies(rs)
	slices.Sort(lat)
	lo, hi := slices.Min(drawn), slices.Max(drawn)
	if lo < 150*time.Millisecond || hi > 250*time.Millisecond || lat[0] < lo || lat[len(lat)-1] > hi+100*time.Millisecond {
		t.Errorf("drawn %v..%v, measured %v..%v: want draws within 150..250 ms and every latency at least its delay", lo, hi, lat[0], lat[len(lat)-1])
	}
	if m, a := p.Counts("slow"); m != n || a != n {
		t.Errorf("counts = %d matched, %d affected, want %d and %d", m, a, n, n)
	}
	t.Logf("direct median %v, drawn median %v, through a 200±50 ms delay %v (error %v)", direct, median(drawn), got, got-want)
}

// TestErrorRateTruth: a 5 % error fault over 20 000 requests is measured
// at 5 % ± 0.5 pp, with Retry-After, and the client sees exactly the
// requests the proxy says it affected.
func TestErrorRateTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("20 000 requests")
	}
	_, up := modelservertest.Start(t, modelserver.DefaultConfig())
	p, addr := startProxy(t, up, WithSeed(3))
	mustAdd(t, p, Fault{ID: "e5", Match: Match{Percent: pct(5)},
		Error: &Error{Status: 429, Body: `{"error":"slow down"}`, RetryAfter: Duration(2 * time.Second)}})
	const n = 20000
	rs := run(t, kserveClient(t, addr), n, 64)
	failed := 0
	for i := range rs {
		if rs[i].Failed() {
			failed++
			if rs[i].Status != 429 || rs[i].Class != gonogo.ErrHTTP4xx {
				t.Fatalf("failure %d: status %d class %s, want 429 http_4xx", i, rs[i].Status, rs[i].Class)
			}
		}
	}
	rate := float64(failed) / n
	if rate < 0.045 || rate > 0.055 {
		t.Errorf("error rate %.4f, want 0.05 ± 0.005", rate)
	}
	if _, a := p.Counts("e5"); a != int64(failed) {
		t.Errorf("proxy affected %d, client saw %d failures", a, failed)
	}
	t.Logf("injected 5 %% errors: measured %.4f over %d requests", rate, n)
}

// TestAbortAfterChunks: an abort after 10 SSE events is a protocol error
// for the openai client, with exactly 10 content chunks seen.
func TestAbortAfterChunks(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		_, up := modelservertest.Start(t, modelserver.DefaultConfig())
		p, addr := startProxyMode(t, mode, up)
		mustAdd(t, p, Fault{ID: "cut", Abort: &Abort{When: AfterChunks, Chunks: 10}})
		for _, res := range run(t, openaiClient(t, addr, 32), 20, 4) {
			if res.Class != gonogo.ErrProtocol {
				t.Fatalf("class %q (%s), want protocol", res.Class, res.Err)
			}
			if chunks := len(res.ChunkGaps) + 1; chunks != 10 || res.TTFT <= 0 {
				t.Fatalf("%d chunks seen (ttft %v), want 10", chunks, res.TTFT)
			}
		}
	})
}

// TestStreamFaults: stream faults as the openai client measures them.
func TestStreamFaults(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		_, up := modelservertest.Start(t, modelserver.DefaultConfig())
		base := run(t, openaiClient(t, up, 8), 10, 2)
		baseTTFT := base[0].TTFT
		cases := []struct {
			name  string
			f     Stream
			check func(t *testing.T, res gonogo.Result)
		}{
			{"first chunk delay", Stream{FirstChunkDelay: Duration(150 * time.Millisecond)}, func(t *testing.T, res gonogo.Result) {
				if res.Failed() || res.TTFT < 150*time.Millisecond || res.TTFT > baseTTFT+200*time.Millisecond {
					t.Errorf("ttft %v (%s), want 150 ms more than %v", res.TTFT, res.Err, baseTTFT)
				}
			}},
			{"chunk delay", Stream{ChunkDelay: Duration(40 * time.Millisecond)}, func(t *testing.T, res gonogo.Result) {
				if res.Failed() || len(res.ChunkGaps) == 0 || median(res.ChunkGaps) < 40*time.Millisecond {
					t.Errorf("gaps %v (%s), want each ≥ 40 ms", res.ChunkGaps, res.Err)
				}
			}},
			{"truncate", Stream{Truncate: true}, func(t *testing.T, res gonogo.Result) {
				if res.Class != gonogo.ErrProtocol || !strings.Contains(res.Err, "[DONE]") || len(res.ChunkGaps)+1 != 8 {
					t.Errorf("class %q err %q, %d chunks, want a protocol error for a stream without [DONE] after all 8 chunks", res.Class, res.Err, len(res.ChunkGaps)+1)
				}
			}},
			{"truncate after 3", Stream{Truncate: true, TruncateAfter: 3}, func(t *testing.T, res gonogo.Result) {
				if res.Class != gonogo.ErrProtocol || len(res.ChunkGaps)+1 != 3 {
					t.Errorf("class %q, %d chunks, want protocol after 3", res.Class, len(res.ChunkGaps)+1)
				}
			}},
			{"malformed", Stream{MalformedChunk: 2}, func(t *testing.T, res gonogo.Result) {
				if res.Class != gonogo.ErrProtocol {
					t.Errorf("class %q (%s), want protocol", res.Class, res.Err)
				}
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				p, addr := startProxyMode(t, mode, up)
				f := tc.f
				mustAdd(t, p, Fault{Stream: &f})
				for _, res := range run(t, openaiClient(t, addr, 8), 4, 2) {
					tc.check(t, res)
				}
			})
		}
	})
}

// TestAborts: where each abort cuts, as a raw HTTP client sees it.
func TestAborts(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		body := strings.Repeat("x", 10000)
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Up", "1")
			io.WriteString(w, body)
		}))
		defer up.Close()
		cases := []struct {
			abort       Abort
			wantHeaders bool
			wantBytes   int
		}{
			{Abort{When: BeforeHeaders}, false, 0},
			{Abort{When: AfterHeaders}, true, 0},
			{Abort{When: AfterBytes, Bytes: 1234}, true, 1234},
		}
		for _, tc := range cases {
			t.Run(tc.abort.When, func(t *testing.T) {
				p, addr := startProxyMode(t, mode, up.URL)
				a := tc.abort
				mustAdd(t, p, Fault{Abort: &a})
				res, err := http.Get(addr)
				if !tc.wantHeaders {
					if err == nil {
						res.Body.Close()
						t.Fatalf("got a response (%d), want the connection closed before headers", res.StatusCode)
					}
					return
				}
				if err != nil {
					t.Fatalf("no headers: %v", err)
				}
				defer res.Body.Close()
				if res.Header.Get("X-Up") != "1" {
					t.Errorf("upstream headers missing")
				}
				b, err := io.ReadAll(res.Body)
				if err == nil || len(b) != tc.wantBytes {
					t.Errorf("read %d bytes, err %v; want %d bytes then an error", len(b), err, tc.wantBytes)
				}
			})
		}
	})
}

// TestBodyFaults: a replaced or patched body breaks the kserve client's
// check of the answer (a protocol error), and the patch lands where said.
func TestBodyFaults(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		_, up := modelservertest.Start(t, modelserver.DefaultConfig())
		bad := `{"outputs": [`
		for name, b := range map[string]Body{
			"replace": {Replace: &bad},
			"patch":   {Patch: map[string]any{"outputs.0.shape": []any{1, 7}}},
		} {
			t.Run(name, func(t *testing.T) {
				p, addr := startProxyMode(t, mode, up)
				mustAdd(t, p, Fault{Body: &b})
				rs := run(t, kserveClient(t, addr), 5, 1)
				for _, res := range rs {
					if res.Class != gonogo.ErrProtocol {
						t.Errorf("class %q (%s), want protocol", res.Class, res.Err)
					}
				}
			})
		}
		got, ok := patchJSON([]byte(`{"outputs":[{"name":"p","shape":[1,10]}]}`), map[string]any{"outputs.0.shape": []any{1, 7}, "extra.x": 1})
		if !ok || string(got) != `{"extra":{"x":1},"outputs":[{"name":"p","shape":[1,7]}]}` {
			t.Errorf("patch = %s, %v", got, ok)
		}
		if _, ok := patchJSON([]byte(`{"a":1}`), map[string]any{"a.b": 1}); ok {
			t.Errorf("patching through a number succeeded")
		}
	})
}

// TestBandwidth: a 100 kB/s cap makes a 50 kB body take about 0.5 s.
func TestBandwidth(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		body := strings.Repeat("y", 50000)
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) }))
		defer up.Close()
		p, addr := startProxyMode(t, mode, up.URL)
		mustAdd(t, p, Fault{Bandwidth: &Bandwidth{BytesPerSec: 100000}})
		start := time.Now()
		res, err := http.Get(addr)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		took := time.Since(start)
		if err != nil || len(b) != len(body) {
			t.Fatalf("read %d bytes: %v", len(b), err)
		}
		if took < 450*time.Millisecond || took > 800*time.Millisecond {
			t.Errorf("50 kB at 100 kB/s took %v, want about 500 ms", took)
		}
	})
}

// TestSelectors: path, method, header and model select per request;
// percentages are drawn per request even on one keep-alive connection.
func TestSelectors(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
		defer up.Close()
		p, addr := startProxyMode(t, mode, up.URL, WithSeed(11))
		mustAdd(t, p, Fault{ID: "gold", Match: Match{Path: "/v1/*", Method: "POST", Headers: map[string]string{"X-Tier": "gold"}, Model: "llama"},
			Error: &Error{Status: 503}})
		mustAdd(t, p, Fault{ID: "half", Match: Match{Path: "/half", Percent: pct(50)}, Error: &Error{Status: 500}})
		c := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
		status := func(method, path, tier, body string) int {
			req, _ := http.NewRequest(method, addr+path, strings.NewReader(body))
			if tier != "" {
				req.Header.Set("X-Tier", tier)
			}
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return res.StatusCode
		}
		for _, tc := range []struct {
			method, path, tier, body string
			want                     int
		}{
			{"POST", "/v1/chat/completions", "gold", `{"model":"llama"}`, 503},
			{"POST", "/v1/chat/completions", "gold", `{"model":"other"}`, 200},
			{"POST", "/v1/chat/completions", "silver", `{"model":"llama"}`, 200},
			{"GET", "/v1/chat/completions", "gold", `{"model":"llama"}`, 200},
			{"POST", "/v2/models/llama/infer", "gold", ``, 200},
		} {
			if got := status(tc.method, tc.path, tc.tier, tc.body); got != tc.want {
				t.Errorf("%s %s tier %q body %s: %d, want %d", tc.method, tc.path, tc.tier, tc.body, got, tc.want)
			}
		}
		fails := 0
		for range 400 {
			if status("GET", "/half", "", "") == 500 {
				fails++
			}
		}
		if fails < 160 || fails > 240 {
			t.Errorf("50 %% fault on one connection failed %d of 400", fails)
		}
	})
}

// TestExclusiveBands: exclusive faults on overlapping selectors share
// one draw: 5 % errors and 3 % aborts act on 8 % of requests, never both
// on one; past 100 % they contradict.
func TestExclusiveBands(t *testing.T) {
	p, err := New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, p, Fault{ID: "a", Match: Match{Method: "GET", Percent: pct(60)}, Error: &Error{Status: 500}})
	mustAdd(t, p, Fault{ID: "b", Match: Match{Path: "/x", Percent: pct(40)}, Abort: &Abort{When: BeforeHeaders}})
	if _, err := p.Add(Fault{ID: "c", Match: Match{Path: "/x*", Percent: pct(1)}, Error: &Error{Status: 502}}); err == nil {
		t.Fatal("a third exclusive fault past 100 % was accepted")
	}
	// A fault on a path the others cannot match has the whole range.
	mustAdd(t, p, Fault{ID: "d", Match: Match{Path: "/other", Method: "PUT", Percent: pct(100)}, Error: &Error{Status: 502}})
	bands := map[string][2]float64{}
	for _, e := range p.list() {
		bands[e.f.ID] = e.band
	}
	if bands["a"] != [2]float64{0, 60} || bands["b"] != [2]float64{60, 100} {
		t.Errorf("bands %v", bands)
	}
	if err := p.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if err := p.Remove("a"); err == nil {
		t.Error("removing twice succeeded")
	}
	mustAdd(t, p, Fault{ID: "c", Match: Match{Path: "/x*", Percent: pct(10)}, Error: &Error{Status: 502}})
}

// TestLeaseLapses: a fault with a lease acts until the lease lapses,
// unless renewed.
func TestLeaseLapses(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer up.Close()
	p, addr := startProxy(t, up.URL)
	mustAdd(t, p, Fault{ID: "l", Lease: Duration(300 * time.Millisecond), Error: &Error{Status: 500}})
	get := func() int {
		res, err := http.Get(addr)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for range 4 {
		if get() != 500 {
			t.Fatal("fault not in force during its lease")
		}
		time.Sleep(150 * time.Millisecond)
		if err := p.Renew("l"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(400 * time.Millisecond)
	if got := get(); got != 200 {
		t.Errorf("after the lease lapsed: %d, want 200", got)
	}
	if len(p.List()) != 0 {
		t.Errorf("a lapsed fault is still listed: %+v", p.List())
	}
}

// TestStartDuration: a fault added with start and duration acts only in
// its span.
func TestStartDuration(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer up.Close()
	p, addr := startProxy(t, up.URL)
	mustAdd(t, p, Fault{Start: Duration(200 * time.Millisecond), Duration: Duration(300 * time.Millisecond), Error: &Error{Status: 500}})
	code := func() int {
		res, err := http.Get(addr)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code() != 200 {
		t.Error("acted before its start")
	}
	time.Sleep(300 * time.Millisecond)
	if code() != 500 {
		t.Error("not in force during its span")
	}
	time.Sleep(300 * time.Millisecond)
	if code() != 200 {
		t.Error("acted after its end")
	}
}

// TestUpstreamDown: an upstream that refuses connections is a 502, data.
func TestUpstreamDown(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := "http://" + ln.Addr().String()
		ln.Close()
		_, addr := startProxyMode(t, mode, dead)
		res, err := http.Get(addr)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadGateway {
			t.Errorf("status %d, want 502", res.StatusCode)
		}
	})
}

func TestErrorResponse(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { t.Error("upstream contacted") }))
		defer up.Close()
		p, addr := startProxyMode(t, mode, up.URL)
		mustAdd(t, p, Fault{Error: &Error{Status: 429, Body: `{"error":"rate limited"}`, RetryAfter: Duration(1500 * time.Millisecond)}})
		res, err := http.Get(addr)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 429 || res.Header.Get("Retry-After") != "2" || res.Header.Get("Content-Type") != "application/json" || !json.Valid(b) {
			t.Errorf("got %d Retry-After %q type %q body %s", res.StatusCode, res.Header.Get("Retry-After"), res.Header.Get("Content-Type"), b)
		}
	})
}
