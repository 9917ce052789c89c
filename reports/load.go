package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gonogo-dev/gonogo/analyze"
)

// DivergenceFile is the divergence report of a shadow run directory.
const DivergenceFile = "divergence.json"

// LoadRun reads a run directory: run.json, histograms.hlog (cumulative
// histograms; merged from latency.hlog when absent), the overall latency
// of every interval from latency.hlog, and when present timeline.ndjson, events.ndjson
// and divergence.json. Errors name the file and, for line-oriented files,
// the line. RunData.Goodput is left nil: samples are read by the caller.
func LoadRun(dir string) (*Run, *analyze.RunData, error) {
	run, err := ReadRunJSON(dir)
	if err != nil {
		return nil, nil, err
	}
	d := &analyze.RunData{ID: run.ID, Dir: dir, Summary: run.Summary()}
	if d.ID == "" {
		d.ID = filepath.Base(dir)
	}
	// The cumulative histograms, when the run wrote them, spare merging
	// every interval (a run of gonogo before they existed, or another
	// tool's log, has none).
	if err := readFile(dir, analyze.CumulativeLogFile, false, func(r io.Reader) (err error) {
		d.Hists, err = analyze.ReadCumulative(r)
		return err
	}); err != nil {
		return nil, nil, err
	}
	if err := readFile(dir, analyze.IntervalLogFile, true, func(r io.Reader) (err error) {
		var hists map[string]*hdr.Histogram
		d.Intervals, hists, err = analyze.LoadIntervals(r, d.Hists == nil)
		if d.Hists == nil {
			d.Hists = hists
		}
		return err
	}); err != nil {
		return nil, nil, err
	}
	d.Summary.AttachHistograms(d.Hists)
	if err := readFile(dir, analyze.TimelineFile, false, func(r io.Reader) (err error) {
		d.Timeline, err = analyze.ReadTimeline(r)
		return err
	}); err != nil {
		return nil, nil, err
	}
	if err := readFile(dir, analyze.EventsFile, false, func(r io.Reader) (err error) {
		d.Events, err = analyze.ReadEvents(r)
		return err
	}); err != nil {
		return nil, nil, err
	}
	if d.Divergence, err = readDivergence(dir, false); err != nil {
		return nil, nil, err
	}
	return run, d, nil
}

// ReadDivergence reads a shadow run directory's divergence.json.
func ReadDivergence(dir string) (*analyze.DivergenceReport, error) {
	return readDivergence(dir, true)
}

func readDivergence(dir string, required bool) (rep *analyze.DivergenceReport, err error) {
	err = readFile(dir, DivergenceFile, required, func(r io.Reader) error {
		rep = new(analyze.DivergenceReport)
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
