package rollout

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/store"
)

// The ring counts a request as stalled only once every instant of its
// arrival second is older than the deadline, and only until its response
// begins.
func TestInflightAges(t *testing.T) {
	b := &backend{}
	now := time.Unix(1_000_000, 500_000_000) // …000.5
	old := b.begin(now.Add(-10 * time.Second))
	young := b.begin(now.Add(-2 * time.Second))
	edge := b.begin(time.Unix(999_996, 900_000_000)) // 3.6 s ago, its second ended 3.5 s ago
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{{time.Second, 3}, {3 * time.Second, 2}, {3500 * time.Millisecond, 2}, {3600 * time.Millisecond, 1}, {9 * time.Second, 1}, {10 * time.Second, 0}} {
		if got := b.ages.stalled(now, tc.d); got != tc.want {
			t.Errorf("stalled after %s: %d, want %d", tc.d, got, tc.want)
		}
	}
	// A response that began is not stalled, however long it streams.
	old.responded()
	old.responded()
	edge.end()
	if got, n := b.ages.stalled(now, time.Second), b.inflight.Load(); got != 1 || n != 2 {
		t.Errorf("one streaming, one ended: %d stalled, %d in flight; want 1 and 2", got, n)
	}
	old.end()
	young.end()
	if got, n := b.ages.stalled(now, 0), b.inflight.Load(); got != 0 || n != 0 {
		t.Errorf("all ended: %d stalled, %d in flight", got, n)
	}
	// Older than the ring: counted as younger, never as more.
	far := b.begin(now.Add(-100 * time.Second))
	if got := b.ages.stalled(now, 50*time.Second); got != 0 {
		t.Errorf("a request 100 s old aliased into the ring: %d stalled after 50 s, want 0 (it counts as 36 s old)", got)
	}
	far.end()
}

// A canary that hangs completes nothing: without counting its requests in
// flight, its windows would hold for too few requests until maxHold.
// With stallAfter they count as timeouts, and its error gate rolls it
// back within stallAfter and an interval of its first traffic.
func TestHangingCanaryRollsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a rollout for seconds")
	}
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			fmt.Fprintln(w, "ok")
			return
		}
		// Reading the body lets the server see the proxy hang up.
		_, _ = io.Copy(io.Discard, r.Body)
		select { // hangs until the proxy gives up on it
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}))
	defer hang.Close()
	src := e2eConfig("hang", fixture(t, "v1"), hang.URL, `      - setWeight: 30
      - pause: {duration: 20s}
`)
	src = strings.Replace(src, "warmup: {requests: 10, method: POST, path: /v1/completions, body: '{\"prompt\":\"warm up\",\"max_tokens\":4}'}",
		"warmup: {requests: 10, path: /healthz, stableWithin: 5}\ndrainTimeout: 2s", 1)
	src = strings.Replace(src, "  minRequests: 15\n", "  minRequests: 15\n  stallAfter: 2s\n  maxHold: 5m\n", 1)
	storePath := filepath.Join(t.TempDir(), "s.db")
	s := serve(t, src, storePath)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	load(ctx, s, 80)
	wait(t, s, 30*time.Second)
	cancel()
	wantRolledBack(t, s, "canary errors")
	db, err := store.Open(storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	evs, _ := db.Events(context.Background(), "hang", 0, 1000)
	flip, rollback := flipAndRollback(evs)
	if flip.IsZero() || rollback.IsZero() {
		t.Fatalf("flip %v, rollback %v", flip, rollback)
	}
	// The first stalls are 2 s old one whole second after the flip's;
	// the judgement after that sees them.
	if d := rollback.Sub(flip); d > 6*time.Second {
		t.Errorf("rolled back %s after the canary's first traffic, want within stallAfter (2 s), its arrival second, 2 intervals and 1 s of slack", d)
	}
	as, _ := db.Analyses(context.Background(), "hang", 1000)
	seen := false
	for _, a := range as {
		seen = seen || strings.Contains(string(a.Detail), `"stalled":{"canary":`)
	}
	if !seen {
		t.Error("no judgement counted stalled canary requests")
	}
	t.Logf("hanging canary: rolled back %s after its first traffic", rollback.Sub(flip).Round(time.Millisecond))
}

// A stream that sends its tokens is not stalled however long it runs: on
// the fast path its first body byte takes it out of the waiting ages. (A
// request counts as stalled after 1 s once its arrival second ended 1 s
// ago: at most 2 s after it began.)
func TestStreamingIsNotStalled(t *testing.T) {
	f := newFixtureRollout(t, fixtureOpts{latencyScale: 1})
	blue := f.c.backends[1]
	done := make(chan streamResult, 1)
	go func() {
		r, _ := f.stream(context.Background(), 500) // 8 ms a token: 4 s
		done <- r
	}()
	start := time.Now()
	if !waitFor(10*time.Second, func() bool { return time.Since(start) > 2500*time.Millisecond && blue.inflight.Load() == 1 }) {
		t.Fatal("the stream was not in flight 2.5 s after it began")
	}
	if n := blue.ages.stalled(time.Now(), time.Second); n != 0 {
		t.Errorf("a stream sending tokens for 2.5 s: %d stalled after 1 s, want 0", n)
	}
	if r := <-done; !r.done || r.end < 2500*time.Millisecond {
		t.Errorf("the stream ended after %s (done %v): want a complete stream of more than 2.5 s", r.end, r.done)
	}
}
