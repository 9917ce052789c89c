package runner

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/rundir"
	"github.com/gonogo-dev/gonogo/scenarios"
)

func TestParseRates(t *testing.T) {
	tests := []struct {
		in   string
		want []float64
		auto bool
		err  string
	}{
		{in: "5,10,20,40", want: []float64{5, 10, 20, 40}},
		{in: " 0.5, 1.5 ,2", want: []float64{0.5, 1.5, 2}},
		{in: "auto", auto: true},
		{in: "12", want: []float64{12}},
		{in: "", err: "--rates: empty"},
		{in: "5,,10", err: `--rates: rate 2 "" is not a number`},
		{in: "5,ten", err: `--rates: rate 2 "ten" is not a number`},
		{in: "5,NaN", err: `rate 2 "NaN" is not a number`},
		{in: "5,+Inf", err: `rate 2 "+Inf" is not a number`},
		{in: "0,5", err: `--rates: rate 1 "0": must be > 0`},
		{in: "-5", err: `--rates: rate 1 "-5": must be > 0`},
		{in: "10,5", err: `--rates: rate 2 "5": rates must increase (after 10)`},
		{in: "5,5", err: `rates must increase`},
		{in: "1e7", err: `at most 1000000 per second`},
		{in: "Auto", err: `rate 1 "Auto" is not a number`},
		{in: strings.Repeat("1,", MaxSweepRates) + "1", err: "at most 100"},
	}
	for _, tc := range tests {
		got, auto, err := ParseRates(tc.in)
		if tc.err != "" {
			if err == nil || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRates(%q): %v, want an input error with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || auto != tc.auto || !slices.Equal(got, tc.want) {
			t.Errorf("ParseRates(%q) = %v, %v, %v; want %v, %v", tc.in, got, auto, err, tc.want, tc.auto)
		}
	}
}

// FuzzParseRates: any value is rates that a sweep can run (positive,
// finite, increasing, within the limits), auto, or an input error naming
// the flag; rates written back parse to the same.
func FuzzParseRates(f *testing.F) {
	for _, s := range []string{"5,10,20,40", "auto", "0.5, 1", "10,5", "1e300", "-0", "5,,", "0x10", "1_000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rates, auto, err := ParseRates(in)
		switch {
		case err != nil:
			if !errors.Is(err, ErrInput) || !strings.HasPrefix(err.Error(), "--rates") {
				t.Fatalf("error %v: want an input error naming --rates", err)
			}
			return
		case auto:
			if len(rates) != 0 {
				t.Fatalf("auto with rates %v", rates)
			}
			return
		}
		if len(rates) == 0 || len(rates) > MaxSweepRates {
			t.Fatalf("%d rates", len(rates))
		}
		parts := make([]string, len(rates))
		for i, r := range rates {
			if !(r > 0) || r > scenarios.LimitRatePerSec || i > 0 && r <= rates[i-1] {
				t.Fatalf("rates %v", rates)
			}
			parts[i] = strconv.FormatFloat(r, 'g', -1, 64)
		}
		back, _, err := ParseRates(strings.Join(parts, ","))
		if err != nil || !slices.Equal(back, rates) {
			t.Fatalf("%v written back reads %v, %v", rates, back, err)
		}
	})
}

func TestAutoRates(t *testing.T) {
	if got := AutoRates(4, 24, 6); !slices.Equal(got, []float64{4, 8, 12, 16, 20, 24}) {
		t.Errorf("AutoRates(4, 24, 6) = %v", got)
	}
	// Rounded to 4 significant digits, ends included.
	if got := AutoRates(2.3456, 26.789, 3); !slices.Equal(got, []float64{2.346, 14.57, 26.79}) {
		t.Errorf("AutoRates(2.3456, 26.789, 3) = %v", got)
	}
	// A server no faster with many requests than with one: up to 1.5×.
	if got := AutoRates(10, 9, 2); !slices.Equal(got, []float64{10, 15}) {
		t.Errorf("AutoRates(10, 9, 2) = %v", got)
	}
}

