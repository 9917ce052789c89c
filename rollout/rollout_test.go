package rollout

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/store"
)

// fixture starts the simulated server at version v, five times faster
// than its default timing.
func fixture(t *testing.T, version string) string {
	cfg := modelserver.DefaultConfig()
	cfg.Version = version
	cfg.Knobs.LatencyScale = 0.2
	_, url := modelservertest.Start(t, cfg)
	return url
}

// e2eConfig is a canary of canaryURL against stableURL judged every
// second over two-second windows by two critical gates.
func e2eConfig(name, stableURL, canaryURL, steps string) string {
	return fmt.Sprintf(`name: %s
listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0}
backends:
  - {name: stable, url: %q, role: stable}
  - {name: canary, url: %q, role: canary}
routing: {sticky: {header: X-User}}
warmup: {requests: 10, method: POST, path: /v1/completions, body: '{"prompt":"warm up","max_tokens":4}'}
analysis:
  interval: 1s
  window: 2s
  minRequests: 15
  gates:
    - {name: canary median latency, metric: "latency{role:canary}", compare: "role:stable", stat: p(50), allowed: 100%%, critical: true}
    - {name: canary errors, metric: "errors{role:canary}", expr: rate<0.05, critical: true}
strategy:
  canary:
    steps:
%s`, name, stableURL, canaryURL, steps)
}

type served struct {
	c            *Controller
	proxy, admin string
	st           store.State
	err          error
	done         chan struct{}
}

// serve runs a rollout of src until it ends or the test does, writing
// its results to dir when one is given.
func serve(t *testing.T, src, storePath string, dir ...string) *served {
	t.Helper()
	cfg, err := ParseConfig(filepath.Join(t.TempDir(), "rollout.yaml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(storePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := &served{done: make(chan struct{})}
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(s.done)
		s.st, s.err = Serve(ctx, ServeOptions{Config: cfg, Store: db, Token: "t0k3n", ExitOnEnd: true, Log: testLog{t}, Dir: strings.Join(dir, ""),
			Ready: func(p, a string) { s.proxy, s.admin = "http://"+p, "http://"+a; close(ready) }})
	}()
	t.Cleanup(func() { cancel(); <-s.done })
	select {
	case <-ready:
	case <-s.done:
		t.Fatalf("serve: %v", s.err)
	case <-time.After(20 * time.Second):
		t.Fatal("the rollout did not start in 20 s")
	}
	return s
}

type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// load sends rps completions a second to s's proxy from random sticky
// users until ctx ends, counting answers by the backend that served them
// and failures while the proxy serves.
func load(ctx context.Context, s *served, rps int) (counts *sync.Map, failed *atomic.Int64) {
	url := s.proxy
	counts, failed = &sync.Map{}, &atomic.Int64{}
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
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/completions",
					strings.NewReader(fmt.Sprintf(`{"prompt":"user question %d","max_tokens":8}`, i)))
				req.Header.Set("X-User", fmt.Sprintf("user-%d", rand.IntN(5000)))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					// Refused while the proxy shuts down at the end: expected.
					select {
					case <-s.done:
					case <-time.After(3 * time.Second):
						if ctx.Err() == nil {
							failed.Add(1)
						}
					}
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n, _ := counts.LoadOrStore(resp.Header.Get(BackendHeader), new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}(i)
		}
	}()
	return counts, failed
}

// wantRolledBack fails the test unless s ended rolled back, by a reason
// that names because.
func wantRolledBack(t *testing.T, s *served, because string) {
	t.Helper()
	if s.err != nil || s.st.Phase != PhaseRolledBack {
		t.Fatalf("ended %s (%v): %s", s.st.Phase, s.err, s.st.Message)
	}
	if !strings.Contains(s.st.Message, because) {
		t.Errorf("rolled back for another reason than %q: %s", because, s.st.Message)
	}
}

// flipAndRollback are the times of the first flip and of the rollback
// among a rollout's events; zero when there is none.
func flipAndRollback(evs []store.Event) (flip, rollback time.Time) {
	for _, e := range evs {
		switch {
		case e.Kind == "flip" && flip.IsZero():
			flip = e.Time
		case e.Kind == "rollback":
			rollback = e.Time
		}
	}
	return flip, rollback
}

func wait(t *testing.T, s *served, d time.Duration) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(d):
		t.Fatalf("the rollout did not end in %s: %+v", d, s.c)
	}
}

