package reports

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions/ndjson"
)

func TestParsePercentiles(t *testing.T) {
	tests := []struct {
		in   string
		want []float64
	}{
		{"50,90,99,99.9", []float64{50, 90, 99, 99.9}},
		{" 99.9, p50 ,90", []float64{50, 90, 99.9}},
		{"1", []float64{1}},
		{"", nil},
		{"50,,90", nil},
		{"0", nil},
		{"100", nil},
		{"-5", nil},
		{"NaN", nil},
		{"50,50", nil},
		{"fifty", nil},
		{strings.Repeat("1,", analyze.MaxPercentiles) + "2", nil},
	}
	for _, tc := range tests {
		got, err := ParsePercentiles(tc.in)
		if tc.want == nil {
			if !errors.Is(err, ErrPercentiles) {
				t.Errorf("ParsePercentiles(%q) = %v, %v; want ErrPercentiles", tc.in, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParsePercentiles(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParsePercentiles(f *testing.F) {
	for _, s := range []string{"50,90,99,99.9", "p1,p5", "0.001", "99.99999", ",", "1e1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParsePercentiles(s)
		if err != nil {
			return
		}
		if len(got) == 0 || len(got) > analyze.MaxPercentiles || !slices.IsSorted(got) {
			t.Fatalf("ParsePercentiles(%q) = %v", s, got)
		}
		var keys []string
		for _, p := range got {
			if !(p > 0 && p < 100) {
				t.Fatalf("ParsePercentiles(%q): %g out of range", s, p)
			}
			keys = append(keys, analyze.PercentileKey(p))
		}
		// The keys the reports print parse back to the same list.
		again, err := ParsePercentiles(strings.Join(keys, ","))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("round trip of %q: %v, %v; want %v", s, again, err, got)
		}
	})
}

// The text summary shows the percentiles the run asked for, the stored
// ones and those added to run.json, and a dash for one it lacks.
func TestWriteTextPercentiles(t *testing.T) {
	run := fixtureRun(t)
	run.Percentiles = []float64{5, 50, 99.99}
	chat := run.Scenarios["chat"]
	chat.Percentiles = map[string]map[string]float64{analyze.MetricLatency: {"99.99": 290.047}}
	run.Scenarios["chat"] = chat
	lat := chat.Latency
	var buf bytes.Buffer
	if err := WriteText(&buf, run); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	var head, latency string
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "ms" && head == "" {
			head = line
		}
		if len(f) > 0 && f[0] == "latency" && latency == "" {
			latency = line
		}
	}
	if got := strings.Fields(head); !slices.Equal(got, []string{"ms", "p5", "p50", "p99.99", "max"}) {
		t.Errorf("header = %q", head)
	}
	want := []string{"latency", fmtNum(lat.P5, 2), fmtNum(lat.P50, 2), "290.05", fmtNum(lat.Max, 2)}
	if got := strings.Fields(latency); !slices.Equal(got, want) {
		t.Errorf("latency row = %q, want %q", got, want)
	}
	if !strings.Contains(out, "– ") && !strings.Contains(out, "–\n") {
		t.Errorf("no dash for the p99.99 the overall group lacks:\n%s", out)
	}
}

// WriteSummaryCSV's numbers parse back equal to run.json's.
func TestSummaryCSVMatchesRunJSON(t *testing.T) {
	run := fixtureRun(t)
	b, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	var back Run // the numbers as run.json stores them
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteSummaryCSV(&buf, &back); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], SummaryCSVHeader) {
		t.Fatalf("header = %v", rows[0])
	}
	seen := map[string]bool{}
	for _, row := range rows[1:] {
		var st analyze.Stats
		switch g := row[0]; {
		case g == "overall":
			st = back.Overall
		case strings.HasPrefix(g, "scenario:"):
			st = back.Scenarios[strings.TrimPrefix(g, "scenario:")].Stats
		case strings.HasPrefix(g, "tag:"):
			st = back.Tags[strings.TrimPrefix(g, "tag:")]
		default:
			t.Fatalf("group %q", g)
		}
		ms := st.Metric(row[1])
		if ms == nil {
			t.Fatalf("row %v: no such metric in run.json", row)
		}
		seen[row[0]+"/"+row[1]] = true
		want := []float64{float64(ms.Count), ms.Mean, ms.StdDev, ms.Min}
		for _, p := range analyze.StoredPercentiles {
			v, _ := ms.Percentile(p)
			want = append(want, v)
		}
		want = append(want, ms.Max)
		for i, w := range want {
			got, err := strconv.ParseFloat(row[3+i], 64)
			if err != nil || got != w {
				t.Errorf("%s %s %s = %q, want %g", row[0], row[1], SummaryCSVHeader[3+i], row[3+i], w)
			}
		}
	}
	for _, k := range []string{"overall/latency", "overall/ttst", "scenario:chat/tokens_per_sec_per_user", "tag:model=m1/ttft"} {
		if !seen[k] {
			t.Errorf("no row %s", k)
		}
	}
}

func TestSamplesCSV(t *testing.T) {
	var gz bytes.Buffer
	w := ndjson.New(&gz, t0)
	req := &gonogo.Request{ID: 7, Scenario: "chat", Intended: t0, Tags: map[string]string{"b": "2", "a": "1"}}
	w.Record(&gonogo.Result{Request: req, Sent: t0, Done: t0.Add(100 * time.Millisecond), Status: 200,
		TTFT: 40 * time.Millisecond, OutputTokens: 4, PromptTokens: 12})
	w.Drop(&gonogo.Request{ID: 8, Scenario: "chat", Intended: t0})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n, err := WriteSamplesCSV(&out, &gz)
	if err != nil || n != 2 {
		t.Fatalf("WriteSamplesCSV = %d, %v; want 2 rows", n, err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("CSV: %d rows, %v", len(rows), err)
	}
	col := func(row []string, name string) string { return row[slices.Index(SamplesCSVHeader, name)] }
	r := rows[1]
	for name, want := range map[string]string{"id": "7", "service_ms": "100", "ttft_ms": "40", "output_tokens": "4",
		"tokens_per_sec_per_user": "50", "prompt_tokens": "12", "tags": "a=1;b=2", "dropped": "false"} {
		if got := col(r, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if col(rows[2], "dropped") != "true" || col(rows[2], "tokens_per_sec_per_user") != "" {
		t.Errorf("drop row = %v", rows[2])
	}
	// A file cut short is an error after the rows before the cut.
	var cut bytes.Buffer
	zw := gzip.NewWriter(&cut)
	_, _ = zw.Write([]byte(`{"id":1,"scenario":"s"}` + "\n" + `{"id":2,`))
	_ = zw.Flush()
	if _, err := WriteSamplesCSV(&bytes.Buffer{}, bytes.NewReader(cut.Bytes())); err == nil {
		t.Errorf("a samples file cut short converted without error")
	}
}
