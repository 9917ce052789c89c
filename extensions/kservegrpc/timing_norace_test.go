//go:build !race

package kservegrpc

import (
	"slices"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
)

// Timing tests: out of race builds, whose slowdown they would measure.

// TestLatencyQuantiles checks the service times measured through the
// client against the fixture's InferLatencyQuantile truth.
func TestLatencyQuantiles(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	cfg.InferLatency = 10 * time.Millisecond
	cfg.InferJitter = 1
	_, _, addr := fixture(t, cfg)
	c := newClient(t, extensions.Options{Target: addr})
	var lat []time.Duration
	for _, res := range doMany(t, c, 320, 8) {
		if res.Failed() {
			t.Fatal(res.Err)
		}
		lat = append(lat, res.ServiceTime())
	}
	slices.Sort(lat)
	if lat[0] < modelserver.InferLatencyQuantile(cfg, 0) {
		t.Errorf("min %v below the base latency %v", lat[0], modelserver.InferLatencyQuantile(cfg, 0))
	}
	// Sampling error of 320 samples plus gRPC and timer overhead on a
	// busy 2-core machine.
	for _, q := range []float64{0.5, 0.9} {
		got := lat[int(q*float64(len(lat)))]
		want := modelserver.InferLatencyQuantile(cfg, q)
		t.Logf("q%.2f: measured %v, true %v", q, got, want)
		if float64(got) < 0.8*float64(want) || float64(got) > 1.3*float64(want)+float64(8*time.Millisecond) {
			t.Errorf("q%.2f: measured %v, true %v", q, got, want)
		}
	}
}

// TestLatencyScale guards the quantile test's premise: service times grow
// with the fixture's latency scale.
func TestLatencyScale(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	cfg.InferLatency, cfg.InferJitter = 5*time.Millisecond, 0
	s, _, addr := fixture(t, cfg)
	c := newClient(t, extensions.Options{Target: addr})
	median := func() time.Duration {
		var d []time.Duration
		for _, res := range doMany(t, c, 40, 4) {
			if res.Failed() {
				t.Fatal(res.Err)
			}
			d = append(d, res.ServiceTime())
		}
		slices.Sort(d)
		return d[len(d)/2]
	}
	base := median()
	k := s.Knobs()
	k.LatencyScale = 4
	if err := s.SetKnobs(k); err != nil {
		t.Fatal(err)
	}
	scaled := median()
	t.Logf("median %v at scale 1, %v at scale 4", base, scaled)
	if scaled-base < 12*time.Millisecond || scaled-base > 20*time.Millisecond {
		t.Errorf("median grew by %v from scale 1 to 4, want ≈ 15ms", scaled-base)
	}
}
