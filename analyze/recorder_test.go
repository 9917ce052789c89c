package analyze

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

var update = flag.Bool("update", false, "rewrite golden files")

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 250_000_000, time.UTC)

// result builds a result intended at at, sent lag later, done latency after
// the intended time.
func result(scenario string, at time.Time, lag, latency time.Duration) *gonogo.Result {
	req := &gonogo.Request{Scenario: scenario, Intended: at}
	return &gonogo.Result{Request: req, Sent: at.Add(lag), Done: at.Add(latency)}
}

func newRec(t testing.TB, cfg Config) *Recorder {
	t.Helper()
	if cfg.Start.IsZero() {
		cfg.Start = t0
	}
	r, err := NewRecorder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func near(got, want, relTol float64) bool {
	return math.Abs(got-want) <= relTol*math.Abs(want)+1e-9
}

func TestPercentilesTruth(t *testing.T) {
	r := newRec(t, Config{})
	// 10 000 results, latency uniform over 1..100 ms (100 each), sent 2 ms late.
	for i := range 10000 {
		lat := time.Duration(i%100+1) * time.Millisecond
		r.Record(result("main", t0.Add(time.Duration(i)*time.Millisecond), 2*time.Millisecond, lat))
	}
	s := r.Summary(t0.Add(10 * time.Second))
	lat := s.Overall.Latency
	if lat == nil {
		t.Fatal("no latency stats")
	}
	const tol = 0.001 // 3 significant digits
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"min", lat.Min, 1}, {"p50", lat.P50, 50}, {"p90", lat.P90, 90},
		{"p95", lat.P95, 95}, {"p99", lat.P99, 99}, {"p999", lat.P999, 100},
		{"max", lat.Max, 100}, {"mean", lat.Mean, 50.5},
	} {
		if !near(c.got, c.want, tol) {
			t.Errorf("latency %s = %v ms, want %v ±0.1%%", c.name, c.got, c.want)
		}
	}
	if lat.Count != 10000 {
		t.Errorf("count = %d, want 10000", lat.Count)
	}
	if svc := s.Overall.LatencyService; svc == nil || !near(svc.P50, 48, tol) || !near(svc.Min, 0, tol) {
		t.Errorf("latency_service = %+v, want p50 48 ms, min ~0 (the 1 ms requests finish before the late send)", svc)
	}
	if lag := s.Overall.SchedulingLag; lag == nil || lag.P50 != 2 || lag.Max != 2 {
		t.Errorf("scheduling_lag = %+v, want 2 ms", lag)
	}
	// 9 999 gaps between sends from the first intended (0) to the last
	// actual send (9 999 ms + 2 ms lag).
	if got := s.Overall.Rate.AchievedPerSec; !near(got, 9999/10.001, 0.001) {
		t.Errorf("achieved rate = %v, want %v", got, 9999/10.001)
	}
	if s.Overall.TTFT != nil || s.Overall.OutputTokens != nil || s.Overall.TokensPerSec != nil {
		t.Errorf("LLM metrics present without LLM data: %+v", s.Overall)
	}
	// The cumulative histogram is exported, in microseconds.
	h := r.Histogram(Overall, MetricLatency)
	if h == nil || h.TotalCount() != 10000 || !h.ValuesAreEquivalent(h.ValueAtPercentile(50), 50000) {
		t.Errorf("Histogram(overall, latency) wrong: %v", h)
	}
	if r.Histogram(Overall, "nope") != nil || r.Histogram(ScenarioGroup("x"), MetricLatency) != nil {
		t.Error("Histogram of unknown metric or group is not nil")
	}
}

