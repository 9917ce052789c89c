// Package route holds the rollout proxy's per-request choice of a backend,
// as pure functions of a weight table and what the request carries.
//
// A Split gives each backend a contiguous range of Buckets buckets, in a
// fixed order: the backends listed first (canaries) take the lowest
// buckets, the stable backend the rest. A sticky user's bucket is a hash
// of the rollout's salt and the user's key (Bucket), so raising a
// canary's weight only moves users whose bucket enters its range (stable
// → canary) and lowering it only moves them back: nobody flips back and
// forth across weight changes, whichever way they go. A request without
// a key draws a uniform bucket (weighted random). Smooth weighted
// round-robin (nginx's algorithm) spreads unkeyed requests evenly instead
// of randomly when asked.
package route

import (
	"fmt"
	"sync"
)

// Split is an immutable assignment of buckets to backends. Backend i owns
// the buckets [lo(i), hi(i)) where hi is the running sum of the weights in
// order.
type Split struct {
	names []string
	hi    []int // cumulative upper bounds; hi[len-1] == Buckets

	mu      sync.Mutex // smooth weighted round-robin state
	current []int
}

// NewSplit returns the split of weights (in buckets, summing to Buckets)
// over names, in that order.
func NewSplit(names []string, weights []int) (*Split, error) {
	if len(names) == 0 || len(names) != len(weights) {
		return nil, fmt.Errorf("route: %d names for %d weights", len(names), len(weights))
	}
	s := &Split{names: append([]string(nil), names...), hi: make([]int, len(weights)), current: make([]int, len(weights))}
	sum := 0
	for i, w := range weights {
		if w < 0 {
			return nil, fmt.Errorf("route: negative weight %d for %s", w, names[i])
		}
		sum += w
		s.hi[i] = sum
	}
	if sum != Buckets {
		return nil, fmt.Errorf("route: weights sum to %d buckets, want %d", sum, Buckets)
	}
	return s, nil
}

// Len is the number of backends.
func (s *Split) Len() int { return len(s.names) }

// Name is backend i's name.
func (s *Split) Name(i int) string { return s.names[i] }

// Weight is backend i's weight in buckets.
func (s *Split) Weight(i int) int {
	if i == 0 {
		return s.hi[0]
	}
	return s.hi[i] - s.hi[i-1]
}

// Weights returns every backend's weight by name.
func (s *Split) Weights() map[string]int {
	m := make(map[string]int, len(s.names))
	for i, n := range s.names {
		m[n] = s.Weight(i)
	}
	return m
}

// Index returns the position of backend name, -1 when it is not in the
// split.
func (s *Split) Index(name string) int {
	for i, n := range s.names {
		if n == name {
			return i
		}
	}
	return -1
}

// Pick returns the backend that owns bucket b (0 ≤ b < Buckets).
func (s *Split) Pick(b int) int {
	// Few backends: a linear scan beats a binary search.
	for i, h := range s.hi {
		if b < h {
			return i
		}
	}
	return len(s.hi) - 1
}

// Sticky returns the backend of the user with this key under salt.
func (s *Split) Sticky(salt, key string) int { return s.Pick(Bucket(salt, key)) }

// RoundRobin returns the next backend of smooth weighted round-robin:
// every backend gains its weight, the richest is picked and pays the
// total, so that over any Buckets picks each backend gets exactly its
// weight and picks of one backend are spread evenly between the others'.
func (s *Split) RoundRobin() int {
	s.mu.Lock()
	best := -1
	for i := range s.current {
		s.current[i] += s.Weight(i)
		if best < 0 || s.current[i] > s.current[best] {
			best = i
		}
	}
	s.current[best] -= Buckets
	s.mu.Unlock()
	return best
}
