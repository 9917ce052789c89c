package replay_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/replay/internal/tracetest"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

// inspRows is a Reader over fixed rows.
type inspRows struct {
	rows  []replay.Row
	i     int
	skips replay.Skips
	err   error // returned after the rows instead of io.EOF
}

var _ replay.Reader = (*inspRows)(nil)

func (r *inspRows) Next(row *replay.Row) error {
	if r.i >= len(r.rows) {
		if r.err != nil {
			return r.err
		}
		return io.EOF
	}
	*row = r.rows[r.i]
	r.i++
	return nil
}

func (r *inspRows) Skipped() replay.Skips { return r.skips }

// inspTrace builds rows at the offsets (seconds) with the token counts.
func inspTrace(secs []float64, in, out []int) *inspRows {
	r := &inspRows{}
	for i, s := range secs {
		row := replay.Row{Line: int64(i + 2), Offset: time.Duration(math.Round(s * 1e9))}
		if in != nil {
			row.InputTokens = in[i]
		}
		if out != nil {
			row.OutputTokens = out[i]
		}
		r.rows = append(r.rows, row)
	}
	return r
}

func TestInspectArrivals(t *testing.T) {
	tests := []struct {
		name             string
		secs             []float64
		span, rate, cv   float64
		aligned, sliding int64
	}{
		{"sliding beats aligned", []float64{0, 0.9, 0.95, 1.0, 1.05}, 1.05, 5 / 1.05, -1, 3, 4},
		{"window is half-open", []float64{0, 1, 2, 3}, 3, 4.0 / 3, 0, 1, 1},
		{"even spacing", []float64{0, 0.5, 1, 1.5, 2}, 2, 2.5, 0, 2, 2},
		{"bins count from the first row", []float64{10.5, 10.6, 11.2, 11.4}, 0.9, 4 / 0.9, -1, 4, 4},
		{"one row", []float64{3}, 0, 0, 0, 1, 1},
		{"equal times", []float64{1, 1, 1}, 0, 0, 0, 3, 3},
		{"bursts", []float64{0, 0.001, 0.002, 10, 10.001, 10.002}, 10.002, 6 / 10.002, -1, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := replay.Inspect(inspTrace(tt.secs, nil, nil))
			if err != nil {
				t.Fatal(err)
			}
			if s.Rows != int64(len(tt.secs)) || math.Abs(s.SpanSec-tt.span) > 1e-9 || math.Abs(s.MeanRatePerSec-tt.rate) > 1e-9 {
				t.Errorf("rows %d span %v rate %v; want %d %v %v", s.Rows, s.SpanSec, s.MeanRatePerSec, len(tt.secs), tt.span, tt.rate)
			}
			if s.PeakAligned1s != tt.aligned || s.PeakSliding1s != tt.sliding {
				t.Errorf("peaks %d / %d, want %d / %d", s.PeakAligned1s, s.PeakSliding1s, tt.aligned, tt.sliding)
			}
			if tt.cv >= 0 && math.Abs(s.Burstiness-tt.cv) > 1e-9 {
				t.Errorf("burstiness %v, want %v", s.Burstiness, tt.cv)
			}
			if s.Input != nil || s.Output != nil || s.Spearman != nil {
				t.Errorf("token stats without tokens: %+v %+v %v", s.Input, s.Output, s.Spearman)
			}
		})
	}
}

func TestInspectBurstiness(t *testing.T) {
	// Gaps 1, 3: mean 2, population sd 1: CV 0.5.
	s, err := replay.Inspect(inspTrace([]float64{0, 1, 4}, nil, nil))
	if err != nil || math.Abs(s.Burstiness-0.5) > 1e-12 {
		t.Errorf("burstiness = %v, %v; want 0.5", s.Burstiness, err)
	}
}

