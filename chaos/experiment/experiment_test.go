package experiment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/chaos"
	_ "github.com/gonogo-dev/gonogo/extensions/all"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/rundir"
)

// experimentYAML is a short experiment against the simulated server's
// classifier through an http fault proxy: 100 req/s, 2 s windows, the
// method at 2 s. method is indented as list items. The p99 bound is wide
// (the server's truth is a few milliseconds) so that a loaded two-core
// machine running the race build does not fail the steady state; the
// tests about latency narrow it.
func experimentYAML(target, method, extra string) string {
	return fmt.Sprintf(`title: test experiment
target: %[1]s
load:
  protocol: kserve
  model: resnet
  rate: 100
  through: gpu
proxies:
  - name: gpu
    upstream: %[1]s
steady-state-hypothesis:
  title: errors stay rare
  window: 2s
  recovery: 3s
  gates:
    - name: errors
      metric: errors
      expr: rate<0.05
    - name: p99
      metric: latency
      expr: p(99)<2000
method:
%[2]s
%[3]s`, target, method, extra)
}

func parse(t *testing.T, src string) *Experiment {
	t.Helper()
	x, err := Parse(filepath.Join(t.TempDir(), "exp.yaml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func runExp(t *testing.T, ctx context.Context, x *Experiment) (*chaos.Journal, rundir.Dir, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	var out bytes.Buffer
	j, err := Run(ctx, x, Options{Dir: dir, Out: &out, Err: &out})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	return j, rundir.Dir(dir), out.String()
}

// TestHeld: a small delay leaves the hypothesis holding: completed, exit 0,
// the fault applied, reverted, counted and in the ledger.
func TestHeld(t *testing.T) {
	t.Parallel()
	_, up := modelservertest.Start(t, modelserver.DefaultConfig())
	x := parse(t, experimentYAML(up, `  - name: small delay
    at: 2s
    duration: 3s
    http:
      proxy: gpu
      delay: {mean: 10ms}`, ""))
	j, dir, out := runExp(t, context.Background(), x)
	if j.Status != chaos.StatusCompleted || j.Verdict != chaos.Held || j.ExitCode() != 0 {
		t.Fatalf("status %s verdict %s (%s), want completed/held\n%s", j.Status, j.Verdict, j.Reason, out)
	}
	a := j.Activities[0]
	if a.Outcome != chaos.OutcomeOK || a.Start == nil || a.End == nil || a.Affected == nil || *a.Affected < 200 {
		t.Fatalf("activity %+v", a)
	}
	if d := a.End.Sub(*a.Start); d < 2500*time.Millisecond || d > 3500*time.Millisecond {
		t.Errorf("fault in force %v, want 3 s", d)
	}
	if j.Hypothesis.Before == nil || j.Hypothesis.Before.Status != chaos.Held || j.Hypothesis.After == nil || j.Hypothesis.After.Status != chaos.Held {
		t.Errorf("before %+v after %+v", j.Hypothesis.Before, j.Hypothesis.After)
	}
	entries, err := chaos.ReadLedger(dir)
	if err != nil || len(entries) != 2 || len(chaos.Pending(entries)) != 0 {
		t.Errorf("ledger %+v (%v), want one apply and its revert", entries, err)
	}
	back, err := chaos.ReadJournal(dir)
	if err != nil || back.Status != chaos.StatusCompleted || len(back.Checks) < 5 {
		t.Errorf("experiment.json: %+v, %v", back, err)
	}
}

// TestDeviated: 30 % errors fail the hypothesis during the method, not
// after: deviated, exit 3, detected within one interval or two and
// recovered within one interval of the fault's end; the blast radius
// sees the injected share.
func TestDeviated(t *testing.T) {
	if testing.Short() {
		t.Skip("timing truths; the short tests drive the same code")
	}
	t.Parallel()
	_, up := modelservertest.Start(t, modelserver.DefaultConfig())
	x := parse(t, experimentYAML(up, `  - name: errors
    at: 2s
    duration: 3s
    http:
      proxy: gpu
      match: {percent: 30}
      error: {status: 503}`, ""))
	j, _, out := runExp(t, context.Background(), x)
	if j.Status != chaos.StatusDeviated || j.ExitCode() != 3 {
		t.Fatalf("status %s (%s), want deviated\n%s", j.Status, j.Reason, out)
	}
	if j.Hypothesis.After == nil || j.Hypothesis.After.Status != chaos.Held {
		t.Errorf("after %+v, want held", j.Hypothesis.After)
	}
	a := j.Activities[0]
	if a.TimeToDetectS == nil || *a.TimeToDetectS > 1.5 {
		t.Errorf("time to detect %v, want within 1.5 s", a.TimeToDetectS)
	}
	if a.TimeToRecoverS == nil || *a.TimeToRecoverS > 1.0 {
		t.Errorf("time to recover %v, want within one interval", a.TimeToRecoverS)
	}
	br := j.BlastRadius
	if br.DuringErrRate < 0.2 || br.DuringErrRate > 0.4 || br.Failed < *a.Affected || br.Failed > *a.Affected+2 {
		t.Errorf("blast radius %+v (affected %d), want about 30 %% failed while in force", br, *a.Affected)
	}
}

// TestAbortCondition: an abort condition stops the experiment at once:
// aborted, exit 4, the fault reverted well before its planned end.
func TestAbortCondition(t *testing.T) {
	if testing.Short() {
		t.Skip("timing truths; the short tests drive the same code")
	}
	t.Parallel()
	_, up := modelservertest.Start(t, modelserver.DefaultConfig())
	x := parse(t, experimentYAML(up, `  - name: outage
    at: 2s
    duration: 20s
    http:
      proxy: gpu
      error: {status: 500}`, `abort:
  - name: blast radius
    metric: errors
    expr: rate<0.5
    window: 1s
`))
	start := time.Now()
	j, dir, out := runExp(t, context.Background(), x)
	if j.Status != chaos.StatusAborted || j.ExitCode() != 4 || !strings.Contains(j.Reason, "blast radius") {
		t.Fatalf("status %s (%s), want aborted by the blast radius\n%s", j.Status, j.Reason, out)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the experiment took %v: it was not stopped at once", took)
	}
	entries, _ := chaos.ReadLedger(dir)
	if len(chaos.Pending(entries)) != 0 {
		t.Errorf("faults left pending: %+v", entries)
	}
}

// TestNoSteadyState: a server failing before the method means no steady
// state: aborted, and no fault applied.
func TestNoSteadyState(t *testing.T) {
	t.Parallel()
	cfg := modelserver.DefaultConfig()
	cfg.Knobs.ErrorRate = 0.5
	_, up := modelservertest.Start(t, cfg)
	x := parse(t, experimentYAML(up, `  - name: delay
    at: 2s
    duration: 2s
    http:
      proxy: gpu
      delay: {mean: 5ms}`, ""))
	j, dir, _ := runExp(t, context.Background(), x)
	if j.Status != chaos.StatusAborted || !strings.Contains(j.Reason, "no steady state") {
		t.Fatalf("status %s (%s), want aborted for no steady state", j.Status, j.Reason)
	}
	if j.Activities[0].Outcome != chaos.OutcomeSkipped {
		t.Errorf("activity %+v, want skipped", j.Activities[0])
	}
	if entries, _ := chaos.ReadLedger(dir); len(entries) != 0 {
		t.Errorf("ledger %+v, want nothing applied", entries)
	}
}

// TestInterrupted: a run interrupted mid-fault reverts it: interrupted,
// exit 4, nothing pending, the revert of the request action sent (the
// simulated server's latency scale is back to 1).
func TestInterrupted(t *testing.T) {
	t.Parallel()
	srv, up := modelservertest.Start(t, modelserver.DefaultConfig())
	x := parse(t, experimentYAML(up, `  - name: slow gpu
    at: 2s
    duration: 20s
    request:
      method: PUT
      url: `+up+`/admin/knobs
      body: '{"latency_scale": 3}'
      revert: {body: '{"latency_scale": 1}'}`, ""))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for srv.Knobs().LatencyScale != 3 {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
		cancel()
	}()
	j, dir, out := runExp(t, ctx, x)
	if j.Status != chaos.StatusInterrupted || j.ExitCode() != 4 {
		t.Fatalf("status %s, want interrupted\n%s", j.Status, out)
	}
	if got := srv.Knobs().LatencyScale; got != 1 {
		t.Errorf("latency scale %v after the run, want 1 (reverted)", got)
	}
	entries, _ := chaos.ReadLedger(dir)
	if len(entries) != 2 || len(chaos.Pending(entries)) != 0 {
		t.Errorf("ledger %+v", entries)
	}
}

// TestBadExperiments: every mistake is one error naming the file, the
// line and the field.
func TestBadExperiments(t *testing.T) {
	up := "http://127.0.0.1:8000"
	delay := `  - name: d
    at: 2s
    duration: 2s
    http:
      proxy: gpu
      delay: {mean: 5ms}`
	cases := []struct {
		name, src, want string
		line            int
	}{
		{"unknown field", experimentYAML(up, delay, "colour: red\n"), "unknown field", 29},
		{"unknown fault field", experimentYAML(up, strings.Replace(delay, "delay: {mean: 5ms}", "delay: {mean: 5ms, jitter: 1ms}", 1), ""), "unknown field", 28},
		{"fault kind", experimentYAML(up, strings.Replace(delay, "delay: {mean: 5ms}", "explode: {}", 1), ""), "unknown field", 28},
		{"two things", experimentYAML(up, strings.Replace(delay, "delay: {mean: 5ms}", "delay: {mean: 5ms}\n      error: {status: 500}", 1), ""), "exactly one thing", 27},
		{"unknown proxy", experimentYAML(up, strings.Replace(delay, "proxy: gpu", "proxy: cpu", 1), ""), "method[0].http.proxy", 27},
		{"matches nothing", experimentYAML(up, strings.Replace(delay, "delay:", "match: {path: /v1/*}\n      delay:", 1), ""), "selects none", 28},
		{"too early", experimentYAML(up, strings.Replace(delay, "at: 2s", "at: 1s", 1), ""), "before one window", 23},
		{"bad gate", strings.Replace(experimentYAML(up, delay, ""), "rate<0.05", "rate<<0.05", 1), "expr", 18},
		{"lease", experimentYAML(up, delay, "lease: {ttl: 1s, renew: 2s}\n"), "lease.ttl", 29},
		{"contradiction", experimentYAML(up, `  - name: a
    at: 2s
    duration: 2s
    http: {proxy: gpu, error: {status: 500}}
  - name: b
    at: 3s
    duration: 2s
    http: {proxy: gpu, abort: {when: before-headers}}`, ""), "contradicts", 30},
		{"fractional second", experimentYAML(up, strings.Replace(delay, "duration: 2s", "duration: 1500ms", 1), ""), "interval boundaries", 25},
		{"bad percent", experimentYAML(up, strings.Replace(delay, "delay:", "match: {percent: 0}\n      delay:", 1), ""), "percent", 28},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("exp.yaml", []byte(tc.src))
			if !errors.Is(err, chaos.ErrInput) && !errors.Is(err, analyze.ErrGates) {
				t.Fatalf("error %v (%T), want an input error", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), fmt.Sprintf("exp.yaml:%d:", tc.line)) {
				t.Errorf("error %q, want exp.yaml:%d: … %s", err, tc.line, tc.want)
			}
		})
	}
}

