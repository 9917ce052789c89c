package reports

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/rundir"
)

// ImportedFiles are the files WriteImported writes, in run.json's order.
var ImportedFiles = []string{rundir.IntervalLog, rundir.Timeline, rundir.Cumulative}

// WriteImported writes the results of another tool's run into the run
// directory dir (created if needed): record reads the run into a
// recorder that writes its interval log and timeline to the writers it is
// given, and returns it closed; WriteImported then writes its cumulative
// histograms. The files are written under temporary names and renamed
// into place only when all is well, so that a failed import leaves dir as
// it was (and removes it when WriteImported created it). The caller
// writes run.json.
func WriteImported(dir string, record func(intervalLog, timeline io.Writer) (*analyze.Recorder, error)) (err error) {
	_, statErr := os.Stat(dir)
	created := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	var tmps []*os.File
	defer func() {
		for _, f := range tmps {
			f.Close()
			if err != nil {
				os.Remove(f.Name())
			}
		}
		if err != nil && created {
			os.Remove(dir) // only when empty
		}
	}()
	for _, final := range ImportedFiles {
		f, err := os.CreateTemp(dir, "."+final+".*.tmp")
		if err != nil {
			return fmt.Errorf("results directory: %w", err)
		}
		tmps = append(tmps, f)
	}
	hw, tw := bufio.NewWriterSize(tmps[0], 64<<10), bufio.NewWriterSize(tmps[1], 16<<10)
	rec, err := record(hw, tw)
	if err != nil {
		return err
	}
	cw := bufio.NewWriter(tmps[2])
	if err = errors.Join(hw.Flush(), tw.Flush(), rec.WriteCumulative(cw), cw.Flush()); err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	for i, f := range tmps {
		if err = f.Close(); err == nil {
			if err = os.Chmod(f.Name(), 0o644); err == nil {
				err = os.Rename(f.Name(), filepath.Join(dir, ImportedFiles[i]))
			}
		}
		if err != nil {
			return fmt.Errorf("writing results: %w", err)
		}
	}
	return nil
}

// Clock closes the intervals of an imported run's recorder as the run's
// times advance. A gap of more than MaxEmpty intervals is not written one
// empty interval at a time: the open interval is closed, and one interval
// spans the gap.
type Clock struct {
	rec      *analyze.Recorder
	every    time.Duration
	maxEmpty int64
	// Open is the start of the open interval; next its end.
	Open, next time.Time
}

// DefaultMaxEmpty is the longest stretch of empty intervals a Clock
// writes one by one: an hour of 1 s intervals.
const DefaultMaxEmpty = 3600

// NewClock returns the clock of rec, whose intervals of length every
// start at start; maxEmpty ≤ 0 means DefaultMaxEmpty.
func NewClock(rec *analyze.Recorder, start time.Time, every time.Duration, maxEmpty int64) *Clock {
	if maxEmpty <= 0 {
		maxEmpty = DefaultMaxEmpty
	}
	return &Clock{rec: rec, every: every, maxEmpty: maxEmpty, Open: start, next: start.Add(every)}
}

// Advance closes every interval that ends before t (or at t, when
// inclusive: a time on a boundary belongs to the next interval).
func (c *Clock) Advance(t time.Time, inclusive bool) error {
	for c.next.Before(t) || (inclusive && c.next.Equal(t)) {
		if n := t.Sub(c.next) / c.every; int64(n) > c.maxEmpty {
			if err := c.rec.Flush(c.next); err != nil {
				return err
			}
			c.Open = c.next.Add(n * c.every)
			if err := c.rec.Flush(c.Open); err != nil {
				return err
			}
			c.next = c.Open.Add(c.every)
			continue
		}
		if err := c.rec.Flush(c.next); err != nil {
			return err
		}
		c.Open, c.next = c.next, c.next.Add(c.every)
	}
	return nil
}

// Import describes an imported run for its run.json.
type Import struct {
	// Source names the tool ("k6", "vegeta"): the label source and the
	// target when the run names none.
	Source string
	// Command is the command line that imported.
	Command string
	// Target is the service the run tested ("" for Source).
	Target   string
	Protocol string
	// Labels are added after source.
	Labels map[string]string
	// Files are the files the caller adds to the directory, listed after
	// ImportedFiles.
	Files []string
	Start time.Time
}

// WriteImportedRun writes the run.json of an imported run, summarised by
// sum, into dir, whose base name is its ID.
func WriteImportedRun(dir string, im Import, sum *analyze.Summary) (*Run, error) {
	labels := map[string]string{"source": im.Source}
	maps.Copy(labels, im.Labels)
	target := im.Target
	if target == "" {
		target = im.Source
	}
	run := &Run{
		ID: RunID(dir, im.Start), Command: im.Command, Target: target, Protocol: im.Protocol,
		Labels: labels, Scenarios: map[string]Scenario{},
		Files: append(slices.Clone(ImportedFiles), im.Files...),
	}
	run.SetSummary(sum)
	if err := WriteRunJSON(dir, run); err != nil {
		return nil, err
	}
	return run, nil
}

// URLHost returns scheme://host of a URL, "" when it has no host.
func URLHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// MostCommon returns the key with the largest count, the smallest such
// key on a tie; "" for an empty map.
func MostCommon(m map[string]int64) string {
	var best string
	var n int64
	for k, c := range m {
		if c > n || (c == n && k < best) {
			best, n = k, c
		}
	}
	return best
}
