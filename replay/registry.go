package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Options says how to read a trace. The zero value reads a trace whose
// format, columns and timestamp format are detected.
type Options struct {
	// Format names the reader (see Formats); "" detects it from the file
	// name's extension and the content.
	Format string
	// Columns maps trace fields to the columns (CSV) or JSON fields (JSONL)
	// that hold them. Fields: "timestamp", "input_tokens", "output_tokens",
	// and "tag:<name>" for each extra column kept as the tag <name>. nil
	// uses the preset (named or detected from the header) or the
	// conventional names; see ParseColumns and docs/traces.md.
	Columns map[string]string
	// TimeFormat names the timestamp format (see TimeFormats) or is a Go
	// time layout such as "02/01/2006 15:04:05"; "" detects it from the
	// first timestamp.
	TimeFormat string
	// Strict makes a reader return the first malformed row as a *RowError
	// instead of skipping and counting it.
	Strict bool
	// Preset names a known public trace layout (see Presets); "" detects
	// one from the header when Columns is nil.
	Preset string
	// Seed seeds the readers that draw their rows at random (targets
	// files); 0 takes their default, the same every run.
	Seed int64
}

// Endless is implemented by a Reader whose rows do not run out by
// themselves (a targets file's weighted draws). A sequential replay, which
// its scenario paces and bounds, is the one way to read it.
type Endless interface{ Endless() }

// IsEndless says whether r, or the reader Open wrapped, is Endless.
func IsEndless(r Reader) bool {
	if t, ok := r.(*traceReader); ok {
		r = t.Reader
	}
	_, ok := r.(Endless)
	return ok
}

// ErrEndless is returned for an Endless reader read any other way.
var ErrEndless = fmt.Errorf("%w: the rows of this trace are drawn without end: replay it sequentially at a rate (traffic.replay: sequential)", ErrOption)

// OpenFunc opens a reader of one format over r; name is the file name used
// in error messages.
type OpenFunc func(name string, r io.Reader, o Options) (Reader, error)

// The names of the built-in formats (packages replay/csv, replay/jsonl,
// replay/requestlog, replay/har).
const (
	FormatCSV        = "csv"
	FormatJSONL      = "jsonl"
	FormatRequestLog = "requestlog"
	FormatHAR        = "har"
)

var (
	formatsMu sync.RWMutex
	formats   = map[string]OpenFunc{}
)

// Register makes a trace format available by name to Open. Each format
// package calls it from init; import replay/all for every built-in one.
// It panics when name is empty, open is nil or name is already taken.
func Register(name string, open func(name string, r io.Reader, o Options) (Reader, error)) {
	formatsMu.Lock()
	defer formatsMu.Unlock()
	if name == "" || open == nil {
		panic("replay: Register needs a name and a function")
	}
	if _, dup := formats[name]; dup {
		panic("replay: format " + name + " registered twice")
	}
	formats[name] = open
}

