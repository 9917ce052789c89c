package analyze

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// rate is a rate stage with the given throughput and p99 latency (p50 at
// 80 % of it, TTFT a tenth).
func rate(i int, offered, tput, p99 float64) SweepStage {
	return SweepStage{Index: i, Kind: StageRate, OfferedPerSec: offered, Status: "complete", Requests: 100, OK: 100,
		ThroughputPerSec: tput, Latency: &Quantiles{P50: 0.8 * p99, P90: 0.9 * p99, P99: p99}, TTFT: &Quantiles{P50: p99 / 12, P90: p99 / 11, P99: p99 / 10}}
}

func TestAnalyzeSweepKneeAndSLO(t *testing.T) {
	sync := SweepStage{Index: 1, Kind: StageSynchronous, VUs: 1, Status: "complete", Requests: 20, OK: 20, ThroughputPerSec: 4,
		Latency: &Quantiles{P50: 240, P90: 245, P99: 250}, TTFT: &Quantiles{P50: 20, P90: 22, P99: 25}}
	thr := SweepStage{Index: 2, Kind: StageThroughput, VUs: 64, Status: "complete", Requests: 900, OK: 900, ThroughputPerSec: 30,
		Latency: &Quantiles{P50: 2000, P90: 2100, P99: 2200}}
	tests := []struct {
		name   string
		stages []SweepStage
		opts   SweepOptions
		// want: knee, turned at, highest SLO rate, saturation, reached, replicas
		knee, turnedAt, slo, sat float64
		reached                  bool
		replicas                 int
		reason                   string
	}{
		{
			name:   "latency turns before throughput falls",
			stages: []SweepStage{sync, thr, rate(3, 4, 4, 260), rate(4, 12, 12, 300), rate(5, 20, 19.8, 700), rate(6, 28, 27.5, 900)},
			opts:   SweepOptions{TargetRatePerSec: 100, Headroom: 0.3},
			// 700 ms > 3 × 250 ms? No: 750 is the bound; 900 is past it.
			knee: 20, turnedAt: 28, slo: 28, sat: 30, reached: true, replicas: 8, reason: "p99 latency 900 ms is 3.6× the baseline's 250 ms",
		},
		{
			name:   "throughput falls behind the offered rate",
			stages: []SweepStage{rate(1, 10, 10, 100), rate(2, 20, 19.9, 120), rate(3, 40, 31, 180), rate(4, 80, 32, 2000)},
			opts:   SweepOptions{TargetRatePerSec: 50, Headroom: 0},
			knee:   20, turnedAt: 40, slo: 40, sat: 32, reached: true, replicas: 3, reason: "throughput 31/s is 77.5 % of the offered 40/s",
		},
		{
			name:   "never turns: the knee is the highest rate, saturation a lower bound",
			stages: []SweepStage{rate(1, 5, 5, 100), rate(2, 10, 10, 110)},
			knee:   10, slo: 10, sat: 10,
		},
		{
			name:   "the lowest rate had turned already",
			stages: []SweepStage{rate(1, 50, 20, 100), rate(2, 60, 20, 150)},
			opts:   SweepOptions{TargetRatePerSec: 10, Headroom: 0.3},
			knee:   0, turnedAt: 50, slo: 60, sat: 20, reached: true, replicas: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := AnalyzeSweep(tc.stages, tc.opts)
			k := a.Knee
			if k.RatePerSec != tc.knee || k.TurnedAtPerSec != tc.turnedAt || k.Turned != (tc.turnedAt > 0) {
				t.Errorf("knee %+v, want %g turned at %g", k, tc.knee, tc.turnedAt)
			}
			if !strings.Contains(k.Reason, tc.reason) {
				t.Errorf("reason %q, want %q in it", k.Reason, tc.reason)
			}
			if a.SLO.MaxRatePerSec != tc.slo || a.SLO.Source != "default" {
				t.Errorf("SLO %+v, want highest rate %g", a.SLO, tc.slo)
			}
			if a.Saturation.RatePerSec != tc.sat || a.Saturation.Reached != tc.reached {
				t.Errorf("saturation %+v, want %g reached %v", a.Saturation, tc.sat, tc.reached)
			}
			switch ad := a.Advice; {
			case tc.opts.TargetRatePerSec == 0 && ad != nil:
				t.Errorf("advice %+v without a target rate", ad)
			case tc.opts.TargetRatePerSec > 0 && (ad == nil || ad.Replicas != tc.replicas):
				t.Errorf("advice %+v, want %d replicas", ad, tc.replicas)
			case ad != nil && ad.Replicas == 0 && ad.Reason == "":
				t.Error("no advice and no reason")
			}
		})
	}
}

