package reports

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/analyze/divergence"
	"github.com/gonogo-dev/gonogo/extensions/ndjson"
	"github.com/gonogo-dev/gonogo/rundir"
)

// LoadRun reads a run directory: run.json, histograms.hlog (cumulative
// histograms; merged from latency.hlog when absent), the overall latency,
// TTFT and TPOT of every interval from latency.hlog (RunData.Intervals,
// told apart by Tag), and when present timeline.ndjson, events.ndjson
// and divergence.json. Errors name the file and, for line-oriented files,
// the line. RunData.Slices reads the intervals back for windowed gates, and
// RunData.Goodput counts goodput from samples.ndjson.gz when the run kept
// them.
//
// A run that ended early is partial (RunData.Partial); one that was killed
// left a run.json that says it is running and no summary: its summary is
// rebuilt from its timeline and interval log, up to the last interval it
// flushed (a line cut short by the kill is left out), and kept in the
// returned Run too.
func LoadRun(dir string) (*Run, *analyze.RunData, error) {
	run, err := ReadRunJSON(dir)
	if err != nil {
		return nil, nil, err
	}
	d := &analyze.RunData{ID: run.ID, Dir: dir, Summary: run.Summary(), Partial: PartialReason(run)}
	if d.ID == "" {
		d.ID = filepath.Base(dir)
	}
	killed := run.Status == StatusRunning
	readFile := func(dir, name string, required bool, read func(io.Reader) error) error {
		return readFile(dir, name, required, func(r io.Reader) error {
			if killed {
				r = completeLines(r)
			}
			return read(r)
		})
	}
	// The cumulative histograms, when the run wrote them, spare merging
	// every interval (a run of gonogo before they existed, or another
	// tool's log, has none).
	if err := readFile(dir, rundir.Cumulative, false, func(r io.Reader) (err error) {
		d.Hists, err = analyze.ReadCumulative(r)
		return err
	}); err != nil {
		return nil, nil, err
	}
	if err := readFile(dir, rundir.IntervalLog, true, func(r io.Reader) (err error) {
		var hists map[string]*hdr.Histogram
		d.Intervals, hists, err = analyze.LoadIntervals(r, d.Hists == nil)
		if d.Hists == nil {
			d.Hists = hists
		}
		return err
	}); err != nil {
		return nil, nil, err
	}
	if err := readFile(dir, rundir.IntervalLog, true, func(r io.Reader) error {
		ivs, err := readChartIntervals(r)
		d.Intervals = append(d.Intervals, ivs...)
		return err
	}); err != nil {
		return nil, nil, err
	}
	d.Summary.AttachHistograms(d.Hists)
	if err := readFile(dir, rundir.Timeline, false, func(r io.Reader) (err error) {
		d.Timeline, err = analyze.ReadTimeline(r)
		return err
	}); err != nil {
		return nil, nil, err
	}
	if err := readFile(dir, rundir.Events, false, func(r io.Reader) (err error) {
		d.Events, err = analyze.ReadEvents(r)
		return err
	}); err != nil {
		return nil, nil, err
	}
	if d.Divergence, err = readDivergence(dir, false); err != nil {
		return nil, nil, err
	}
	if killed {
		d.Summary = analyze.SummaryOfIntervals(d.Timeline, run.Started, d.Hists)
		run.SetSummary(d.Summary)
	}
	if d.Timeline != nil {
		d.Slices = func(keep func(group, metric string) bool) (out []*analyze.Slice, err error) {
			err = readFile(dir, rundir.IntervalLog, true, func(r io.Reader) error {
				out, err = analyze.ReadSlices(d.Timeline, run.Started, r, keep)
				return err
			})
			return out, err
		}
	}
	if slices.Contains(run.Files, rundir.Samples) {
		path := filepath.Join(dir, rundir.Samples)
		d.Goodput = func(group string, slo analyze.SLO) (int64, int64, error) {
			return samplesGoodput(path, group, slo, killed)
		}
	}
	return run, d, nil
}

