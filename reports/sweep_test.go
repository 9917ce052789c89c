package reports

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gonogo-dev/gonogo/analyze"
)

// sweepStage is a rate stage of a server that saturates at 40/s: below
// it latency stays near 100 ms, above it the queue grows.
func sweepStage(i int, offered float64) analyze.SweepStage {
	tput, p99 := offered, 100+offered
	if offered > 40 {
		tput, p99 = 40, 100*offered/8
	}
	running := min(offered/4, 10)
	waiting := max(0, offered-40)
	return analyze.SweepStage{Index: i, Kind: analyze.StageRate, OfferedPerSec: offered, Dir: "0" + string(rune('0'+i)) + "-rate",
		Status: StatusComplete, Requests: int64(offered * 30), OK: int64(offered * 30), ThroughputPerSec: tput,
		Latency: &analyze.Quantiles{P50: p99 * 0.8, P90: p99 * 0.9, P99: p99},
		TTFT:    &analyze.Quantiles{P50: p99 / 10, P90: p99 / 9, P99: p99 / 8},
		Server: map[string]analyze.ServerLoad{
			analyze.ResourceWaiting: {Metric: "vllm:num_requests_waiting", Mean: waiting, Max: waiting * 1.5, Samples: 30},
			analyze.ResourceRunning: {Metric: "vllm:num_requests_running", Mean: running, Max: running, Samples: 30},
			analyze.ResourceKVCache: {Metric: "vllm:kv_cache_usage_perc", Fraction: true, Mean: running / 20, Max: running / 15, Samples: 30},
		}}
}

// sweepDoc is a sweep over 10, 20, 30, 45 and 60/s of that server.
func sweepDoc() *Sweep {
	var stages []analyze.SweepStage
	for i, r := range []float64{10, 20, 30, 45, 60} {
		stages = append(stages, sweepStage(i+1, r))
	}
	return &Sweep{ID: "sweep-20260302-080000", Status: SweepComplete, Started: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC),
		Ended: time.Date(2026, 3, 2, 8, 3, 0, 0, time.UTC), Target: "http://127.0.0.1:8000", Protocol: "openai",
		Rates: SweepRates{Mode: "list", PerSec: []float64{10, 20, 30, 45, 60}}, StageDurationS: 30, Stages: stages,
		Analysis: analyze.AnalyzeSweep(stages, analyze.SweepOptions{TargetRatePerSec: 100, Headroom: 0.3})}
}

