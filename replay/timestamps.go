package replay

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// ErrOption is wrapped by errors about the options of a replay mode: a
// negative speed, scale or loop count, or an empty window.
var ErrOption = errors.New("replay: bad option")

// CopyShift is how far apart in time the copies of one recorded arrival are
// sent when TimestampOptions.Scale is 2 or more: copy j goes CopyShift·j
// after the original (never across a whole second of the replay, so the
// per-second counts stay exactly k times the trace's).
const CopyShift = time.Microsecond

// TimestampOptions says which part of a trace to replay, how fast, how
// often and how densely. The zero value replays the whole trace once, at
// its recorded pace.
type TimestampOptions struct {
	// Speed compresses time: recorded offsets are divided by it, so 10
	// replays ten times faster (and ten times the rate). 0 means 1.
	Speed float64
	// From and To select the window [From, To) of the trace, as offsets
	// from its first row before any speed-up; To 0 means to the end. The
	// replay starts at From: an arrival recorded at From+d is sent at
	// d/Speed.
	From, To time.Duration
	// Loop replays the window this many times back to back; 0 and 1 mean
	// once. A loop lasts the window, To−From, when the trace reaches To;
	// otherwise it lasts until the window's last arrival plus one mean
	// inter-arrival gap of the window (1 s when the window holds a single
	// row).
	Loop int
	// Scale multiplies the traffic and keeps its shape. Its integer part k
	// sends every arrival k times (copies CopyShift apart); its fractional
	// part f sends one more copy with probability f. So 3 triples every
	// second's count exactly, 1.5 sends each arrival once or twice at
	// random, and 0.25 keeps a random quarter of the arrivals. 0 means 1.
	Scale float64
	// Seed seeds the random part of Scale; 0 picks 1.
	Seed int64
	// Reopen, when set, returns the trace afresh from its first row for
	// each loop after the first, so that looping streams in constant
	// memory; it has the shape of Open, so
	//
	//	Reopen: func() (replay.Reader, io.Closer, error) { return replay.Open(path, opts) }
	//
	// does. The closer it returns (which may be nil) is closed at the end
	// of that loop, or by Close. When Reopen is nil and Loop > 1, the
	// first pass keeps the window's rows in memory for the later ones.
	Reopen func() (Reader, io.Closer, error)
}

// WindowError says that the window of a replay (TimestampOptions From and
// To) holds no row of the trace: From lies past its last row, or [From, To)
// falls between two rows. The replay would send nothing; it is bad input,
// and matches ErrOption.
type WindowError struct {
	// From and To are the window; To 0 means the end of the trace.
	From, To time.Duration
	// PastEnd says the trace ended before From. Before counts the rows
	// before From and Last is the offset of the last of them: the trace's
	// span when PastEnd.
	PastEnd bool
	Before  int64
	Last    time.Duration
	// Next is the first row at or after To, when not PastEnd.
	Next time.Duration
}

// Error reads "--from 2h0m0s is past the end of the trace: its 8,819 rows
// span 0s–57m15.9s", or for an empty window "--from 10m0s --to 10m5s
// selects no row of the trace: the rows around it are at 9m58s and
// 10m7s". It names the options as the command line spells them (from:
// and to: in a scenario's traffic block).
func (e *WindowError) Error() string {
	if e.PastEnd {
		span := fmt.Sprintf("its %s rows span 0s–%s", thousands(e.Before), e.Last.Round(100*time.Millisecond))
		if e.Before == 1 {
			span = "its only row is at 0s"
		}
		return fmt.Sprintf("--from %s is past the end of the trace: %s", e.From, span)
	}
	return fmt.Sprintf("--from %s --to %s selects no row of the trace: the rows around it are at %s and %s",
		e.From, e.To, e.Last, e.Next)
}

// Unwrap returns ErrOption.
func (e *WindowError) Unwrap() error { return ErrOption }

// Validate checks the options: Speed, Scale and Loop must not be negative
// (nor NaN or infinite) and a window with an end must not be empty.
func (o TimestampOptions) Validate() error {
	switch {
	case o.Speed < 0 || math.IsNaN(o.Speed) || math.IsInf(o.Speed, 0):
		return fmt.Errorf("%w: speed must be > 0 (got %g)", ErrOption, o.Speed)
	case o.Scale < 0 || math.IsNaN(o.Scale) || math.IsInf(o.Scale, 0):
		return fmt.Errorf("%w: scale must be ≥ 0 (got %g)", ErrOption, o.Scale)
	case o.Loop < 0:
		return fmt.Errorf("%w: loop must not be negative (got %d)", ErrOption, o.Loop)
	case o.From < 0:
		return fmt.Errorf("%w: from must not be negative (got %s)", ErrOption, o.From)
	case o.To < 0:
		return fmt.Errorf("%w: to must not be negative (got %s)", ErrOption, o.To)
	case o.To > 0 && o.To <= o.From:
		return fmt.Errorf("%w: the window [%s, %s) is empty", ErrOption, o.From, o.To)
	}
	return nil
}

