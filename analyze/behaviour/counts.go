package behaviour

import (
	"math"
	"slices"
	"sync"
)

// Bin layout of Counts.
const (
	// ConfidenceBins equal bins cover [0, 1]; 1 falls in the last.
	ConfidenceBins = 20
	// LengthOctaves is how many doublings the length bins cover: lengths
	// of 2^LengthOctaves and more share the last bin.
	LengthOctaves = 20
	// LengthBins is one bin for length 0 and four per doubling from 1:
	// bin 1+⌊4·log₂ n⌋ for n ≥ 1.
	LengthBins = 2 + 4*LengthOctaves
	// MaxClasses is how many class indices get a bin of their own;
	// classes from MaxClasses on share the last ("other") bin.
	MaxClasses = 64
	// ClassBins is MaxClasses and the "other" bin.
	ClassBins = MaxClasses + 1
)

// Counts is what a backend's sampled responses looked like over some
// time: fixed bins, merged by addition. The zero Counts is empty.
type Counts struct {
	// Responses counts every response, errors included.
	Responses int64
	// Errors and Empty count responses by Outcome.
	Errors int64
	Empty  int64
	// Predictions counts confidences (rows); ConfidenceSum is their sum.
	Predictions   int64
	ConfidenceSum float64
	// Confidence is the confidence histogram (ConfidenceBins on [0, 1]).
	Confidence [ConfidenceBins]int64
	// Lengths counts output lengths; LengthSum is their sum.
	Lengths   int64
	LengthSum float64
	// Length is the output-length histogram (see LengthBins).
	Length [LengthBins]int64
	// Classes counts top classes (see MaxClasses).
	Classes [ClassBins]int64
}

// ConfidenceBin returns the bin of confidence c (clamped to [0, 1]).
func ConfidenceBin(c float64) int {
	switch {
	case !(c > 0): // NaN too
		return 0
	case c >= 1:
		return ConfidenceBins - 1
	}
	return int(c * ConfidenceBins)
}

// LengthBin returns the bin of output length n.
func LengthBin(n int) int {
	if n <= 0 {
		return 0
	}
	return min(1+int(4*math.Log2(float64(n))), LengthBins-1)
}

// ClassBin returns the bin of class index c (c ≥ 0).
func ClassBin(c int) int { return min(c, MaxClasses) }

// Add counts one response.
func (c *Counts) Add(f *Features) {
	c.Responses++
	switch f.Outcome {
	case Error:
		c.Errors++
		return
	case Empty:
		c.Empty++
	}
	for _, p := range f.Predictions {
		c.Predictions++
		c.ConfidenceSum += p.Confidence
		c.Confidence[ConfidenceBin(p.Confidence)]++
		if p.Class >= 0 {
			c.Classes[ClassBin(p.Class)]++
		}
	}
	if f.HasLength {
		n := f.Length()
		c.Lengths++
		c.LengthSum += float64(n)
		c.Length[LengthBin(n)]++
	}
}

// Merge adds o into c.
func (c *Counts) Merge(o *Counts) {
	c.Responses += o.Responses
	c.Errors += o.Errors
	c.Empty += o.Empty
	c.Predictions += o.Predictions
	c.ConfidenceSum += o.ConfidenceSum
	c.Lengths += o.Lengths
	c.LengthSum += o.LengthSum
	for i := range c.Confidence {
		c.Confidence[i] += o.Confidence[i]
	}
	for i := range c.Length {
		c.Length[i] += o.Length[i]
	}
	for i := range c.Classes {
		c.Classes[i] += o.Classes[i]
	}
}

// ratio is a/b, NaN when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// MeanConfidence is the mean confidence, NaN without predictions.
func (c *Counts) MeanConfidence() float64 {
	return ratio(c.ConfidenceSum, float64(c.Predictions))
}

// MeanLength is the mean output length, NaN without lengths.
func (c *Counts) MeanLength() float64 { return ratio(c.LengthSum, float64(c.Lengths)) }

// EmptyRate is the share of responses that were empty, NaN without any.
func (c *Counts) EmptyRate() float64 { return ratio(float64(c.Empty), float64(c.Responses)) }

// ErrorRate is the share of responses that were errors, NaN without any.
func (c *Counts) ErrorRate() float64 { return ratio(float64(c.Errors), float64(c.Responses)) }

