package replay

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// Clock gives arrival offsets; a scenarios.Schedule is one (its payload
// argument may be nil).
type Clock interface {
	Next(req *gonogo.Request) (time.Duration, bool)
}

// Paced replays a trace's rows in their recorded order at the times another
// clock gives — a constant or ramping rate instead of the recorded pace. It
// ends with whichever ends first, the trace or the clock, and streams the
// trace in constant memory.
type Paced struct {
	r          Reader
	clock      Clock
	err        error
	last       time.Duration // offset of the last arrival given
	traceEnded bool          // the trace ran out before the clock
}

// NewPaced paces r's rows by clock.
func NewPaced(r Reader, clock Clock) *Paced { return &Paced{r: r, clock: clock} }

// Next fills req from the next row and returns the clock's next offset.
func (p *Paced) Next(req *gonogo.Request) (time.Duration, bool) {
	if p.err != nil {
		return 0, false
	}
	var row Row // fresh: the previous request may still hold its tags
	if err := p.r.Next(&row); err != nil {
		p.traceEnded = true
		if !errors.Is(err, io.EOF) {
			var re *RowError
			if !errors.As(err, &re) {
				err = fmt.Errorf("replay: paced: %w", err)
			}
			p.err = err
		}
		return 0, false
	}
	off, ok := p.clock.Next(nil)
	if !ok {
		return 0, false
	}
	req.Row, req.InputTokens, req.OutputTokens = row.Line, row.InputTokens, row.OutputTokens
	req.Tags, req.Recorded = row.Tags, row.Request
	p.last = off
	return off, true
}

// Duration is how long the replay lasts: the clock's duration when it
// has one (a scenarios.Schedule does) and the trace lasted, else the
// offset of the last arrival so far. With it the engine keeps the
// scenario going until the clock's end, and ends it with its last arrival
// when the trace ran out first.
func (p *Paced) Duration() time.Duration {
	if c, ok := p.clock.(interface{ Duration() time.Duration }); ok && !p.traceEnded {
		return c.Duration()
	}
	return p.last
}

// Err is the trace error that ended the replay early, if any.
func (p *Paced) Err() error { return p.err }

// Skipped reports the malformed rows skipped so far.
func (p *Paced) Skipped() Skips { return p.r.Skipped() }
