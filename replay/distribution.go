package replay

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// DefaultMaxSamples is how many rows and gaps a Distribution keeps when
// DistributionOptions.MaxSamples is 0.
const DefaultMaxSamples = 1_000_000

// DistributionOptions configures NewDistribution.
type DistributionOptions struct {
	// Seed seeds the reservoir and every draw; 0 picks 1. The same trace
	// and seed give the same draws.
	Seed int64
	// MaxSamples caps the rows (and, separately, the inter-arrival gaps)
	// kept in memory; beyond it a uniform reservoir sample of the trace is
	// kept. 0 means DefaultMaxSamples.
	MaxSamples int
}

// Distribution is the empirical distribution of a trace: its recorded
// payloads (input and output tokens, kept as pairs so that their
// correlation survives, with tags and recorded requests) and its
// inter-arrival gaps. It drives a scenario's schedule at any rate with the
// trace's burstiness and payloads:
//
//	sch := scenarios.NewSchedule(sc, scenarios.WithGaps(d.Gap), scenarios.WithPayload(d.Fill))
//
// Draws are exact empirical resampling (no smoothing), without
// replacement: Gap and Fill each walk a fresh random permutation of what
// they hold, so every len(kept) draws use each kept gap (or row) exactly
// once. Recorded gaps are heavy-tailed (the Azure code trace's have a
// coefficient of variation of 13, with silences of minutes), and drawing
// them independently would let the mean rate over ten thousand arrivals
// stray by more than 10 % for nearly half the seeds; drawing them in
// shuffled passes keeps the rate and the burstiness the trace's.
//
// The first Gap starts the replay at a random moment of the first pass,
// not at an arrival (see Gap), so the expected number of arrivals of any
// window is the rate times its length. A short window of a bursty trace is
// still uncertain: its count varies by about GapCV/√n around n (see
// scenarios.CountRSE; WithGapStats(d.GapCV(), d.Gaps()) tells a schedule).
//
// A Distribution is not safe for concurrent use; the engine draws from one
// goroutine.
type Distribution struct {
	samples []sample
	gaps    []float64 // seconds, normalised to mean 1; nil when the trace has no spread
	rows    int
	span    time.Duration
	skips   Skips
	cv      float64 // of the gaps
	gapRng  *rand.Rand
	fillRng *rand.Rand
	gapAt   int  // draws taken from the current permutation of gaps
	started bool // the first gap, a forward-recurrence time, was drawn
	rotated bool // gaps[gapAt:] is the rest of the first pass, in order
	fillAt  int  // draws taken from the current permutation of samples
}

// sample is one recorded row's payload.
type sample struct {
	line    int64
	in, out int
	tags    map[string]string
	req     *gonogo.Recorded
}

// NewDistribution reads r to its end and returns its distribution. Memory
// is bounded by MaxSamples rows, whatever the trace's length. It fails on a
// reader error other than io.EOF, on an empty trace (ErrFormat) and on a
// negative MaxSamples (ErrOption).
//
// Rows are expected in time order; a gap that would be negative (an
// unsorted log) counts as 0.
func NewDistribution(r Reader, o DistributionOptions) (*Distribution, error) {
	if o.MaxSamples < 0 {
		return nil, fmt.Errorf("%w: max samples must not be negative (got %d)", ErrOption, o.MaxSamples)
	}
	if o.MaxSamples == 0 {
		o.MaxSamples = DefaultMaxSamples
	}
	seed := uint64(o.Seed)
	if o.Seed == 0 {
		seed = 1
	}
	res := rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))
	d := &Distribution{
		gapRng:  rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		fillRng: rand.New(rand.NewPCG(seed, 0xbf58476d1ce4e5b9)),
	}
	var (
		row         Row
		first, prev time.Duration
		nGaps       int64
	)
	for {
		row = Row{}
		err := r.Next(&row)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("replay: distribution: %w", err)
		}
		s := sample{line: row.Line, in: row.InputTokens, out: row.OutputTokens, tags: row.Tags, req: row.Request}
		reservoir(res, &d.samples, int64(d.rows), o.MaxSamples, s)
		if d.rows == 0 {
			first, prev = row.Offset, row.Offset
		} else {
			gap := max(row.Offset-prev, 0)
			prev = max(row.Offset, prev)
			reservoir(res, &d.gaps, nGaps, o.MaxSamples, gap.Seconds())
			nGaps++
		}
		d.rows++
	}
	d.skips = r.Skipped()
	if d.rows == 0 {
		return nil, fmt.Errorf("%w: no rows to draw from", ErrFormat)
	}
	d.span = prev - first
	var sum float64
	for _, g := range d.gaps {
		sum += g
	}
	if sum <= 0 {
		d.gaps = nil
	} else {
		mean := sum / float64(len(d.gaps))
		var sq float64
		for i := range d.gaps {
			d.gaps[i] /= mean
			sq += (d.gaps[i] - 1) * (d.gaps[i] - 1)
		}
		d.cv = math.Sqrt(sq / float64(len(d.gaps)))
	}
	return d, nil
}

