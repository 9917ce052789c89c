// Package replay turns recorded production traffic into load: trace readers
// (one subpackage per format, each registering itself), trace statistics,
// the arrival sources that replay a trace at its recorded timestamps, in
// order at a given rate, or from its empirical distributions, and the pair
// store that keeps every answer of a shadow run (package mirror sends the
// copies).
//
// Readers stream: a trace of any length is read row by row in constant
// memory. A row is one recorded arrival: its offset from the first row, its
// token counts, its tags, and for request logs the recorded request itself.
package replay

import (
	"errors"
	"fmt"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// Row is one recorded arrival.
type Row struct {
	// Line is the row's line number (CSV, JSONL) or entry number (HAR), from
	// 1, for error messages and for Request.Row.
	Line int64
	// Offset is the arrival time relative to the trace's first row.
	Offset time.Duration
	// InputTokens and OutputTokens are the recorded sizes; 0 when unknown.
	InputTokens, OutputTokens int
	// Tags are recorded labels (user, segment, region, …); may be nil.
	Tags map[string]string
	// Request is the recorded request of a request log; nil for traces.
	Request *gonogo.Recorded
}

// Reader reads a trace row by row.
type Reader interface {
	// Next fills row with the next valid row. It returns io.EOF after the
	// last row, a *RowError for a malformed row when the reader is strict,
	// and other errors when the input cannot be read at all.
	Next(row *Row) error
	// Skipped reports the malformed rows skipped so far (non-strict mode).
	Skipped() Skips
}

// Skips counts the malformed rows a reader skipped and keeps the first few.
type Skips struct {
	Count int64
	// First holds up to MaxKeptSkips of them, in order.
	First []*RowError
}

// MaxKeptSkips is how many skipped rows a reader keeps for the report.
const MaxKeptSkips = 20

// Add counts e and keeps it when there is room.
func (s *Skips) Add(e *RowError) {
	s.Count++
	if len(s.First) < MaxKeptSkips {
		s.First = append(s.First, e)
	}
}

// RowError is a malformed row: the file, its line, the field and why.
type RowError struct {
	File  string
	Line  int64
	Field string // column or JSON field name; "" for the whole row
	Err   error
}

func (e *RowError) Error() string {
	s := fmt.Sprintf("%s:%d", e.File, e.Line)
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Err.Error()
}

func (e *RowError) Unwrap() error { return e.Err }

// ErrFormat is wrapped by errors about the input as a whole: an unknown or
// undetectable format, an empty file, a bad column mapping, a header that
// lacks a mapped column.
var ErrFormat = errors.New("replay: bad trace")
