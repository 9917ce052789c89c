package abtest_test

import (
	"fmt"

	"github.com/gonogo-dev/gonogo/analyze/abtest"
)

func ExampleCompare() {
	// 20 000 users a variant: 1000 converted in the control, 1100 in the
	// treatment.
	control := abtest.Summary{Users: 20000, Sum: 1000}
	treatment := abtest.Summary{Users: 20000, Sum: 1100}
	r, err := abtest.Compare(control, treatment, abtest.Binomial, abtest.Config{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("lift %+.1f %% [%+.1f %%, %+.1f %%], p = %.3f\n", 100*r.Relative.Value, 100*r.Relative.Lower, 100*r.Relative.Upper, r.Relative.PValue)
	s, _ := abtest.Compare(control, treatment, abtest.Binomial, abtest.Config{Sequential: true})
	fmt.Printf("sequential: [%+.1f %%, %+.1f %%], significant %v\n", 100*s.Relative.Lower, 100*s.Relative.Upper, s.Relative.Significant)
	// Output:
	// lift +10.0 % [+0.8 %, +19.2 %], p = 0.033
	// sequential: [-5.0 %, +25.0 %], significant false
}

func ExamplePlanSample() {
	p, err := abtest.PlanSample(abtest.Plan{Kind: abtest.Binomial, BaselineRate: 0.05, MDE: 0.03, UsersPerHour: 2000})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d users per variant, %s\n", p.Fixed.ControlUsers, p.Fixed.Duration())
	_, err = abtest.PlanSample(abtest.Plan{Kind: abtest.Binomial, BaselineRate: 0.8, MDE: 0.3, UsersPerHour: 2000})
	fmt.Println(err)
	// Output:
	// 336098 users per variant, 336h5m53s
	// --mde: +30 % on a baseline of 0.8 makes the treatment rate 1.04, not below 1
}