func TestInspectTokens(t *testing.T) {
	secs := make([]float64, 100)
	in, out, rev := make([]int, 100), make([]int, 100), make([]int, 100)
	for i := range secs {
		secs[i] = float64(i) / 10
		in[i] = 100 - i // 1..100, unsorted
		out[i] = 2 * in[i]
		rev[i] = i
	}
	s, err := replay.Inspect(inspTrace(secs, in, out))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%d %d %d %d %d %.1f", s.Input.Min, s.Input.P50, s.Input.P90, s.Input.P99, s.Input.Max, s.Input.Mean); got != "1 50 90 99 100 50.5" {
		t.Errorf("input = %s", got)
	}
	if s.Output.P50 != 100 || s.Output.Max != 200 {
		t.Errorf("output = %+v", s.Output)
	}
	if s.Spearman == nil || math.Abs(*s.Spearman-1) > 1e-12 {
		t.Errorf("spearman = %v, want 1", s.Spearman)
	}
	var sum int64
	for _, b := range s.Input.Histogram {
		sum += b.Count
	}
	if sum != 100 || s.Input.Histogram[0] != (replay.HistBin{Lo: 1, Hi: 1, Count: 1}) || s.Input.Histogram[len(s.Input.Histogram)-1].Hi != 127 {
		t.Errorf("histogram = %+v", s.Input.Histogram)
	}

	if s, _ = replay.Inspect(inspTrace(secs, in, rev)); s.Spearman == nil || math.Abs(*s.Spearman+1) > 1e-12 {
		t.Errorf("spearman of reversed = %v, want -1", s.Spearman)
	}
	// Nearest rank on few values: ceil(p·n/100).
	s, _ = replay.Inspect(inspTrace([]float64{0, 1, 2, 3, 4}, []int{50, 10, 40, 20, 30}, []int{0, 0, 0, 0, 5}))
	if s.Input.P50 != 30 || s.Input.P90 != 50 || s.Input.P99 != 50 || s.Input.Min != 10 {
		t.Errorf("input = %+v", s.Input)
	}
	if s.Output.Min != 0 || s.Output.P50 != 0 || s.Output.Max != 5 || s.Output.Histogram[0] != (replay.HistBin{Lo: 0, Hi: 0, Count: 4}) {
		t.Errorf("output = %+v", s.Output)
	}
	// Ties get average ranks: x = 1,1,2,2 against y = 1,2,3,4 gives 2/√5.
	s, _ = replay.Inspect(inspTrace([]float64{0, 1, 2, 3}, []int{1, 1, 2, 2}, []int{1, 2, 3, 4}))
	if want := 2 / math.Sqrt(5); s.Spearman == nil || math.Abs(*s.Spearman-want) > 1e-12 {
		t.Errorf("spearman with ties = %v, want %v", s.Spearman, want)
	}
	// A constant count has no rank correlation.
	s, _ = replay.Inspect(inspTrace([]float64{0, 1, 2}, []int{5, 5, 5}, []int{1, 2, 3}))
	if s.Spearman != nil {
		t.Errorf("spearman of a constant = %v, want nil", *s.Spearman)
	}
}

func TestInspectErrors(t *testing.T) {
	back := inspTrace([]float64{0, 2, 1}, nil, nil)
	if _, err := replay.Inspect(back); !errors.Is(err, replay.ErrFormat) || !strings.Contains(err.Error(), "line 4 is 1s earlier than line 3") {
		t.Errorf("rows back in time: %v", err)
	}
	re := &replay.RowError{File: "t.csv", Line: 9, Field: "x", Err: errors.New("bad")}
	failing := inspTrace([]float64{0}, nil, nil)
	failing.err = re
	if _, err := replay.Inspect(failing); err != re {
		t.Errorf("reader error: %v", err)
	}
	skipping := inspTrace([]float64{0, 1}, nil, nil)
	skipping.skips.Add(re)
	s, err := replay.Inspect(skipping)
	if err != nil || s.Skipped != 1 || len(s.SkippedFirst) != 1 || s.SkippedFirst[0] != "t.csv:9: x: bad" {
		t.Errorf("skips: %+v, %v", s, err)
	}
	empty, err := replay.Inspect(&inspRows{})
	if err != nil || empty.Rows != 0 {
		t.Errorf("empty: %+v, %v", empty, err)
	}
	var b bytes.Buffer
	if err := empty.WriteText(&b); err != nil || !strings.Contains(b.String(), "rows         0") {
		t.Errorf("empty text: %q, %v", b.String(), err)
	}
}

