package promscrape

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// vllmPage is a slice of a vLLM /metrics page (two engines of a
// data-parallel deployment), with the label values and comments real
// pages have.
const vllmPage = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 12.0
vllm:num_requests_running{engine="1",model_name="meta-llama/Llama-3.1-8B-Instruct"} 20.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 3.0
vllm:num_requests_waiting{engine="1",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.41
vllm:kv_cache_usage_perc{engine="1",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.87
vllm:gpu_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.99
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="x"} 17.0
python_info{implementation="CPython",major="3",minor="12",patchlevel="3",version="3.12.3"} 1.0
`

func TestParse(t *testing.T) {
	all := func(string) bool { return true }
	tests := []struct {
		name string
		page string
		want map[string]Series
		err  string
	}{
		{"vllm", vllmPage, map[string]Series{
			"vllm:num_requests_running": {Sum: 32, Max: 20, N: 2},
			"vllm:kv_cache_usage_perc":  {Sum: 1.28, Max: 0.87, N: 2},
		}, ""},
		{"no labels, timestamps, special values", "a 1\nb 2 1700000000000\nc +Inf\nd NaN\ne -2.5e-3\n", map[string]Series{
			"a": {Sum: 1, Max: 1, N: 1}, "b": {Sum: 2, Max: 2, N: 1}, "e": {Sum: -0.0025, Max: -0.0025, N: 1},
		}, ""},
		{"a brace and a quote inside a label value", `m{path="/a}b",q="say \"hi\" }"} 7` + "\n", map[string]Series{"m": {Sum: 7, Max: 7, N: 1}}, ""},
		{"blank lines and comments only", "\n# just a comment\n\n", map[string]Series{}, ""},
		{"no value", "m{a=\"b\"}\n", nil, "line 1: m: want a space and a value"},
		{"unclosed labels", "ok 1\nm{a=\"b\" 1\n", nil, "line 2: label set not closed"},
		{"not a number", "m 0x10\n", nil, `line 1: m: value "0x10"`},
		{"bad timestamp", "m 1 soon\n", nil, `line 1: m: timestamp "soon"`},
		{"no name", "{a=\"b\"} 1\n", nil, "line 1: no metric name"},
		{"extra fields", "m 1 2 3\n", nil, "line 1: m: more than a value and a timestamp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tc.page), all)
			if tc.err != "" {
				if err == nil || !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, w := range tc.want {
				g := got[name]
				if g.N != w.N || abs(g.Sum-w.Sum) > 1e-9 || abs(g.Max-w.Max) > 1e-9 {
					t.Errorf("%s: %+v, want %+v", name, g, w)
				}
			}
		})
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestReadings picks each resource's gauge: vLLM's newer KV name before
// the older one, counts summed over engines, fractions at their fullest.
func TestReadings(t *testing.T) {
	page, err := Parse(strings.NewReader(vllmPage), func(n string) bool { return gaugeNames[n] })
	if err != nil {
		t.Fatal(err)
	}
	if _, kept := page["python_info"]; kept || len(page) != 4 {
		t.Errorf("kept %v: only the gauges asked for", page)
	}
	r := Readings(page)
	want := map[string]Reading{
		Waiting: {Name: "vllm:num_requests_waiting", Value: 3},
		Running: {Name: "vllm:num_requests_running", Value: 32},
		KVCache: {Name: "vllm:kv_cache_usage_perc", Value: 0.87, Fraction: true, Limit: 1},
	}
	for res, w := range want {
		if g := r[res]; g != w {
			t.Errorf("%s: %+v, want %+v", res, g, w)
		}
	}
}

// TestReadingsLimits: a count's limit comes from its limit gauge, summed
// over label sets as the count is; a limit gauge of 0 states none.
func TestReadingsLimits(t *testing.T) {
	const page = `modelserver_running_seqs{replica="a"} 3
modelserver_running_seqs{replica="b"} 4
modelserver_max_running_seqs{replica="a"} 8
modelserver_max_running_seqs{replica="b"} 8
modelserver_kv_tokens_used 100
modelserver_kv_tokens_capacity 0
modelserver_queue_depth 2
`
	p, err := Parse(strings.NewReader(page), func(n string) bool { return gaugeNames[n] })
	if err != nil {
		t.Fatal(err)
	}
	r := Readings(p)
	want := map[string]Reading{
		Waiting: {Name: "modelserver_queue_depth", Value: 2},
		Running: {Name: "modelserver_running_seqs", Value: 7, Limit: 16},
		KVCache: {Name: "modelserver_kv_tokens_used", Value: 100},
	}
	for res, w := range want {
		if g := r[res]; g != w {
			t.Errorf("%s: %+v, want %+v", res, g, w)
		}
	}
}

func TestMetricsURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8000":        "http://127.0.0.1:8000/metrics",
		"https://llm.example:443/v1/x": "https://llm.example:443/metrics",
		"127.0.0.1:8000":               "",
		"ftp://host/":                  "",
	} {
		got, err := MetricsURL(in)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("MetricsURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestWatchFixture scrapes the simulated server while it serves a batch:
// the running batch and the queue show, with the fixture's names.
func TestWatchFixture(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	cfg.MaxSeqs, cfg.StepBase = 2, 20*time.Millisecond
	_, url := modelservertest.Start(t, cfg)
	s := &Scraper{URL: url + "/metrics"}
	w := s.Start(context.Background(), 10*time.Millisecond)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			resp, err := http.Post(url+"/v1/completions", "application/json",
				strings.NewReader(`{"prompt":"a b c","max_tokens":10,"ignore_eos":true}`))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	loads, err := w.Stop()
	if err != nil {
		t.Fatal(err)
	}
	run, wait, kv := loads[Running], loads[Waiting], loads[KVCache]
	if run.Name != modelserver.MetricRunningSeqs || run.Max != 2 || run.Limit != 2 || run.Samples < 5 {
		t.Errorf("running %+v, want a peak and a limit of 2 (the fixture's slots)", run)
	}
	if wait.Name != modelserver.MetricQueueDepth || wait.Max < 1 {
		t.Errorf("waiting %+v, want requests queued", wait)
	}
	if kv.Name != modelserver.MetricKVTokensUsed || kv.Fraction || kv.Max != 2*(3+10) || kv.Limit != float64(cfg.KVTokens) {
		t.Errorf("kv %+v, want 26 tokens at most (2 × (3 prompt + 10 output)) of a limit of %d", kv, cfg.KVTokens)
	}
}

// TestWatchErrors: a page that is not there is reported, once nothing
// was read.
func TestWatchErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	w := (&Scraper{URL: srv.URL + "/metrics"}).Start(context.Background(), 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	if loads, err := w.Stop(); err == nil || !strings.Contains(err.Error(), "404") || len(loads) != 0 {
		t.Errorf("loads %v, error %v; want a 404", loads, err)
	}
}

// FuzzParse: any page parses or fails with ErrParse, never panics; what
// parses keeps its counts consistent.
func FuzzParse(f *testing.F) {
	f.Add(vllmPage)
	f.Add("a 1\n")
	f.Add(`m{path="/a}b",q="say \"hi\" }"} 7 123` + "\n")
	f.Add("m{a=\"b\\\" 1\n")
	f.Add("# TYPE x gauge\nx -Inf\n")
	f.Add("modelserver_running_seqs 3\nmodelserver_max_running_seqs{a=\"1\"} 8\nmodelserver_max_running_seqs{a=\"2\"} -8\n")
	f.Fuzz(func(t *testing.T, page string) {
		got, err := Parse(strings.NewReader(page), func(string) bool { return true })
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error %v does not wrap ErrParse", err)
			}
			return
		}
		for name, s := range got {
			if name == "" || s.N < 1 || s.N == 1 && s.Sum != s.Max {
				t.Fatalf("%q: %+v", name, s)
			}
		}
		// A limit is positive, or 0 for none; a fraction's is 1.
		for res, r := range Readings(got) {
			if !(r.Limit >= 0) || r.Fraction && r.Limit != 1 {
				t.Fatalf("%s: %+v", res, r)
			}
		}
	})
}

// TestWatchSummary: a watch's summary of its readings — mean, 90th
// percentile by nearest rank, peak, the highest limit read.
func TestWatchSummary(t *testing.T) {
	done := make(chan struct{})
	close(done)
	w := &Watch{sums: map[string]*Load{}, vals: map[string][]float64{}, cancel: func() {}, done: done}
	for v := 20; v >= 1; v-- { // out of order: the percentile sorts
		w.add(map[string]Reading{Running: {Name: "r", Value: float64(v), Limit: float64(8 + v%2)}}, nil)
	}
	w.add(nil, errors.New("one scrape failed"))
	loads, err := w.Stop()
	if err != nil {
		t.Fatal(err)
	}
	want := Load{Name: "r", Mean: 10.5, P90: 18, Max: 20, Limit: 9, Samples: 20}
	if got := loads[Running]; got != want {
		t.Errorf("load %+v, want %+v", got, want)
	}
}