// ClassCount is the number of class observations.
func (c *Counts) ClassCount() int64 {
	var n int64
	for _, v := range c.Classes {
		n += v
	}
	return n
}

// ring is one backend's intervals.
type ring struct {
	mu     sync.Mutex
	cur    Counts   // the open interval
	closed []Counts // closed intervals, circular
	next   int      // where the next closed interval goes
	filled int      // closed intervals held
	total  Counts   // every closed interval
}

// Tracker keeps, per backend, Counts for each of the last intervals and
// since it started. It is safe for concurrent use: Observe from any
// number of goroutines, Rotate from one clock.
type Tracker struct {
	intervals int
	mu        sync.RWMutex
	backends  map[string]*ring
}

// DefaultIntervals is the ring length NewTracker uses for n < 1: ten
// minutes of one-second intervals.
const DefaultIntervals = 600

// NewTracker returns a Tracker holding the last intervals closed
// intervals per backend (DefaultIntervals when intervals < 1).
func NewTracker(intervals int) *Tracker {
	if intervals < 1 {
		intervals = DefaultIntervals
	}
	return &Tracker{intervals: intervals, backends: map[string]*ring{}}
}

func (t *Tracker) ring(backend string) *ring {
	t.mu.RLock()
	r := t.backends[backend]
	t.mu.RUnlock()
	if r != nil {
		return r
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if r = t.backends[backend]; r == nil {
		r = &ring{closed: make([]Counts, t.intervals)}
		t.backends[backend] = r
	}
	return r
}

// Observe counts one response of backend in the open interval.
func (t *Tracker) Observe(backend string, f *Features) {
	r := t.ring(backend)
	r.mu.Lock()
	r.cur.Add(f)
	r.mu.Unlock()
}

// Rotate closes every backend's open interval and opens a new one.
func (t *Tracker) Rotate() {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, r := range t.backends {
		r.mu.Lock()
		r.closed[r.next] = r.cur
		r.total.Merge(&r.cur)
		r.cur = Counts{}
		r.next = (r.next + 1) % len(r.closed)
		r.filled = min(r.filled+1, len(r.closed))
		r.mu.Unlock()
	}
}

// Window merges backend's n most recent closed intervals (all it holds
// when fewer); the zero Counts for a backend never observed. The open
// interval is not included.
func (t *Tracker) Window(backend string, n int) Counts {
	t.mu.RLock()
	r := t.backends[backend]
	t.mu.RUnlock()
	var c Counts
	if r == nil {
		return c
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n = min(n, r.filled)
	for i := 1; i <= n; i++ {
		c.Merge(&r.closed[(r.next-i+len(r.closed))%len(r.closed)])
	}
	return c
}

// Stats is one backend's current values, for export as metrics: rates
// and means over a window (NaN when the window holds none), counters
// since the Tracker started (closed intervals and the open one).
type Stats struct {
	Backend string
	// Sampled, MeanConfidence, EmptyRate, ErrorRate and MeanLength are
	// over the window.
	Sampled        int64
	MeanConfidence float64
	EmptyRate      float64
	ErrorRate      float64
	MeanLength     float64
	// TotalResponses, TotalErrors and TotalEmpty never decrease.
	TotalResponses int64
	TotalErrors    int64
	TotalEmpty     int64
}

// Snapshot returns Stats per backend, sorted by name, over each
// backend's window of the last n closed intervals.
func (t *Tracker) Snapshot(n int) []Stats {
	t.mu.RLock()
	names := make([]string, 0, len(t.backends))
	for name := range t.backends {
		names = append(names, name)
	}
	t.mu.RUnlock()
	slices.Sort(names)
	out := make([]Stats, 0, len(names))
	for _, name := range names {
		w := t.Window(name, n)
		r := t.ring(name)
		r.mu.Lock()
		tot := r.total
		tot.Merge(&r.cur)
		r.mu.Unlock()
		out = append(out, Stats{
			Backend: name, Sampled: w.Responses,
			MeanConfidence: w.MeanConfidence(), EmptyRate: w.EmptyRate(),
			ErrorRate: w.ErrorRate(), MeanLength: w.MeanLength(),
			TotalResponses: tot.Responses, TotalErrors: tot.Errors, TotalEmpty: tot.Empty,
		})
	}
	return out
}