// TestSweepDefaultSLO: each rule of the default SLO fails a stage of its
// own, with a reason; the throughput stage is not judged; the highest rate
// is that of the unbroken run of stages that met it from the lowest.
func TestSweepDefaultSLO(t *testing.T) {
	errs := rate(3, 20, 20, 200)
	errs.Failed, errs.ErrorRate = 5, 0.05
	drops := rate(4, 30, 29, 200)
	drops.Dropped, drops.DropRate = 3, 0.029
	slowTTFT := rate(5, 40, 39, 300)
	slowTTFT.TTFT.P99 = 200
	stages := []SweepStage{
		{Index: 1, Kind: StageThroughput, VUs: 8, OK: 10, Requests: 10, ThroughputPerSec: 50},
		rate(2, 10, 10, 100), errs, drops, slowTTFT, rate(6, 50, 49, 600), rate(7, 60, 59, 200),
	}
	stages[6].Status = "interrupted"
	a := AnalyzeSweep(stages, SweepOptions{})
	want := map[int]string{
		1: "not judged", 2: "", 3: "error rate 5 % > 1 %", 4: "dropped 2.9 % > 1 %",
		5: "p99 TTFT 200 ms > 50 ms", 6: "p99 latency 600 ms > 500 ms", 7: "the stage ended early (interrupted)",
	}
	for _, st := range stages {
		got := strings.Join(st.SLO.Reasons, "; ")
		if w := want[st.Index]; (w == "") != st.SLO.Met && st.SLO.Judged || !strings.Contains(got, w) {
			t.Errorf("stage %d: %+v, want %q", st.Index, st.SLO, w)
		}
	}
	if stages[0].SLO.Judged {
		t.Error("the throughput stage was judged")
	}
	if a.SLO.MaxRatePerSec != 10 || a.SLO.Stage != 2 {
		t.Errorf("highest rate meeting the SLO %+v, want 10/s (stage 2)", a.SLO)
	}
}

// TestSweepGatesSLO: with a gates file, a stage meets the SLO when its
// verdict is go, and its failed thresholds fail it too.
func TestSweepGatesSLO(t *testing.T) {
	a, b, c := rate(1, 10, 10, 100), rate(2, 20, 20, 5000), rate(3, 30, 30, 120)
	a.Verdict, b.Verdict, c.Verdict = "go", "go", "no-go"
	b.Thresholds = "thresholds failed: latency p(99)<1000 (observed 5000)"
	c.GateFailures = []string{"p99: p99 latency 120 ms > 100 ms"}
	stages := []SweepStage{a, b, c}
	an := AnalyzeSweep(stages, SweepOptions{Gates: "gates.yaml"})
	if !stages[0].SLO.Met || stages[1].SLO.Met || stages[2].SLO.Met {
		t.Errorf("SLO %+v / %+v / %+v", stages[0].SLO, stages[1].SLO, stages[2].SLO)
	}
	if got := strings.Join(stages[2].SLO.Reasons, "; "); got != "verdict no-go; p99: p99 latency 120 ms > 100 ms" {
		t.Errorf("reasons %q", got)
	}
	if an.SLO.Source != "gates" || an.SLO.Gates != "gates.yaml" || an.SLO.MaxRatePerSec != 10 {
		t.Errorf("SLO %+v", an.SLO)
	}
}

