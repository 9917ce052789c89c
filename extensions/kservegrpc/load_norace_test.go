//go:build !race

package kservegrpc_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	_ "github.com/gonogo-dev/gonogo/extensions/all"
	"github.com/gonogo-dev/gonogo/extensions/kservegrpc"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/runner"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// TestLoadRun is `gonogo load --protocol kserve-grpc --executor
// constant-arrival-rate --rate 200 --duration 1.5s` against the fixture's
// gRPC API, through the registry (extensions/all) and the runner: 300
// requests, every one answered, latency near the fixture's truth.
func TestLoadRun(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	srv, _ := modelservertest.Start(t, cfg)
	addr, stop, err := srv.StartGRPC()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	rate, d := 200.0, 1500*time.Millisecond
	file, err := scenarios.FromFlags(scenarios.Overrides{Executor: new(scenarios.ConstantArrivalRate), Rate: &rate, Duration: &d})
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(runner.Config{
		File: file, Protocol: kservegrpc.Name, Target: addr,
		Client: extensions.Options{Model: modelserver.DefaultClassifierModel},
		Dir:    t.TempDir(), Command: []string{"gonogo", "load"}, Out: io.Discard, Err: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Execute(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	o := res.Run.Overall
	if res.Decision() != analyze.Go || o.Requests.Total != 300 || o.Requests.OK != 300 || o.Requests.Dropped != 0 {
		t.Fatalf("decision %s: %d requests, %d ok, %d dropped, failed %v (%v)",
			res.Decision(), o.Requests.Total, o.Requests.OK, o.Requests.Dropped, o.Requests.Failed, o.Errors)
	}
	if srv.Requests() != 300 {
		t.Errorf("the server saw %d ModelInfer calls, want 300", srv.Requests())
	}
	// The median service time is the fixture's median infer latency plus
	// the call's overhead on loopback (about 1 ms on an idle 2-core
	// machine; the bound leaves room for a busy one).
	p50 := time.Duration(o.LatencyService.P50 * float64(time.Millisecond))
	truth := modelserver.InferLatencyQuantile(cfg, 0.5)
	t.Logf("service time p50 %v, fixture truth %v", p50, truth)
	if p50 < truth || p50 > truth+10*time.Millisecond {
		t.Errorf("service time p50 %v, want the fixture's %v plus < 10ms", p50, truth)
	}
}