// Timestamps replays a trace at its recorded arrival times: an arrival
// source for the load engine (it has the method of scenarios.Source). It
// streams, reading a row from its Reader only when the engine asks for the
// next arrival, so a trace of any length replays in constant memory.
//
// Offsets it returns never decrease: a row recorded earlier than the one
// before it (an unsorted log) is sent at the same time as that one.
//
// A Timestamps is not safe for concurrent use; the engine calls it from one
// goroutine.
type Timestamps struct {
	o      TimestampOptions
	loops  int
	whole  int     // copies every row gets
	frac   float64 // probability of one more
	rng    *rand.Rand
	first  Reader // the caller's reader, read by the first pass
	r      Reader // the reader of the current pass
	closer io.Closer

	pass    int           // current loop, from 0
	base    time.Duration // start of the current loop in trace time, relative to From
	prevOff time.Duration // last row offset of this pass, to keep offsets sorted
	before  int64         // rows of the first pass before From
	after   time.Duration // the first row at or after To, when reachedTo

	// The first pass's figures, for the length of a loop.
	n                 int64
	firstOff, lastOff time.Duration
	reachedTo         bool
	keep              bool  // the first pass keeps the window's rows
	buf               []Row // kept rows, when keep
	bufPos            int

	row          Row
	copies, copy int
	at           time.Duration // output offset of row
	last         time.Duration // last offset returned
	arrivals     int64
	rows         int64
	err          error
	done         bool
}

// NewTimestamps returns a source that replays r with the options o. When o
// is invalid (see TimestampOptions.Validate) the source yields nothing and
// Err reports why.
func NewTimestamps(r Reader, o TimestampOptions) *Timestamps {
	t := &Timestamps{o: o, first: r, r: r}
	if err := o.Validate(); err != nil {
		t.err, t.done = err, true
		return t
	}
	if t.o.Speed == 0 {
		t.o.Speed = 1
	}
	if t.o.Scale == 0 {
		t.o.Scale = 1
	}
	t.loops = max(t.o.Loop, 1)
	whole, frac := math.Modf(t.o.Scale)
	t.whole, t.frac = int(whole), frac
	seed := t.o.Seed
	if seed == 0 {
		seed = 1
	}
	t.rng = rand.New(rand.NewPCG(uint64(seed), 0x5851f42d4c957f2d))
	t.keep = t.loops > 1 && t.o.Reopen == nil
	return t
}

// Start reads the trace up to the first arrival of the window, so that a
// replay that would send nothing fails before a run starts rather than
// running no requests: it returns Err, a *WindowError when the window
// holds no row. Next does the same reading when Start was not called;
// call Start before the first Next.
func (t *Timestamps) Start() error {
	if t.copy >= t.copies && !t.done {
		t.advance()
	}
	return t.err
}

// Next fills req with the next arrival's recorded payload (Row, tokens,
// tags, recorded request) and returns its offset from the replay's start,
// or false when the replay is over: every loop done, or the reader failed
// (see Err). req may be nil.
func (t *Timestamps) Next(req *gonogo.Request) (time.Duration, bool) {
	for t.copy >= t.copies {
		if !t.advance() {
			return 0, false
		}
	}
	off := t.at
	if t.copy > 0 {
		off += time.Duration(t.copy) * CopyShift
		// Keep copies in the original's second of the replay, so that
		// per-second counts scale exactly.
		if end := t.at.Truncate(time.Second) + time.Second; off >= end {
			off = end - 1
		}
	}
	// Offsets never decrease. t.last lies in the same or an earlier second
	// than t.at, so this cannot move an arrival to a later second either.
	off = max(off, t.last)
	t.last = off
	t.copy++
	t.arrivals++
	if req != nil {
		req.Row = t.row.Line
		req.InputTokens = t.row.InputTokens
		req.OutputTokens = t.row.OutputTokens
		req.Tags = t.row.Tags
		req.Recorded = t.row.Request
	}
	return off, true
}

// advance moves to the next row of the window that gets at least one copy,
// starting the next loop when a pass ends. It reports false when the replay
// is over.
func (t *Timestamps) advance() bool {
	for !t.done {
		if !t.nextRow() {
			if t.pass == 0 && t.n == 0 && t.err == nil {
				t.err = &WindowError{From: t.o.From, To: t.o.To, Before: t.before, Last: t.prevOff, PastEnd: !t.reachedTo, Next: t.after}
			}
			if t.done || !t.nextPass() {
				t.finish()
				return false
			}
			continue
		}
		t.copies, t.copy = t.whole, 0
		if t.frac > 0 && t.rng.Float64() < t.frac {
			t.copies++
		}
		t.at = t.output(t.base + t.row.Offset - t.o.From)
		if t.copies > 0 {
			return true
		}
	}
	return false
}

