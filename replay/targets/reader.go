package targets

import (
	"io"
	"math/rand/v2"
	"path/filepath"
	"sort"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/replay/internal/tracefmt"
)

// Format is the replay format name under which targets files register.
const Format = "targets"

// DefaultSeed seeds the draws of a targets file opened without a seed
// (replay.Options.Seed 0): the same file gives the same sequence of
// targets every run.
const DefaultSeed = 1

// MaxDraws bounds the rows of a Reader: it ends (io.EOF) after this many,
// so that no replay of it runs without end.
const MaxDraws = 1 << 32

func init() {
	replay.Register(Format, func(name string, r io.Reader, o replay.Options) (replay.Reader, error) {
		if err := tracefmt.NoMapping(Format, name, o); err != nil {
			return nil, err
		}
		f, err := Parse(name, r, filepath.Dir(name))
		if err != nil {
			return nil, err
		}
		return NewReader(f, o.Seed), nil
	})
}

var (
	_ replay.Reader  = (*Reader)(nil)
	_ replay.Endless = (*Reader)(nil)
)

// Endless marks the draws as endless (replay.Endless).
func (*Reader) Endless() {}

// Reader draws the targets of a file at random, in proportion to their
// weights, as the rows of an endless trace (up to MaxDraws): every row is
// at offset 0 and carries its target's request (Row.Request), line
// (Row.Line) and the tag target=NAME. The draws are a function of the
// seed alone: the same file and seed give the same targets in the same
// order. Replay it in order at a rate (a sequential replay); the
// recorded timestamps it lacks mean nothing to the other replay modes.
//
// A Reader is not safe for concurrent use; the engine draws from one
// goroutine.
type Reader struct {
	cum   []float64 // cumulative weights
	reqs  []*gonogo.Recorded
	tags  []map[string]string
	lines []int64
	rng   *rand.Rand
	drawn int64
}

// NewReader returns a Reader of f's targets whose draws are seeded by
// seed (0 picks DefaultSeed).
func NewReader(f *File, seed int64) *Reader {
	if seed == 0 {
		seed = DefaultSeed
	}
	r := &Reader{rng: rand.New(rand.NewPCG(uint64(seed), 0x853c49e6748fea9b))}
	var sum float64
	for i := range f.Targets {
		t := &f.Targets[i]
		sum += t.Weight
		r.cum = append(r.cum, sum)
		r.reqs = append(r.reqs, t.Recorded())
		r.tags = append(r.tags, map[string]string{TagKey: t.Name})
		r.lines = append(r.lines, t.Line)
	}
	return r
}

// Pick draws the index of the next target.
func (r *Reader) Pick() int {
	total := r.cum[len(r.cum)-1]
	x := r.rng.Float64() * total
	i := sort.SearchFloat64s(r.cum, x)
	if i < len(r.cum) && r.cum[i] == x {
		i++ // x falls on a boundary: it belongs to the next target
	}
	return min(i, len(r.cum)-1)
}

// Next fills row with the next draw. The row's request and tags are
// shared between the rows of one target: they must not be modified.
func (r *Reader) Next(row *replay.Row) error {
	if r.drawn >= MaxDraws {
		return io.EOF
	}
	r.drawn++
	i := r.Pick()
	*row = replay.Row{Line: r.lines[i], Tags: r.tags[i], Request: r.reqs[i]}
	return nil
}

// Skipped implements replay.Reader: a targets file is parsed whole before
// the first draw, so no row is ever skipped.
func (r *Reader) Skipped() replay.Skips { return replay.Skips{} }