func loads(waiting, running, kv float64, kvFraction bool) map[string]ServerLoad {
	kvName := "modelserver_kv_tokens_used"
	if kvFraction {
		kvName = "vllm:kv_cache_usage_perc"
	}
	return map[string]ServerLoad{
		ResourceWaiting: {Metric: "waiting", Mean: waiting, Max: waiting + 1, Samples: 10},
		ResourceRunning: {Metric: "running", Mean: running, P90: running, Max: math.Ceil(running), Samples: 10},
		ResourceKVCache: {Metric: kvName, Fraction: kvFraction, Mean: kv, P90: kv, Max: kv * 1.02, Samples: 10},
	}
}

// TestSweepResources: which resource reached its limit first.
func TestSweepResources(t *testing.T) {
	with := func(st SweepStage, l map[string]ServerLoad) SweepStage { st.Server = l; return st }
	// fixture is the simulated server's page: counts with the limits it
	// states, 16 slots and 4096 KV tokens, whose 90th percentiles are
	// given; the means are lower (a stage's ramp and drain) and the peaks
	// higher (bursts), so that neither is what is judged.
	fixture := func(waiting, running, kv float64) map[string]ServerLoad {
		return map[string]ServerLoad{
			ResourceWaiting: {Metric: "modelserver_queue_depth", Mean: waiting, P90: 2 * waiting, Max: 3 * waiting, Samples: 10},
			ResourceRunning: {Metric: "modelserver_running_seqs", Mean: 0.8 * running, P90: running, Max: min(running+5, 16), Limit: 16, Samples: 10},
			ResourceKVCache: {Metric: "modelserver_kv_tokens_used", Mean: 0.8 * kv, P90: kv, Max: min(kv+1000, 4096), Limit: 4096, Samples: 10},
		}
	}
	tests := []struct {
		name   string
		stages []SweepStage
		first  string
		at     float64
		queue  int
		each   int    // resources on the page, 3 when 0
		source string // the first's limit source, when set
	}{
		{
			// The server states 16 slots: the batch reaches them (p90 15.5
			// ≥ 95 %, though its mean is 12.4) at 45/s; a peak of 16 at
			// 30/s is a burst, not the limit.
			name: "running reaches the limit the server states",
			stages: []SweepStage{with(rate(1, 10, 10, 100), fixture(0, 4, 500)), with(rate(2, 30, 30, 110), fixture(0.3, 12, 1500)),
				with(rate(3, 45, 40, 900), fixture(6, 15.5, 2000)), with(rate(4, 60, 40, 2000), fixture(40, 16, 2048))},
			first: ResourceRunning, at: 45, queue: 3, source: LimitServer,
		},
		{
			// Long prompts: the KV tokens reach the capacity at 30/s with
			// 9 of 16 slots busy; the batch never reaches its limit.
			name: "kv tokens reach the capacity the server states",
			stages: []SweepStage{with(rate(1, 10, 10, 100), fixture(0, 3, 1400)), with(rate(2, 30, 28, 900), fixture(4, 8.8, 3990)),
				with(rate(3, 45, 28, 2000), fixture(20, 9, 4050))},
			first: ResourceKVCache, at: 30, queue: 2, source: LimitServer,
		},
		{
			// Requests queue, the batch stays below the 16 slots the server
			// states and the KV cache has room: neither is the limit, the
			// queue is reported.
			name: "a stated limit not reached is not inferred",
			stages: []SweepStage{with(rate(1, 10, 10, 100), fixture(0, 4, 500)), with(rate(2, 30, 25, 900), fixture(5, 8, 1000)),
				with(rate(3, 45, 25, 2000), fixture(20, 8, 1000))},
			first: ResourceWaiting, at: 30, queue: 2, source: LimitQueue,
		},
		{
			// A batch of 16 slots fills while the KV cache (a fraction) has
			// room: the running batch, where the queue formed.
			name: "running batch",
			stages: []SweepStage{with(rate(1, 10, 10, 100), loads(0, 4, 0.1, true)), with(rate(2, 30, 30, 110), loads(0.2, 12, 0.3, true)),
				with(rate(3, 45, 40, 900), loads(6, 16, 0.4, true)), with(rate(4, 60, 40, 2000), loads(40, 16, 0.4, true))},
			first: ResourceRunning, at: 45, queue: 3,
		},
		{
			// The KV cache fills at 30/s, before requests queue: it is first
			// (a known limit), though the running batch plateaus later.
			name: "kv cache",
			stages: []SweepStage{with(rate(1, 10, 10, 100), loads(0, 4, 0.4, true)), with(rate(2, 30, 30, 110), loads(0.5, 9, 0.96, true)),
				with(rate(3, 45, 32, 900), loads(8, 10, 0.97, true))},
			first: ResourceKVCache, at: 30, queue: 3,
		},
		{
			// Both at the same stage: the known limit wins over the plateau.
			name:   "a tie goes to the known limit",
			stages: []SweepStage{with(rate(1, 10, 10, 100), loads(0, 4, 0.4, true)), with(rate(2, 30, 25, 900), loads(5, 9, 0.97, true))},
			first:  ResourceKVCache, at: 30, queue: 2,
		},
		{
			// Requests queue from 30/s; the batch grows to 8 at 45/s, where
			// requests queue beside it: it can grow no further. The KV cache
			// in tokens has no limit on the page and is not judged.
			name: "the batch stops growing where requests queue",
			stages: []SweepStage{with(rate(1, 10, 10, 100), loads(0, 2, 100, false)), with(rate(2, 30, 25, 900), loads(3, 4, 300, false)),
				with(rate(3, 45, 25, 900), loads(9, 8, 600, false))},
			first: ResourceRunning, at: 45, queue: 2, source: LimitInferred,
		},
		{
			// Requests queue, and the page shows nothing else that could be
			// full: the queue itself is reported.
			name: "queue without a visible limit",
			stages: []SweepStage{with(rate(1, 10, 10, 100), map[string]ServerLoad{ResourceWaiting: {Metric: "w", Mean: 0, Samples: 5}}),
				with(rate(2, 30, 25, 900), map[string]ServerLoad{ResourceWaiting: {Metric: "w", Mean: 4, Max: 9, Samples: 5}})},
			first: ResourceWaiting, at: 30, queue: 2, each: 1,
		},
		{
			name:   "nothing saturated",
			stages: []SweepStage{with(rate(1, 10, 10, 100), loads(0, 2, 100, false)), with(rate(2, 20, 20, 110), loads(0.1, 4, 200, false))},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := AnalyzeSweep(tc.stages, SweepOptions{}).Resources
			if r == nil {
				t.Fatal("no resource report")
			}
			if r.First != tc.first || r.AtPerSec != tc.at || r.QueueStage != tc.queue {
				t.Errorf("first %q at %g (queue at stage %d; %s), want %q at %g (queue at stage %d); each %+v", r.First, r.AtPerSec, r.QueueStage, r.Basis, tc.first, tc.at, tc.queue, r.Each)
			}
			n := 3
			if tc.each > 0 {
				n = tc.each
			}
			if r.Basis == "" || len(r.Each) != n {
				t.Errorf("basis %q, each %+v", r.Basis, r.Each)
			}
			for _, e := range r.Each {
				if tc.source != "" && e.Resource == tc.first && (e.LimitSource != tc.source || e.Stage != r.Stage) {
					t.Errorf("%s: limit from %q at stage %d, want %q at stage %d", e.Resource, e.LimitSource, e.Stage, tc.source, r.Stage)
				}
			}
		})
	}
	if r := AnalyzeSweep([]SweepStage{rate(1, 10, 10, 100)}, SweepOptions{}).Resources; r != nil {
		t.Errorf("resources without server gauges: %+v", r)
	}
}

