package reports

import (
	"bytes"
	"errors"
	"html"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/analyze/divergence"
	"github.com/gonogo-dev/gonogo/rundir"
)

var htmlT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// htmlFixtureCharts is the number of charts htmlFixture's report has:
// latency over time, latency spectrum, throughput and errors, TTFT and
// TPOT over time, TTFT spectrum, TPOT spectrum, divergence.
const htmlFixtureCharts = 7

// htmlTimeCharts are the aria labels of htmlFixture's charts over time,
// with their panels.
var htmlTimeCharts = map[string]int{
	"Latency percentiles over time": 1,
	"Throughput and errors":         2,
	"TTFT and TPOT over time":       2,
}

// htmlRecordedRun records a run of secs seconds at 20 requests per second
// through analyze.Recorder and reads its interval log and timeline back, as
// LoadRun would. Latency is latency(second); from failFrom on, one request
// a second fails with a 5xx.
func htmlRecordedRun(tb testing.TB, id string, secs int, latency func(sec int) time.Duration, failFrom int) (*Run, *analyze.RunData) {
	tb.Helper()
	var hlog, timeline bytes.Buffer
	rec, err := analyze.NewRecorder(analyze.Config{Start: htmlT0, IntervalLog: &hlog, Timeline: &timeline})
	if err != nil {
		tb.Fatal(err)
	}
	rec.SetTargetRate("chat", 20)
	for sec := range secs {
		for i := range 20 {
			at := htmlT0.Add(time.Duration(sec)*time.Second + time.Duration(i)*50*time.Millisecond)
			req := &gonogo.Request{Scenario: "chat", Intended: at}
			lat := latency(sec)
			res := &gonogo.Result{
				Request: req, Sent: at, Done: at.Add(lat),
				TTFT: lat / 5, OutputTokens: 33,
			}
			if sec >= failFrom && i == 0 {
				res.Class, res.Status, res.TTFT, res.OutputTokens = gonogo.ErrHTTP5xx, 503, 0, 0
			}
			rec.Record(res)
		}
		if err := rec.Flush(htmlT0.Add(time.Duration(sec+1) * time.Second)); err != nil {
			tb.Fatal(err)
		}
	}
	end := htmlT0.Add(time.Duration(secs) * time.Second)
	if err := rec.Close(end); err != nil {
		tb.Fatal(err)
	}
	sum := rec.Summary(end)
	log := hlog.Bytes()
	ivs, hists, err := analyze.LoadIntervals(bytes.NewReader(log), true)
	if err != nil {
		tb.Fatal(err)
	}
	tokens, err := readChartIntervals(bytes.NewReader(log))
	if err != nil {
		tb.Fatal(err)
	}
	ivs = append(ivs, tokens...)
	tl, err := analyze.ReadTimeline(&timeline)
	if err != nil {
		tb.Fatal(err)
	}
	run := &Run{
		ID: id, Command: "gonogo run --out " + id + " chat.yaml", Target: "http://127.0.0.1:8000/v1/completions",
		Protocol: "openai", Labels: map[string]string{"version": "v2", "commit": "abc123"},
		Scenarios: map[string]Scenario{"chat": {Executor: "constant-arrival-rate 20/s for 1m"}},
		Files:     []string{rundir.IntervalLog, rundir.Timeline, rundir.Events, rundir.Run},
	}
	run.SetSummary(sum)
	d := &analyze.RunData{ID: id, Summary: run.Summary(), Intervals: ivs, Hists: hists, Timeline: tl}
	d.Summary.AttachHistograms(d.Hists)
	return run, d
}

func htmlPtr(v float64) *float64 { return &v }

