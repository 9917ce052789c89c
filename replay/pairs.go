package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/mirror"
)

// The pair store: every gonogo.Pair of a shadow run, one JSON object per
// line, gzip-compressed.

// MaxPairLineBytes bounds one line of a pair store when reading it: a pair
// holds at most a few targets' outputs of extensions.MaxOutputBytes each.
const MaxPairLineBytes = 64 << 20

// ErrPairs is wrapped by the errors ReadPairs returns for a malformed or
// truncated pair store.
var ErrPairs = errors.New("replay: malformed pair store")

// ErrPairWriterClosed is returned by WritePair after Close.
var ErrPairWriterClosed = errors.New("replay: pair writer closed")

// PairWriter writes pairs as gzip-compressed NDJSON. It is safe for
// concurrent use; Close completes the gzip stream (it does not close the
// underlying writer). It implements mirror.PairSink.
type PairWriter struct {
	mu     sync.Mutex
	bw     *bufio.Writer
	zw     *gzip.Writer
	n      int64
	err    error // the first write error; sticky
	closed bool
}

var _ mirror.PairSink = (*PairWriter)(nil)

// NewPairWriter returns a PairWriter writing to w.
func NewPairWriter(w io.Writer) *PairWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &PairWriter{bw: bw, zw: gzip.NewWriter(bw)}
}

var encPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// WritePair appends p as one line. It encodes p before taking the lock, so
// concurrent writers encode in parallel; it does not keep p.
func (w *PairWriter) WritePair(p *gonogo.Pair) error {
	buf := encPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 {
			buf.Reset()
			encPool.Put(buf)
		}
	}()
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil { // Encode ends the line
		return fmt.Errorf("replay: encoding pair %d: %w", p.ID, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.closed:
		return ErrPairWriterClosed
	case w.err != nil:
		return w.err
	}
	if _, err := w.zw.Write(buf.Bytes()); err != nil {
		w.err = fmt.Errorf("replay: writing pairs: %w", err)
		return w.err
	}
	w.n++
	return nil
}

// Count returns the number of pairs written.
func (w *PairWriter) Count() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// Flush writes what is buffered to the underlying writer, so that a reader
// of a file still being written sees every pair so far.
func (w *PairWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.err != nil {
		return w.err
	}
	if err := w.zw.Flush(); err != nil {
		w.err = fmt.Errorf("replay: writing pairs: %w", err)
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("replay: writing pairs: %w", err)
	}
	return w.err
}

// Close completes the gzip stream and flushes it to the underlying writer.
// Later calls return the first call's result.
func (w *PairWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	w.closed = true
	if err := w.zw.Close(); err != nil && w.err == nil {
		w.err = fmt.Errorf("replay: writing pairs: %w", err)
	}
	if err := w.bw.Flush(); err != nil && w.err == nil {
		w.err = fmt.Errorf("replay: writing pairs: %w", err)
	}
	return w.err
}

// ReadPairs streams the pairs of a pair store to fn, in file order, in
// memory bounded by the longest line. The input may be gzip-compressed (as
// PairWriter writes it) or plain NDJSON; blank lines are skipped. fn gets
// a fresh pair each time and may keep it; an error from fn stops the read
// and is returned as is.
//
// A line that is not a JSON pair with at least one exchange, a line longer
// than MaxPairLineBytes, or a truncated or corrupt gzip stream gives an
// error wrapping ErrPairs that names the line, e.g.
// "replay: malformed pair store: line 12: invalid character 'x' …".
func ReadPairs(r io.Reader, fn func(*gonogo.Pair) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%w: gzip header: %v", ErrPairs, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	var (
		line int64
		long []byte // a line longer than the reader's buffer
	)
	for {
		b, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if len(long)+len(b) > MaxPairLineBytes {
				return fmt.Errorf("%w: line %d: longer than %d bytes", ErrPairs, line+1, MaxPairLineBytes)
			}
			long = append(long, b...)
			continue
		}
		if len(long) > 0 {
			long = append(long, b...)
			b, long = long, long[:0]
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("%w: after line %d: %v (truncated or corrupt file?)", ErrPairs, line, err)
		}
		if len(b) > 0 {
			line++
			if t := bytes.TrimSpace(b); len(t) > 0 {
				p := new(gonogo.Pair)
				if jerr := json.Unmarshal(t, p); jerr != nil {
					return fmt.Errorf("%w: line %d: %v", ErrPairs, line, jerr)
				}
				if len(p.Exchanges) == 0 {
					return fmt.Errorf("%w: line %d: a pair without exchanges (not a pair store?)", ErrPairs, line)
				}
				if ferr := fn(p); ferr != nil {
					return ferr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}
