package replay_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// modesTraceFigures returns the trace's input and output tokens and its gaps in
// seconds.
func modesTraceFigures(rows []replay.Row) (in, out, gaps []float64) {
	for i, r := range rows {
		in = append(in, float64(r.InputTokens))
		out = append(out, float64(r.OutputTokens))
		if i > 0 {
			gaps = append(gaps, (r.Offset - rows[i-1].Offset).Seconds())
		}
	}
	return in, out, gaps
}

// modesDrawSchedule runs a constant-arrival-rate schedule driven by d for n
// arrivals and returns their tokens and gaps in seconds.
func modesDrawSchedule(t *testing.T, d *replay.Distribution, ratePerSec float64, n int) (in, out, gaps []float64) {
	t.Helper()
	f := &scenarios.File{Scenarios: map[string]*scenarios.Scenario{
		"dist": {Executor: scenarios.ConstantArrivalRate, Rate: ratePerSec, Duration: time.Duration(float64(3*n) / ratePerSec * float64(time.Second))},
	}}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	sch := scenarios.NewSchedule(f.Scenarios["dist"], scenarios.WithGaps(d.Gap), scenarios.WithPayload(d.Fill))
	var prev time.Duration
	for i := range n {
		var req gonogo.Request
		off, ok := sch.Next(&req)
		if !ok {
			t.Fatalf("the schedule ended after %d arrivals", i)
		}
		in = append(in, float64(req.InputTokens))
		out = append(out, float64(req.OutputTokens))
		if i > 0 {
			gaps = append(gaps, (off - prev).Seconds())
		}
		prev = off
	}
	return in, out, gaps
}