// TestSweepRates runs a short sweep of two rates against the simulated
// server, with a gates file and an interrupt: the stages are runs of
// their own, judged by the gates, and an interrupted sweep writes what it
// measured and says it is partial.
func TestSweepRates(t *testing.T) {
	url := fixture(t, modelserver.DefaultKnobs())
	g, err := analyze.ParseGates("g.yaml", []byte("minRequests: 10\ngates:\n  - {name: errors, metric: errors, expr: rate<0.01}\n"))
	if err != nil {
		t.Fatal(err)
	}
	base := func() (*scenarios.File, error) { return scenarios.FromFlags(scenarios.Overrides{}) }
	cfg := SweepConfig{
		Workload: base, Protocol: "kserve", Target: url, Client: extensions.Options{Model: modelserver.DefaultClassifierModel},
		Command: []string{"gonogo", "sweep"}, Dir: filepath.Join(t.TempDir(), "s"), Rates: []float64{20, 40}, Stage: time.Second,
		Gates: g, GatesPath: "g.yaml", ServerMetrics: url + "/metrics", ScrapeEvery: 50 * time.Millisecond,
	}
	res, err := Sweep(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	doc := res.Sweep
	if doc.Status != reports.SweepComplete || len(doc.Stages) != 2 || doc.Rates.Mode != "list" {
		t.Fatalf("status %s, %d stages, mode %s", doc.Status, len(doc.Stages), doc.Rates.Mode)
	}
	for i, st := range doc.Stages {
		if st.Verdict != "go" || !st.SLO.Met || st.Kind != analyze.StageRate || math.Abs(st.ThroughputPerSec-cfg.Rates[i]) > 0.1*cfg.Rates[i] {
			t.Errorf("stage %+v", st)
		}
		if !rundir.Dir(filepath.Join(cfg.Dir, st.Dir)).Exists(rundir.Verdict) {
			t.Errorf("stage %d has no verdict.json", st.Index)
		}
		// KServe requests do not batch: the page's gauges stay at zero,
		// but they were read.
		if st.Server[analyze.ResourceRunning].Samples == 0 {
			t.Errorf("stage %d: no server gauges read: %+v", st.Index, st.Server)
		}
	}
	if a := doc.Analysis; a.SLO.Source != "gates" || a.SLO.MaxRatePerSec != 40 || a.Saturation.Reached {
		t.Errorf("analysis: SLO %+v, saturation %+v", a.SLO, a.Saturation)
	}

	// Interrupted during the second stage.
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Dir, cfg.Stage, cfg.Gates, cfg.GatesPath = filepath.Join(t.TempDir(), "s2"), 3*time.Second, nil, ""
	cfg.Out = &cancelAfter{cancel: cancel, stage: "stage 2:"}
	res, err = Sweep(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if doc := res.Sweep; doc.Status != reports.SweepInterrupted || len(doc.Stages) != 2 || doc.Stages[1].Status != reports.StatusInterrupted {
		t.Errorf("interrupted sweep: status %s (%s), %d stages", doc.Status, doc.Reason, len(doc.Stages))
	}
	back, err := reports.ReadSweepJSON(filepath.Join(cfg.Dir, rundir.Sweep))
	if err != nil || back.Status != reports.SweepInterrupted {
		t.Errorf("sweep.json: %+v, %v", back, err)
	}
}

// cancelAfter cancels a sweep shortly after it prints a stage's line.
type cancelAfter struct {
	cancel context.CancelFunc
	stage  string
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	if strings.HasPrefix(string(p), c.stage) {
		time.AfterFunc(time.Second, c.cancel)
	}
	return len(p), nil
}

// TestSweepBadWorkload: a workload of two scenarios, or one the stages
// cannot run, is refused before any request.
func TestSweepBadWorkload(t *testing.T) {
	two := func() (*scenarios.File, error) {
		f, err := scenarios.FromFlags(scenarios.Overrides{})
		if err == nil {
			b := *f.Scenarios["default"]
			f.Scenarios["b"] = &b
		}
		return f, err
	}
	_, err := Sweep(context.Background(), SweepConfig{Workload: two, Protocol: "http", Target: "http://127.0.0.1:1", Rates: []float64{1}, Dir: t.TempDir()})
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "one scenario at each rate; the workload has 2") {
		t.Errorf("two scenarios: %v", err)
	}
	_, err = Sweep(context.Background(), SweepConfig{Workload: func() (*scenarios.File, error) { return scenarios.FromFlags(scenarios.Overrides{}) },
		Protocol: "http", Target: "http://127.0.0.1:1", Dir: t.TempDir()})
	if !errors.Is(err, ErrInput) {
		t.Errorf("no rates: %v", err)
	}
}
