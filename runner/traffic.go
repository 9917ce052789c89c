package runner

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// trace is the recorded traffic of one scenario while it replays.
type trace struct {
	spec *scenarios.Traffic
	// warnings are what Open found doubtful about the trace (a unit it
	// inferred, an implausible rate), printed with the plan.
	warnings []string
	// timeFormat is the timestamp format the replay reads, once known.
	timeFormat func() string
	source     scenarios.Source
	skipped    func() replay.Skips
	err        func() error
	close      func()
}

// openTraffic opens a scenario's trace and builds its arrival source. A
// distribution replay reads the whole trace here (bounded by a
// reservoir); a timestamps replay streams it during the run.
func openTraffic(s *scenarios.Scenario) (*trace, error) {
	t := s.Traffic
	ro := replay.Options{Format: t.Format, Preset: t.Preset, Columns: t.Columns, TimeFormat: t.TimeFormat, Strict: t.Strict, Seed: s.Seed}
	r, closer, err := replay.Open(t.Trace, ro)
	if err != nil {
		return nil, TraceError(err)
	}
	if replay.IsEndless(r) && t.Replay != scenarios.ReplaySequential {
		closer.Close()
		return nil, TraceError(fmt.Errorf("%s: %w", t.Trace, replay.ErrEndless))
	}
	ot := &trace{spec: t, warnings: replay.Warnings(r), timeFormat: func() string { return "" },
		skipped: r.Skipped, err: func() error { return nil }, close: func() { closer.Close() }}
	if tr, ok := r.(replay.TimeReader); ok {
		ot.timeFormat = func() string {
			f := tr.TimeFormat()
			if f != "" && tr.TimeDetected() {
				f += ", detected"
			}
			return f
		}
	}
	switch t.Replay {
	case scenarios.ReplayDistribution:
		d, err := replay.NewDistribution(r, replay.DistributionOptions{Seed: s.Seed})
		closer.Close()
		if err != nil {
			return nil, TraceError(err)
		}
		if s.Executor == scenarios.ConstantArrivalRate && s.Rate == 0 {
			s.Rate, s.TimeUnit = d.MeanRate(), time.Second
		}
		ot.source = scenarios.NewSchedule(s, scenarios.WithGaps(d.Gap), scenarios.WithGapStats(d.GapCV(), d.Gaps()), scenarios.WithPayload(d.Fill))
	case scenarios.ReplaySequential:
		p := replay.NewPaced(r, scenarios.NewSchedule(s))
		ot.source, ot.err, ot.skipped = p, p.Err, p.Skipped
	default:
		ts := replay.NewTimestamps(r, replay.TimestampOptions{Speed: t.Speed, Scale: t.Scale, From: t.From, To: t.To, Loop: t.Loop, Seed: s.Seed,
			Reopen: func() (replay.Reader, io.Closer, error) { return replay.Open(t.Trace, ro) }})
		if err := ts.Start(); err != nil { // a window past the trace's end fails here, before the run
			ts.Close()
			closer.Close()
			return nil, TraceError(err)
		}
		ot.source, ot.err, ot.skipped = ts, ts.Err, ts.Skipped
		ot.close = func() { ts.Close(); closer.Close() }
	}
	return ot, nil
}

// report is the run.json account of a replay.
func (t *trace) report() *reports.Traffic {
	sk := t.skipped()
	rt := &reports.Traffic{Trace: t.spec.Trace, Replay: t.spec.Replay, Skipped: sk.Count}
	for _, e := range sk.First {
		rt.FirstSkipped = append(rt.FirstSkipped, e.Error())
	}
	if err := t.err(); err != nil {
		rt.Error = err.Error()
	}
	return rt
}

// TraceError makes bad trace input an input error (ErrInput, exit 2),
// its one line unchanged: a malformed row, a bad trace or mapping, a
// missing file, a replay window that holds no row. Other errors reading a
// trace are runtime errors.
func TraceError(err error) error {
	var re *replay.RowError
	if errors.As(err, &re) || errors.Is(err, replay.ErrFormat) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, replay.ErrOption) {
		return asInput(err)
	}
	return fmt.Errorf("reading trace: %w", err)
}
