package history

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/reports"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// spec describes a test run.
type spec struct {
	id       string
	started  time.Time
	target   string
	scenario string
	labels   map[string]string
	p99Ms    float64 // roughly the latency p99
	failed   int64
}

// latencyHist holds 1000 latencies spread evenly up to p99Ms/0.99, so that
// its p99 is about p99Ms.
func latencyHist(p99Ms float64) *hdr.Histogram {
	h := hdr.New(1, analyze.HighestMicros, analyze.SignificantDigits)
	for i := 1; i <= 1000; i++ {
		if err := h.RecordValue(int64(float64(i) / 1000 * p99Ms / 0.99 * 1000)); err != nil {
			panic(err)
		}
	}
	return h
}

func metricStats(h *hdr.Histogram) *analyze.MetricStats {
	ms := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1000 }
	return &analyze.MetricStats{
		Count: h.TotalCount(), Min: float64(h.Min()) / 1000, Mean: h.Mean() / 1000,
		P50: ms(50), P90: ms(90), P95: ms(95), P99: ms(99), P999: ms(99.9), Max: float64(h.Max()) / 1000,
	}
}

// build makes a run and its data with real histograms: latency overall
// and for the scenario, and ttft overall.
func build(s spec) (*reports.Run, *analyze.RunData) {
	lat := latencyHist(s.p99Ms)
	ttft := latencyHist(s.p99Ms / 3)
	st := analyze.Stats{
		Requests: analyze.Requests{Total: lat.TotalCount(), OK: lat.TotalCount() - s.failed, Failed: map[string]int64{}},
		Rate:     analyze.Rate{TargetPerSec: 50, AchievedPerSec: 49.5},
		ActiveS:  20.2,
		Latency:  metricStats(lat),
		TTFT:     metricStats(ttft),
	}
	if s.failed > 0 {
		st.Requests.Failed["http_5xx"] = s.failed
	}
	run := &reports.Run{
		Schema: reports.SchemaVersion, ID: s.id, Started: s.started, Ended: s.started.Add(20 * time.Second),
		DurationS: 20, Target: s.target, Protocol: "openai", Labels: s.labels,
		Scenarios: map[string]reports.Scenario{s.scenario: {Executor: "constant-arrival-rate 50/s for 20s", Stats: st}},
		Overall:   st,
	}
	data := &analyze.RunData{
		ID: s.id, Dir: filepath.Join("results", s.id), Summary: run.Summary(),
		Hists: map[string]*hdr.Histogram{
			analyze.HistKey(analyze.Overall, analyze.MetricLatency):                   lat,
			analyze.HistKey(analyze.Overall, analyze.MetricTTFT):                      ttft,
			analyze.HistKey(analyze.ScenarioGroup(s.scenario), analyze.MetricLatency): latencyHist(s.p99Ms),
		},
	}
	return run, data
}