func TestDistributionMatchesTrace(t *testing.T) {
	for _, name := range []string{"code", "conv"} {
		t.Run(name, func(t *testing.T) {
			rows := modesAzureTrace(t, name)
			d, err := replay.NewDistribution(&modesReader{rows: rows}, replay.DistributionOptions{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			trIn, trOut, trGaps := modesTraceFigures(rows)
			if d.Rows() != len(rows) || d.Samples() != len(rows) {
				t.Errorf("Rows %d, Samples %d; want %d", d.Rows(), d.Samples(), len(rows))
			}
			if want := 1 / modesMean(trGaps); math.Abs(d.MeanRate()-want) > 1e-9*want {
				t.Errorf("MeanRate %g, want %g", d.MeanRate(), want)
			}

			const n = 10_000
			in, out, gaps := modesDrawSchedule(t, d, d.MeanRate(), n)
			ksIn, ksOut := modesKS(in, trIn), modesKS(out, trOut)
			rhoTrace, rhoGen := modesSpearman(trIn, trOut), modesSpearman(in, out)
			cvTrace, cvGen := modesCV(trGaps), modesCV(gaps)
			t.Logf("%s trace: %d rows, mean rate %.4f/s; %d draws at the mean rate", name, d.Rows(), d.MeanRate(), n)
			t.Logf("KS D input %.4f, output %.4f (want < 0.02)", ksIn, ksOut)
			t.Logf("Spearman(input, output): trace %.4f, generated %.4f, diff %.4f (want ≤ 0.05)", rhoTrace, rhoGen, math.Abs(rhoGen-rhoTrace))
			t.Logf("inter-arrival CV: trace %.4f, generated %.4f, rel diff %.2f%% (want ≤ 10%%); mean gap trace %.4fs, generated %.4fs",
				cvTrace, cvGen, 100*math.Abs(cvGen/cvTrace-1), modesMean(trGaps), modesMean(gaps))
			if ksIn >= 0.02 || ksOut >= 0.02 {
				t.Errorf("KS D input %.4f, output %.4f; want < 0.02", ksIn, ksOut)
			}
			if math.Abs(rhoGen-rhoTrace) > 0.05 {
				t.Errorf("Spearman generated %.4f, trace %.4f; want within 0.05", rhoGen, rhoTrace)
			}
			if math.Abs(cvGen/cvTrace-1) > 0.10 {
				t.Errorf("inter-arrival CV generated %.4f, trace %.4f; want within 10%%", cvGen, cvTrace)
			}

			// At another rate the schedule keeps the burstiness and follows the rate.
			_, _, fast := modesDrawSchedule(t, d, 100, n)
			cvFast := modesCV(fast)
			t.Logf("at 100/s: mean gap %.5fs (want 0.01), CV %.4f (rel diff to trace %.2f%%)", modesMean(fast), cvFast, 100*math.Abs(cvFast/cvTrace-1))
			if math.Abs(modesMean(fast)/0.01-1) > 0.10 || math.Abs(cvFast/cvTrace-1) > 0.10 {
				t.Errorf("at 100/s: mean gap %.5fs, CV %.4f; want 0.01 s and %.4f, within 10%%", modesMean(fast), cvFast, cvTrace)
			}
		})
	}
}

// The targets hold for every seed, not for a lucky one: the code trace's
// gaps are heavy-tailed (CV 13), which is why draws go without replacement.
func TestDistributionTargetsOverSeeds(t *testing.T) {
	rows := modesAzureCode(t)
	trIn, trOut, trGaps := modesTraceFigures(rows)
	cvTrace, rhoTrace := modesCV(trGaps), modesSpearman(trIn, trOut)
	var worstKS, worstRho, worstCV, worstRate float64
	const seeds = 30
	for seed := int64(1); seed <= seeds; seed++ {
		d, err := replay.NewDistribution(&modesReader{rows: rows}, replay.DistributionOptions{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		in, out, gaps := modesDrawSchedule(t, d, d.MeanRate(), 10_000)
		worstKS = max(worstKS, modesKS(in, trIn), modesKS(out, trOut))
		worstRho = max(worstRho, math.Abs(modesSpearman(in, out)-rhoTrace))
		worstCV = max(worstCV, math.Abs(modesCV(gaps)/cvTrace-1))
		worstRate = max(worstRate, math.Abs(modesMean(gaps)*d.MeanRate()-1))
	}
	t.Logf("over %d seeds, worst: KS D %.4f, Spearman diff %.4f, CV rel diff %.2f%%, mean gap rel diff %.2f%%", seeds, worstKS, worstRho, 100*worstCV, 100*worstRate)
	if worstKS >= 0.02 || worstRho > 0.05 || worstCV > 0.10 {
		t.Errorf("a seed misses a target")
	}
}

// Input and output are drawn as pairs: a strong correlation survives.
func TestDistributionKeepsPairs(t *testing.T) {
	var rows []replay.Row
	for i := range 5000 {
		in := 50 + (i*7919)%4000
		rows = append(rows, replay.Row{Line: int64(i + 2), Offset: time.Duration(i) * 100 * time.Millisecond, InputTokens: in, OutputTokens: in/8 + (i*104729)%60})
	}
	d, err := replay.NewDistribution(&modesReader{rows: rows}, replay.DistributionOptions{Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	trIn, trOut, _ := modesTraceFigures(rows)
	in, out, _ := modesDrawSchedule(t, d, 10, 10_000)
	rhoTrace, rhoGen := modesSpearman(trIn, trOut), modesSpearman(in, out)
	t.Logf("correlated trace: Spearman trace %.4f, generated %.4f", rhoTrace, rhoGen)
	if rhoTrace < 0.9 || math.Abs(rhoGen-rhoTrace) > 0.05 {
		t.Errorf("Spearman generated %.4f, trace %.4f; want within 0.05", rhoGen, rhoTrace)
	}
}

func modesMean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func TestDistributionGapsHaveMeanOne(t *testing.T) {
	rows := modesAzureCode(t)
	d, err := replay.NewDistribution(&modesReader{rows: rows}, replay.DistributionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// After the first draw (the time to the first arrival from a random
	// moment), one pass of draws uses every recorded gap once: its mean is
	// exactly 1 and its CV the trace's.
	_, _, trGaps := modesTraceFigures(rows)
	d.Gap()
	for pass := range 3 {
		var gaps []float64
		for range len(trGaps) {
			gaps = append(gaps, d.Gap())
		}
		if m, cv, want := modesMean(gaps), modesCV(gaps), modesCV(trGaps); math.Abs(m-1) > 1e-9 || math.Abs(cv-want) > 1e-9 {
			t.Errorf("pass %d: mean %.12f, CV %.6f; want 1 and %.6f", pass, m, cv, want)
		}
	}
}

func TestDistributionDeterministic(t *testing.T) {
	rows := modesRows(0, 0.1, 0.5, 0.6, 2, 2.2, 5, 9, 9.5, 10)
	draw := func(seed int64) []int {
		d, err := replay.NewDistribution(&modesReader{rows: rows}, replay.DistributionOptions{Seed: seed, MaxSamples: 4})
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for range 50 {
			var req gonogo.Request
			d.Fill(&req)
			got = append(got, req.InputTokens, int(1000*d.Gap()))
		}
		return got
	}
	a, b, c := draw(5), draw(5), draw(6)
	same := func(x, y []int) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("the same seed gave different draws")
	}
	if same(a, c) {
		t.Error("different seeds gave the same draws")
	}
}

func TestDistributionReservoir(t *testing.T) {
	rows := modesAzureCode(t)
	full, err := replay.NewDistribution(&modesReader{rows: rows}, replay.DistributionOptions{Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	d, err := replay.NewDistribution(&modesReader{rows: rows}, replay.DistributionOptions{Seed: 2, MaxSamples: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows() != len(rows) || d.Samples() != 2000 || d.MeanRate() != full.MeanRate() {
		t.Errorf("Rows %d, Samples %d, MeanRate %g; want %d, 2000, %g", d.Rows(), d.Samples(), d.MeanRate(), len(rows), full.MeanRate())
	}
	trIn, trOut, _ := modesTraceFigures(rows)
	in, out, _ := modesDrawSchedule(t, d, 50, 10_000)
	ksIn, ksOut := modesKS(in, trIn), modesKS(out, trOut)
	t.Logf("reservoir of 2000 of %d rows: KS D input %.4f, output %.4f (want < 0.05)", len(rows), ksIn, ksOut)
	if ksIn >= 0.05 || ksOut >= 0.05 {
		t.Errorf("KS D input %.4f, output %.4f; want < 0.05", ksIn, ksOut)
	}
}

func TestDistributionFillAndEdges(t *testing.T) {
	rec := &gonogo.Recorded{Method: "POST", Path: "/v2/models/m/infer"}
	one := []replay.Row{{Line: 3, InputTokens: 5, OutputTokens: 6, Tags: map[string]string{"user": "u"}, Request: rec}}
	d, err := replay.NewDistribution(&modesReader{rows: one}, replay.DistributionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var req gonogo.Request
	d.Fill(&req)
	if req.Row != 3 || req.InputTokens != 5 || req.OutputTokens != 6 || req.Tags["user"] != "u" || req.Recorded != rec {
		t.Errorf("filled %+v", req)
	}
	d.Fill(nil)
	if d.Gap() != 1 || d.MeanRate() != 0 {
		t.Errorf("one row: Gap %g, MeanRate %g; want 1 and 0", d.Gap(), d.MeanRate())
	}

	if _, err := replay.NewDistribution(&modesReader{}, replay.DistributionOptions{}); !errors.Is(err, replay.ErrFormat) {
		t.Errorf("empty trace: %v, want ErrFormat", err)
	}
	if _, err := replay.NewDistribution(&modesReader{}, replay.DistributionOptions{MaxSamples: -1}); !errors.Is(err, replay.ErrOption) {
		t.Errorf("negative MaxSamples: %v, want ErrOption", err)
	}
	rowErr := &replay.RowError{File: "t.csv", Line: 9, Err: errors.New("bad")}
	var re *replay.RowError
	if _, err := replay.NewDistribution(&modesReader{rows: modesRows(0, 1), err: rowErr}, replay.DistributionOptions{}); !errors.As(err, &re) {
		t.Errorf("reader error: %v, want the row error", err)
	}
}