// htmlVerdict is a no-go with a failing critical gate.
func htmlVerdict() *analyze.Verdict {
	return &analyze.Verdict{
		Schema: analyze.VerdictSchema, Verdict: analyze.NoGo, Score: 40, PassScore: 80, MarginalScore: 60,
		Run: "cand-1", Baseline: "base-1", Gatefile: "gates.yaml",
		Reasons: []string{
			"critical gate latency-p99 failed: p99 latency 50 ms, allowed < 40 ms",
			"p99 latency rose 400 % (10 → 50 ms), allowed 10 %, Mann–Whitney p < 0.001",
		},
		Gates: []analyze.GateResult{
			{Name: "latency-p99", Kind: analyze.Absolute, Metric: "latency", Scope: "overall", Expr: "p(99)<40",
				Observed: 50.015, Unit: "ms", Status: analyze.GateFail, Critical: true, Weight: 1,
				Reason: "p99 latency 50 ms, allowed < 40 ms"},
			{Name: "latency-vs-baseline", Kind: analyze.Relative, Metric: "latency", Scope: "overall", Expr: "p99 < +10%",
				Observed: 50.015, Baseline: htmlPtr(10.007), ChangePct: htmlPtr(399.8), PValue: htmlPtr(0.0001), Unit: "ms",
				Status: analyze.GateFail, Weight: 2},
			{Name: "errors", Kind: analyze.Absolute, Metric: "errors", Scope: "overall", Expr: "rate<0.05",
				Observed: 0.04, Status: analyze.GatePass, Pass: true, Weight: 1},
			{Name: "answers", Kind: analyze.DivergenceGate, Metric: "divergence_rate", Scope: "candidate", Expr: "corrected<0.05",
				Observed: 0.02, Status: analyze.GateInconclusive, Weight: 1, Reason: "only 40 pairs compared, 100 needed"},
		},
	}
}

// htmlDivergence has one candidate with three segments.
func htmlDivergence() *divergence.Report {
	return &divergence.Report{
		Schema: divergence.Schema, NoiseMeasured: true, Pairs: 1200,
		Candidates: []divergence.CandidateReport{{
			Target: "candidate",
			Segments: []divergence.SegmentReport{
				{Key: "model", Value: "llama", Compared: 600, DivergedRate: 0.12, NoiseRate: 0.02, Corrected: 0.10, ExceedsNoise: true},
				{Key: "model", Value: "mistral", Compared: 600, DivergedRate: 0.03, NoiseRate: 0.025, Corrected: 0.005},
				{Key: "input_len", Value: "0-128", Compared: 800, DivergedRate: 0.05, NoiseRate: 0.02, Corrected: 0.03, ExceedsNoise: true},
			},
		}},
	}
}

// htmlEvents are a fault span from 36 s to 48 s, an instant fault at 40 s
// and a flip at 50 s, out of time order as a journal of several writers
// may be.
func htmlEvents() []gonogo.Event {
	end := htmlT0.Add(48 * time.Second)
	return []gonogo.Event{
		{Time: htmlT0.Add(40 * time.Second), Schema: gonogo.EventSchema, Kind: "fault", Source: "chaos", Message: "fault: http 503 5%"},
		{Time: htmlT0.Add(36 * time.Second), End: &end, Schema: gonogo.EventSchema, Kind: "fault", Target: "proxy", Source: "chaos",
			Message: "fault: latency +40ms", Attrs: map[string]string{"latency": "40ms", "jitter": "5ms"}},
		{Time: htmlT0.Add(50 * time.Second), Schema: gonogo.EventSchema, Kind: "flip", Source: "rollout", Message: "traffic flipped to v2"},
	}
}

// htmlFixture is a judged 60 s run against a baseline: latency 10 ms for
// the first 36 s and 50 ms after, one 503 a second from 40 s on, events,
// and a divergence report.
func htmlFixture(tb testing.TB) Input {
	tb.Helper()
	run, data := htmlRecordedRun(tb, "cand-1", 60, func(sec int) time.Duration {
		if sec < 36 {
			return 10 * time.Millisecond
		}
		return 50 * time.Millisecond
	}, 40)
	data.Events = htmlEvents()
	data.Divergence = htmlDivergence()
	base, baseData := htmlRecordedRun(tb, "base-1", 60, func(int) time.Duration { return 10 * time.Millisecond }, 60)
	return Input{Run: run, Data: data, Baseline: base, BaselineData: baseData, Verdict: htmlVerdict()}
}