func open(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func record(t *testing.T, db *DB, specs ...spec) map[string]*analyze.RunData {
	t.Helper()
	datas := make(map[string]*analyze.RunData)
	for _, s := range specs {
		run, data := build(s)
		if err := db.Record(run, data); err != nil {
			t.Fatal(err)
		}
		datas[s.id] = data
	}
	return datas
}

func setVerdict(t *testing.T, db *DB, id string, d analyze.Decision, score float64) {
	t.Helper()
	v := &analyze.Verdict{Schema: analyze.VerdictSchema, Verdict: d, Score: score, Run: id, Reasons: []string{"test"}}
	if err := db.SetVerdict(id, v); err != nil {
		t.Fatal(err)
	}
}

// three are the runs most tests record.
var three = []spec{
	{id: "a", started: t0, target: "http://a", scenario: "stress", labels: map[string]string{"version": "v1", "commit": "aaa"}, p99Ms: 30},
	{id: "b", started: t0.Add(time.Hour), target: "http://a", scenario: "stress", labels: map[string]string{"version": "v2", "team": "ml"}, p99Ms: 32, failed: 10},
	{id: "c", started: t0.Add(2 * time.Hour), target: "http://c", scenario: "soak", labels: map[string]string{"version": "v2"}, p99Ms: 45},
}

func ids(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestList(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "sub", "history.db"))
	record(t, db, three...)
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"all newest first", Filter{}, []string{"c", "b", "a"}},
		{"scenario", Filter{Scenario: "stress"}, []string{"b", "a"}},
		{"target", Filter{Target: "http://c"}, []string{"c"}},
		{"version label", Filter{Labels: map[string]string{"version": "v2"}}, []string{"c", "b"}},
		{"commit label", Filter{Labels: map[string]string{"commit": "aaa"}}, []string{"a"}},
		{"other label", Filter{Labels: map[string]string{"team": "ml"}}, []string{"b"}},
		{"labels and scenario", Filter{Scenario: "stress", Labels: map[string]string{"version": "v2", "team": "ml"}}, []string{"b"}},
		{"no match", Filter{Labels: map[string]string{"team": "web"}}, nil},
		{"limit", Filter{Limit: 2}, []string{"c", "b"}},
		{"not judged", Filter{Verdict: analyze.Go}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.List(tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("got %v, want %v", ids(got), tt.want)
			}
		})
	}

	es, err := db.List(Filter{Target: "http://a", Labels: map[string]string{"version": "v2"}})
	if err != nil || len(es) != 1 {
		t.Fatalf("got %v, %v; want run b", es, err)
	}
	e := es[0]
	if wantDir, _ := filepath.Abs(filepath.Join("results", "b")); e.Dir != wantDir || !e.Started.Equal(t0.Add(time.Hour)) || e.Target != "http://a" || e.Protocol != "openai" {
		t.Errorf("entry %+v: wrong dir, start, target or protocol", e)
	}
	if !slices.Equal(e.Scenarios, []string{"stress"}) || e.Labels["team"] != "ml" || e.Labels["version"] != "v2" {
		t.Errorf("scenarios %v labels %v", e.Scenarios, e.Labels)
	}
	if e.Requests != 1000 || e.ErrorRate != 0.01 || e.AchievedPerSec != 49.5 {
		t.Errorf("requests %d error rate %v achieved %v; want 1000, 0.01, 49.5", e.Requests, e.ErrorRate, e.AchievedPerSec)
	}
	if math.Abs(e.P99Ms-32) > 0.1 || math.Abs(e.P50Ms-16.2) > 0.1 {
		t.Errorf("p50 %v p99 %v; want about 16.2 and 32", e.P50Ms, e.P99Ms)
	}
	if e.Verdict != "" || e.Score != 0 {
		t.Errorf("verdict %q score %v before judging", e.Verdict, e.Score)
	}
}

func TestVerdict(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "history.db"))
	record(t, db, three...)
	setVerdict(t, db, "b", analyze.Go, 95)
	setVerdict(t, db, "c", analyze.NoGo, 40)

	got, err := db.List(Filter{Verdict: analyze.Go})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "b" || got[0].Verdict != analyze.Go || got[0].Score != 95 {
		t.Fatalf("go runs: %+v, want b with score 95", got)
	}

	// Recording a run again keeps its verdict.
	record(t, db, three[1])
	got, err = db.List(Filter{Verdict: analyze.Go})
	if err != nil || len(got) != 1 || got[0].Score != 95 {
		t.Fatalf("after re-recording b: %+v, %v", got, err)
	}

	var vj string
	if err := db.db.QueryRow(`SELECT verdict_json FROM runs WHERE id = 'c'`).Scan(&vj); err != nil {
		t.Fatal(err)
	}
	if want := `"verdict":"no-go"`; !strings.Contains(vj, want) {
		t.Errorf("verdict_json %s lacks %s", vj, want)
	}

	err = db.SetVerdict("nope", &analyze.Verdict{Verdict: analyze.Go})
	if !errors.Is(err, ErrUnknownRun) {
		t.Errorf("verdict of an unknown run: %v, want ErrUnknownRun", err)
	}
}