// The target: v2-slow in the canary is rolled back within one
// analysis interval of the first failing window.
func TestCanaryOfSlowVersionRollsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a rollout for seconds")
	}
	src := e2eConfig("slow", fixture(t, "v1"), fixture(t, "v2-slow"), `      - setWeight: 30
      - pause: {duration: 6s}
      - setWeight: 60
      - pause: {duration: 6s}
`)
	storePath := filepath.Join(t.TempDir(), "s.db")
	s := serve(t, src, storePath)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	load(ctx, s, 80)
	wait(t, s, 40*time.Second)
	wantRolledBack(t, s, "canary median latency")
	db, _ := store.Open(storePath)
	defer db.Close()
	as, _ := db.Analyses(context.Background(), "slow", 1000)
	evs, _ := db.Events(context.Background(), "slow", 0, 1000)
	flip, rollback := flipAndRollback(evs)
	var firstFail time.Time
	for _, a := range as {
		if a.Status == "fail" {
			firstFail = a.Time
			break
		}
	}
	if flip.IsZero() || rollback.IsZero() || firstFail.IsZero() {
		t.Fatalf("flip %v, first failing window %v, rollback %v", flip, firstFail, rollback)
	}
	if d := rollback.Sub(firstFail); d < 0 || d > time.Second {
		t.Errorf("rollback %s after the first failing window, want within one interval (1s)", d)
	}
	t.Logf("canary traffic at %s, first failing window judged %s later, rollback %s after it",
		flip.Format("15:04:05.000"), firstFail.Sub(flip).Round(time.Millisecond), rollback.Sub(firstFail).Round(time.Millisecond))
}

// Symmetry: v2 is as fast as v1, and its canary is promoted with no false
// rollback.
func TestCanaryOfGoodVersionIsPromoted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a rollout for seconds")
	}
	src := e2eConfig("good", fixture(t, "v1"), fixture(t, "v2"), `      - setWeight: 30
      - pause: {duration: 4s}
      - setWeight: 60
      - pause: {duration: 4s}
`)
	s := serve(t, src, filepath.Join(t.TempDir(), "s.db"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	counts, failed := load(ctx, s, 80)
	wait(t, s, 60*time.Second)
	if s.err != nil || s.st.Phase != PhasePromoted {
		t.Fatalf("ended %s (%v): %s", s.st.Phase, s.err, s.st.Message)
	}
	cancel()
	if f := failed.Load(); f > 0 {
		t.Errorf("%d requests failed during the rollout", f)
	}
	n, ok := counts.Load("canary")
	if !ok || n.(*atomic.Int64).Load() == 0 {
		t.Error("no response came from the canary")
	}
}

// A blue-green rollout judges green on mirrored traffic, flips, judges it
// again and promotes.
func TestBlueGreenPromotes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a rollout for seconds")
	}
	src := strings.Replace(e2eConfig("bg", fixture(t, "v1"), fixture(t, "v2"), ""), "  canary:\n    steps:\n", `  blueGreen:
    previewMirror: 50
    prePromotionAnalysis: {passes: 2}
    postPromotionAnalysis: {passes: 2}
    rollbackWindow: 2s
`, 1)
	s := serve(t, src, filepath.Join(t.TempDir(), "s.db"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	counts, failed := load(ctx, s, 80)
	wait(t, s, 60*time.Second)
	if s.err != nil || s.st.Phase != PhasePromoted {
		t.Fatalf("ended %s (%v): %s", s.st.Phase, s.err, s.st.Message)
	}
	cancel()
	if f := failed.Load(); f > 0 {
		t.Errorf("%d requests failed", f)
	}
	if _, ok := counts.Load("canary"); !ok {
		t.Error("green never served after the flip")
	}
}

// A setHeaderRoute step sends the requests that carry the header to the
// canary (warmed first) while the weights keep every other on stable.
func TestHeaderRouteStep(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a rollout")
	}
	src := e2eConfig("header", fixture(t, "v1"), fixture(t, "v2"), `      - setHeaderRoute: {header: X-Model, value: v2}
      - pause: {}
`)
	s := serve(t, src, filepath.Join(t.TempDir(), "s.db"))
	send := func(v2 bool) string {
		req, _ := http.NewRequest(http.MethodPost, s.proxy+"/v1/completions", strings.NewReader(`{"prompt":"hi","max_tokens":2}`))
		if v2 {
			req.Header.Set("X-Model", "v2")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Header.Get(BackendHeader)
	}
	// The step is taken once the canary is warm.
	for deadline := time.Now().Add(15 * time.Second); send(true) != "canary"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a request with the header never reached the canary")
		}
	}
	for i := range 50 {
		if got, want := send(i%2 == 0), map[bool]string{true: "canary", false: "stable"}[i%2 == 0]; got != want {
			t.Fatalf("request %d (header %v) served by %s, want %s", i, i%2 == 0, got, want)
		}
	}
}