func TestSweepJSONRoundTrip(t *testing.T) {
	doc := sweepDoc()
	dir := t.TempDir()
	path := filepath.Join(dir, "sweep.json")
	var buf bytes.Buffer
	if err := WriteSweepJSON(&buf, doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ReadSweepJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Analysis.Knee.RatePerSec != 30 || back.Analysis.Advice.Replicas != 5 || len(back.Stages) != 5 || back.Stages[3].Server[analyze.ResourceRunning].Mean != 10 {
		t.Errorf("read back: knee %+v, advice %+v, %d stages", back.Analysis.Knee, back.Analysis.Advice, len(back.Stages))
	}
	for _, field := range []string{`"schema": 1`, `"offered_per_sec": 45`, `"throughput_per_sec": 40`, `"first": "running"`, `"replicas": 5`, `"latency_ms"`} {
		if !strings.Contains(buf.String(), field) {
			t.Errorf("sweep.json has no %s", field)
		}
	}
	if err := os.WriteFile(path, bytes.Replace(buf.Bytes(), []byte(`"schema": 1`), []byte(`"schema": 7`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSweepJSON(path); !errors.Is(err, ErrSweepSchema) {
		t.Errorf("schema 7: %v, want ErrSweepSchema", err)
	}
}

func TestSweepText(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSweepText(&buf, sweepDoc()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"5 stages of 30s against http://127.0.0.1:8000 (openai), rates 10, 20, 30, 45, 60/s",
		"knee 30/s: latency turned at 45/s (throughput 40/s is 88.9 % of the offered 45/s (below 90 %))",
		"highest rate meeting the default SLO: 30/s",
		"saturation: 40/s (stage 4, 45/s)",
		"first to saturate: the running batch at 45/s",
		"advice: 5 replicas for 100/s with 30 % headroom (21/s each of a 30/s capacity)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if lines := strings.Count(out, "\n"); lines < 12 {
		t.Errorf("%d lines:\n%s", lines, out)
	}
	// A partial sweep says so first.
	doc := sweepDoc()
	doc.Status, doc.Reason = SweepInterrupted, "interrupted after 5 stages"
	buf.Reset()
	if err := WriteSweepText(&buf, doc); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "PARTIAL: interrupted: interrupted after 5 stages") {
		t.Errorf("partial sweep:\n%s", buf.String())
	}
}

func renderSweep(tb testing.TB, s *Sweep) string {
	tb.Helper()
	var buf bytes.Buffer
	if err := SweepHTML(&buf, s); err != nil {
		tb.Fatal(err)
	}
	return buf.String()
}

func TestSweepHTML(t *testing.T) {
	page := renderSweep(t, sweepDoc())
	if n := strings.Count(page, `<svg class="chart"`); n != 2 {
		t.Errorf("%d charts, want 2 (the curve, throughput against offered)", n)
	}
	for _, want := range []string{`aria-label="Throughput–latency curve"`, `id="stages"`, `id="resources"`, "knee 30/s", "vllm:kv_cache_usage_perc", "saturated first"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "http://") && strings.Contains(page, `src="http`) {
		t.Error("the page loads something")
	}
	// No stage with latency: no chart, the tables still there.
	empty := sweepDoc()
	for i := range empty.Stages {
		empty.Stages[i].Latency, empty.Stages[i].TTFT = nil, nil
	}
	if page := renderSweep(t, empty); strings.Contains(page, `<svg class="chart"`) || !strings.Contains(page, `id="stages"`) {
		t.Error("a sweep without latency data draws a chart or no table")
	}
}

// sweepPageJS reports what the sweep page shows: the banner, the tables.
const sweepPageJS = `(() => {
	const seen = s => { const e = document.querySelector(s); if (!e) return ''; const r = e.getBoundingClientRect();
		return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility === 'visible' ? e.innerText : ''; };
	return {banner: seen('#verdict'), stages: seen('#stages'), resources: seen('#resources'), numbers: seen('#numbers')};
})()`

type sweepPageState struct {
	Banner    string `json:"banner"`
	Stages    string `json:"stages"`
	Resources string `json:"resources"`
	Numbers   string `json:"numbers"`
}

// TestSweepHTMLInChromium loads the sweep page in headless Chromium: no
// console errors or requests, the findings and the tables visible, both
// charts drawn at a readable size with the knee and the saturation marked.
func TestSweepHTMLInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	dir := artifactDir(t)
	path, err := filepath.Abs(filepath.Join(dir, "sweep.html"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(renderSweep(t, sweepDoc())), 0o644); err != nil {
		t.Fatal(err)
	}
	u := "file://" + path
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	var problems pageProblems
	bctx, cancelTab := chromedp.NewContext(actx, chromedp.WithListener(problems.listen(u)))
	defer cancelTab()
	if err := chromedp.Do(bctx, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS("#stages"))); err != nil {
		t.Fatalf("load %s: %v", u, err)
	}
	st, err := chromedp.Run(bctx, chromedp.Evaluate[sweepPageState](sweepPageJS))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.Banner, "knee 30/s") || !strings.Contains(st.Numbers, "REPLICAS") || !strings.Contains(st.Stages, "45/s") ||
		!strings.Contains(st.Resources, "vllm:num_requests_running") {
		t.Errorf("page as shown: %+v", st)
	}
	charts, err := chromedp.Run(bctx, chromedp.Evaluate[[]chartBox](chartsJS))
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) != 2 {
		t.Errorf("%d charts, want 2", len(charts))
	}
	for _, c := range charts {
		if c.Width < 300 || c.Height < 100 || c.Drawn < 3 {
			t.Errorf("chart %q: %.0f×%.0f px, %d paths of which %d drawn", c.Label, c.Width, c.Height, c.Paths, c.Drawn)
		}
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "sweep.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
	for _, p := range problems.all() {
		t.Error(p)
	}
}