func TestLastGo(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "history.db")
	db := open(t, dbPath)
	datas := record(t, db, three...)
	if _, _, err := db.LastGo(Filter{}); !errors.Is(err, ErrNoBaseline) {
		t.Fatalf("no verdicts yet: %v, want ErrNoBaseline", err)
	}
	setVerdict(t, db, "a", analyze.Go, 100)
	setVerdict(t, db, "b", analyze.Go, 90)
	setVerdict(t, db, "c", analyze.NoGo, 20) // newest, but no-go

	tests := []struct {
		name   string
		f      Filter
		want   string
		noBase bool
	}{
		{"skips no-go", Filter{}, "b", false},
		{"scenario", Filter{Scenario: "stress"}, "b", false},
		{"label", Filter{Labels: map[string]string{"version": "v1"}}, "a", false},
		{"only no-go runs", Filter{Scenario: "soak"}, "", true},
		{"verdict and limit ignored", Filter{Verdict: analyze.NoGo, Limit: 7}, "b", false},
		{"before a go run: not itself", Filter{StartedBefore: t0.Add(time.Hour), Except: "b"}, "a", false},
		{"except", Filter{Except: "b"}, "a", false},
		{"before the oldest", Filter{StartedBefore: t0}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, data, err := db.LastGo(tt.f)
			if tt.noBase {
				if !errors.Is(err, ErrNoBaseline) {
					t.Fatalf("got %v, want ErrNoBaseline", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if run.ID != tt.want || data.ID != tt.want {
				t.Fatalf("got run %s (data %s), want %s", run.ID, data.ID, tt.want)
			}
		})
	}

	// The baseline is rebuilt exactly from the database alone.
	run, data, err := db.LastGo(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	orig, origData := build(three[1])
	if !run.Started.Equal(orig.Started) || run.Target != orig.Target || run.Labels["team"] != "ml" ||
		run.Overall.Requests.Total != orig.Overall.Requests.Total || *run.Overall.Latency != *orig.Overall.Latency ||
		run.Scenarios["stress"].Executor != orig.Scenarios["stress"].Executor {
		t.Errorf("run differs from the recorded one:\ngot  %+v\nwant %+v", run, orig)
	}
	if data.Dir != "" || data.Summary == nil || data.Summary.Scenarios["stress"].Latency == nil {
		t.Errorf("data: dir %q, summary %+v", data.Dir, data.Summary)
	}
	if len(data.Hists) != len(datas["b"].Hists) {
		t.Fatalf("%d histograms, want %d", len(data.Hists), len(datas["b"].Hists))
	}
	for key, want := range origData.Hists {
		got := data.Hists[key]
		if got == nil {
			t.Errorf("histogram %s missing", key)
			continue
		}
		if got.TotalCount() != want.TotalCount() || got.Min() != want.Min() || got.Max() != want.Max() {
			t.Errorf("%s: count %d min %d max %d, want %d %d %d", key, got.TotalCount(), got.Min(), got.Max(), want.TotalCount(), want.Min(), want.Max())
		}
		for _, q := range []float64{1, 50, 90, 99, 99.9, 100} {
			if g, w := got.ValueAtQuantile(q), want.ValueAtQuantile(q); g != w {
				t.Errorf("%s p%v: %d, want %d", key, q, g, w)
			}
		}
		if !got.Equals(want) {
			t.Errorf("%s: decoded histogram differs", key)
		}
	}
}

// trendRuns records runs of scenario "stress" with these p99 latencies, an
// hour apart.
func trendRuns(t *testing.T, db *DB, p99s ...float64) {
	t.Helper()
	for i, p := range p99s {
		record(t, db, spec{id: fmt.Sprintf("r%02d", i), started: t0.Add(time.Duration(i) * time.Hour), target: "http://a",
			scenario: "stress", labels: map[string]string{"version": fmt.Sprintf("v%d", i)}, p99Ms: p})
	}
}

func TestTrend(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "history.db"))
	// A normal wobble (32 is 7 % above the median), then a regression.
	p99s := []float64{30, 31, 29, 30.5, 32, 29.5, 31, 48}
	trendRuns(t, db, p99s...)
	record(t, db, spec{id: "other", started: t0.Add(100 * time.Hour), target: "http://a", scenario: "soak", p99Ms: 100})

	pts, err := db.Trend(Filter{Scenario: "stress"}, analyze.ScenarioGroup("stress"), analyze.MetricLatency, 99, 14)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != len(p99s) {
		t.Fatalf("%d points, want %d", len(pts), len(p99s))
	}
	for i, p := range pts {
		if want := fmt.Sprintf("r%02d", i); p.ID != want {
			t.Errorf("point %d is %s, want %s (oldest first)", i, p.ID, want)
		}
		if math.Abs(p.Value-p99s[i]) > p99s[i]*0.002 {
			t.Errorf("point %d: p99 %v, want about %v", i, p.Value, p99s[i])
		}
		if want := i == len(p99s)-1; p.Regression != want {
			t.Errorf("point %d (%v ms, median %v): regression %v, want %v", i, p.Value, p.Median, p.Regression, want)
		}
	}
	if last := pts[len(pts)-1]; math.Abs(last.Median-30.5) > 0.2 || last.Labels["version"] != "v7" {
		t.Errorf("last point: median %v labels %v; want about 30.5 and version v7", last.Median, last.Labels)
	}
	if pts[2].Median != 0 {
		t.Errorf("third point judged against two: median %v", pts[2].Median)
	}

	// A short window still judges its oldest point against older runs.
	pts, err = db.Trend(Filter{Scenario: "stress"}, analyze.ScenarioGroup("stress"), analyze.MetricLatency, 99, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 3 || pts[0].ID != "r05" || pts[0].Median == 0 || !pts[2].Regression {
		t.Errorf("window of 3: %+v", pts)
	}

	// Another metric and percentile, from the stored histograms.
	pts, err = db.Trend(Filter{Scenario: "stress"}, analyze.Overall, analyze.MetricTTFT, 50, 14)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != len(p99s) || math.Abs(pts[0].Value-30.0/3/0.99/2) > 0.05 {
		t.Errorf("ttft p50: %+v", pts)
	}

	for _, bad := range []struct {
		metric string
		q      float64
		n      int
	}{{"nope", 99, 5}, {analyze.MetricLatency, 0, 5}, {analyze.MetricLatency, 101, 5}, {analyze.MetricLatency, 99, 0}} {
		if _, err := db.Trend(Filter{}, analyze.Overall, bad.metric, bad.q, bad.n); err == nil {
			t.Errorf("Trend(%v) gave no error", bad)
		}
	}
}

// A run recorded without histograms still trends on the listing columns.
func TestTrendWithoutHistograms(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "history.db"))
	for i, p := range []float64{30, 30, 30, 60} {
		run, _ := build(spec{id: fmt.Sprintf("r%d", i), started: t0.Add(time.Duration(i) * time.Minute), scenario: "s", p99Ms: p})
		if err := db.Record(run, nil); err != nil {
			t.Fatal(err)
		}
	}
	pts, err := db.Trend(Filter{}, analyze.Overall, analyze.MetricLatency, 99, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 4 || !pts[3].Regression || math.Abs(pts[3].Value-60) > 0.1 {
		t.Errorf("p99 from the columns: %+v", pts)
	}
	if pts, err := db.Trend(Filter{}, analyze.Overall, analyze.MetricLatency, 90, 10); err != nil || len(pts) != 0 {
		t.Errorf("p90 has no column: %+v, %v", pts, err)
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	record(t, db, three...)
	setVerdict(t, db, "a", analyze.Go, 100)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, path)
	es, err := db.List(Filter{})
	if err != nil || len(es) != 3 || es[2].Verdict != analyze.Go {
		t.Fatalf("after reopening: %+v, %v", es, err)
	}
	var n int
	if err := db.db.QueryRow(`SELECT count(*) FROM schema_version`).Scan(&n); err != nil || n != 1 {
		t.Errorf("schema_version rows: %d, %v", n, err)
	}

	// A database of a newer schema is refused.
	if _, err := db.db.Exec(`UPDATE schema_version SET version = ?`, SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); !errors.Is(err, ErrSchema) {
		t.Errorf("newer schema: %v, want ErrSchema", err)
	}
}

