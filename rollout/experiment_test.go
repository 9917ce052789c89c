package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze/abtest"
	"github.com/gonogo-dev/gonogo/rundir"
	"github.com/gonogo-dev/gonogo/store"
)

// abConfig is a rollout whose only step is an experiment at 50 % for up
// to duration, judged on the conversion of the users it routes.
func abConfig(name, stableURL, canaryURL, duration, undecided string) string {
	return e2eConfig(name, stableURL, canaryURL, fmt.Sprintf("      - experiment: {weight: 50, duration: %s}\n", duration)) +
		fmt.Sprintf(`experiment:
  attributes: {tier: X-Tier}
  cohort: 1s
  undecided: %s
  metrics:
    - {name: purchase, kind: binomial}
`, undecided)
}

// population is the truth of an A/B test through the proxy: users
// users each send one request through s's proxy (sticky by X-User),
// and convert with the rate of the backend that served them (the
// X-Gonogo-Backend header) — the population knows the true effect. Their
// purchases are then sent to the admin API as outcomes. It returns the
// users served per backend.
func population(t *testing.T, s *served, users int, rate map[string]float64, seed uint64) map[string]int {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	draws := make([]float64, users)
	for i := range draws {
		draws[i] = rng.Float64()
	}
	served := make([]string, users)
	var wg sync.WaitGroup
	next := make(chan int)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 10 * time.Second}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				req, _ := http.NewRequest(http.MethodPost, s.proxy+"/v1/completions", strings.NewReader(`{"prompt":"buy?","max_tokens":2}`))
				req.Header.Set("X-User", fmt.Sprintf("pop-%d", i))
				req.Header.Set("X-Tier", []string{"free", "pro"}[i%2])
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				served[i] = resp.Header.Get(BackendHeader)
			}
		}()
	}
	for i := range users {
		next <- i
	}
	close(next)
	wg.Wait()
	// The exposures reach the store within exposureFlush.
	time.Sleep(3 * exposureFlush)
	counts := map[string]int{}
	var body bytes.Buffer
	for i, b := range served {
		counts[b]++
		if b != "" && draws[i] < rate[b] {
			fmt.Fprintf(&body, `{"id":"order-%d","user":"pop-%d","metric":"purchase","value":1}`+"\n", i, i)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, s.admin+"/v1/outcomes", &body)
	req.Header.Set("Authorization", "Bearer t0k3n")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res OutcomesResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 200 {
		t.Fatalf("outcomes: %d %v", resp.StatusCode, err)
	}
	if res.Counts.Counted != int64(res.Received) {
		t.Fatalf("outcomes: %+v, want every one counted", res)
	}
	return counts
}

// The truth through the proxy: a population converting 10 % on
// stable and 16 % on a better canary promotes it; 6 % on a worse one
// rolls it back; the same rate on both leaves the experiment undecided at
// its end, which pauses the rollout for a person.
func TestExperimentTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("10 000 users through the proxy three times")
	}
	stable, canary := fixture(t, "v1"), fixture(t, "v1")
	for _, tc := range []struct {
		name   string
		canary float64
		want   string
	}{
		{"better", 0.16, PhasePromoted},
		{"worse", 0.06, PhaseRolledBack},
		{"same", 0.10, PhasePaused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			duration := "60s"
			if tc.want == PhasePaused {
				duration = "6s"
			}
			out := filepath.Join(t.TempDir(), "out")
			s := serve(t, abConfig("ab-"+tc.name, stable, canary, duration, UndecidedPause), filepath.Join(t.TempDir(), "s.db"), out)
			waitStep(t, s, 1)
			counts := population(t, s, 10000, map[string]float64{"stable": 0.10, "canary": tc.canary}, 7)
			if n := counts["canary"]; n < 4700 || n > 5300 {
				t.Fatalf("served %v: not the 50 %% split", counts)
			}
			var phase, message string
			if tc.want == PhasePaused {
				st := statusOf(t, s)
				for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && st.Phase != tc.want; {
					time.Sleep(100 * time.Millisecond)
					st = statusOf(t, s)
				}
				phase, message = st.Phase, st.Message
			} else {
				wait(t, s, 30*time.Second)
				phase, message = s.st.Phase, s.st.Message
			}
			if phase != tc.want {
				t.Fatalf("phase %s (%s), want %s", phase, message, tc.want)
			}
			if tc.want != PhasePromoted && !strings.Contains(message, "experiment") {
				t.Errorf("message %q: not the experiment's decision", message)
			}
			if tc.want == PhaseRolledBack {
				// The results directory has the readout that decided.
				var r abtest.Readout
				b, err := os.ReadFile(filepath.Join(out, rundir.ABReadout))
				if err == nil {
					err = json.Unmarshal(b, &r)
				}
				if err != nil || r.Verdict != abtest.Worse || len(r.Metrics) != 1 || len(r.Metrics[0].OverTime) == 0 {
					t.Errorf("%s: verdict %s, metrics %d (%v)", rundir.ABReadout, r.Verdict, len(r.Metrics), err)
				}
				if _, err := os.Stat(filepath.Join(out, rundir.ABHTML)); err != nil {
					t.Error(err)
				}
			}
			if tc.want == PhasePaused {
				if st := statusOf(t, s); st.Experiment == nil || st.Experiment.Verdict != abtest.NotYetDecided {
					t.Errorf("status: experiment %+v, want its last readout, not yet decided", st.Experiment)
				}
			}
		})
	}
}

