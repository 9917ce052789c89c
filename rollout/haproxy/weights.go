package haproxy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gonogo-dev/gonogo/rollout/route"
)

// MaxWeight is the largest weight HAProxy accepts for a server.
const MaxWeight = 256

// ErrBuckets is matched by every error about a bucket map that cannot be a
// split: a negative count, or counts that do not add up to route.Buckets.
var ErrBuckets = errors.New("haproxy: bad bucket map")

// Weights maps a split in buckets (out of route.Buckets, summing to it) to
// HAProxy server weights (0..MaxWeight) whose realised split w/Σw is as
// close as HAProxy can get: among the totals 1..MaxWeight it picks the
// smallest that minimises the largest error of any server's share. A
// server with buckets gets at least weight 1, a server with none gets 0.
//
// Resolution: every split that is a whole number of 1/T for some T ≤ 256
// is exact (1, 5, 10, 20, 25 and 50 % among them). Otherwise, with every
// share at least 1/256, each server's realised share is within 1/512 of
// the traffic (0.2 pp) of its configured one (a bound for two servers,
// measured up to six). HAProxy cannot give a server less than 1/257 of the
// traffic beside a full one, so a share below that is rounded up to it and
// the others give it up: a lone tiny canary costs at most 0.39 pp, and
// each further tiny server another 0.39 pp.
func Weights(buckets map[string]int) (map[string]int, error) {
	if len(buckets) == 0 {
		return nil, fmt.Errorf("%w: no servers", ErrBuckets)
	}
	names := make([]string, 0, len(buckets))
	sum := 0
	for name, b := range buckets {
		if b < 0 || b > route.Buckets {
			return nil, fmt.Errorf("%w: server %q has %d buckets, want 0..%d", ErrBuckets, name, b, route.Buckets)
		}
		names = append(names, name)
		sum += b
	}
	if sum != route.Buckets {
		return nil, fmt.Errorf("%w: buckets add up to %d, want %d", ErrBuckets, sum, route.Buckets)
	}
	slices.Sort(names)
	b := make([]int64, len(names))
	for i, name := range names {
		b[i] = int64(buckets[name])
	}
	best, cand := make([]int64, len(names)), make([]int64, len(names))
	var bestErr, bestTotal int64 = 1, 0 // error bestErr/(bestTotal·Buckets); starts worse than any
	for t := int64(1); t <= MaxWeight; t++ {
		total := scale(b, t, cand)
		if total == 0 {
			continue
		}
		// Server i's share error is |cand[i]/total − b[i]/Buckets|, that is
		// |cand[i]·Buckets − b[i]·total| / (total·Buckets): compare the
		// largest numerator across totals by cross-multiplying.
		var worst int64
		for i := range b {
			worst = max(worst, abs(cand[i]*route.Buckets-b[i]*total))
		}
		if bestTotal == 0 || worst*bestTotal < bestErr*total {
			bestErr, bestTotal = worst, total
			copy(best, cand)
		}
	}
	w := make(map[string]int, len(names))
	for i, name := range names {
		w[name] = int(best[i])
	}
	return w, nil
}

// scale rounds b·t/Buckets to the nearest whole weight into w, at least 1
// where b is not 0, and returns the sum of w.
func scale(b []int64, t int64, w []int64) int64 {
	var total int64
	for i, bi := range b {
		w[i] = (bi*t + route.Buckets/2) / route.Buckets
		if bi > 0 && w[i] == 0 {
			w[i] = 1
		}
		total += w[i]
	}
	return total
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// change is one weight to set on one server.
type change struct {
	server string
	weight int
}

// plan orders the weight changes that take servers from weights cur to
// want: every raise before any lowering, each group in name order, and
// servers whose weight does not change left out. HAProxy applies one
// server's weight at a time, so between the commands the backend runs a
// mix of old and new weights; raising first means the total weight never
// drops to 0 on the way (no "no server available" 503 when traffic moves
// wholly from A to B), each server's weight moves once and only towards
// its target, and a server being emptied is only lowered once the servers
// taking over its traffic already carry their new weight.
func plan(cur, want map[string]int) []change {
	var up, down []change
	for name, w := range want {
		switch c := cur[name]; {
		case w > c:
			up = append(up, change{name, w})
		case w < c:
			down = append(down, change{name, w})
		}
	}
	byName := func(a, b change) int { return strings.Compare(a.server, b.server) }
	slices.SortFunc(up, byName)
	slices.SortFunc(down, byName)
	return append(up, down...)
}
