package analyze

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/gonogo-dev/gonogo"
)

// TimelineFile is the conventional name of the per-interval counts file in
// a run directory.
const TimelineFile = "timeline.ndjson"

// EventsFile is the conventional name of the run's journal in a run
// directory: faults injected, traffic flipped, markers (gonogo.Event).
const EventsFile = "events.ndjson"

// ErrTimeline is wrapped by every ReadTimeline and ReadEvents error.
var ErrTimeline = errors.New("analyze: timeline")

// TimelinePoint holds the counts of one interval of a run, as the Recorder
// writes them to timeline.ndjson (one JSON object per line). Offsets are
// seconds from the run start.
type TimelinePoint struct {
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
	// Requests counts completed requests, Failed those that failed,
	// Dropped arrivals never sent; Tokens sums output tokens.
	Requests int64 `json:"requests"`
	Failed   int64 `json:"failed"`
	Dropped  int64 `json:"dropped"`
	Tokens   int64 `json:"tokens"`
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
	return readNDJSON[TimelinePoint](r, nil)
}

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
	for line := 1; sc.Scan(); line++ {
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
		return out, fmt.Errorf("%w: %v", ErrTimeline, err)
	}
	return out, nil
}
