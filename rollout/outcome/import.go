package outcome

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// DefaultBatchSize is how many events Import hands to its store at a time.
const DefaultBatchSize = 5000

// ImportOptions tune Import.
type ImportOptions struct {
	// Format is the file's format; FormatOf(file) when zero.
	Format Format
	// Now is the time of events without one; when Import starts if zero.
	Now time.Time
	// BatchSize is the most events one call of the store gets;
	// DefaultBatchSize when zero.
	BatchSize int
}

// Import reads an outcome file from r and hands its events to store in
// batches, in file order, and returns how many events store accepted.
// file names r in errors and picks its format. An event without an id
// gets one from its content (ContentIDs), so that importing the same
// file again stores nothing twice.
//
// When r can seek (an *os.File of a regular file, a *bytes.Reader), the
// whole file is validated first: a bad line is an *input.Error and store
// is never called. Otherwise events are validated as they are stored: at
// a bad line, the events before it are stored, and the *input.Error says
// how many. An error of store stops the import and is returned wrapped.
func Import(ctx context.Context, r io.Reader, file string, opts ImportOptions, store func(context.Context, []Event) error) (int, error) {
	if opts.Format == 0 {
		f, err := FormatOf(file)
		if err != nil {
			return 0, err
		}
		opts.Format = f
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if s, ok := r.(io.Seeker); ok {
		if start, err := s.Seek(0, io.SeekCurrent); err == nil {
			if err := Read(r, file, opts.Format, opts.Now, func(Event) error { return ctx.Err() }); err != nil {
				return 0, err
			}
			if _, err := s.Seek(start, io.SeekStart); err != nil {
				return 0, fmt.Errorf("outcome: import %s: %w", file, err)
			}
		}
	}
	stored := 0
	batch := make([]Event, 0, opts.BatchSize)
	var ids ContentIDs
	var storeErr error
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := store(ctx, batch); err != nil {
			storeErr = fmt.Errorf("outcome: import %s: storing the events of lines %d to %d: %w (%d events before them stored)",
				file, batch[0].Line, batch[len(batch)-1].Line, err, stored)
			return storeErr
		}
		stored += len(batch)
		batch = batch[:0]
		return nil
	}
	err := Read(r, file, opts.Format, opts.Now, func(ev Event) error {
		ids.Assign(&ev)
		batch = append(batch, ev)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	var bad *input.Error
	switch {
	case storeErr != nil:
		return stored, storeErr
	case errors.As(err, &bad):
		// What came before the bad line is good: store it, then say so.
		if err := flush(); err != nil {
			return stored, err
		}
		return stored, fmt.Errorf("%w; the %d events before it were stored", bad, stored)
	case err != nil:
		return stored, err
	}
	return stored, flush()
}
