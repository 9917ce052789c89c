package analyze

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/gonogo-dev/gonogo"
)

// ErrTimeline is wrapped by every ReadTimeline and ReadEvents error.
var ErrTimeline = errors.New("analyze: timeline")

// TimelinePoint holds the counts of one interval of a run, as the Recorder
// writes them to timeline.ndjson (one JSON object per line). Offsets are
// seconds from the run start.
type TimelinePoint struct {
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
	// Counts are the whole run's counts in the interval.
	Counts
	// Groups holds the counts of every scenario and tag group active in
	// the interval, by group key (ScenarioGroup, TagGroup).
	Groups map[string]Counts `json:"groups,omitempty"`
}

// RatePerSec is the interval's completion rate.
func (p TimelinePoint) RatePerSec() float64 {
	if d := p.EndS - p.StartS; d > 0 {
		return float64(p.Requests) / d
	}
	return 0
}

// ErrorRate is the interval's share of failed requests (0 when none
// completed).
func (p TimelinePoint) ErrorRate() float64 {
	if p.Requests == 0 {
		return 0
	}
	return float64(p.Failed) / float64(p.Requests)
}

// ReadTimeline reads a timeline.ndjson stream; errors name the line.
func ReadTimeline(r io.Reader) ([]TimelinePoint, error) {
	prev := math.Inf(-1)
	return readNDJSON(r, func(p *TimelinePoint) error {
		switch {
		case !finite(p.StartS) || !finite(p.EndS) || math.Abs(p.StartS) > maxOffsetS || math.Abs(p.EndS) > maxOffsetS:
			return fmt.Errorf("fields start_s, end_s: %g, %g are not offsets within %g s of the run's start", p.StartS, p.EndS, maxOffsetS)
		case p.EndS < p.StartS:
			return errors.New("field end_s: before start_s")
		case p.StartS < prev:
			return errors.New("field start_s: before the previous interval's end")
		}
		prev = p.EndS
		return nil
	})
}

// maxOffsetS bounds a timeline offset: a year, far past any run.
const maxOffsetS = 366 * 24 * 3600.0

// ReadEvents reads an events.ndjson stream (the run's journal). Every
// record must have schema gonogo.EventSchema, a time and a kind, and a span
// must not end before it starts; errors name the line.
func ReadEvents(r io.Reader) ([]gonogo.Event, error) {
	return readNDJSON(r, func(e *gonogo.Event) error {
		switch {
		case e.Schema != gonogo.EventSchema:
			return fmt.Errorf("field schema: %d is not the event schema %d", e.Schema, gonogo.EventSchema)
		case e.Time.IsZero():
			return errors.New("field time: missing")
		case e.Kind == "":
			return errors.New("field kind: missing")
		case e.End != nil && e.End.Before(e.Time):
			return errors.New("field end: before time")
		}
		return nil
	})
}

// readNDJSON reads one JSON object per line, checking each with check
// (nil checks nothing).
func readNDJSON[T any](r io.Reader, check func(*T) error) ([]T, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLogLine)
	var out []T
	line := 1
	for ; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var v T
		err := json.Unmarshal(b, &v)
		if err == nil && check != nil {
			err = check(&v)
		}
		if err != nil {
			return out, fmt.Errorf("%w: line %d: %v", ErrTimeline, line, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("%w: line %d: %v", ErrTimeline, line, err)
	}
	return out, nil
}