// TestRevertLeftovers: a run into a directory whose ledger shows a fault
// in force (an earlier run was killed) reverts it first.
func TestRevertLeftovers(t *testing.T) {
	srv, up := modelservertest.Start(t, modelserver.DefaultConfig())
	dir := rundir.Dir(t.TempDir())
	l, err := chaos.OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	undo, _ := chaos.NewUndo(UndoRequest, Request{Method: "PUT", URL: up + "/admin/knobs", Body: `{"latency_scale": 1}`})
	if err := l.Applying(&chaos.Fault{ID: "slow", Kind: "action.request"}, undo); err != nil {
		t.Fatal(err)
	}
	l.Close()
	k := srv.Knobs()
	k.LatencyScale = 4
	if err := srv.SetKnobs(k); err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		res, err := chaos.RevertPending(context.Background(), dir, chaos.ByRevert)
		if err != nil || len(res.Failed) > 0 {
			t.Fatal(err, res.Failed)
		}
	}
	if srv.Knobs().LatencyScale != 1 {
		t.Errorf("latency scale %v, want 1", srv.Knobs().LatencyScale)
	}
	entries, _ := chaos.ReadLedger(dir)
	if len(entries) != 2 {
		t.Errorf("ledger %+v, want the apply and one revert", entries)
	}
	_ = os.Remove(dir.Path(rundir.Ledger))
}

