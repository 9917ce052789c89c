package k6

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/reports"
)

const sampleFile = "testdata/sample.ndjson"

// The sample (testdata/sample.ndjson) is a hand-made k6 --out json file of
// 4 s: scenario browse sends 12 requests of 10, 20, … 120 ms, done at
// 0.15 s + 0.3 s·i; scenario checkout sends 8 requests of 15, 25, … 85 ms,
// done at 0.32 s + 0.45 s·j, and drops 3 iterations (at 1.5, 1.6, 2.7 s).
// Failures: browse 503 and a dial timeout (status 0, error_code 1211);
// checkout 429, a refused dial (status 0, 1212) and a 502 written as k6
// before v0.31 did (no http_req_failed point, no expected_response tag).
// A 404 that the script expected (http_req_failed 0) is a success. One
// checkout request is written after a later browse one (1.22 s after
// 2.55 s), and one browse request has its http_req_failed point first.
//
// sampleLatenciesMs are the latencies of the 15 successful requests, those
// latency describes; sampleFailedMs those of the 5 failures, kept apart.
var sampleLatenciesMs, sampleFailedMs = func() (ok, failed []float64) {
	bad := map[float64]bool{40: true, 70: true, 25: true, 55: true, 65: true}
	for i := range 12 {
		v := float64(10 * (i + 1))
		if bad[v] {
			failed = append(failed, v)
		} else {
			ok = append(ok, v)
		}
	}
	for j := range 8 {
		v := float64(15 + 10*j)
		if bad[v] {
			failed = append(failed, v)
		} else {
			ok = append(ok, v)
		}
	}
	slices.Sort(ok)
	slices.Sort(failed)
	return ok, failed
}()

// nearestRank is the value at percentile pct of sorted values, as HDR
// histograms define it: the value of rank pct/100·n rounded to the nearest
// integer, from 1 to n.
func nearestRank(sorted []float64, pct float64) float64 {
	n := int(pct/100*float64(len(sorted)) + 0.5)
	return sorted[min(max(n, 1), len(sorted))-1]
}

// closeHDR reports whether got is want within HDR precision (3 significant
// digits) plus the 3-decimal rounding of run.json.
func closeHDR(got, want float64) bool {
	return math.Abs(got-want) <= want*1e-3+1e-3
}

