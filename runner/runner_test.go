package runner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	_ "github.com/gonogo-dev/gonogo/extensions/all"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/rundir"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// fixture starts a simulated KServe/OpenAI server with knobs.
func fixture(t *testing.T, knobs modelserver.Knobs) string {
	t.Helper()
	cfg := modelserver.DefaultConfig()
	cfg.Addr, cfg.Knobs = "", knobs
	_, url := modelservertest.Start(t, cfg)
	return url
}

// constant is a workload of one constant-arrival-rate scenario.
func constant(t *testing.T, ratePerSec float64, d time.Duration) *scenarios.File {
	t.Helper()
	rate := ratePerSec
	f, err := scenarios.FromFlags(scenarios.Overrides{Executor: ptr(scenarios.ConstantArrivalRate), Rate: &rate, Duration: &d})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func ptr[T any](v T) *T { return &v }

func kserveConfig(t *testing.T, target string, file *scenarios.File) Config {
	return Config{File: file, Protocol: "kserve", Target: target, Client: extensions.Options{Model: modelserver.DefaultClassifierModel},
		Dir: t.TempDir(), Command: []string{"gonogo", "load"}}
}

func execute(t *testing.T, ctx context.Context, cfg Config, hooks ...Hooks) (*Run, *Result, error) {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	for _, h := range hooks {
		r.Attach(h)
	}
	res, err := r.Execute(ctx)
	return r, res, err
}

// TestLifecycle runs 3 s at 50 requests a second and checks the results
// directory, the hooks and the one time zero everything counts from.
func TestLifecycle(t *testing.T) {
	url := fixture(t, modelserver.DefaultKnobs())
	var starts, ticks, stops atomic.Int32
	var zeroAtStart time.Time
	hooks := Hooks{
		Start: func(_ context.Context, r *Run) error {
			starts.Add(1)
			zeroAtStart = r.Zero()
			return r.Journal().Emit(gonogo.Event{Kind: "fault", Source: "chaos", Target: "gpu", Message: "slow GPU"})
		},
		Tick: func(_ context.Context, r *Run, now time.Time) {
			ticks.Add(1)
			if d := now.Sub(r.Zero()); d%time.Second != 0 {
				t.Errorf("tick at +%s, not on the run's clock", d)
			}
		},
		Stop: func(context.Context, *Run) { stops.Add(1) },
	}
	cfg := kserveConfig(t, url, constant(t, 50, 3*time.Second))
	cfg.Samples = true
	r, res, err := execute(t, context.Background(), cfg, hooks)
	if err != nil {
		t.Fatal(err)
	}
	if res.Decision() != analyze.Go || res.Run.Status != reports.StatusComplete {
		t.Errorf("decision %s, status %s: %s", res.Decision(), res.Run.Status, res.Reason())
	}
	if starts.Load() != 1 || stops.Load() != 1 || ticks.Load() < 2 { // the third may fall at the end
		t.Errorf("hooks: %d starts, %d ticks, %d stops", starts.Load(), ticks.Load(), stops.Load())
	}
	if got := res.Run.Overall.Requests.Total; got != 150 {
		t.Errorf("%d requests, want 150", got)
	}
	if !res.Run.Started.Equal(zeroAtStart) || !r.Zero().Equal(zeroAtStart) {
		t.Errorf("run started %v, zero %v at Start", res.Run.Started, zeroAtStart)
	}
	// Every file of the run is there, and reads back.
	for _, f := range []string{rundir.Run, rundir.Summary, rundir.IntervalLog, rundir.Cumulative, rundir.Timeline, rundir.Events, rundir.Samples} {
		if !r.Dir().Exists(f) {
			t.Errorf("no %s", f)
		}
	}
	run, data, err := reports.LoadRun(string(r.Dir()))
	if err != nil {
		t.Fatal(err)
	}
	if run.Partial() || data.Partial != "" {
		t.Errorf("a complete run reads back partial: %q", data.Partial)
	}
	if len(data.Events) != 1 || data.Events[0].Message != "slow GPU" || data.Events[0].Source != "chaos" {
		t.Errorf("events %+v", data.Events)
	}
	// The timeline's first interval starts at time zero, as the interval
	// log's and the samples' offsets do.
	if len(data.Timeline) < 3 || data.Timeline[0].StartS != 0 {
		t.Errorf("timeline %+v", data.Timeline)
	}
	var n int64
	for _, p := range data.Timeline {
		n += p.Requests
	}
	if n != 150 {
		t.Errorf("timeline counts %d requests, want 150", n)
	}
	if len(data.Intervals) == 0 || !data.Intervals[0].Start.Equal(run.Started.Truncate(time.Millisecond)) {
		t.Errorf("first interval at %v, run started %v", data.Intervals[0].Start, run.Started)
	}
}

// TestSymmetricGroups runs two tags of the same traffic side by side: a
// relative gate between them holds (the same version looks the same).
func TestSymmetricGroups(t *testing.T) {
	url := fixture(t, modelserver.DefaultKnobs())
	file := constant(t, 200, 3*time.Second)
	for _, s := range file.Scenarios {
		s.Tags = map[string]string{"side": "a"}
	}
	b := *file.Scenarios[file.Names()[0]]
	b.Name, b.Tags = "b", map[string]string{"side": "b"}
	file.Scenarios["b"] = &b
	g, err := analyze.ParseGates("g.yaml", []byte(`gates:
  - {name: p99, metric: 'latency{side:b}', compare: 'side:a', allowed: 20%}
  - {name: median, metric: 'latency{side:b}', compare: 'side:a', stat: med, allowed: 20%}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := kserveConfig(t, url, file)
	cfg.Gates = g
	_, res, err := execute(t, context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict == nil || res.Verdict.Verdict != analyze.Go {
		t.Fatalf("verdict %+v", res.Verdict)
	}
}

// TestAbortOnWindowedGate: a server failing 30 % of requests trips a
// windowed error gate with abortOnFail after its first full window.
func TestAbortOnWindowedGate(t *testing.T) {
	url := fixture(t, modelserver.Knobs{LatencyScale: 1, ErrorRate: 0.3})
	g, err := analyze.ParseGates("g.yaml", []byte("minRequests: 20\ngates:\n  - {name: errors, metric: errors, expr: rate<0.05, window: 2s, abortOnFail: true, critical: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := kserveConfig(t, url, constant(t, 50, 20*time.Second))
	cfg.Gates = g
	start := time.Now()
	r, res, err := execute(t, context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %s: it should have stopped after its first 2 s window", took)
	}
	if res.Run.Status != reports.StatusAborted || !strings.Contains(res.Run.AbortReason, `gate "errors" failed`) {
		t.Errorf("status %s: %s", res.Run.Status, res.Run.AbortReason)
	}
	if res.Decision() != analyze.NoGo {
		t.Errorf("decision %s, want no-go (the critical gate failed)", res.Decision())
	}
	_, data, err := reports.LoadRun(string(r.Dir()))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, e := range data.Events {
		kinds[e.Kind] = true
	}
	if !kinds[EventGate] || !kinds[gonogo.EventRun] {
		t.Errorf("events %+v: want the gate's failure and the abort", data.Events)
	}
}

// TestInterrupted: a cancelled run keeps its results, is never a pass.
func TestInterrupted(t *testing.T) {
	url := fixture(t, modelserver.DefaultKnobs())
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	cfg := kserveConfig(t, url, constant(t, 50, time.Minute))
	_, res, err := execute(t, ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Status != reports.StatusInterrupted || res.Decision() != analyze.Inconclusive || res.Run.Overall.Requests.Total < 50 {
		t.Errorf("status %s, decision %s, %d requests", res.Run.Status, res.Decision(), res.Run.Overall.Requests.Total)
	}
}

// TestWriteErrorSurfaces: a file that cannot be written is an error
// naming it, and everything else is still written.
func TestWriteErrorSurfaces(t *testing.T) {
	url := fixture(t, modelserver.DefaultKnobs())
	cfg := kserveConfig(t, url, constant(t, 50, time.Second))
	block := Hooks{Start: func(_ context.Context, r *Run) error {
		// histograms.hlog cannot be renamed over a directory that is not
		// empty.
		return errors.Join(os.Mkdir(r.Dir().Path(rundir.Cumulative), 0o755),
			os.WriteFile(r.Dir().Path(rundir.Cumulative)+"/x", nil, 0o644))
	}}
	r, res, err := execute(t, context.Background(), cfg, block)
	if err == nil || !strings.Contains(err.Error(), rundir.Cumulative) || errors.Is(err, ErrInput) {
		t.Fatalf("err = %v, want a runtime error naming %s", err, rundir.Cumulative)
	}
	if res == nil || !r.Dir().Exists(rundir.Run) || !r.Dir().Exists(rundir.Summary) {
		t.Errorf("the rest of the results is missing (result %v)", res)
	}
}

// TestMarkers: a person adds markers during the run, over HTTP and with
// Mark (gonogo mark) from outside.
func TestMarkers(t *testing.T) {
	url := fixture(t, modelserver.DefaultKnobs())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := kserveConfig(t, url, constant(t, 20, 3*time.Second))
	cfg.MetricsAddr = addr
	var posted atomic.Bool
	hooks := Hooks{Tick: func(_ context.Context, r *Run, _ time.Time) {
		if posted.Swap(true) {
			return
		}
		resp, err := http.Post("http://"+addr+"/events", "text/plain", strings.NewReader("deploy v2 started"))
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Errorf("POST /events: %v %v", err, resp)
		} else {
			resp.Body.Close()
		}
		if err := Mark(r.Dir(), "from another terminal", map[string]string{"who": "sre"}); err != nil {
			t.Error(err)
		}
		resp, err = http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Error(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(body, []byte(`gonogo_window_quantile{group="",metric="latency",quantile="0.99",window="30s"}`)) {
			t.Errorf("no windowed p99 on /metrics:\n%s", body)
		}
	}}
	r, _, err := execute(t, context.Background(), cfg, hooks)
	if err != nil {
		t.Fatal(err)
	}
	_, data, err := reports.LoadRun(string(r.Dir()))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range data.Events {
		if e.Kind == gonogo.EventMarker {
			msgs = append(msgs, e.Message)
		}
	}
	if strings.Join(msgs, "|") != "deploy v2 started|from another terminal" {
		t.Errorf("markers %q", msgs)
	}
}

// TestSecretsRedacted: a credential on the command line or in the target
// is stored nowhere.
func TestSecretsRedacted(t *testing.T) {
	url := fixture(t, modelserver.DefaultKnobs())
	cfg := kserveConfig(t, url, constant(t, 20, time.Second))
	cfg.Client.Headers = map[string]string{"Authorization": "Bearer sk-secret-123"}
	cfg.Command = []string{"gonogo", "load", "-H", "Authorization: Bearer sk-secret-123", "--label=version=v1", "--api-key", "sk-secret-123"}
	cfg.History = t.TempDir() + "/history.db"
	r, res, err := execute(t, context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := "gonogo load -H 'Authorization: REDACTED' --label=version=v1 --api-key REDACTED"
	if res.Run.Command != want {
		t.Errorf("command %q, want %q", res.Run.Command, want)
	}
	for _, path := range []string{r.Dir().Path(rundir.Run), r.Dir().Path(rundir.Summary), cfg.History} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("sk-secret")) {
			t.Errorf("%s holds the secret", path)
		}
	}
}

func TestRedactArgs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"-H|Authorization: Bearer x", "-H|Authorization: REDACTED"},
		{"--header=X-Api-Key: k", "--header=X-Api-Key: REDACTED"},
		{"-H|Accept: text/plain", "-H|Accept: text/plain"},
		{"--token|t1|--rate|5", "--token|REDACTED|--rate|5"},
		{"--target|http://u:pw@host/v1?api_key=z&x=1", "--target|http://u:REDACTED@host/v1?api_key=REDACTED&x=1"},
		{"--label=[version=v1]", "--label=[version=v1]"},
	} {
		got := strings.Join(RedactArgs(strings.Split(tc.in, "|")), "|")
		if got != tc.want {
			t.Errorf("RedactArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := CommandLine([]string{"gonogo", "load", "--tag", "a b", "it's"}); got != `gonogo load --tag 'a b' 'it'\''s'` {
		t.Errorf("CommandLine = %s", got)
	}
}

// TestStartHookFails: a hook that cannot start stops the run before its
// first request, and the results say so.
func TestStartHookFails(t *testing.T) {
	url := fixture(t, modelserver.DefaultKnobs())
	cfg := kserveConfig(t, url, constant(t, 50, 10*time.Second))
	boom := errors.New("fault proxy cannot listen")
	_, res, err := execute(t, context.Background(), cfg, Hooks{Start: func(context.Context, *Run) error { return boom }})
	if !errors.Is(err, boom) || res == nil {
		t.Fatalf("err %v, result %v", err, res)
	}
	if res.Run.Status != reports.StatusAborted || res.Run.Overall.Requests.Total != 0 || !strings.Contains(res.Run.AbortReason, "fault proxy") {
		t.Errorf("status %s (%s), %d requests", res.Run.Status, res.Run.AbortReason, res.Run.Overall.Requests.Total)
	}
}

// TestEventsKeptForTheNextRun: a reused results directory loses the last
// run's events, not a marker put there for the run about to start.
func TestEventsKeptForTheNextRun(t *testing.T) {
	url := fixture(t, modelserver.DefaultKnobs())
	cfg := kserveConfig(t, url, constant(t, 20, time.Second))
	r, first, err := execute(t, context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := Mark(r.Dir(), "deploy of v2 started", nil); err != nil {
		t.Fatal(err)
	}
	j, err := OpenJournal(r.Dir())
	if err != nil {
		t.Fatal(err)
	}
	old := gonogo.Event{Time: first.Run.Ended.Add(-time.Second), Kind: "fault", Message: "last night's fault"}
	if err := errors.Join(j.Emit(old), j.Close()); err != nil {
		t.Fatal(err)
	}
	r2, _, err := execute(t, context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, data, err := reports.LoadRun(string(r2.Dir()))
	if err != nil {
		t.Fatal(err)
	}
	if len(data.Events) != 1 || data.Events[0].Message != "deploy of v2 started" {
		t.Errorf("events %+v, want only the marker put there for this run", data.Events)
	}
}
