package analyze

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// TimelineFile is the conventional name of the per-interval counts file in
// a run directory.
const TimelineFile = "timeline.ndjson"

// EventsFile is the conventional name of the event file in a run
// directory: faults injected, traffic flipped, knobs changed.
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

// Event is something that happened during a run and belongs on every time
// axis of a report: a fault injected, traffic flipped, a knob changed.
type Event struct {
	Time time.Time `json:"time"`
	// Kind is a short class ("fault", "flip", "rollback", "knob", "note").
	Kind  string `json:"kind"`
	Label string `json:"label"`
}

// ReadTimeline reads a timeline.ndjson stream; errors name the line.
func ReadTimeline(r io.Reader) ([]TimelinePoint, error) {
	return readNDJSON[TimelinePoint](r)
}

// ReadEvents reads an events.ndjson stream; errors name the line.
func ReadEvents(r io.Reader) ([]Event, error) {
	return readNDJSON[Event](r)
}

// WriteEvent appends one event as a JSON line to w.
func WriteEvent(w io.Writer, e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func readNDJSON[T any](r io.Reader) ([]T, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLogLine)
	var out []T
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return out, fmt.Errorf("%w: line %d: %v", ErrTimeline, line, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("%w: %v", ErrTimeline, err)
	}
	return out, nil
}