// evenly is n completion times step apart from t0.
func evenly(t0 time.Time, n int, step time.Duration) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = t0.Add(time.Duration(i) * step)
	}
	return out
}

func TestServingThroughput(t *testing.T) {
	t0 := time.Unix(1000, 0)
	late := evenly(t0, 101, 100*time.Millisecond)
	late[0] = late[0].Add(900 * time.Millisecond) // a hiccup delays the first
	slices.SortFunc(late, time.Time.Compare)
	// A batching server: 8 answers together every 0.5 s, 16/s.
	var stairs []time.Time
	for k := range 10 {
		for j := range 8 {
			stairs = append(stairs, t0.Add(time.Duration(k)*500*time.Millisecond+time.Duration(j)*100*time.Microsecond))
		}
	}
	if got := ServingThroughput(Completions{OK: 80, Total: 80, Done: stairs, Stride: 1}, 0); math.Abs(got-16) > 0.05*16 {
		t.Errorf("batched completions: %g/s, want 16/s ± 5 %%", got)
	}
	tests := []struct {
		name string
		c    Completions
		vus  int
		want float64
	}{
		// 101 completions 0.1 s apart: 10/s.
		{"open", Completions{OK: 101, Total: 101, Done: evenly(t0, 101, 100*time.Millisecond), Stride: 1}, 0, 10},
		// The first 10 % and the last are left out: a late first one
		// does not count.
		{"open, a hiccup at the start", Completions{OK: 101, Total: 101, Done: late, Stride: 1}, 0, 10},
		// Every second completion kept: the stride counts them.
		{"open, decimated", Completions{OK: 202, Total: 202, Done: evenly(t0, 101, 100*time.Millisecond), Stride: 2}, 0, 20},
		{"open, one completion", Completions{OK: 1, Total: 1, Done: []time.Time{t0}, Stride: 1}, 0, 0},
		// Little's law: 16 VUs, each request 0.5 s: 32/s; a quarter
		// failed: 24/s of successes.
		{"closed", Completions{OK: 40, Total: 40, Service: 20 * time.Second}, 16, 32},
		{"closed with failures", Completions{OK: 30, Total: 40, Service: 20 * time.Second}, 16, 24},
		{"nothing", Completions{}, 4, 0},
	}
	for _, tc := range tests {
		if got := ServingThroughput(tc.c, tc.vus); got != tc.want {
			t.Errorf("%s: %g, want %g", tc.name, got, tc.want)
		}
	}
	// The counter gathers the same from results, in any order.
	var cc CompletionCounter
	req := &gonogo.Request{}
	for _, i := range []int{3, 0, 4, 1, 2} {
		sent := t0.Add(time.Duration(i) * time.Second)
		res := &gonogo.Result{Request: req, Sent: sent, Done: sent.Add(500 * time.Millisecond)}
		if i == 4 {
			res.Class = gonogo.ErrHTTP5xx
		}
		cc.Record(res)
	}
	cc.Drop(req)
	c := cc.Completions()
	if c.OK != 4 || c.Total != 5 || c.Service != 2500*time.Millisecond || c.Stride != 1 ||
		!slices.Equal(c.Done, evenly(t0.Add(500*time.Millisecond), 4, time.Second)) {
		t.Errorf("counted %+v", c)
	}
}

// TestCompletionCounterBounded: past maxCompletionTimes the counter keeps
// every other time, and the throughput stays right.
func TestCompletionCounterBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("3 million results")
	}
	var cc CompletionCounter
	t0 := time.Unix(1000, 0)
	req := &gonogo.Request{}
	n := 3 * maxCompletionTimes
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Millisecond) // 1000/s
		cc.Record(&gonogo.Result{Request: req, Sent: at, Done: at})
	}
	c := cc.Completions()
	if len(c.Done) > maxCompletionTimes || c.Stride < 2 || c.OK != int64(n) {
		t.Fatalf("%d times kept, stride %d, ok %d", len(c.Done), c.Stride, c.OK)
	}
	if got := ServingThroughput(c, 0); math.Abs(got-1000) > 1 {
		t.Errorf("throughput %g, want 1000", got)
	}
}
