package abtest

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/internal/input"
)

func TestPlanAgainstStatsmodels(t *testing.T) {
	for _, c := range loadReference(t).Plans {
		t.Run(c.Name, func(t *testing.T) {
			p := Plan{Kind: c.Kind, MDE: c.MDE, Alpha: c.Alpha, Power: c.Power, TreatmentShare: c.TreatmentShare, UsersPerHour: 1000}
			if c.Kind == Binomial {
				p.BaselineRate = c.Baseline
			} else {
				p.Mean, p.SD = c.Baseline, *c.SD
			}
			r, err := PlanSample(p)
			if err != nil {
				t.Fatal(err)
			}
			// Users are whole: the reference's fractional sample rounded up.
			if want := int64(math.Ceil(c.ControlUsers)); r.Fixed.ControlUsers != want {
				t.Errorf("control users %d, want %d (statsmodels %.4f)", r.Fixed.ControlUsers, want, c.ControlUsers)
			}
			if want := int64(math.Ceil(c.TreatmentUsers)); r.Fixed.TreatmentUsers != want {
				t.Errorf("treatment users %d, want %d (statsmodels %.4f)", r.Fixed.TreatmentUsers, want, c.TreatmentUsers)
			}
			total := float64(r.Fixed.TotalUsers)
			near(t, "hours", r.Fixed.Hours, total/1000, 1e-12)
			if d := r.Fixed.Duration(); d < time.Duration(total/1000*float64(time.Hour))-time.Second || d > time.Duration(total/1000*float64(time.Hour))+time.Second {
				t.Errorf("duration %s for %g users at 1000/h", d, total)
			}
		})
	}
}

func TestPlanSequential(t *testing.T) {
	p := Plan{Kind: Binomial, BaselineRate: 0.05, MDE: 0.03, UsersPerHour: 2000, Sequential: true}
	r, err := PlanSample(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("5 %% +3 %%: fixed %d users per variant (%.0f h at 2000/h); sequential %d (%.0f h); %s",
		r.Fixed.ControlUsers, r.Fixed.Hours, r.Sequential.ControlUsers, r.Sequential.Hours, r.Note)
	if !(r.Sequential.TotalUsers > r.Fixed.TotalUsers) || r.Note == "" {
		t.Errorf("sequential %+v not above fixed %+v, or no note on the tuning", r.Sequential, r.Fixed)
	}
	// At the sequential sample, the sequence's halfwidth at that look
	// leaves exactly the power asked for.
	n := float64(r.Sequential.TotalUsers)
	p1, p2 := 0.05, 0.0515
	se := math.Sqrt(p1*(1-p1)/(n/2) + p2*(1-p2)/(n/2))
	crit := seqCrit(n, DefaultAlpha, DefaultTuning)
	power := normalCDF((p2-p1)/se - crit)
	near(t, "sequential power", power, DefaultPower, 1e-4)
	// A tuning near the sample needs fewer users.
	p.Tuning = float64(r.Sequential.TotalUsers)
	tuned, err := PlanSample(p)
	if err != nil {
		t.Fatal(err)
	}
	if !(tuned.Sequential.TotalUsers < r.Sequential.TotalUsers) || tuned.Note != "" {
		t.Errorf("tuned sequential %d users (note %q), untuned %d", tuned.Sequential.TotalUsers, tuned.Note, r.Sequential.TotalUsers)
	}
}

func normalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

func TestPlanBadInput(t *testing.T) {
	base := Plan{Kind: Binomial, BaselineRate: 0.05, MDE: 0.03, UsersPerHour: 2000}
	cont := Plan{Kind: Continuous, Mean: 10, SD: 3, MDE: 0.03, UsersPerHour: 2000}
	for _, c := range []struct {
		name string
		p    Plan
		flag string
	}{
		{"rate 0", with(base, func(p *Plan) { p.BaselineRate = 0 }), "--baseline-rate"},
		{"rate 1", with(base, func(p *Plan) { p.BaselineRate = 1 }), "--baseline-rate"},
		{"rate NaN", with(base, func(p *Plan) { p.BaselineRate = math.NaN() }), "--baseline-rate"},
		{"treatment rate ≥ 1", with(base, func(p *Plan) { p.BaselineRate, p.MDE = 0.6, 0.7 }), "--mde"},
		{"treatment rate ≤ 0", with(base, func(p *Plan) { p.MDE = -1 }), "--mde"},
		{"zero MDE", with(base, func(p *Plan) { p.MDE = 0 }), "--mde"},
		{"power ≤ alpha", with(base, func(p *Plan) { p.Power, p.Alpha = 0.05, 0.05 }), "--power"},
		{"power 1", with(base, func(p *Plan) { p.Power = 1 }), "--power"},
		{"alpha 1.5", with(base, func(p *Plan) { p.Alpha = 1.5 }), "--alpha"},
		{"split 1", with(base, func(p *Plan) { p.TreatmentShare = 1 }), "--split"},
		{"zero users per hour", with(base, func(p *Plan) { p.UsersPerHour = 0 }), "--users-per-hour"},
		{"infinite users per hour", with(base, func(p *Plan) { p.UsersPerHour = math.Inf(1) }), "--users-per-hour"},
		{"negative tuning", with(base, func(p *Plan) { p.Sequential, p.Tuning = true, -1 }), "--sequential-tuning"},
		{"no kind", with(base, func(p *Plan) { p.Kind = "" }), "--kind"},
		{"mean 0", with(cont, func(p *Plan) { p.Mean = 0 }), "--mean"},
		{"sd 0", with(cont, func(p *Plan) { p.SD = 0 }), "--sd"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := PlanSample(c.p)
			var ie *input.Error
			if !errors.Is(err, input.ErrInput) || !errors.As(err, &ie) || ie.Field != c.flag {
				t.Fatalf("err = %v, want an input error on %s", err, c.flag)
			}
			t.Log(err)
		})
	}
}

func with(p Plan, f func(*Plan)) Plan { f(&p); return p }