func importSample(t *testing.T, opts Options) (*Imported, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	f, err := os.Open(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var hlog, tl bytes.Buffer
	opts.File, opts.IntervalLog, opts.Timeline = sampleFile, &hlog, &tl
	imp, err := Import(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	return imp, &hlog, &tl
}

func TestImportSample(t *testing.T) {
	imp, hlog, tl := importSample(t, Options{})
	st := imp.Stats
	for _, c := range []struct {
		name      string
		got, want int64
	}{
		{"requests", st.Requests, 20},
		{"failed", st.Failed, 5},
		{"dropped", st.Dropped, 3},
		{"late", st.Late, 0},
		{"unpaired", st.Unpaired, 0},
		{"http_reqs", st.HTTPReqs, 20},
		{"iterations", st.Iterations, 20},
		{"max vus", st.MaxVUs, 5},
		{"checks", st.Checks, 20},
		{"checks passed", st.ChecksPassed, 14},
		{"skipped", st.Skipped, 0},
		{"lines", st.Lines, 305},
		{"http_req_duration points", st.Metrics[MetricReqDuration].Points, 20},
		{"http_req_failed points", st.Metrics[MetricReqFailed].Points, 19},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if m := st.Metrics[MetricReqDuration]; m.Type != "trend" || m.Contains != "time" {
		t.Errorf("http_req_duration declared as %+v, want trend/time", m)
	}
	zone := time.FixedZone("", 3600)
	if want := time.Date(2024, 1, 1, 10, 0, 0, 0, zone); !imp.Start.Equal(want) {
		t.Errorf("start = %v, want %v", imp.Start, want)
	}
	if want := time.Date(2024, 1, 1, 10, 0, 4, 0, zone); !imp.End.Equal(want) {
		t.Errorf("end = %v, want %v", imp.End, want)
	}
	if imp.Target != "http://api.example.test:8080" {
		t.Errorf("target = %q, want http://api.example.test:8080", imp.Target)
	}

	s := imp.Summary()
	checkRequests := func(name string, got analyze.Requests, total, ok, dropped int64, failed map[string]int64) {
		t.Helper()
		if got.Total != total || got.OK != ok || got.Dropped != dropped || !maps.Equal(got.Failed, failed) {
			t.Errorf("%s: requests %+v, want total %d ok %d dropped %d failed %v", name, got, total, ok, dropped, failed)
		}
	}
	checkRequests("overall", s.Overall.Requests, 20, 15, 3,
		map[string]int64{"http_5xx": 2, "http_4xx": 1, "timeout": 1, "connect": 1})
	checkRequests("browse", s.Scenarios["browse"].Requests, 12, 10, 0,
		map[string]int64{"http_5xx": 1, "timeout": 1})
	checkRequests("checkout", s.Scenarios["checkout"].Requests, 8, 5, 3,
		map[string]int64{"http_5xx": 1, "http_4xx": 1, "connect": 1})
	if n := len(s.Scenarios); n != 2 {
		t.Errorf("%d scenarios, want 2", n)
	}
	// k6 system tags stay out; the script's and --tag tags come in.
	if got := slices.Sorted(maps.Keys(s.Tags)); !slices.Equal(got, []string{"model=llama-3-8b", "testid=nightly-42"}) {
		t.Errorf("tag groups %v, want model and testid", got)
	}
	if n := s.Tags["model=llama-3-8b"].Requests.Total; n != 12 {
		t.Errorf("model tag: %d requests, want 12", n)
	}

	for _, m := range []struct {
		name  string
		stats *analyze.MetricStats
	}{{"latency", s.Overall.Latency}, {"latency_service", s.Overall.LatencyService}} {
		ms := m.stats
		if ms == nil || ms.Count != 15 {
			t.Fatalf("%s: %+v, want the 15 successful requests' values", m.name, ms)
		}
		for _, q := range []struct {
			pct float64
			got float64
		}{{50, ms.P50}, {90, ms.P90}, {95, ms.P95}, {99, ms.P99}} {
			if want := nearestRank(sampleLatenciesMs, q.pct); !closeHDR(q.got, want) {
				t.Errorf("%s p%g = %g ms, want %g", m.name, q.pct, q.got, want)
			}
		}
		if !closeHDR(ms.Min, 10) || !closeHDR(ms.Max, 120) {
			t.Errorf("%s min/max = %g/%g, want 10/120", m.name, ms.Min, ms.Max)
		}
	}
	if f := s.Overall.LatencyFailed; f == nil || f.Count != 5 || !closeHDR(f.Min, sampleFailedMs[0]) || !closeHDR(f.Max, sampleFailedMs[4]) {
		t.Errorf("latency_failed = %+v, want the 5 failures' values %v", f, sampleFailedMs)
	}
	if lag := s.Overall.SchedulingLag; lag == nil || lag.Max != 0 {
		t.Errorf("scheduling_lag = %+v, want all 0 (k6 has no intended send times)", lag)
	}
	if p := s.Scenarios["browse"].Latency.P50; !closeHDR(p, 60) {
		t.Errorf("browse p50 = %g, want 60", p)
	}

	// Intervals follow the k6 timeline: 1 s from the first point.
	pts, err := analyze.ReadTimeline(tl)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pts {
		got = append(got, fmt.Sprintf("%g-%g:%d/%d/%d", p.StartS, p.EndS, p.Requests, p.Failed, p.Dropped))
	}
	want := []string{"0-1:5/1/0", "1-2:6/2/2", "2-3:5/2/1", "3-4:4/0/0"}
	if !slices.Equal(got, want) {
		t.Errorf("timeline (start-end:requests/failed/dropped)\n got %v\nwant %v", got, want)
	}
	ivs, err := analyze.ReadIntervalLog(bytes.NewReader(hlog.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	cum, err := analyze.ReadCumulative(hlog)
	if err != nil {
		t.Fatal(err)
	}
	h := cum[analyze.HistKey(analyze.Overall, analyze.MetricLatency)]
	if h == nil || h.TotalCount() != 15 {
		t.Fatalf("interval log: overall latency %d values, want the 15 successes", h.TotalCount())
	}
	if !ivs[0].Start.Equal(imp.Start) {
		t.Errorf("first interval starts %v, want %v", ivs[0].Start, imp.Start)
	}
}

func TestImportGzip(t *testing.T) {
	raw, err := os.ReadFile(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	imp, err := Import(&gz, Options{File: "results.gz"})
	if err != nil {
		t.Fatal(err)
	}
	if imp.Stats.Requests != 20 || imp.Stats.Dropped != 3 {
		t.Errorf("gzip: %d requests, %d dropped; want 20, 3", imp.Stats.Requests, imp.Stats.Dropped)
	}

	// A cut-off gzip stream (k6 killed): an error naming the line, or,
	// with SkipBad, what was read.
	var full bytes.Buffer
	zw = gzip.NewWriter(&full)
	zw.Write(raw)
	zw.Close()
	cut := full.Bytes()[:full.Len()-100]
	if _, err := Import(bytes.NewReader(cut), Options{File: "cut.gz"}); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "cut.gz:") {
		t.Errorf("truncated gzip: err = %v, want a cut.gz:LINE input error", err)
	}
	imp, err = Import(bytes.NewReader(cut), Options{File: "cut.gz", SkipBad: true})
	if err != nil || imp.Stats.Skipped != 1 || imp.Stats.Requests == 0 {
		t.Errorf("truncated gzip with SkipBad: %v, %+v", err, imp)
	}
}

// k6line builds one k6 Point line at T0+offMs.
func k6line(metric string, offMs float64, value float64, tags map[string]string) string {
	b, _ := json.Marshal(map[string]any{
		"type":   "Point",
		"metric": metric,
		"data": map[string]any{
			"time":  t0.Add(time.Duration(offMs * float64(time.Millisecond))).Format(time.RFC3339Nano),
			"value": value,
			"tags":  tags,
		},
	})
	return string(b)
}

var t0 = time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)

func importLines(t *testing.T, lines []string, opts Options) *Imported {
	t.Helper()
	imp, err := Import(strings.NewReader(strings.Join(lines, "\n")+"\n"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return imp
}

func TestOutcome(t *testing.T) {
	tags := func(kv ...string) map[string]string {
		m := map[string]string{"scenario": "s", "url": "http://h/x"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	dur := func(tg map[string]string) string { return k6line(MetricReqDuration, 100, 5, tg) }
	fail := func(v float64, tg map[string]string) string { return k6line(MetricReqFailed, 100, v, tg) }
	for _, c := range []struct {
		name  string
		lines []string
		want  string // failure class, "" for success
	}{
		{"200", []string{dur(tags("status", "200", "expected_response", "true")), fail(0, tags("status", "200", "expected_response", "true"))}, ""},
		{"503", []string{dur(tags("status", "503")), fail(1, tags("status", "503"))}, "http_5xx"},
		{"404 expected by the script", []string{dur(tags("status", "404", "expected_response", "true")), fail(0, tags("status", "404", "expected_response", "true"))}, ""},
		{"200 unexpected", []string{dur(tags("status", "200")), fail(1, tags("status", "200"))}, "other"},
		{"failed point first", []string{fail(1, tags("status", "429")), dur(tags("status", "429"))}, "http_4xx"},
		{"failed point of another request", []string{dur(tags("status", "500")), fail(0, tags("status", "500", "name", "other"))}, "http_5xx"},
		{"expected_response false", []string{dur(tags("status", "200", "expected_response", "false"))}, "other"},
		{"expected_response true", []string{dur(tags("status", "500", "expected_response", "true"))}, ""},
		{"old k6: 500", []string{dur(tags("status", "500"))}, "http_5xx"},
		{"old k6: 302", []string{dur(tags("status", "302"))}, ""},
		{"no status tag", []string{dur(tags())}, ""},
		{"no status tag, failed", []string{dur(tags()), fail(1, tags())}, "other"},
		{"status 0", []string{dur(tags("status", "0"))}, "connect"},
		{"request timeout", []string{dur(tags("status", "0", "error_code", "1050"))}, "timeout"},
		{"dial timeout", []string{dur(tags("status", "0", "error_code", "1211"))}, "timeout"},
		{"connection refused", []string{dur(tags("status", "0", "error_code", "1212"))}, "connect"},
		{"DNS", []string{dur(tags("status", "0", "error_code", "1101"))}, "connect"},
		{"HTTP/2", []string{dur(tags("status", "0", "error_code", "1630"))}, "protocol"},
	} {
		t.Run(c.name, func(t *testing.T) {
			imp := importLines(t, c.lines, Options{})
			s := imp.Summary()
			if s.Overall.Requests.Total != 1 {
				t.Fatalf("%d requests, want 1", s.Overall.Requests.Total)
			}
			var got string
			for class := range s.Overall.Requests.Failed {
				got = class
			}
			if got != c.want {
				t.Errorf("class %q, want %q", got, c.want)
			}
		})
	}
}

func TestScenarioAndTags(t *testing.T) {
	imp := importLines(t, []string{
		k6line(MetricReqDuration, 10, 5, nil),
		k6line(MetricReqDuration, 20, 5, map[string]string{"scenario": "", "status": "200", "vu": "3", "iter": "7", "team": "ml"}),
		k6line(MetricDroppedIterations, 30, 2, map[string]string{"scenario": "ramp"}),
	}, Options{})
	s := imp.Summary()
	if n := s.Scenarios[DefaultScenario].Requests.Total; n != 2 {
		t.Errorf("default scenario: %d requests, want 2", n)
	}
	if n := s.Scenarios["ramp"].Requests.Dropped; n != 2 {
		t.Errorf("ramp: %d dropped, want 2 (one per unit of value)", n)
	}
	if got := slices.Collect(maps.Keys(s.Tags)); !slices.Equal(got, []string{"team=ml"}) {
		t.Errorf("tags %v, want only team=ml (vu, iter are k6 system tags)", got)
	}
	if imp.Target != "" {
		t.Errorf("target %q without url tags, want empty", imp.Target)
	}
}

func TestReorderWindow(t *testing.T) {
	tg := func(i int) map[string]string { return map[string]string{"status": "200", "name": fmt.Sprint(i)} }
	lines := []string{
		k6line(MetricVUs, 0, 1, nil),
		k6line(MetricReqDuration, 200, 5, tg(1)),
		k6line(MetricReqDuration, 1500, 5, tg(2)),
		k6line(MetricReqDuration, 2900, 5, tg(3)),
		k6line(MetricReqDuration, 1100, 5, tg(4)), // 1.8 s behind: put in order
		k6line(MetricReqDuration, 3500, 5, tg(5)),
		k6line(MetricReqDuration, 500, 5, tg(6)), // 3 s behind: late
		k6line(MetricVUs, 4000, 1, nil),
	}
	var tl bytes.Buffer
	imp := importLines(t, lines, Options{Timeline: &tl})
	if imp.Stats.Late != 1 || imp.Stats.Requests != 6 {
		t.Errorf("late %d of %d requests, want 1 of 6", imp.Stats.Late, imp.Stats.Requests)
	}
	pts, err := analyze.ReadTimeline(&tl)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, p := range pts {
		got = append(got, p.Requests)
	}
	// 1.1 s lands in [1,2) with 1.5 s; 0.5 s came after [0,1) was
	// written and is counted in the interval open then, [1,2).
	want := []int64{1, 3, 1, 1}
	if !slices.Equal(got, want) {
		t.Errorf("requests per interval %v, want %v", got, want)
	}

	// A wider window puts them all in place.
	tl.Reset()
	imp = importLines(t, lines, Options{Timeline: &tl, ReorderWindow: 5 * time.Second})
	pts, _ = analyze.ReadTimeline(&tl)
	got = got[:0]
	for _, p := range pts {
		got = append(got, p.Requests)
	}
	if want := []int64{2, 2, 1, 1}; !slices.Equal(got, want) || imp.Stats.Late != 0 {
		t.Errorf("5 s window: requests per interval %v (late %d), want %v", got, imp.Stats.Late, want)
	}
}

func TestMalformed(t *testing.T) {
	good := k6line(MetricReqDuration, 10, 5, map[string]string{"status": "200"})
	for _, c := range []struct {
		name, line, want string
	}{
		{"not JSON", `{"type":"Point",`, "in.ndjson:2: not a JSON object"},
		{"array", `[1,2]`, "in.ndjson:2: want a JSON object, got array"},
		{"no type", `{"metric":"vus","data":{}}`, `in.ndjson:2: type: missing`},
		{"unknown type", `{"type":"Sample","metric":"vus","data":{}}`, `in.ndjson:2: type: unknown line type "Sample"`},
		{"no metric", `{"type":"Point","data":{"time":"2024-01-01T10:00:00Z","value":1}}`, "in.ndjson:2: metric: missing"},
		{"no data", `{"type":"Point","metric":"vus"}`, "in.ndjson:2: data: missing"},
		{"no time", `{"type":"Point","metric":"vus","data":{"value":1}}`, "in.ndjson:2: data.time: missing"},
		{"bad time", `{"type":"Point","metric":"vus","data":{"time":"yesterday","value":1}}`, `in.ndjson:2: data.time: not an RFC 3339 time: "yesterday"`},
		{"time before 1970", `{"type":"Point","metric":"vus","data":{"time":"1900-01-01T00:00:00Z","value":1}}`, `in.ndjson:2: data.time: 1900-01-01T00:00:00Z is out of range`},
		{"no value", `{"type":"Point","metric":"vus","data":{"time":"2024-01-01T10:00:00Z"}}`, "in.ndjson:2: data.value: missing"},
		{"string value", `{"type":"Point","metric":"vus","data":{"time":"2024-01-01T10:00:00Z","value":"1"}}`, "in.ndjson:2: data.value: want a JSON number, got string"},
		{"number tag", `{"type":"Point","metric":"vus","data":{"time":"2024-01-01T10:00:00Z","value":1,"tags":{"status":200}}}`, "in.ndjson:2: data.tags: want a JSON string, got number"},
		{"negative duration", k6line(MetricReqDuration, 10, -1, nil), "in.ndjson:2: data.value: negative duration -1 ms"},
		{"bad status", k6line(MetricReqDuration, 10, 1, map[string]string{"status": "OK"}), `in.ndjson:2: data.tags.status: not an HTTP status: "OK"`},
		{"huge drop", k6line(MetricDroppedIterations, 10, 1e9, nil), "in.ndjson:2: data.value: 1e+09 dropped iterations"},
		{"metric line without name", `{"type":"Metric","data":{"type":"trend"}}`, "in.ndjson:2: metric: missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := good + "\n" + c.line + "\n" + good + "\n"
			_, err := Import(strings.NewReader(in), Options{File: "in.ndjson"})
			var le *LineError
			if !errors.As(err, &le) || !errors.Is(err, ErrInput) || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("err = %v, want a LineError starting %q", err, c.want)
			}
			imp, err := Import(strings.NewReader(in), Options{File: "in.ndjson", SkipBad: true})
			if err != nil {
				t.Fatal(err)
			}
			if imp.Stats.Skipped != 1 || len(imp.Stats.FirstSkipped) != 1 || imp.Stats.FirstSkipped[0].Line != 2 || imp.Stats.Requests != 2 {
				t.Errorf("SkipBad: skipped %d %v, requests %d; want line 2 skipped and 2 requests", imp.Stats.Skipped, imp.Stats.FirstSkipped, imp.Stats.Requests)
			}
		})
	}
}

func TestNotK6(t *testing.T) {
	in := "timestamp,input_tokens\n2024-01-01 10:00:00,100\n"
	_, err := Import(strings.NewReader(in), Options{File: "trace.csv"})
	if err == nil || !strings.HasPrefix(err.Error(), "trace.csv:1: not k6 JSON output") {
		t.Errorf("err = %v, want trace.csv:1: not k6 JSON output …", err)
	}
}

func TestLongLine(t *testing.T) {
	long := `{"type":"Point","metric":"x","data":{"time":"2024-01-01T10:00:00Z","value":1,"tags":{"t":"` + strings.Repeat("a", MaxLineBytes) + `"}}}`
	in := long + "\n" + k6line(MetricReqDuration, 10, 5, nil) + "\n"
	if _, err := Import(strings.NewReader(in), Options{}); err == nil || !strings.Contains(err.Error(), "input:1: longer than") {
		t.Errorf("err = %v, want input:1: longer than …", err)
	}
	imp, err := Import(strings.NewReader(in), Options{SkipBad: true})
	if err != nil || imp.Stats.Skipped != 1 || imp.Stats.Requests != 1 || imp.Stats.Lines != 2 {
		t.Errorf("SkipBad: %v %+v", err, imp)
	}
}

func TestNoPoints(t *testing.T) {
	for name, in := range map[string]string{
		"empty":        "",
		"metrics only": `{"type":"Metric","data":{"name":"vus","type":"gauge"},"metric":"vus"}` + "\n",
		"all bad":      "nonsense\n",
	} {
		_, err := Import(strings.NewReader(in), Options{File: "f.json", SkipBad: true})
		if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "f.json: no k6 data points") {
			t.Errorf("%s: err = %v, want no k6 data points", name, err)
		}
	}
}

// k6gen writes n requests at ratePerSec as k6 lines, time-ordered.
func k6gen(w io.WriteCloser, n int, ratePerSec float64) {
	defer w.Close()
	tags := map[string]string{"status": "200", "scenario": "s", "url": "http://h/x"}
	for i := range n {
		off := float64(i) * 1000 / ratePerSec
		tags["name"] = fmt.Sprint(i % 7)
		fmt.Fprintln(w, k6line(MetricReqDuration, off, 3, tags))
		fmt.Fprintln(w, k6line(MetricReqFailed, off, 0, tags))
	}
}

// TestBoundedBuffer checks that the reorder buffer holds about a window of
// points however long the input.
func TestBoundedBuffer(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 40,000 requests")
	}
	pr, pw := io.Pipe()
	go k6gen(pw, 40_000, 1000)
	imp, err := Import(pr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if imp.Stats.Requests != 40_000 || imp.Stats.Unpaired != 0 {
		t.Errorf("%d requests, %d unpaired; want 40000, 0", imp.Stats.Requests, imp.Stats.Unpaired)
	}
	if p := imp.Stats.PeakBuffered; p > 2100 {
		t.Errorf("peak buffered %d points, want about 2 s at 1000/s", p)
	}
}

func TestLongGap(t *testing.T) {
	var tl bytes.Buffer
	imp := importLines(t, []string{
		k6line(MetricReqDuration, 0, 5, nil),
		k6line(MetricReqDuration, 3*time.Hour.Seconds()*1000, 5, nil),
	}, Options{Timeline: &tl})
	pts, err := analyze.ReadTimeline(&tl)
	if err != nil {
		t.Fatal(err)
	}
	if imp.Stats.Requests != 2 || len(pts) > 10 {
		t.Errorf("%d requests in %d intervals; want 2 in a few (a long gap is one interval)", imp.Stats.Requests, len(pts))
	}
}

func TestImportDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "k6-nightly")
	run, imp, err := ImportDir(sampleFile, dir, DirOptions{
		Command: "gonogo import k6 " + sampleFile, Labels: map[string]string{"version": "v2"}, Files: []string{"summary.txt"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if imp.Stats.Requests != 20 {
		t.Errorf("%d requests, want 20", imp.Stats.Requests)
	}
	back, d, err := reports.LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"id", back.ID, "k6-nightly-" + run.Started.Format("20060102-150405")},
		{"target", back.Target, "http://api.example.test:8080"},
		{"protocol", back.Protocol, "http"},
		{"command", back.Command, "gonogo import k6 " + sampleFile},
		{"labels", fmt.Sprint(back.Labels), "map[source:k6 version:v2]"},
		{"files", fmt.Sprint(back.Files), "[latency.hlog timeline.ndjson histograms.hlog summary.txt]"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if back.Overall.Requests.Total != 20 || back.Overall.Requests.Dropped != 3 || back.DurationS != 4 {
		t.Errorf("overall %+v, duration %g; want 20 requests, 3 dropped, 4 s", back.Overall.Requests, back.DurationS)
	}
	if back.Overall.Latency.P99 != run.Overall.Latency.P99 {
		t.Errorf("p99 read back %g, written %g", back.Overall.Latency.P99, run.Overall.Latency.P99)
	}
	if len(d.Timeline) != 4 {
		t.Errorf("%d timeline points, want 4", len(d.Timeline))
	}
	for _, g := range []string{analyze.Overall, analyze.ScenarioGroup("browse"), analyze.ScenarioGroup("checkout")} {
		h := d.Histogram(g, analyze.MetricLatency)
		want := map[string]int64{analyze.Overall: 15, analyze.ScenarioGroup("browse"): 10, analyze.ScenarioGroup("checkout"): 5}[g]
		if h == nil || h.TotalCount() != want {
			t.Errorf("latency.hlog %q: %d values, want %d (successes)", g, h.TotalCount(), want)
		}
	}

	// Bad input leaves nothing behind.
	bad := filepath.Join(t.TempDir(), "bad.ndjson")
	os.WriteFile(bad, []byte(k6line(MetricVUs, 0, 1, nil)+"\n{oops\n"), 0o644)
	out := filepath.Join(t.TempDir(), "new")
	if _, _, err := ImportDir(bad, out, DirOptions{}); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "bad.ndjson:2:") {
		t.Errorf("bad input: err = %v, want bad.ndjson:2: …", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bad input left %s behind (%v)", out, err)
	}
	// … and keeps what an existing directory held.
	if _, _, err := ImportDir(bad, dir, DirOptions{}); err == nil {
		t.Fatal("bad input into an existing run: no error")
	}
	if _, d2, err := reports.LoadRun(dir); err != nil || len(d2.Timeline) != 4 {
		t.Errorf("existing run damaged by a failed import: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 4 {
		t.Errorf("%d files in %s after a failed import, want 4 (no temporary files)", len(ents), dir)
	}
	if _, _, err := ImportDir(filepath.Join(t.TempDir(), "missing.json"), out, DirOptions{}); !errors.Is(err, ErrInput) {
		t.Errorf("missing input: err = %v, want ErrInput", err)
	}
}