// PartialReason says why a run is partial: "" for a complete one.
func PartialReason(run *Run) string {
	switch {
	case !run.Partial():
		return ""
	case run.Status == StatusRunning:
		return "killed: its run.json was never completed"
	case run.AbortReason != "":
		return run.Status + ": " + run.AbortReason
	}
	return run.Status
}

// samplesGoodput counts the samples of a group that met the SLO; dropped
// arrivals and failures miss it, and a request without a metric (tpot of a
// one-token answer) is not held to that limit. The samples of a killed run
// count up to their last flush.
func samplesGoodput(path, group string, slo analyze.SLO, cutShort bool) (met, total int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	have := map[string]int64{}
	err = ndjson.Read(f, func(s *ndjson.Sample) bool {
		if group != analyze.Overall && analyze.ScenarioGroup(s.Scenario) != group {
			return true
		}
		total++
		if s.Dropped {
			return true
		}
		value := func(m string) float64 {
			v := sampleMs(s, m)
			if v > 0 && s.Class == "" {
				have[m]++
			}
			return v
		}
		if slo.MetBy(s.Class != "", value) {
			met++
		}
		return true
	})
	if err != nil && !(cutShort && errors.Is(err, io.ErrUnexpectedEOF)) {
		return 0, 0, fmt.Errorf("reports: %s: %w", path, err)
	}
	for _, m := range slo.Metrics() {
		if have[m] == 0 && total > 0 {
			return 0, 0, fmt.Errorf("%w: no successful request of the run has %s", analyze.ErrNoSLOData, m)
		}
	}
	return met, total, nil
}

// sampleMs is a sample's value of one of analyze.GoodputMetrics, 0 when
// the request has none.
func sampleMs(s *ndjson.Sample, metric string) float64 {
	switch metric {
	case analyze.MetricLatency:
		return s.LatencyMs
	case analyze.MetricLatencyService, analyze.MetricE2E:
		return s.ServiceMs
	case analyze.MetricTTFT:
		return s.TTFTMs
	case analyze.MetricTPOT:
		return s.TPOTMs
	}
	return 0
}

// completeLines passes r's complete lines on and drops what follows the
// last line break: a line that a killed writer left cut short.
func completeLines(r io.Reader) io.Reader { return &lineReader{br: bufio.NewReaderSize(r, 64<<10)} }

type lineReader struct {
	br      *bufio.Reader
	pending []byte
	err     error
}

func (l *lineReader) Read(p []byte) (int, error) {
	for len(l.pending) == 0 {
		if l.err != nil {
			return 0, l.err
		}
		line, err := l.br.ReadBytes('\n')
		if err != nil {
			l.err = err // at io.EOF, line is the cut tail: dropped
			continue
		}
		l.pending = line
	}
	n := copy(p, l.pending)
	l.pending = l.pending[n:]
	return n, nil
}

// chartMetrics are the overall metrics besides latency that the HTML
// report charts over time.
var chartMetrics = []string{analyze.MetricTTFT, analyze.MetricTPOT}

// readChartIntervals digests the overall intervals of chartMetrics in an
// interval log, decoding no other line.
func readChartIntervals(r io.Reader) ([]analyze.IntervalStats, error) {
	var out []analyze.IntervalStats
	err := analyze.ReadIntervalLogFunc(r, func(tag string) bool { return slices.Contains(chartMetrics, tag) },
		func(iv analyze.Interval) error {
			out = append(out, analyze.StatsOf(iv))
			return nil
		})
	return out, err
}

// ReadDivergence reads a shadow run directory's divergence.json.
func ReadDivergence(dir string) (*divergence.Report, error) {
	return readDivergence(dir, true)
}

func readDivergence(dir string, required bool) (rep *divergence.Report, err error) {
	err = readFile(dir, rundir.Divergence, required, func(r io.Reader) error {
		rep = new(divergence.Report)
		return json.NewDecoder(r).Decode(rep)
	})
	return rep, err
}

// readFile opens dir/name and passes it to read; a missing optional file
// is not an error. Errors name the path.
func readFile(dir, name string, required bool, read func(io.Reader) error) error {
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && !required {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	defer f.Close()
	if err := read(f); err != nil {
		return fmt.Errorf("reports: %s: %w", path, err)
	}
	return nil
}
