package abtest

import (
	"fmt"
	"math"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// Summary is the sufficient statistics of one metric in one variant: over
// the users of the variant, the count, the sum and the sum of squares of
// each user's value, and the sums of the pre-period covariate X that CUPED
// uses (zero when there is none; a user added without a covariate counts
// with X = 0). The zero Summary is empty and ready to use.
type Summary struct {
	Users  int64   `json:"users"`
	Sum    float64 `json:"sum"`
	SumSq  float64 `json:"sum_sq"`
	SumX   float64 `json:"sum_x,omitempty"`
	SumXSq float64 `json:"sum_x_sq,omitempty"`
	SumXY  float64 `json:"sum_xy,omitempty"`
}

// Add counts one user with the value y.
func (s *Summary) Add(y float64) {
	s.Users++
	s.Sum += y
	s.SumSq += y * y
}

// AddWithCovariate counts one user with the value y and the pre-period
// covariate x.
func (s *Summary) AddWithCovariate(y, x float64) {
	s.Add(y)
	s.SumX += x
	s.SumXSq += x * x
	s.SumXY += x * y
}

// Merge adds the users of o, counted apart (another shard, another
// period of the same users' first exposures).
func (s *Summary) Merge(o Summary) {
	s.Users += o.Users
	s.Sum += o.Sum
	s.SumSq += o.SumSq
	s.SumX += o.SumX
	s.SumXSq += o.SumXSq
	s.SumXY += o.SumXY
}

// Mean is the mean value per user; 0 without users.
func (s Summary) Mean() float64 {
	if s.Users == 0 {
		return 0
	}
	return s.Sum / float64(s.Users)
}

// Variance is the sample variance of the users' values (divisor n−1);
// 0 with fewer than 2 users.
func (s Summary) Variance() float64 {
	if s.Users < 2 {
		return 0
	}
	n := float64(s.Users)
	return max(0, (s.SumSq-s.Sum*s.Sum/n)/(n-1))
}

// hasCovariate reports whether any covariate was added.
func (s Summary) hasCovariate() bool { return s.SumXSq != 0 || s.SumX != 0 }

// check returns an input error naming the field when s cannot be the
// sums of a set of users' values; callers prefix the field with where
// the summary is.
func (s Summary) check(kind Kind) *input.Error {
	bad := func(field, format string, a ...any) *input.Error {
		return &input.Error{Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	if s.Users < 0 {
		return bad("users", "negative (%d)", s.Users)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"sum", s.Sum}, {"sum_sq", s.SumSq}, {"sum_x", s.SumX}, {"sum_x_sq", s.SumXSq}, {"sum_xy", s.SumXY}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return bad(f.name, "not a finite number (%v)", f.v)
		}
	}
	n := float64(s.Users)
	if s.Users == 0 && (s.Sum != 0 || s.SumSq != 0 || s.hasCovariate() || s.SumXY != 0) {
		return bad("users", "0 users with non-zero sums")
	}
	if kind == Binomial {
		if s.Sum < 0 || s.Sum > n {
			return bad("sum", "a binomial metric counts users with the outcome: want 0 ≤ sum ≤ users (%d), got %g", s.Users, s.Sum)
		}
	} else if s.SumSq < 0 || s.SumSq*n < s.Sum*s.Sum*(1-1e-9) {
		return bad("sum_sq", "%g is below sum²/users (%g): no set of values has these sums", s.SumSq, s.Sum*s.Sum/n)
	}
	if s.SumXSq < 0 || s.SumXSq*n < s.SumX*s.SumX*(1-1e-9) {
		return bad("sum_x_sq", "%g is below sum_x²/users (%g): no set of values has these sums", s.SumXSq, s.SumX*s.SumX/max(n, 1))
	}
	return nil
}

// checkAt is check with the field prefixed by where(), made only on error.
func (s Summary) checkAt(kind Kind, where func() string) error {
	if err := s.check(kind); err != nil {
		err.Field = where() + err.Field
		return err
	}
	return nil
}