// waitStep waits until s's rollout is at step i with canary traffic.
func waitStep(t *testing.T, s *served, i int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if st := statusOf(t, s); st.Step > i || st.Step == i && st.Weights["canary"] > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the rollout never reached step %d: %+v", i, statusOf(t, s))
}

// statusOf asks s's admin API for the rollout's status.
func statusOf(t *testing.T, s *served) Status {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.admin+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer t0k3n")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// A router that splits 52/48 when 50/50 was configured is caught by the
// sample-ratio check, whatever the outcomes say: the readout is invalid.
func TestExperimentSRM(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	spec := &ExperimentSpec{Metrics: []ExperimentMetric{{Name: "purchase"}}}
	if f := spec.check("srm", true); f != nil {
		t.Fatal(f.msg)
	}
	ctx := context.Background()
	start := time.Now().Add(-time.Hour)
	var batch []store.Exposure
	for i := range 20000 {
		v := "stable"
		if i%100 < 52 {
			v = "canary"
		}
		batch = append(batch, store.Exposure{User: fmt.Sprintf("u%d", i), Variant: v, Time: start, Attrs: map[string]string{SplitAttr: "50"}})
	}
	if err := db.RecordExposures(ctx, spec.Name, batch); err != nil {
		t.Fatal(err)
	}
	r, err := BuildABReport(ctx, db, spec, "stable", "canary", 50, start, time.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != abtest.Invalid || r.Stats.SRM == nil || !r.Stats.SRM.Mismatch {
		t.Fatalf("verdict %s, SRM %+v: want invalid", r.Verdict, r.Stats.SRM)
	}
	// The same users split 50/50 are not.
	for i := range batch {
		batch[i].User += "-fair"
		batch[i].Variant = []string{"stable", "canary"}[i%2]
	}
	spec.Name = "fair"
	if err := db.RecordExposures(ctx, spec.Name, batch); err != nil {
		t.Fatal(err)
	}
	if r, err = BuildABReport(ctx, db, spec, "stable", "canary", 50, start, time.Now(), true); err != nil || r.Verdict == abtest.Invalid {
		t.Fatalf("a fair split: %s (%v)", r.Verdict, err)
	}
}

// CUPED with a pre-period covariate from outcomes before exposure: a
// user's spend level L ~ N(50, 20²) makes both its pre-period revenue
// X = L + e1 and its revenue in the experiment Y = L·(1+lift) + e2, with
// e ~ N(0, 10²), so corr(X, Y) = 400/500 within a variant and CUPED
// removes ρ² = 0.64 of the variance. Without the covariate the report is
// unadjusted; with cuped off it ignores the pre-period outcomes.
func TestExperimentCUPED(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	start := time.Now().Add(-2 * time.Hour)
	const users, lift = 20000, 0.02
	r := rand.New(rand.NewPCG(5, 6))
	var exposures []store.Exposure
	var outcomes []store.Outcome
	for i := range users {
		u, v := fmt.Sprintf("u%d", i), []string{"stable", "canary"}[i%2]
		exposures = append(exposures, store.Exposure{User: u, Variant: v, Time: start, Attrs: map[string]string{SplitAttr: "50"}})
		level := 50 + 20*r.NormFloat64()
		y := level + 10*r.NormFloat64()
		if v == "canary" {
			y = level*(1+lift) + 10*r.NormFloat64()
		}
		outcomes = append(outcomes,
			store.Outcome{User: u, Metric: "revenue", Value: level + 10*r.NormFloat64(), Time: start.Add(-24 * time.Hour)},
			store.Outcome{User: u, Metric: "revenue", Value: y, Time: start.Add(time.Hour)})
	}
	if err := db.RecordExposures(ctx, "cuped", exposures); err != nil {
		t.Fatal(err)
	}
	counts, err := db.RecordOutcomes(ctx, "cuped", outcomes)
	if err != nil || counts.Counted != users || counts.BeforeExposure != users {
		t.Fatalf("outcomes %+v (%v): want %d counted and %d before exposure", counts, err, users, users)
	}
	for _, cuped := range []bool{false, true} {
		spec := &ExperimentSpec{Name: "cuped", CUPED: cuped, Sequential: new(bool),
			Metrics: []ExperimentMetric{{Name: "revenue", Kind: string(abtest.Continuous)}}}
		if f := spec.check("cuped", true); f != nil {
			t.Fatal(f.msg)
		}
		rep, err := BuildABReport(ctx, db, spec, "stable", "canary", 50, start, time.Now(), false)
		if err != nil {
			t.Fatal(err)
		}
		res := rep.Stats.Metrics[0].Result
		if !cuped {
			if res.CUPED != nil {
				t.Errorf("cuped off: adjusted anyway: %+v", res.CUPED)
			}
			continue
		}
		if res.CUPED == nil {
			t.Fatalf("cuped on: no adjustment; result %+v", res)
		}
		if vr := res.CUPED.VarianceReduction; math.Abs(vr-0.64) > 0.03 {
			t.Errorf("variance reduction %.3f, want 0.64 ± 0.03", vr)
		}
		// The adjusted lift is still the true one: within its interval
		// and within 1 point of it.
		if rel := res.Relative; rel == nil || rel.Lower > lift || rel.Upper < lift || math.Abs(rel.Value-lift) > 0.01 {
			t.Errorf("adjusted relative lift %+v, want about %g", rel, lift)
		}
	}
}

// flakySink fails its first writes, then stores what it is given.
type flakySink struct {
	mu    sync.Mutex
	fails int
	got   []store.Exposure
}

func (f *flakySink) RecordExposures(_ context.Context, _ string, batch []store.Exposure) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails > 0 {
		f.fails--
		return fmt.Errorf("disk full")
	}
	f.got = append(f.got, batch...)
	return nil
}

// Exposures the store refuses are written again, with their own times and
// in their order, once it takes them; past maxPendingExposures the oldest
// are lost, counted, and forgotten so that their users send them again.
func TestExposuresRetried(t *testing.T) {
	sink := &flakySink{fails: 3}
	var logs []string
	x := newExposures(&ExperimentSpec{Name: "e"}, sink, func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) })
	var want []time.Time
	for i := range 10 {
		x.add(nil, fmt.Sprintf("u%d", i), "canary", 50)
		want = append(want, x.pending[len(x.pending)-1].Time)
		x.flush()
	}
	if len(sink.got) != 10 || x.lost.Load() != 0 {
		t.Fatalf("stored %d exposures (lost %d), want 10", len(sink.got), x.lost.Load())
	}
	for i, e := range sink.got {
		if e.User != fmt.Sprintf("u%d", i) || !e.Time.Equal(want[i]) {
			t.Errorf("exposure %d: %s at %s, want u%d at %s", i, e.User, e.Time, i, want[i])
		}
	}
	if len(logs) != 2 || !strings.Contains(logs[0], "kept to try again") || !strings.Contains(logs[1], "stored again") {
		t.Errorf("logs %q: want one failure and one recovery", logs)
	}

	sink = &flakySink{fails: 1}
	x = newExposures(&ExperimentSpec{Name: "e"}, sink, func(string, ...any) {})
	for i := range maxPendingExposures + 5 {
		x.add(nil, fmt.Sprintf("u%d", i), "stable", 50)
	}
	x.flush()
	if x.lost.Load() != 5 || len(x.pending) != maxPendingExposures || x.pending[0].User != "u5" {
		t.Fatalf("lost %d, pending %d: want 5 lost, the oldest", x.lost.Load(), len(x.pending))
	}
	x.add(nil, "u0", "stable", 50) // forgotten: sent again
	x.add(nil, "u6", "stable", 50) // still pending: not twice
	x.flush()
	if n := len(sink.got); n != maxPendingExposures+1 || sink.got[n-1].User != "u0" {
		t.Errorf("stored %d exposures ending with %s, want %d ending with u0", n, sink.got[n-1].User, maxPendingExposures+1)
	}
}