// TestTCPLatency: a TCP latency toxic on the load's path fails the
// latency gate while it is in force, and the hypothesis holds again
// after it.
func TestTCPLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("timing truths; the short tests drive the same code")
	}
	t.Parallel()
	_, up := modelservertest.Start(t, modelserver.DefaultConfig())
	src := experimentYAML(up, `  - name: slow link
    at: 2s
    duration: 3s
    tcp:
      proxy: link
      toxic: latency
      latency: 600ms`, "")
	src = strings.Replace(src, "through: gpu", "through: link", 1)
	src = strings.Replace(src, "p(99)<2000", "p(99)<500", 1)
	src = strings.Replace(src, "proxies:\n", "proxies:\n  - name: link\n    kind: tcp\n    upstream: "+strings.TrimPrefix(up, "http://")+"\n", 1)
	x := parse(t, src)
	j, _, out := runExp(t, context.Background(), x)
	if j.Status != chaos.StatusDeviated || j.Hypothesis.During == nil || j.Hypothesis.During.Gates[0].Name != "p99" {
		t.Fatalf("status %s during %+v, want deviated on p99\n%s", j.Status, j.Hypothesis.During, out)
	}
	if j.Hypothesis.After.Status != chaos.Held {
		t.Errorf("after %+v, want held", j.Hypothesis.After)
	}
}