// An error burst in the canary (30 % of its answers are 500s) is rolled
// back by the errors gate.
func TestCanaryErrorBurstRollsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a rollout for seconds")
	}
	cfg := modelserver.DefaultConfig()
	cfg.Version, cfg.Knobs.LatencyScale, cfg.Knobs.ErrorRate = "v2", 0.2, 0.3
	_, bad := modelservertest.Start(t, cfg)
	src := e2eConfig("burst", fixture(t, "v1"), bad, "      - setWeight: 30\n      - pause: {duration: 6s}\n")
	// The warm-up must pass: it sends to /healthz, which never fails.
	src = strings.Replace(src, "warmup: {requests: 10, method: POST, path: /v1/completions, body: '{\"prompt\":\"warm up\",\"max_tokens\":4}'}\n", "", 1)
	s := serve(t, src, filepath.Join(t.TempDir(), "s.db"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	load(ctx, s, 80)
	wait(t, s, 40*time.Second)
	if s.st.Phase != PhaseRolledBack || !strings.Contains(s.st.Message, "canary errors") {
		t.Fatalf("ended %s: %s", s.st.Phase, s.st.Message)
	}
}

// TestRolloutTruthRepeated runs the truth rollouts again and again and
// prints how often each ended as it should and how fast v2-slow was
// caught: the figures of make bench (scripts/bench-rollout.sh), which
// sets GONOGO_ROLLOUT_REPEAT to the number of runs of each.
func TestRolloutTruthRepeated(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("GONOGO_ROLLOUT_REPEAT"))
	if n <= 0 {
		t.Skip("GONOGO_ROLLOUT_REPEAT is not set (make bench sets it)")
	}
	stable, good, slow := fixture(t, "v1"), fixture(t, "v2"), fixture(t, "v2-slow")
	steps := "      - setWeight: 30\n      - pause: {duration: 4s}\n      - setWeight: 60\n      - pause: {duration: 4s}\n"
	promoted, rolledBack := 0, 0
	var caught []time.Duration
	for i := range n {
		for _, c := range []struct{ name, url string }{{"good", good}, {"slow", slow}} {
			name := fmt.Sprintf("%s-%d", c.name, i)
			storePath := filepath.Join(t.TempDir(), "s.db")
			s := serve(t, e2eConfig(name, stable, c.url, steps), storePath)
			ctx, cancel := context.WithCancel(context.Background())
			load(ctx, s, 80)
			wait(t, s, 60*time.Second)
			cancel()
			switch {
			case c.name == "good" && s.st.Phase == PhasePromoted:
				promoted++
			case c.name == "slow" && s.st.Phase == PhaseRolledBack:
				rolledBack++
				db, _ := store.Open(storePath)
				evs, _ := db.Events(context.Background(), name, 0, 100)
				db.Close()
				var flip time.Time
				for _, e := range evs {
					if e.Kind == "flip" && flip.IsZero() {
						flip = e.Time
					}
					if e.Kind == "rollback" {
						caught = append(caught, e.Time.Sub(flip))
					}
				}
			default:
				t.Logf("%s ended %s: %s", name, s.st.Phase, s.st.Message)
			}
		}
	}
	slices.Sort(caught)
	fmt.Printf("rollout truth: v2 promoted in %d of %d runs (false rollbacks %d); v2-slow rolled back in %d of %d", promoted, n, n-promoted, rolledBack, n)
	if len(caught) > 0 {
		fmt.Printf(", caught %s to %s after its first traffic (median %s; analysis interval 1s, window 2s)", caught[0].Round(time.Millisecond), caught[len(caught)-1].Round(time.Millisecond), caught[len(caught)/2].Round(time.Millisecond))
	}
	fmt.Println()
	if promoted != n || rolledBack != n {
		t.Errorf("v2 promoted %d/%d, v2-slow rolled back %d/%d", promoted, n, rolledBack, n)
	}
}