// Two handles, as two processes would, open a new database and record at
// the same time.
func TestConcurrentHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	const perHandle = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*perHandle+2)
	for h := range 2 {
		wg.Go(func() {
			db, err := Open(path)
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			var inner sync.WaitGroup
			for i := range perHandle {
				inner.Go(func() {
					id := fmt.Sprintf("h%d-%d", h, i)
					run, data := build(spec{id: id, started: t0.Add(time.Duration(h*perHandle+i) * time.Second), scenario: "s", p99Ms: 30})
					if err := db.Record(run, data); err != nil {
						errs <- err
						return
					}
					if err := db.SetVerdict(id, &analyze.Verdict{Verdict: analyze.Go, Score: 100}); err != nil {
						errs <- err
					}
				})
			}
			inner.Wait()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	db := open(t, path)
	es, err := db.List(Filter{Verdict: analyze.Go})
	if err != nil || len(es) != 2*perHandle {
		t.Fatalf("%d runs recorded (%v), want %d", len(es), err, 2*perHandle)
	}
	if _, _, err := db.LastGo(Filter{}); err != nil {
		t.Error(err)
	}
}

func TestGet(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "history.db"))
	datas := record(t, db, three...)
	run, data, err := db.Get("b")
	if err != nil || run.ID != "b" || !data.Hists[analyze.HistKey(analyze.Overall, analyze.MetricLatency)].Equals(datas["b"].Hists[analyze.HistKey(analyze.Overall, analyze.MetricLatency)]) {
		t.Fatalf("Get(b) = %v, %v", run, err)
	}
	if _, _, err := db.Get("zzz"); !errors.Is(err, ErrUnknownRun) {
		t.Errorf("Get(zzz): %v, want ErrUnknownRun", err)
	}
}