func renderHTML(tb testing.TB, in Input) string {
	tb.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, in); err != nil {
		tb.Fatal(err)
	}
	return buf.String()
}

func TestWriteHTML(t *testing.T) {
	page := renderHTML(t, htmlFixture(t))
	for _, want := range []string{
		`class="banner no-go"`, ">NO-GO<", "score 40 / 100", "cand-1", "base-1",
		"critical gate latency-p99 failed",
		`<tr class="fail"><td><strong>latency-p99</strong>`, "p(99)&lt;40", "50 ms", "&#43;400 %", "&lt; 0.001",
		`<tr class="inconclusive">`, "only 40 pairs compared",
		// key numbers: 1,200 requests, 20 failed, p50 10 ms, p99 50 ms
		">1,200<", "http_5xx 20", ">latency p50</div><div class=\"value\">10 ms<",
		">latency p99</div><div class=\"value\">50 ms<", "baseline 10 ms (&#43;400 %)", "target 20/s",
		// events on the time axes, divergence segments
		"fault: http 503 5%", "traffic flipped to v2", "model=llama *",
		// the events table, in time order, the span with its duration
		`<td class="num">&#43;36s</td><td class="num">12s</td><td><span class="swatch" style="background:#d62728"></span>fault</td><td>proxy</td><td>chaos</td><td>fault: latency &#43;40ms</td><td class="mono">jitter=5ms, latency=40ms</td>`,
		`<td class="num">&#43;50s</td><td class="num"></td><td><span class="swatch" style="background:#9467bd"></span>flip</td><td></td><td>rollout</td>`,
		// details
		"gonogo run --out cand-1 chat.yaml", "commit=abc123", "chat: constant-arrival-rate 20/s for 1m",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if got := strings.Count(page, `<svg class="chart"`); got != htmlFixtureCharts {
		t.Errorf("%d charts, want %d", got, htmlFixtureCharts)
	}
	if i, j := strings.Index(page, "&#43;36s"), strings.Index(page, "&#43;40s</td>"); i < 0 || j < i {
		t.Error("events table not in time order")
	}
	order := []string{`id="verdict"`, `id="gates"`, `id="numbers"`, `<svg class="chart"`, `id="events"`, `id="details"`}
	for i := 1; i < len(order); i++ {
		if strings.Index(page, order[i-1]) > strings.Index(page, order[i]) {
			t.Errorf("%s comes after %s", order[i-1], order[i])
		}
	}
	assertSelfContained(t, page)
}

// spanShade is how a span is shaded in the SVG: 18 % opacity
// (spanAlpha), which nothing else on the charts has.
const spanShade = "fill-opacity:0.18"

// chartSVGs splits a page into its charts by aria label.
func chartSVGs(page string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(page, `<svg class="chart" role="img" aria-label="`)[1:] {
		label, rest, _ := strings.Cut(part, `"`)
		svg, _, _ := strings.Cut(rest, "</svg>")
		out[html.UnescapeString(label)] = svg
	}
	return out
}

func TestWriteHTMLEventSpans(t *testing.T) {
	charts := chartSVGs(renderHTML(t, htmlFixture(t)))
	if len(charts) != htmlFixtureCharts {
		t.Fatalf("%d charts, want %d", len(charts), htmlFixtureCharts)
	}
	for label, svg := range charts {
		want, onTime := htmlTimeCharts[label]
		// One band per panel, and one swatch in the legend.
		if got := strings.Count(svg, spanShade); onTime && got != want+1 || !onTime && got != 0 {
			t.Errorf("chart %q has %d shaded spans, want %d panels and the legend", label, got, want)
		}
		if onTime && (!strings.Contains(svg, ">fault</text>") || !strings.Contains(svg, ">flip</text>")) {
			t.Errorf("chart %q lacks the event kinds in its legend", label)
		}
	}
}

func TestEventMarkersClipSpans(t *testing.T) {
	ax := newTimeAxis(htmlT0, 60)
	at := func(s int) time.Time { return htmlT0.Add(time.Duration(s) * time.Second) }
	end := func(s int) *time.Time { e := at(s); return &e }
	ms := eventMarkers([]gonogo.Event{
		{Time: at(50), End: end(90), Kind: "fault"}, // runs past the end
		{Time: at(-10), End: end(5), Kind: "step"},  // began before the run
		{Time: at(70), End: end(80), Kind: "fault"}, // after the run: left out
		{Time: at(-9), End: end(-2), Kind: "fault"}, // before the run: left out
		{Time: at(20), Kind: "marker", Message: "note"},
		{Time: at(61), Kind: "marker"}, // after the run: left out
	}, ax)
	type span struct {
		x, x1 float64
		span  bool
	}
	var got []span
	for _, m := range ms {
		got = append(got, span{m.x, m.x1, m.span})
	}
	want := []span{{0, 5, true}, {20, 20, false}, {50, 60, true}}
	if !slices.Equal(got, want) {
		t.Errorf("markers %v, want %v", got, want)
	}
}

// assertSelfContained fails when the page could load anything: a script,
// a stylesheet, a font, an image or a frame.
func assertSelfContained(t *testing.T, page string) {
	t.Helper()
	for _, bad := range []string{"<script", "<link", "<img", "<iframe", "@import", "url(", "src=", `href="http`, "<?xml"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}

func TestWriteHTMLNotJudged(t *testing.T) {
	in := htmlFixture(t)
	in.Verdict, in.Baseline, in.BaselineData, in.Data.Divergence = nil, nil, nil, nil
	page := renderHTML(t, in)
	if !strings.Contains(page, `class="banner none"`) || !strings.Contains(page, "NOT JUDGED") {
		t.Error("no neutral banner")
	}
	if strings.Contains(page, `id="gates"`) || strings.Contains(page, "baseline") {
		t.Error("gates or baseline shown for an unjudged run without baseline")
	}
	if got := strings.Count(page, `<svg class="chart"`); got != htmlFixtureCharts-1 {
		t.Errorf("%d charts, want %d", got, htmlFixtureCharts-1)
	}
}

func TestWriteHTMLWithoutTimelineOrData(t *testing.T) {
	in := htmlFixture(t)
	in.Data.Timeline = nil
	if page := renderHTML(t, in); !strings.Contains(page, "from the latency interval histograms") {
		t.Error("throughput does not fall back to the interval histograms")
	}
	in.Data = nil
	if page := renderHTML(t, in); strings.Contains(page, "<svg") || !strings.Contains(page, ">1,200<") {
		t.Error("a run without data should have key numbers and no charts")
	}
	if err := WriteHTML(io.Discard, Input{}); !errors.Is(err, ErrNoRun) {
		t.Errorf("empty input: %v, want ErrNoRun", err)
	}
}

func TestWriteHTMLTinyRun(t *testing.T) {
	h := hdr.New(1, analyze.HighestMicros, analyze.SignificantDigits)
	_ = h.RecordValue(12_000)
	iv := analyze.Interval{Tag: analyze.MetricLatency, Start: htmlT0, End: htmlT0.Add(time.Second), Histogram: h}
	ivs := []analyze.IntervalStats{analyze.StatsOf(iv)}
	run := &Run{ID: "tiny", Overall: analyze.Stats{Requests: analyze.Requests{Total: 1, OK: 1}}}
	page := renderHTML(t, Input{Run: run, Data: &analyze.RunData{ID: "tiny", Intervals: ivs, Hists: mergeIntervals([]analyze.Interval{iv})}})
	// latency over time, spectrum, throughput from the interval histograms
	if got := strings.Count(page, `<svg class="chart"`); got != 3 {
		t.Errorf("%d charts, want 3", got)
	}
}

func TestLatencyOverTimeKeepsSpikes(t *testing.T) {
	fast, slow := htmlHist(10_000), htmlHist(900_000)
	ivs := make([]analyze.IntervalStats, 3600)
	for i := range ivs {
		h := fast
		if i == 1234 {
			h = slow
		}
		ivs[i] = analyze.StatsOf(analyze.Interval{Tag: analyze.MetricLatency, Start: htmlT0.Add(time.Duration(i) * time.Second), End: htmlT0.Add(time.Duration(i+1) * time.Second), Histogram: h})
	}
	s := overTime(ivs, analyze.MetricLatency, newTimeAxis(htmlT0, 3600))
	if len(s.x) > maxPoints || len(s.x) < maxPoints/2 {
		t.Fatalf("%d points, want at most %d", len(s.x), maxPoints)
	}
	var spike float64
	for _, v := range s.max {
		spike = max(spike, v)
	}
	if spike < 900 || spike > 910 || s.p50[0] < 10 || s.p50[0] > 10.1 {
		t.Errorf("max %v ms (want 900), first p50 %v ms (want 10)", spike, s.p50[0])
	}
	if s.x[len(s.x)-1] > 60 {
		t.Errorf("x in %s, want minutes for a 1 h run: last x %v", newTimeAxis(htmlT0, 3600).unit, s.x[len(s.x)-1])
	}
}

func TestNinesLabel(t *testing.T) {
	for k, want := range []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"} {
		if got := ninesLabel(k); got != want {
			t.Errorf("ninesLabel(%d) = %q, want %q", k, got, want)
		}
	}
}

// htmlHist is a latency histogram holding 100 values from micros to 1 % above.
func htmlHist(micros int64) *hdr.Histogram {
	h := hdr.New(1, analyze.HighestMicros, analyze.SignificantDigits)
	for i := range int64(100) {
		_ = h.RecordValue(micros + i*micros/10000)
	}
	return h
}

// htmlLongRun is a judged run of n one-second intervals. Intervals share
// a few histograms, so that the fixture stays small in memory; what the
// report computes is the same.
func htmlLongRun(tb testing.TB, n int) Input {
	tb.Helper()
	hs := make([]*hdr.Histogram, 8)
	for i := range hs {
		hs[i] = htmlHist(int64(10_000 + 5_000*i))
	}
	ivs := make([]analyze.Interval, 0, 2*n)
	stats := make([]analyze.IntervalStats, 0, 2*n)
	tl := make([]analyze.TimelinePoint, n)
	for i := range n {
		start := htmlT0.Add(time.Duration(i) * time.Second)
		for _, tag := range []string{analyze.MetricLatency, analyze.MetricTTFT} {
			iv := analyze.Interval{Tag: tag, Start: start, End: start.Add(time.Second), Histogram: hs[(i/60+i%3)%len(hs)]}
			ivs, stats = append(ivs, iv), append(stats, analyze.StatsOf(iv))
		}
		tl[i] = analyze.TimelinePoint{StartS: float64(i), EndS: float64(i + 1), Counts: analyze.Counts{Requests: 100, Failed: int64(i % 7 / 6), Tokens: 3300}}
	}
	in := htmlFixture(tb)
	in.Run.DurationS = float64(n)
	in.Data.Summary.Started, in.Data.Summary.Ended = htmlT0, htmlT0.Add(time.Duration(n)*time.Second)
	in.Data.Intervals, in.Data.Hists, in.Data.Timeline = stats, mergeIntervals(ivs), tl
	for i := range 10 {
		in.Data.Events = append(in.Data.Events, gonogo.Event{
			Time: htmlT0.Add(time.Duration(i*n/10) * time.Second), Schema: gonogo.EventSchema, Kind: "fault", Source: "chaos", Message: "fault injected: http 503 5%",
		})
	}
	return in
}

// maxHTMLBytes is the size budget of a report for a 1 h run.
const maxHTMLBytes = 2 << 20

func TestWriteHTMLSizeOneHour(t *testing.T) {
	page := renderHTML(t, htmlLongRun(t, 3600))
	if len(page) > maxHTMLBytes {
		t.Errorf("report of a 1 h run is %d bytes, want at most %d", len(page), maxHTMLBytes)
	}
	t.Logf("report of a 1 h run: %d bytes", len(page))
}

func BenchmarkWriteHTML3600(b *testing.B) {
	in := htmlLongRun(b, 3600)
	var size int
	for b.Loop() {
		var buf bytes.Buffer
		if err := WriteHTML(&buf, in); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "bytes/report")
}

func TestDivergenceChartSegments(t *testing.T) {
	c := divergence.CandidateReport{Target: "candidate", Segments: []divergence.SegmentReport{
		{Key: "input_len", Value: "1024-2048", Compared: 40, Corrected: 0.2},
		{Key: "model", Value: "b", Compared: 1200, Corrected: 0.01},
		{Key: "input_len", Value: "0-128", Compared: 900, Corrected: 0.05},
		{Key: "input_len", Value: "128-512", Compared: 3, Corrected: 0.3, ExceedsNoise: true},
	}}
	var got []string
	for _, s := range chartSegments(c) {
		got = append(got, s.Key+"="+s.Value)
	}
	if want := []string{"input_len=0-128", "input_len=128-512", "input_len=1024-2048", "model=b"}; !slices.Equal(got, want) {
		t.Errorf("segments %v, want %v", got, want)
	}
	f, err := divergenceChart(c, true)
	if err != nil {
		t.Fatal(err)
	}
	svg, err := f.svg()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{">n=900<", ">n=3<", ">n=40<", ">n=1,200<"} {
		if !strings.Contains(string(svg), n) {
			t.Errorf("chart lacks the count %s", n)
		}
	}
	// Past maxSegments, the most divergent are kept, still in label order.
	for i := range maxSegments + 5 {
		c.Segments = append(c.Segments, divergence.SegmentReport{Key: "user", Value: strconv.Itoa(i), Corrected: float64(i) / 100})
	}
	segs := chartSegments(c)
	// Kept: 128-512 (0.3), 1024-2048 (0.2) and user=7…19 (0.07…0.19).
	if len(segs) != maxSegments || segs[0].Value != "128-512" || segs[2].Value != "7" || segs[len(segs)-1].Value != "19" {
		t.Errorf("%d segments %s, %s … %s, want %d: 128-512, 1024-2048, 7 … 19", len(segs), segs[0].Value, segs[2].Value, segs[len(segs)-1].Value, maxSegments)
	}
}

// mergeIntervals merges interval histograms of the overall group by metric,
// as a run's histograms.hlog holds them.
func mergeIntervals(ivs []analyze.Interval) map[string]*hdr.Histogram {
	out := map[string]*hdr.Histogram{}
	for _, iv := range ivs {
		k := analyze.HistKey(analyze.Overall, iv.Tag)
		if out[k] == nil {
			out[k] = hdr.New(1, analyze.HighestMicros, analyze.SignificantDigits)
		}
		out[k].Merge(iv.Histogram)
	}
	return out
}

// TestHTMLCapacity: a ramping run's report says where its service broke.
func TestHTMLCapacity(t *testing.T) {
	in := htmlFixture(t)
	in.Run.Capacity = &analyze.Capacity{Window: "10s", HeldPerSec: 62, At: &analyze.WindowSpan{StartS: 40, EndS: 50},
		BrokeAt: &analyze.WindowSpan{StartS: 45, EndS: 55}, Broke: "errors rate<0.05 (observed 0.08)", KneePerSec: 48, BaseP99Ms: 12}
	page := renderHTML(t, in)
	for _, want := range []string{"held 62/s", "broke at &#43;45s: errors rate&lt;0.05 (observed 0.08); knee 48/s", "throughput"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