func TestClassesDropsQueues(t *testing.T) {
	r := newRec(t, Config{})
	classes := []gonogo.ErrorClass{gonogo.ErrNone, gonogo.ErrNone, gonogo.ErrTimeout, gonogo.ErrHTTP5xx, gonogo.ErrHTTP5xx, "weird"}
	for i, c := range classes {
		res := result("s", t0, 0, 10*time.Millisecond)
		res.Class = c
		res.Queued = i%2 == 0
		res.TTFT = 5 * time.Millisecond // ignored for failures
		r.Record(res)
	}
	for range 3 {
		r.Drop(&gonogo.Request{Scenario: "s"})
	}
	s := r.Summary(t0.Add(time.Second))
	rq := s.Overall.Requests
	want := map[string]int64{"timeout": 1, "http_5xx": 2, "other": 1}
	if rq.Total != 6 || rq.OK != 2 || rq.Dropped != 3 || rq.Queued != 3 || rq.FailedTotal() != 4 {
		t.Errorf("requests = %+v", rq)
	}
	for k, v := range want {
		if rq.Failed[k] != v {
			t.Errorf("failed[%s] = %d, want %d", k, rq.Failed[k], v)
		}
	}
	if len(rq.Failed) != len(want) {
		t.Errorf("failed = %v, want %v", rq.Failed, want)
	}
	if s.Overall.Latency.Count != 2 || s.Overall.LatencyFailed.Count != 4 || s.Overall.SchedulingLag.Count != 6 {
		t.Errorf("latency count = %d, latency_failed %d, scheduling_lag %d; want 2 (successes), 4 (failures), 6 (all)",
			s.Overall.Latency.Count, s.Overall.LatencyFailed.Count, s.Overall.SchedulingLag.Count)
	}
	if len(s.Overall.Errors) != 3 {
		t.Errorf("errors = %+v, want one message of each failed class", s.Overall.Errors)
	}
	if s.Overall.TTFT == nil || s.Overall.TTFT.Count != 2 {
		t.Errorf("ttft = %+v, want 2 (successes only)", s.Overall.TTFT)
	}
	if got := s.Scenarios["s"].Requests.Dropped; got != 3 {
		t.Errorf("scenario dropped = %d, want 3", got)
	}
	if l := r.Live(t0.Add(2 * time.Second)); l.Requests != 6 || l.Failed != 4 || l.Dropped != 3 {
		t.Errorf("live = %+v", l)
	}
}

func TestGroups(t *testing.T) {
	r := newRec(t, Config{MaxTagGroups: 2})
	r.SetTargetRate("a", 50)
	for i := range 100 {
		res := result("a", t0.Add(time.Duration(i)*10*time.Millisecond), 0, 10*time.Millisecond)
		res.Request.Tags = map[string]string{"model": "m1"}
		if i%2 == 1 {
			res.Request.Scenario = "b"
			res.Done = res.Request.Intended.Add(30 * time.Millisecond)
			res.Request.Tags = map[string]string{"model": "m2", "region": "eu"}
		}
		r.Record(res)
	}
	s := r.Summary(t0.Add(time.Second))
	a, b := s.Scenarios["a"], s.Scenarios["b"]
	if a.Requests.Total != 50 || b.Requests.Total != 50 {
		t.Fatalf("scenario totals a=%d b=%d", a.Requests.Total, b.Requests.Total)
	}
	if !near(a.Latency.Max, 10, 0.001) || !near(b.Latency.Min, 30, 0.001) {
		t.Errorf("scenario latencies mixed: a max %v, b min %v", a.Latency.Max, b.Latency.Min)
	}
	if a.Rate.TargetPerSec != 50 {
		t.Errorf("target = %v", a.Rate.TargetPerSec)
	}
	// a: 49 gaps from the first intended send (0 ms) to the last send (980 ms).
	if !near(a.Rate.AchievedPerSec, 50, 0.001) {
		t.Errorf("achieved = %v, want 50", a.Rate.AchievedPerSec)
	}
	if m1, m2 := s.Tags["model=m1"], s.Tags["model=m2"]; m1.Requests.Total != 50 || m2.Requests.Total != 50 || !near(m2.Latency.P50, 30, 0.001) {
		t.Errorf("tag groups wrong: %v", s.Tags)
	}
	if len(s.Tags) != 2 || s.TagOverflow != 50 {
		t.Errorf("tags = %d groups, overflow %d; want 2 and 50", len(s.Tags), s.TagOverflow)
	}
	if h := r.Histogram(TagGroup("model", "m2"), MetricLatency); h == nil || h.TotalCount() != 50 {
		t.Errorf("tag histogram = %v", h)
	}
}