func TestDefaultPath(t *testing.T) {
	home := t.TempDir()
	for _, c := range []struct {
		name              string
		env, xdg, homeEnv *string
		want              string
	}{
		{name: "home", homeEnv: &home, want: filepath.Join(home, ".local", "state", "gonogo", "history.db")},
		{name: "xdg", xdg: ptr("/var/lib/ci-state"), homeEnv: &home, want: "/var/lib/ci-state/gonogo/history.db"},
		{name: "relative xdg ignored", xdg: ptr("state"), homeEnv: &home, want: filepath.Join(home, ".local", "state", "gonogo", "history.db")},
		{name: "env wins", env: ptr("/ci/history.db"), xdg: ptr("/var/lib/ci-state"), homeEnv: &home, want: "/ci/history.db"},
		{name: "env empty turns it off", env: ptr(""), homeEnv: &home, want: ""},
		{name: "no home", homeEnv: ptr(""), want: ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			for name, v := range map[string]*string{PathEnv: c.env, "XDG_STATE_HOME": c.xdg, "HOME": c.homeEnv} {
				t.Setenv(name, "") // restored after the test
				if v == nil {
					os.Unsetenv(name)
				} else {
					os.Setenv(name, *v)
				}
			}
			if got := DefaultPath(); got != c.want {
				t.Errorf("DefaultPath() = %q, want %q", got, c.want)
			}
		})
	}
	// Open creates the state directory on first use.
	t.Setenv(PathEnv, "")
	os.Unsetenv(PathEnv)
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", home)
	open(t, DefaultPath())
	if _, err := os.Stat(filepath.Join(home, ".local", "state", "gonogo", "history.db")); err != nil {
		t.Errorf("history not created in the state directory: %v", err)
	}
}

func ptr(s string) *string { return &s }

func TestDir(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "history.db"))
	run, data := build(three[0])
	data.Dir = filepath.Join("results", "a")
	if err := db.Record(run, data); err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Abs(data.Dir)
	if got, err := db.Dir("a"); err != nil || got != want {
		t.Errorf("Dir(a) = %q, %v, want %q (absolute)", got, err, want)
	}
	if _, err := db.Dir("zzz"); !errors.Is(err, ErrUnknownRun) {
		t.Errorf("Dir(zzz): %v, want ErrUnknownRun", err)
	}
}
