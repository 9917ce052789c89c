//go:build !race

package scenarios_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// TestArrivalsKeepRateOverHTTP checks the open-model path end to end — VUs
// that take their arrivals themselves, connections warmed before time zero,
// the plain-HTTP client, the recorder — against a local server that answers
// at once: every arrival is sent and answered, at the target rate, on time.
// The tolerances are those of a correct engine on a busy CI machine, not
// performance targets (those are in `make bench`).
func TestArrivalsKeepRateOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("2 s timing test")
	}
	var served, conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served.Add(1)
		w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	for _, arrival := range []string{scenarios.ArrivalConstant, scenarios.ArrivalPoisson} {
		t.Run(arrival, func(t *testing.T) {
			served.Store(0)
			conns.Store(0)
			const rate, secs = 2000, 2
			st := measure(t, &scenarios.Scenario{
				Executor: scenarios.ConstantArrivalRate, Rate: rate, Duration: secs * time.Second,
				Arrival: arrival, Seed: 7, PreAllocatedVUs: 10, MaxVUs: 500,
			}, "http", extensions.Options{Target: srv.URL})
			arrivals := st.Requests.Total + st.Requests.Dropped
			t.Logf("%d arrivals, %d dropped, achieved %.1f/s, scheduling_lag p99 %.2f ms, latency p99 %.2f ms",
				arrivals, st.Requests.Dropped, st.Rate.AchievedPerSec, st.SchedulingLag.P99, st.Latency.P99)
			if arrival == scenarios.ArrivalConstant && arrivals != rate*secs {
				t.Errorf("%d arrivals, want %d", arrivals, rate*secs)
			}
			if st.Requests.OK != st.Requests.Total || served.Load() != st.Requests.Total {
				t.Errorf("%d requests, %d ok, %d served: want all sent requests answered", st.Requests.Total, st.Requests.OK, served.Load())
			}
			if st.Requests.Dropped > arrivals/100 {
				t.Errorf("%d of %d arrivals dropped, want ≤ 1 %%", st.Requests.Dropped, arrivals)
			}
			if got := st.Rate.AchievedPerSec; got < 0.95*rate || got > 1.05*rate {
				t.Errorf("achieved %.1f/s, want %d/s ± 5 %%", got, rate)
			}
			if p99 := st.SchedulingLag.P99; p99 > 20 {
				t.Errorf("scheduling_lag p99 %.2f ms, want ≤ 20 ms", p99)
			}
			if n := conns.Load(); n < 40 {
				t.Errorf("%d connections opened, want at least the 40 warmed (20 ms of %d/s)", n, rate)
			}
		})
	}
}
