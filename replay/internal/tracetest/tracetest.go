// Package tracetest holds what the trace readers' tests share.
package tracetest

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/replay"
)

// ReadAll reads every row of a reader built by open, returning the rows,
// the skipped rows, and the error that ended the reading (nil at io.EOF).
func ReadAll(open func() (replay.Reader, error)) ([]replay.Row, replay.Skips, error) {
	r, err := open()
	if err != nil {
		return nil, replay.Skips{}, err
	}
	var rows []replay.Row
	for {
		var row replay.Row
		err := r.Next(&row)
		if err == io.EOF {
			return rows, r.Skipped(), nil
		}
		if err != nil {
			return rows, r.Skipped(), err
		}
		rows = append(rows, row)
	}
}

// Traces returns the path of rel under fixtures/traces, the recorded
// traces kept in the repository (found from the folder holding go.mod
// above the working directory). The test fails when it is missing: the
// repository carries its traces.
func Traces(tb testing.TB, rel string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("no go.mod above the working directory")
		}
		dir = parent
	}
	path := filepath.Join(dir, "fixtures", "traces", rel)
	if _, err := os.Stat(path); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Fuzzed drains a reader of fuzzed input as a fuzz target checks it: every
// error is a *replay.RowError (a skipped or, when strict, failing row) or
// wraps replay.ErrFormat (which ends the reading); rows never go back in
// time nor carry negative token counts; and io.EOF comes within maxRows
// reads.
func Fuzzed(t *testing.T, r replay.Reader, maxRows int) {
	t.Helper()
	var prev time.Duration
	for range maxRows + 1 {
		var row replay.Row
		err := r.Next(&row)
		if err == io.EOF {
			return
		}
		var re *replay.RowError
		if err != nil && !errors.As(err, &re) && !errors.Is(err, replay.ErrFormat) {
			t.Fatalf("Next error %v is neither *RowError nor ErrFormat", err)
		}
		if err == nil {
			if row.Offset < prev || row.InputTokens < 0 || row.OutputTokens < 0 {
				t.Fatalf("bad row %+v after offset %v", row, prev)
			}
			prev = row.Offset
		}
		if errors.Is(err, replay.ErrFormat) {
			return
		}
	}
	t.Fatal("Next never returned io.EOF")
}