// TestFeatureStoreDown: the dependency case. The simulated server
// calls a feature store through the experiment's fault proxy; the store
// "goes down" (every lookup 503) for 3 s. With the server's fallback to
// cached features, errors stay under 1 % and p99 under 500 ms: held.
// Without it, the same experiment deviates.
func TestFeatureStoreDown(t *testing.T) {
	if testing.Short() {
		t.Skip("timing truths; the short tests drive the same code")
	}
	t.Parallel()
	_, store, stop, err := modelserver.StartFeatureStore(modelserver.FeatureStoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	for _, fallback := range []bool{true, false} {
		t.Run(fmt.Sprintf("fallback=%v", fallback), func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			proxyAddr := ln.Addr().String()
			ln.Close()
			cfg := modelserver.DefaultConfig()
			cfg.FeatureStore = "http://" + proxyAddr
			cfg.Knobs.NoFeatureFallback = !fallback
			// The fault answers 503 at once: a lookup timeout far above the
			// default keeps a loaded machine's slow lookups before the fault
			// from failing the steady state.
			cfg.FeatureTimeout = 2 * time.Second
			_, up := modelservertest.Start(t, cfg)
			x := parse(t, fmt.Sprintf(`title: feature store down
target: %s
load: {protocol: kserve, model: resnet, rate: 100}
proxies:
  - {name: store, listen: "%s", upstream: "%s"}
steady-state-hypothesis:
  window: 2s
  recovery: 3s
  gates:
    - {name: errors, metric: errors, expr: rate<0.01}
    - {name: p99, metric: latency, expr: p(99)<500}
method:
  - name: store down
    at: 2s
    duration: 3s
    http: {proxy: store, error: {status: 503}}
`, up, proxyAddr, store))
			j, _, out := runExp(t, context.Background(), x)
			want := chaos.StatusCompleted
			if !fallback {
				want = chaos.StatusDeviated
			}
			if j.Status != want {
				t.Fatalf("status %s (%s), want %s\n%s", j.Status, j.Reason, want, out)
			}
			if a := j.Activities[0]; a.Affected == nil || *a.Affected < 200 {
				t.Errorf("the store's fault acted on %v lookups, want every lookup of 3 s at 100 req/s", a.Affected)
			}
		})
	}
}

// TestGRPCStatus: a gRPC status fault through the experiment's grpc
// proxy, on the kserve-grpc load, deviates the hypothesis while in force.
func TestGRPCStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("timing truths; the short tests drive the same code")
	}
	t.Parallel()
	srv, _ := modelservertest.Start(t, modelserver.DefaultConfig())
	addr, stop, err := srv.StartGRPC()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	x := parse(t, fmt.Sprintf(`title: grpc unavailable
target: %[1]s
load: {protocol: kserve-grpc, model: resnet, rate: 100, through: triton}
proxies:
  - {name: triton, kind: grpc, upstream: "%[1]s"}
steady-state-hypothesis:
  window: 2s
  gates:
    - {name: errors, metric: errors, expr: rate<0.05}
method:
  - name: unavailable
    at: 2s
    duration: 2s
    grpc:
      proxy: triton
      match: {method: /inference.GRPCInferenceService/ModelInfer, percent: 30}
      status: {code: UNAVAILABLE, message: overloaded}
`, addr))
	j, _, out := runExp(t, context.Background(), x)
	if j.Status != chaos.StatusDeviated || j.Hypothesis.After.Status != chaos.Held {
		t.Fatalf("status %s (%s), want deviated during and held after\n%s", j.Status, j.Reason, out)
	}
	if a := j.Activities[0]; a.Affected == nil || *a.Affected < 30 || *a.Affected > 90 {
		t.Errorf("affected %v of about 200 calls, want about 30 %%", a.Affected)
	}
}