func TestLLMMetrics(t *testing.T) {
	r := newRec(t, Config{})
	gaps := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}
	for i := range 10 {
		res := result("chat", t0.Add(time.Duration(i)*100*time.Millisecond), 0, 250*time.Millisecond)
		res.TTFT = 50 * time.Millisecond
		res.ChunkGaps = gaps
		res.OutputTokens = 11
		r.Record(res)
	}
	s := r.Summary(t0.Add(time.Second))
	o := s.Overall
	if !near(o.TTFT.P50, 50, 0.001) || !near(o.E2E.P50, 250, 0.001) || !near(o.TPOT.P50, 20, 0.001) {
		t.Errorf("ttft %v e2e %v tpot %v, want 50, 250, 20", o.TTFT.P50, o.E2E.P50, o.TPOT.P50)
	}
	if o.ChunkGap.Count != 30 || o.ChunkGap.Min != 10 || !near(o.ChunkGap.Max, 30, 0.001) {
		t.Errorf("chunk_gap = %+v", o.ChunkGap)
	}
	if o.OutputTokens.Count != 10 || o.OutputTokens.Mean != 11 {
		t.Errorf("output_tokens = %+v", o.OutputTokens)
	}
	if o.TokensPerSec == nil || *o.TokensPerSec != 110 {
		t.Errorf("tokens_per_sec = %v, want 110", o.TokensPerSec)
	}
}

func TestClamp(t *testing.T) {
	r := newRec(t, Config{})
	r.Record(result("s", t0, 0, 2*time.Hour))
	r.Record(result("s", t0, 0, -time.Second))
	r.Record(result("s", t0, -time.Millisecond, time.Millisecond)) // early send: lag 0, not clamped
	s := r.Summary(t0.Add(time.Second))
	if s.Overall.Clamped != 4 { // latency and service of the first two
		t.Errorf("clamped = %d, want 4", s.Overall.Clamped)
	}
	if s.Overall.Latency.Max < 3599000 || s.Overall.Latency.Max > 3600000*1.001 {
		t.Errorf("max = %v, want ~1h", s.Overall.Latency.Max)
	}
}

func TestIntervalLogRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	r := newRec(t, Config{IntervalLog: &buf})
	// interval k (1 s each) gets 10·(k+1) results in scenario "main",
	// interval 2 none, interval 3 also 5 in scenario "warm up".
	counts := []int{10, 20, 0, 40}
	for k, n := range counts {
		base := t0.Add(time.Duration(k) * time.Second)
		for i := range n {
			r.Record(result("main", base.Add(time.Duration(i)*time.Millisecond), 0, 5*time.Millisecond))
		}
		if k == 3 {
			for range 5 {
				r.Record(result("warm up", base, 0, 7*time.Millisecond))
			}
			if err := r.Close(base.Add(500 * time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			break
		}
		if err := r.Flush(base.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	ivs, err := ReadIntervalLog(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	byTag := map[string][]Interval{}
	for _, iv := range ivs {
		byTag[iv.Tag] = append(byTag[iv.Tag], iv)
	}
	lat := byTag["latency"]
	if len(lat) != 4 {
		t.Fatalf("latency intervals = %d, want 4 (empty one included)\n%s", len(lat), buf.String())
	}
	for k, iv := range lat {
		want := int64(counts[k])
		if k == 3 {
			want += 5
		}
		if iv.Histogram.TotalCount() != want {
			t.Errorf("interval %d: count %d, want %d", k, iv.Histogram.TotalCount(), want)
		}
		wantStart := t0.Add(time.Duration(k) * time.Second)
		wantEnd := wantStart.Add(time.Second)
		if k == 3 {
			wantEnd = wantStart.Add(500 * time.Millisecond)
		}
		if !iv.Start.Equal(wantStart) || !iv.End.Equal(wantEnd) {
			t.Errorf("interval %d: %v..%v, want %v..%v", k, iv.Start, iv.End, wantStart, wantEnd)
		}
	}
	if n := len(byTag["main/latency"]); n != 3 {
		t.Errorf("main/latency intervals = %d, want 3 (no empty ones)", n)
	}
	if w := byTag["warm_up/latency"]; len(w) != 1 || w[0].Histogram.TotalCount() != 5 {
		t.Errorf("warm_up/latency = %v", w)
	}
	if len(byTag["ttft"]) != 0 {
		t.Error("ttft written without data")
	}
	// Merging the intervals gives the cumulative histogram exactly.
	cum := r.Histogram(Overall, MetricLatency)
	merged := newHist(mLatency)
	for _, iv := range lat {
		merged.Merge(iv.Histogram)
	}
	if !merged.Equals(cum) {
		t.Error("merged intervals differ from the cumulative histogram")
	}
}

func TestReadIntervalLogErrors(t *testing.T) {
	for name, in := range map[string]string{
		"fields":    "1.0,2.0\n",
		"histogram": "0.000,1.000,0.0,notbase64\n",
		"tag only":  "Tag=x\n",
		"time":      "abc,1.0,0.0,HIST\n",
	} {
		if _, err := ReadIntervalLog(bytes.NewBufferString("#comment\n" + in)); err == nil {
			t.Errorf("%s: no error", name)
		} else if !bytes.Contains([]byte(err.Error()), []byte("line 2")) {
			t.Errorf("%s: error %q does not name line 2", name, err)
		}
	}
}

func TestLive(t *testing.T) {
	r := newRec(t, Config{})
	for i := range 100 {
		r.Record(result("s", t0, 0, time.Duration(i+1)*time.Millisecond))
	}
	l := r.Live(t0.Add(2 * time.Second))
	if l.RatePerSec != 50 || !near(float64(l.P99), float64(99*time.Millisecond), 0.001) {
		t.Errorf("before flush: %+v", l)
	}
	_ = r.Flush(t0.Add(2 * time.Second))
	for range 10 {
		r.Record(result("s", t0, 0, 200*time.Millisecond))
	}
	_ = r.Flush(t0.Add(3 * time.Second))
	l = r.Live(t0.Add(3500 * time.Millisecond))
	if l.RatePerSec != 10 || l.Requests != 110 || !near(float64(l.P99), float64(200*time.Millisecond), 0.001) {
		t.Errorf("after flush: %+v", l)
	}
}

func TestConcurrentRecord(t *testing.T) {
	r := newRec(t, Config{IntervalLog: &bytes.Buffer{}})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				res := result("s", t0, 0, time.Duration(i%50+1)*time.Millisecond)
				res.Request.Tags = map[string]string{"w": string(rune('a' + w))}
				r.Record(res)
			}
		}()
	}
	for k := range 20 {
		_ = r.Flush(t0.Add(time.Duration(k) * 100 * time.Millisecond))
		_ = r.Live(t0)
	}
	wg.Wait()
	if got := r.Summary(t0.Add(time.Second)).Overall.Requests.Total; got != 8000 {
		t.Errorf("total = %d, want 8000", got)
	}
}

func TestSummaryJSONGolden(t *testing.T) {
	r := newRec(t, Config{})
	r.SetTargetRate("chat", 20)
	for i := range 20 {
		res := result("chat", t0.Add(time.Duration(i)*50*time.Millisecond), time.Millisecond, time.Duration(100+i*10)*time.Millisecond)
		res.Request.Tags = map[string]string{"model": "m1"}
		if i%5 == 4 {
			res.Class = gonogo.ErrHTTP5xx
		} else {
			res.TTFT = 40 * time.Millisecond
			res.ChunkGaps = []time.Duration{5 * time.Millisecond, 7 * time.Millisecond}
			res.OutputTokens = 3
		}
		r.Record(res)
	}
	r.Drop(&gonogo.Request{Scenario: "chat"})
	got, err := json.MarshalIndent(r.Summary(t0.Add(time.Second)), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "summary.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("summary JSON differs from %s:\n%s", golden, got)
	}
}

func BenchmarkRecorderRecord(b *testing.B) {
	r := newRec(b, Config{IntervalLog: &bytes.Buffer{}})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := &gonogo.Request{Scenario: "main", Intended: t0, Tags: map[string]string{"model": "m1"}}
		res := &gonogo.Result{Request: req, Sent: t0.Add(time.Millisecond)}
		i := 0
		for pb.Next() {
			i++
			res.Done = t0.Add(time.Duration(i%1000+1) * 100 * time.Microsecond)
			r.Record(res)
		}
	})
}

func BenchmarkRecorderRecordLLM(b *testing.B) {
	r := newRec(b, Config{IntervalLog: &bytes.Buffer{}})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := &gonogo.Request{Scenario: "main", Intended: t0}
		gaps := make([]time.Duration, 16)
		for i := range gaps {
			gaps[i] = time.Duration(i+1) * time.Millisecond
		}
		res := &gonogo.Result{Request: req, Sent: t0, TTFT: 30 * time.Millisecond, ChunkGaps: gaps, OutputTokens: 17}
		i := 0
		for pb.Next() {
			i++
			res.Done = t0.Add(time.Duration(i%1000+100) * time.Millisecond)
			r.Record(res)
		}
	})
}
