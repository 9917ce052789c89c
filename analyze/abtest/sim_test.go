package abtest

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// binomialTolerance is three binomial standard deviations of a rate p
// estimated over n runs.
func binomialTolerance(p float64, n int) float64 { return 3 * math.Sqrt(p*(1-p)/float64(n)) }

// TestAAPeeking simulates A/A experiments — conversion 5 % in both
// variants, about 300 users a minute arriving over 60 minutes, split
// 50/50 — and looks at the lift after every minute. With the sequential
// test the share of experiments ever declared significant stays at or
// below α; a fixed-horizon test read at every look declares far more;
// read once at the end, it declares α.
func TestAAPeeking(t *testing.T) {
	runs := 1000
	if testing.Short() {
		runs = 300
	}
	const (
		alpha   = 0.05
		minutes = 60
		rate    = 0.05
	)
	src := rand.NewPCG(2026, 12)
	arrivals := distuv.Poisson{Lambda: 300, Src: src}
	seqCfg := Config{Alpha: alpha, Sequential: true}
	fixCfg := Config{Alpha: alpha}
	var seqFP, seqAbsFP, peekFP, endFP int
	for range runs {
		var c, tr Summary
		seqHit, seqAbsHit, peekHit := false, false, false
		var last Result
		for range minutes {
			n := arrivals.Rand()
			nc := distuv.Binomial{N: n, P: 0.5, Src: src}.Rand()
			addConversions(&c, int64(nc), distuv.Binomial{N: nc, P: rate, Src: src}.Rand())
			addConversions(&tr, int64(n-nc), distuv.Binomial{N: n - nc, P: rate, Src: src}.Rand())
			s, err := Compare(c, tr, Binomial, seqCfg)
			if err != nil {
				t.Fatal(err)
			}
			f, _ := Compare(c, tr, Binomial, fixCfg)
			seqHit = seqHit || significantLift(s)
			seqAbsHit = seqAbsHit || s.Absolute.Significant
			peekHit = peekHit || significantLift(f)
			last = f
		}
		if seqHit {
			seqFP++
		}
		if seqAbsHit {
			seqAbsFP++
		}
		if peekHit {
			peekFP++
		}
		if significantLift(last) {
			endFP++
		}
	}
	seq, peek, end := float64(seqFP)/float64(runs), float64(peekFP)/float64(runs), float64(endFP)/float64(runs)
	tol := binomialTolerance(alpha, runs)
	t.Logf("A/A, %d runs, 60 looks: sequential %.3f (lift; %.3f on the difference), fixed-horizon at every look %.3f, fixed-horizon once at the end %.3f (alpha %g, tolerance %.4f)",
		runs, seq, float64(seqAbsFP)/float64(runs), peek, end, alpha, tol)
	if seq > alpha+tol {
		t.Errorf("sequential false-positive rate %.4f > %.4f (alpha + 3 binomial sd)", seq, alpha+tol)
	}
	if peek <= alpha+tol {
		t.Errorf("peeking at a fixed-horizon test: false-positive rate %.4f, want above %.4f (the known inflation)", peek, alpha+tol)
	}
	if math.Abs(end-alpha) > tol {
		t.Errorf("fixed-horizon test read once: false-positive rate %.4f, want %g ± %.4f", end, alpha, tol)
	}
}

// addConversions counts users more users of whom conv converted.
func addConversions(s *Summary, users int64, conv float64) {
	s.Users += users
	s.Sum += conv
	s.SumSq += conv
}

func significantLift(r Result) bool { return r.Relative != nil && r.Relative.Significant }

// TestPowerAtPlannedSample plans for a +3 % relative lift on a 5 %
// baseline at 80 % power and simulates 1000 experiments of the planned
// size (binomial draws of each variant's conversions): the fixed-horizon
// test detects the lift in about 80 % of them, and in at least 75 %.
func TestPowerAtPlannedSample(t *testing.T) {
	const runs = 1000
	plan, err := PlanSample(Plan{Kind: Binomial, BaselineRate: 0.05, MDE: 0.03, UsersPerHour: 2000, Sequential: true})
	if err != nil {
		t.Fatal(err)
	}
	src := rand.NewPCG(3, 5)
	nc, nt := float64(plan.Fixed.ControlUsers), float64(plan.Fixed.TreatmentUsers)
	var absHits, liftHits int
	for range runs {
		xc := distuv.Binomial{N: nc, P: plan.ControlMean, Src: src}.Rand()
		xt := distuv.Binomial{N: nt, P: plan.TreatmentMean, Src: src}.Rand()
		r, err := Compare(Summary{Users: int64(nc), Sum: xc}, Summary{Users: int64(nt), Sum: xt}, Binomial, Config{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Absolute.Significant && r.Absolute.Value > 0 {
			absHits++
		}
		if significantLift(r) && r.Relative.Value > 0 {
			liftHits++
		}
	}
	abs, lift := float64(absHits)/runs, float64(liftHits)/runs
	tol := binomialTolerance(DefaultPower, runs)
	t.Logf("planned %d users per variant: detected in %.3f (difference) and %.3f (lift) of %d runs; promised %.2f ± %.3f",
		plan.Fixed.ControlUsers, abs, lift, runs, DefaultPower, tol)
	for _, got := range []float64{abs, lift} {
		if got < 0.75 || math.Abs(got-DefaultPower) > tol {
			t.Errorf("power %.3f, want ≥ 0.75 and within %.3f of %.2f", got, tol, DefaultPower)
		}
	}

	// The sequential plan, looked at 60 times on the way: the last look
	// alone has the promised power, and looking earlier only adds.
	seqRuns := runs
	if testing.Short() {
		seqRuns = 300
	}
	const looks = 60
	n := float64(plan.Sequential.ControlUsers)
	var lastHits, anyHits int
	for range seqRuns {
		var c, tr Summary
		hit := false
		var r Result
		for i := 1; i <= looks; i++ {
			step := math.Round(n*float64(i)/looks) - float64(c.Users)
			addConversions(&c, int64(step), distuv.Binomial{N: step, P: plan.ControlMean, Src: src}.Rand())
			addConversions(&tr, int64(step), distuv.Binomial{N: step, P: plan.TreatmentMean, Src: src}.Rand())
			r, _ = Compare(c, tr, Binomial, Config{Sequential: true})
			hit = hit || (significantLift(r) && r.Relative.Value > 0)
		}
		if hit {
			anyHits++
		}
		if significantLift(r) && r.Relative.Value > 0 {
			lastHits++
		}
	}
	last, anyLook := float64(lastHits)/float64(seqRuns), float64(anyHits)/float64(seqRuns)
	seqTol := binomialTolerance(DefaultPower, seqRuns)
	t.Logf("sequential plan %d users per variant, 60 looks: detected at the last look in %.3f, at any look in %.3f of %d runs",
		plan.Sequential.ControlUsers, last, anyLook, seqRuns)
	if math.Abs(last-DefaultPower) > seqTol || anyLook < last {
		t.Errorf("sequential: last look %.3f (want %.2f ± %.3f), any look %.3f", last, DefaultPower, seqTol, anyLook)
	}
}