// TestInspectAzureREADME checks every figure of the table in
// fixtures/traces/README.md against Inspect on the traces themselves.
func TestInspectAzureREADME(t *testing.T) {
	dir := tracetest.Traces(t, "azure-llm-2023")
	readme, err := os.ReadFile(filepath.Join(filepath.Dir(dir), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The README's figures, column by column, as it prints them.
	want := map[string][]string{
		"code": {"8,819", "3,435.9 s", "2.567 req/s", "1,469 / 7,436 (7,437)", "13 / 252 (1,899)", "67 / 72"},
		"conv": {"19,366", "3,501.7 s", "5.530 req/s", "1,020 / 4,142 (14,050)", "129 / 601 (1,000)", "16 / 19"},
	}
	rowNames := []string{"rows", "span", "mean rate", "input tokens p50 / p99 (max)", "output tokens p50 / p99 (max)", "most arrivals in one aligned 1 s bin / any sliding 1 s window"}
	// The README's table must say the same, so that a change to either is caught.
	for i, name := range rowNames {
		line := fmt.Sprintf("| %s | %s | %s |", name, want["code"][i], want["conv"][i])
		if !strings.Contains(string(readme), line) {
			t.Errorf("README.md lacks the row %q", line)
		}
	}
	for _, trace := range []string{"code", "conv"} {
		t.Run(trace, func(t *testing.T) {
			r, c, err := replay.Open(filepath.Join(dir, "AzureLLMInferenceTrace_"+trace+".csv"), replay.Options{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s, err := replay.Inspect(r)
			if err != nil {
				t.Fatal(err)
			}
			g := func(n int) string { return inspThousands(int64(n)) }
			got := []string{
				inspThousands(s.Rows),
				fmt.Sprintf("%s.%d s", inspThousands(int64(math.Round(s.SpanSec*10))/10), int64(math.Round(s.SpanSec*10))%10),
				fmt.Sprintf("%.3f req/s", s.MeanRatePerSec),
				fmt.Sprintf("%s / %s (%s)", g(s.Input.P50), g(s.Input.P99), g(s.Input.Max)),
				fmt.Sprintf("%s / %s (%s)", g(s.Output.P50), g(s.Output.P99), g(s.Output.Max)),
				fmt.Sprintf("%d / %d", s.PeakAligned1s, s.PeakSliding1s),
			}
			for i := range got {
				if got[i] != want[trace][i] {
					t.Errorf("%s: got %s, README says %s", rowNames[i], got[i], want[trace][i])
				}
			}
			if s.Skipped != 0 {
				t.Errorf("skipped %d rows", s.Skipped)
			}
			// The README calls code bursty; conv is close to Poisson.
			if trace == "code" && s.Burstiness < 5 || trace == "conv" && math.Abs(s.Burstiness-1) > 0.2 {
				t.Errorf("burstiness %v", s.Burstiness)
			}
			if _, err := json.Marshal(s); err != nil {
				t.Errorf("JSON: %v", err)
			}

			s.Trace = "AzureLLMInferenceTrace_" + trace + ".csv"
			var b bytes.Buffer
			if err := s.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "inspect_azure_"+trace+".txt")
			if *updateGolden {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantText, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if b.String() != string(wantText) {
				t.Errorf("WriteText differs from %s (go test -update rewrites it):\n%s", golden, b.String())
			}
		})
	}
}

func inspThousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