// Formats lists the registered format names, sorted.
func Formats() []string {
	formatsMu.RLock()
	defer formatsMu.RUnlock()
	names := make([]string, 0, len(formats))
	for n := range formats {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func lookupFormat(name string) (OpenFunc, bool) {
	formatsMu.RLock()
	defer formatsMu.RUnlock()
	f, ok := formats[name]
	return f, ok
}

// sniffBytes is how much of a file Open looks at to detect its format.
const sniffBytes = 64 << 10

// Open opens the trace file at path ("-" reads standard input) and returns
// a reader for it and the closer of the file, which the caller closes after
// reading. A gzip-compressed file (magic bytes, usually ".gz") is
// decompressed on the fly.
//
// The format is o.Format, else the preset's format, else detected: ".csv"
// and ".tsv" are csv, ".har" is har; ".jsonl", ".ndjson" and ".json" are
// told apart by their content (an object with "log" is a HAR, a first line
// with "method", "path" or "url" is a request log, other objects are a
// jsonl trace); other extensions are detected by content alone. When the
// format cannot be told, the error wraps ErrFormat and suggests
// Options.Format (--trace-format); a binary file is refused without
// being parsed. A missing file gives an error that names it and wraps
// fs.ErrNotExist.
//
// Before reading, Open samples the first rows (up to 1,000, within the
// first 64 KiB) to check the timestamps' unit: when the format was
// detected as seconds from the start (offset-s) but every timestamp is a
// whole number and the median gap is 10 or more, they are milliseconds
// and the trace is read as offset-ms; when the unit taken (detected or
// given) makes a mean rate under MinPlausibleRatePerSec or over
// MaxPlausibleRatePerSec, the unit is kept and questioned. Both come back
// as Warnings(r); r is a TimeReader that says the format it took.
func Open(path string, o Options) (Reader, io.Closer, error) {
	if o.Columns != nil {
		if err := ValidateColumns(o.Columns); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := CheckTimeFormat(o.TimeFormat); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var (
		f    *os.File
		name = path
	)
	if path == "-" {
		f, name = os.Stdin, "stdin"
	} else {
		var err error
		if f, err = os.Open(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("trace %s: %w", path, fs.ErrNotExist)
		} else if err != nil {
			return nil, nil, err
		}
	}
	closer := multiCloser{}
	if f != os.Stdin {
		closer = append(closer, f)
	}
	fail := func(err error) (Reader, io.Closer, error) {
		closer.Close()
		return nil, nil, err
	}
	br := bufio.NewReaderSize(f, sniffBytes)
	ext := strings.ToLower(filepath.Ext(path))
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fail(fmt.Errorf("%w: %s: %v", ErrFormat, name, err))
		}
		closer = append(closer, zr)
		br = bufio.NewReaderSize(zr, sniffBytes)
		if ext == ".gz" {
			ext = strings.ToLower(filepath.Ext(strings.TrimSuffix(path, filepath.Ext(path))))
		}
	}
	head, err := br.Peek(sniffBytes)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return fail(fmt.Errorf("%s: %w", name, err))
	}
	if len(bytes.TrimSpace(head)) == 0 {
		return fail(fmt.Errorf("%w: %s: empty file", ErrFormat, name))
	}
	if at, ok := binaryAt(head); ok {
		return fail(fmt.Errorf("%w: %s: not a text trace (binary data at byte %d); traces are CSV, JSON lines or HAR, optionally gzip-compressed", ErrFormat, name, at))
	}
	format := o.Format
	if format == "" && o.Preset != "" {
		p, ok := LookupPreset(o.Preset)
		if !ok {
			return fail(fmt.Errorf("%w: %s: unknown preset %q (known: %s)", ErrFormat, name, o.Preset, strings.Join(presetNames(), ", ")))
		}
		format = p.Format
	}
	if format == "" {
		if format = detectFormat(ext, head); format == "" {
			return fail(fmt.Errorf("%w: %s: cannot tell the trace format; name one with --trace-format (%s)", ErrFormat, name, strings.Join(Formats(), ", ")))
		}
	}
	open, ok := lookupFormat(format)
	if !ok {
		return fail(fmt.Errorf("%w: %s: unknown format %q (registered: %s; import replay/all for every built-in format)", ErrFormat, name, format, strings.Join(Formats(), ", ")))
	}
	if len(head) == sniffBytes { // a cut line is not a row to judge by
		if i := bytes.LastIndexByte(head, '\n'); i > 0 {
			head = head[:i+1]
		}
	}
	o, inferred, warnings := sampleUnit(name, open, head, o)
	r, err := open(name, br, o)
	if err != nil {
		return fail(err)
	}
	return &traceReader{Reader: r, warnings: warnings, inferred: inferred}, closer, nil
}

// binaryAt reports whether head is binary rather than text, and the offset
// of the first byte that says so: a NUL, or the first of more than 1 in 10
// bytes (of the first 8 KiB) that are control characters or not UTF-8.
func binaryAt(head []byte) (int, bool) {
	head = head[:min(len(head), 8<<10)]
	if i := bytes.IndexByte(head, 0); i >= 0 {
		return i, true
	}
	first, bad := -1, 0
	for i := 0; i < len(head); {
		r, n := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && n == 1 && len(head)-i >= utf8.UTFMax || r < 0x20 && r != '\t' && r != '\n' && r != '\r' && r != '\f' {
			bad++
			if first < 0 {
				first = i
			}
		}
		i += n
	}
	return first, bad*10 > len(head)
}

// multiCloser closes several multiCloser, innermost last.
type multiCloser []io.Closer

func (c multiCloser) Close() error {
	var first error
	for i := len(c) - 1; i >= 0; i-- {
		if err := c[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// detectFormat tells the format from the extension and the first bytes; "" when
// it cannot.
func detectFormat(ext string, head []byte) string {
	switch ext {
	case ".csv", ".tsv":
		return FormatCSV
	case ".har":
		return FormatHAR
	}
	trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff") // a byte-order mark too
	if len(trimmed) == 0 {
		return ""
	}
	if trimmed[0] != '{' {
		if ext == ".jsonl" || ext == ".ndjson" || ext == ".json" {
			return ""
		}
		line, _, _ := bytes.Cut(trimmed, []byte("\n"))
		if bytes.ContainsRune(line, ',') {
			return FormatCSV
		}
		return ""
	}
	// One object on the first line: JSONL of requests or of trace rows.
	line, _, _ := bytes.Cut(trimmed, []byte("\n"))
	var obj map[string]json.RawMessage
	if json.Unmarshal(line, &obj) == nil {
		if _, ok := obj["log"]; ok && len(obj) == 1 {
			return FormatHAR // a HAR on one line
		}
		for _, k := range []string{"method", "path", "url"} {
			if _, ok := obj[k]; ok {
				return FormatRequestLog
			}
		}
		return FormatJSONL
	}
	// A document over several lines: a HAR if its first key is "log".
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if t, err := dec.Token(); err == nil && t == json.Delim('{') {
		if k, err := dec.Token(); err == nil && k == "log" {
			return FormatHAR
		}
	}
	return ""
}