// reservoir adds the i-th item (from 0) of a stream to a uniform sample of
// at most k items (Algorithm R).
func reservoir[T any](rng *rand.Rand, kept *[]T, i int64, k int, v T) {
	if len(*kept) < k {
		*kept = append(*kept, v)
		return
	}
	if j := rng.Int64N(i + 1); j < int64(k) {
		(*kept)[j] = v
	}
}

// Gap draws an inter-arrival time from the trace's gaps (without
// replacement, in shuffled passes), normalised so
// that their mean is 1: scenarios.WithGaps(d.Gap) scales it to the
// scenario's rate and keeps the trace's burstiness. It returns 1 (even
// pacing) when the trace has fewer than two distinct times.
//
// The first call returns the time to the first arrival from a moment
// drawn uniformly over the first pass's time: what is left of the gap
// that holds it. A replay that started at an arrival would start in a
// burst, since most arrivals of a bursty trace are, and send (CV² − 1)/2
// arrivals more than the rate says in expectation — 44 % more in a 10 s
// run at 20/s of the Azure code trace. The pass then goes on after that
// gap, wraps round and ends with it whole, so that it still holds every
// gap once.
func (d *Distribution) Gap() float64 {
	switch {
	case len(d.gaps) == 0:
		return 1
	case !d.started:
		d.started = true
		return d.startGap()
	case d.rotated && d.gapAt < len(d.gaps):
		d.gapAt++
		return d.gaps[d.gapAt-1]
	}
	d.rotated = false
	return d.gaps[shuffleNext(d.gapRng, d.gaps, &d.gapAt)]
}

// startGap shuffles the gaps for the first pass, draws a moment u of its
// time, rotates the pass to begin after the gap that holds u and returns
// the part of that gap after u.
func (d *Distribution) startGap() float64 {
	d.gapRng.Shuffle(len(d.gaps), func(i, j int) { d.gaps[i], d.gaps[j] = d.gaps[j], d.gaps[i] })
	var total float64
	for _, g := range d.gaps {
		total += g
	}
	u := d.gapRng.Float64() * total
	k, cum := len(d.gaps)-1, total // where rounding leaves u past the sum
	var sum float64
	for i, g := range d.gaps {
		if sum += g; sum > u {
			k, cum = i, sum
			break
		}
	}
	// Rotate left by k+1: gaps k+1 … end, then 0 … k.
	slices.Reverse(d.gaps[:k+1])
	slices.Reverse(d.gaps[k+1:])
	slices.Reverse(d.gaps)
	d.gapAt, d.rotated = 0, true
	return cum - u
}

// shuffleNext takes the next item of a random permutation of s, built in
// place one step of Fisher–Yates at a time; a new permutation starts after
// every len(s) draws. It returns the item's index.
func shuffleNext[T any](rng *rand.Rand, s []T, at *int) int {
	if *at >= len(s) {
		*at = 0
	}
	i := *at
	j := i + rng.IntN(len(s)-i)
	s[i], s[j] = s[j], s[i]
	*at++
	return i
}

// Fill gives req the payload of one recorded row drawn at random (without
// replacement, in shuffled passes): its input
// and output tokens together (so their correlation is the trace's), its
// tags, its recorded request, and its line as req.Row.
func (d *Distribution) Fill(req *gonogo.Request) {
	if req == nil {
		return
	}
	s := &d.samples[shuffleNext(d.fillRng, d.samples, &d.fillAt)]
	req.Row = s.line
	req.InputTokens, req.OutputTokens = s.in, s.out
	req.Tags = s.tags
	req.Recorded = s.req
}

// MeanRate is the trace's mean arrival rate in arrivals per second, the
// inverse of its mean gap: (rows − 1) / span. It is the rate to give a
// scenario when the user gives none; then the schedule's gaps are the
// recorded ones in seconds. It is 0 when the trace spans no time.
func (d *Distribution) MeanRate() float64 {
	if d.span <= 0 {
		return 0
	}
	return float64(d.rows-1) / d.span.Seconds()
}

// GapCV is the coefficient of variation (population standard deviation
// over mean) of the gaps Gap draws from: 1 for Poisson-like traffic, 13
// for the Azure code trace; 0 when the trace has no spread.
func (d *Distribution) GapCV() float64 { return d.cv }

// Gaps is the number of gaps Gap draws from, the length of one of its
// passes: the trace's gaps, or MaxSamples of them.
func (d *Distribution) Gaps() int { return len(d.gaps) }

// Rows is the number of rows read from the trace.
func (d *Distribution) Rows() int { return d.rows }

// Samples is the number of rows kept to draw from: Rows, or MaxSamples
// when the trace is longer.
func (d *Distribution) Samples() int { return len(d.samples) }

// Skipped reports the malformed rows the reader skipped.
func (d *Distribution) Skipped() Skips { return d.skips }
