package provider

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// condition is an operator and a finite threshold, as in "< 0.05".
type condition struct {
	op        string
	threshold float64
}

// operators, the two-character ones first so that "<=" is not read as "<".
var operators = []string{"<=", ">=", "==", "!=", "<", ">"}

// parseCondition parses an operator, optional spaces and a finite number.
func parseCondition(s string) (condition, error) {
	t := strings.TrimSpace(s)
	for _, op := range operators {
		rest, ok := strings.CutPrefix(t, op)
		if !ok {
			continue
		}
		num := strings.TrimSpace(rest)
		if num == "" {
			return condition{}, fmt.Errorf("want a number after %q", op)
		}
		v, err := strconv.ParseFloat(num, 64)
		if (err != nil && !errors.Is(err, strconv.ErrRange)) || math.IsNaN(v) || math.IsInf(v, 0) {
			return condition{}, fmt.Errorf("want a finite number after %q (got %q)", op, num)
		}
		return condition{op: op, threshold: v}, nil
	}
	return condition{}, fmt.Errorf(`want an operator (<, <=, >, >=, ==, !=) and a number, e.g. "< 0.05" (got %q)`, s)
}

// holds reports whether v meets c; NaN meets no condition but !=.
func (c condition) holds(v float64) bool {
	switch c.op {
	case "<":
		return v < c.threshold
	case "<=":
		return v <= c.threshold
	case ">":
		return v > c.threshold
	case ">=":
		return v >= c.threshold
	case "==":
		return v == c.threshold
	default:
		return v != c.threshold
	}
}

// String is c as it parses back, e.g. "< 0.05".
func (c condition) String() string {
	return c.op + " " + strconv.FormatFloat(c.threshold, 'g', -1, 64)
}