// output converts a trace-time offset from the window's start into replay
// time.
func (t *Timestamps) output(d time.Duration) time.Duration {
	if t.o.Speed == 1 {
		return d
	}
	return time.Duration(float64(d) / t.o.Speed)
}

// nextRow reads the next row of the window into t.row. It reports false at
// the end of the pass, and sets t.done when the reader failed.
func (t *Timestamps) nextRow() bool {
	if t.pass > 0 && t.keep {
		if t.bufPos >= len(t.buf) {
			return false
		}
		t.row = t.buf[t.bufPos]
		t.bufPos++
		t.rows++
		return true
	}
	for {
		// A fresh row each time: the request keeps the previous row's tags
		// map, which a reader must not be handed back to reuse.
		t.row = Row{}
		err := t.r.Next(&t.row)
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			// A malformed row names its file, line and field itself.
			var re *RowError
			if !errors.As(err, &re) {
				err = fmt.Errorf("replay: timestamps, loop %d: %w", t.pass+1, err)
			}
			t.err, t.done = err, true
			return false
		}
		if t.row.Offset < t.prevOff {
			t.row.Offset = t.prevOff
		}
		if t.row.Offset < t.o.From {
			t.prevOff = t.row.Offset
			if t.pass == 0 {
				t.before++
			}
			continue
		}
		if t.o.To > 0 && t.row.Offset >= t.o.To {
			if t.pass == 0 {
				t.reachedTo, t.after = true, t.row.Offset
			}
			return false // rows are sorted: the window is over
		}
		t.prevOff = t.row.Offset
		t.rows++
		if t.pass == 0 {
			if t.n == 0 {
				t.firstOff = t.row.Offset
			}
			t.lastOff = t.row.Offset
			t.n++
			if t.keep {
				t.buf = append(t.buf, t.row)
			}
		}
		return true
	}
}

// nextPass starts the next loop; it reports false when there is none.
func (t *Timestamps) nextPass() bool {
	if t.pass+1 >= t.loops || t.n == 0 {
		return false
	}
	t.pass++
	t.base += t.loopLength()
	t.prevOff, t.bufPos = 0, 0
	if t.keep {
		return true
	}
	t.closeOwned()
	r, c, err := t.o.Reopen()
	t.closer = c
	if err == nil && r == nil {
		err = errors.New("Reopen returned no reader")
	}
	if err != nil {
		t.err, t.done = fmt.Errorf("replay: timestamps, reopening for loop %d: %w", t.pass+1, err), true
		t.closeOwned()
		return false
	}
	t.r = r
	return true
}

// loopLength is the trace time one loop lasts (see TimestampOptions.Loop).
func (t *Timestamps) loopLength() time.Duration {
	if t.o.To > 0 && t.reachedTo {
		return t.o.To - t.o.From
	}
	gap := time.Second
	if t.n >= 2 {
		gap = (t.lastOff - t.firstOff) / time.Duration(t.n-1)
	}
	return t.lastOff - t.o.From + gap
}

func (t *Timestamps) finish() {
	t.done = true
	t.closeOwned()
}

// closeOwned closes what Reopen returned.
func (t *Timestamps) closeOwned() {
	if t.closer != nil {
		if err := t.closer.Close(); err != nil && t.err == nil {
			t.err = fmt.Errorf("replay: timestamps: %w", err)
		}
		t.closer = nil
	}
}

// Close closes the closer of the current loop when Reopen returned it; the
// caller's own reader is the caller's to close. Call it when a run stops
// before the replay is over. It returns Err.
func (t *Timestamps) Close() error {
	t.closeOwned()
	return t.err
}

// Err reports why the replay ended early: invalid options, a window that
// holds no row (*WindowError), or a reader error other than io.EOF (a
// *RowError from a strict reader, an unreadable input, a failed Reopen).
// It is nil after a complete replay.
func (t *Timestamps) Err() error { return t.err }

// Skipped reports the malformed rows the reader skipped in the first pass
// (later loops read the same rows again).
func (t *Timestamps) Skipped() Skips { return t.first.Skipped() }

// Arrivals is the number of arrivals returned so far, copies included.
func (t *Timestamps) Arrivals() int64 { return t.arrivals }

// Rows is the number of window rows replayed so far, over every loop.
func (t *Timestamps) Rows() int64 { return t.rows }

// Done reports whether the replay is over; Duration is then known.
func (t *Timestamps) Done() bool { return t.done }

// Duration is the replay time the window's loops span: Loop times the loop
// length, divided by Speed. It is known only once the first pass has been
// read; before that it is 0.
func (t *Timestamps) Duration() time.Duration {
	if t.n == 0 || (t.pass == 0 && !t.done) {
		return 0
	}
	return t.output(time.Duration(t.loops) * t.loopLength())
}
