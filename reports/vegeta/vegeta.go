// Package vegeta imports the results of a vegeta attack (the binary
// results `vegeta attack` writes, or `vegeta encode`'s JSON or CSV) into a
// gonogo results directory, as package k6 does for k6. It reads vegeta's
// documented result formats only and links no vegeta code.
//
// Each vegeta result is one request: sent at its timestamp, done latency
// later. vegeta paces an open model but records no intended send time, so
// the intended time is the send time: latency equals latency_service and
// scheduling_lag is 0 (a run whose workers ran out sent late without
// saying so). A result failed when it has an error or its status is not
// 2xx or 3xx, as vegeta's own success ratio counts it.
package vegeta

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/reports"
)

// ErrInput is wrapped by every error about the input.
var ErrInput = errors.New("vegeta: bad input")

// Format is a vegeta results encoding.
type Format string

// Formats vegeta writes.
const (
	// Gob is `vegeta attack`'s output: Go gob-encoded results.
	Gob Format = "gob"
	// JSON is `vegeta encode --to json`: one object per line.
	JSON Format = "json"
	// CSV is `vegeta encode --to csv`: twelve columns, no header.
	CSV Format = "csv"
)

// Result is a vegeta result as its encodings carry it; the field names
// are those of vegeta's lib.Result, which gob matches by name.
type Result struct {
	Attack    string        `json:"attack"`
	Seq       uint64        `json:"seq"`
	Code      uint16        `json:"code"`
	Timestamp time.Time     `json:"timestamp"`
	Latency   time.Duration `json:"latency"`
	BytesOut  uint64        `json:"bytes_out"`
	BytesIn   uint64        `json:"bytes_in"`
	Error     string        `json:"error"`
	Body      []byte        `json:"body"`
	Method    string        `json:"method"`
	URL       string        `json:"url"`
	Headers   http.Header   `json:"headers"`
}

// LineError is a result that cannot be read: Line is its line (JSON, CSV)
// or, for gob, Result its position in the stream (from 1).
type LineError struct {
	File   string
	Line   int64
	Result int64
	Field  string
	Err    error
}

func (e *LineError) Error() string {
	s := fmt.Sprintf("%s:%d", e.File, e.Line)
	if e.Result > 0 {
		s = fmt.Sprintf("%s: result %d", e.File, e.Result)
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns ErrInput and the cause.
func (e *LineError) Unwrap() []error { return []error{ErrInput, e.Err} }

// Decoder reads results one at a time.
type Decoder struct {
	format Format
	file   string
	n      int64 // results read (gob) or lines read (JSON, CSV)
	gob    *gob.Decoder
	lines  *bufio.Scanner
	csv    *csv.Reader
}

// maxLine bounds a JSON line (a result with its body).
const maxLine = 64 << 20

// NewDecoder reads results of format f from r; file names r in errors.
// An empty format is told from the first bytes: '{' JSON, a digit CSV,
// anything else gob.
func NewDecoder(r io.Reader, file string, f Format) (*Decoder, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if f == "" {
		head, _ := br.Peek(512)
		text := bytes.TrimLeft(head, " \t\r\n")
		switch {
		case len(head) == 0:
			return nil, fmt.Errorf("%w: %s is empty", ErrInput, file)
		case len(text) == 0 && len(head) < 512:
			return nil, fmt.Errorf("%w: %s: no results (is it the output of vegeta attack or vegeta encode?)", ErrInput, file)
		case len(text) > 0 && text[0] == '{':
			f = JSON
		case len(text) > 0 && text[0] >= '0' && text[0] <= '9':
			f = CSV
		default:
			f = Gob
		}
	}
	d := &Decoder{format: f, file: file}
	switch f {
	case Gob:
		d.gob = gob.NewDecoder(&gobGuard{r: br})
	case JSON:
		d.lines = bufio.NewScanner(br)
		d.lines.Buffer(make([]byte, 64<<10), maxLine)
	case CSV:
		d.csv = csv.NewReader(br)
		d.csv.FieldsPerRecord = 12
		d.csv.ReuseRecord = true
	default:
		return nil, fmt.Errorf("%w: unknown format %q (want gob, json or csv)", ErrInput, f)
	}
	return d, nil
}

// Format is the format read.
func (d *Decoder) Format() Format { return d.format }

// Decode reads the next result into r; io.EOF after the last.
func (d *Decoder) Decode(r *Result) error {
	*r = Result{}
	switch d.format {
	case Gob:
		err := d.gob.Decode(r)
		if err == io.EOF {
			return io.EOF
		}
		d.n++
		if err != nil {
			why := err.Error()
			if len(why) > 60 {
				why = why[:60] + "…"
			}
			return d.bad("", fmt.Errorf("not vegeta's binary results (%s)", why))
		}
	case JSON:
		for {
			if !d.lines.Scan() {
				if err := d.lines.Err(); err != nil {
					return d.bad("", err)
				}
				return io.EOF
			}
			d.n++
			line := bytes.TrimSpace(d.lines.Bytes())
			if len(line) == 0 {
				continue
			}
			if err := json.Unmarshal(line, r); err != nil {
				return d.bad(jsonField(err), err)
			}
			break
		}
	case CSV:
		rec, err := d.csv.Read()
		if err == io.EOF {
			return io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				d.n = int64(pe.StartLine)
				err = pe.Err
			}
			return d.bad("", err)
		}
		line, _ := d.csv.FieldPos(0)
		d.n = int64(line)
		if err := parseCSV(rec, r); err != nil {
			return d.bad(err.field, err.err)
		}
	}
	return d.check(r)
}

// check refuses what vegeta never writes.
func (d *Decoder) check(r *Result) error {
	switch {
	case r.Timestamp.IsZero():
		return d.bad("timestamp", errors.New("missing"))
	case r.Timestamp.Year() < 1970 || r.Timestamp.Year() > 2200:
		return d.bad("timestamp", fmt.Errorf("%s is out of range", r.Timestamp.Format(time.RFC3339)))
	case r.Latency < 0:
		return d.bad("latency", fmt.Errorf("negative (%s)", r.Latency))
	case r.Code > 999:
		return d.bad("code", fmt.Errorf("%d is not an HTTP status", r.Code))
	}
	return nil
}

func (d *Decoder) bad(field string, err error) error {
	if d.format == Gob {
		return &LineError{File: d.file, Result: d.n, Field: field, Err: err}
	}
	return &LineError{File: d.file, Line: d.n, Field: field, Err: err}
}

// jsonField names the field a JSON error is about, "" when it says none.
func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	return ""
}

type csvError struct {
	field string
	err   error
}

// csvColumns are the columns of vegeta's CSV encoding.
var csvColumns = [12]string{"timestamp", "code", "latency", "bytes_out", "bytes_in", "error", "body", "attack", "seq", "method", "url", "headers"}

// parseCSV reads one CSV record as vegeta encodes it: the timestamp in
// Unix nanoseconds, the latency in nanoseconds, body and headers base64.
func parseCSV(rec []string, r *Result) *csvError {
	ints := [5]int64{}
	for i := range ints {
		v, err := strconv.ParseInt(strings.TrimSpace(rec[i]), 10, 64)
		if err != nil || v < 0 {
			return &csvError{csvColumns[i], fmt.Errorf("want a whole number ≥ 0 (got %q)", rec[i])}
		}
		ints[i] = v
	}
	if ints[1] > 999 {
		return &csvError{"code", fmt.Errorf("%d is not an HTTP status", ints[1])}
	}
	seq, err := strconv.ParseUint(rec[8], 10, 64)
	if err != nil {
		return &csvError{"seq", fmt.Errorf("want a whole number ≥ 0 (got %q)", rec[8])}
	}
	r.Timestamp, r.Code, r.Latency = time.Unix(0, ints[0]), uint16(ints[1]), time.Duration(ints[2])
	r.BytesOut, r.BytesIn, r.Seq = uint64(ints[3]), uint64(ints[4]), seq
	r.Error, r.Attack, r.Method, r.URL = rec[5], rec[7], rec[9], rec[10]
	if r.Body, err = base64.StdEncoding.DecodeString(rec[6]); err != nil {
		return &csvError{"body", fmt.Errorf("not base64: %w", err)}
	}
	return nil
}

// Options configure Import.
type Options struct {
	// File names the input in errors; "" means "input".
	File string
	// Format is the input's format; told from its first bytes when "".
	Format Format
	// Interval is the interval of latency.hlog and timeline.ndjson; zero
	// means analyze.DefaultInterval (1 s).
	Interval time.Duration
	// IntervalLog and Timeline receive the recorder's interval log and
	// timeline; nil writes none. The caller owns them.
	IntervalLog io.Writer
	Timeline    io.Writer
}

// Stats account for what Import read.
type Stats struct {
	Format Format `json:"format"`
	// Requests counts the results; Failed those that failed.
	Requests int64 `json:"requests"`
	Failed   int64 `json:"failed"`
	// Late counts results recorded in a later interval than the one they
	// ended in: the input was out of order by more than an interval.
	Late int64 `json:"late"`
	// Attacks counts results per attack name.
	Attacks map[string]int64 `json:"attacks"`
}

// Imported is a vegeta run read by Import.
type Imported struct {
	// Recorder holds the requests; it is closed at End.
	Recorder *analyze.Recorder
	// Start is the first send, End the last completion.
	Start, End time.Time
	// Target is scheme://host of the most common URL, "" when none.
	Target string
	Stats  Stats
}

// Summary digests the imported run.
func (im *Imported) Summary() *analyze.Summary { return im.Recorder.Summary(im.End) }

// maxAttacks bounds the attack names kept as scenarios; the results of
// the others go to scenario "other".
const maxAttacks = 100

// Import reads vegeta results from r twice — first to check them all and
// find when the run began and ended, then to record them — and records
// each as a request of the scenario named by its attack ("default" for
// none). Results are recorded in the order vegeta wrote them, which is
// the order they completed. A bad result is a *LineError; input without
// results is an error wrapping ErrInput.
func Import(r io.ReadSeeker, opts Options) (*Imported, error) {
	if opts.File == "" {
		opts.File = "input"
	}
	if opts.Interval <= 0 {
		opts.Interval = analyze.DefaultInterval
	}
	res := &Imported{Stats: Stats{Attacks: map[string]int64{}}}
	if opts.Format == "" {
		d, err := NewDecoder(r, opts.File, "")
		if err != nil {
			return nil, err
		}
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("vegeta: %s: %w", opts.File, err)
		}
		opts.Format = d.Format()
	}
	hosts := map[string]int64{}
	var start, end time.Time
	n, err := each(r, opts, func(v *Result) error {
		if start.IsZero() || v.Timestamp.Before(start) {
			start = v.Timestamp
		}
		if d := v.Timestamp.Add(v.Latency); d.After(end) {
			end = d
		}
		if h := reports.URLHost(v.URL); h != "" && (hosts[h] > 0 || len(hosts) < maxAttacks) {
			hosts[h]++
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case n == 0:
		return nil, fmt.Errorf("%w: %s: no results (is it the output of vegeta attack or vegeta encode?)", ErrInput, opts.File)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("vegeta: %s: %w", opts.File, err)
	}
	rec, err := analyze.NewRecorder(analyze.Config{Start: start, Interval: opts.Interval,
		IntervalLog: opts.IntervalLog, Timeline: opts.Timeline})
	if err != nil {
		return nil, err
	}
	clock := reports.NewClock(rec, start, opts.Interval, 0)
	st := &res.Stats
	var id uint64
	_, err = each(r, opts, func(v *Result) error {
		done := v.Timestamp.Add(v.Latency)
		if err := clock.Advance(done, true); err != nil {
			return err
		}
		if done.Before(clock.Open) {
			st.Late++
		}
		scenario := v.Attack
		if scenario == "" {
			scenario = "default"
		}
		if _, ok := st.Attacks[scenario]; !ok && len(st.Attacks) >= maxAttacks {
			scenario = "other"
		}
		st.Attacks[scenario]++
		id++
		req := &gonogo.Request{ID: id, Scenario: scenario, Intended: v.Timestamp}
		out := gonogo.Result{Request: req, Sent: v.Timestamp, Done: done, Status: int(v.Code), BytesIn: int64(v.BytesIn)}
		out.Class, out.Err = outcome(v)
		rec.Record(&out)
		st.Requests++
		if out.Failed() {
			st.Failed++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := clock.Advance(end, false); err != nil {
		return nil, err
	}
	if err := rec.Close(end); err != nil {
		return nil, err
	}
	st.Format = opts.Format
	res.Recorder, res.Start, res.End, res.Target = rec, start, end, reports.MostCommon(hosts)
	return res, nil
}

// each decodes every result of r and calls f on it; it returns how many.
func each(r io.Reader, opts Options, f func(*Result) error) (int64, error) {
	d, err := NewDecoder(r, opts.File, opts.Format)
	if err != nil {
		return 0, err
	}
	var n int64
	var v Result
	for {
		switch err := d.Decode(&v); {
		case err == io.EOF:
			return n, nil
		case err != nil:
			return n, err
		}
		n++
		if err := f(&v); err != nil {
			return n, err
		}
	}
}

// outcome classifies a result as vegeta counts success: no error and a
// 2xx or 3xx status.
func outcome(v *Result) (gonogo.ErrorClass, string) {
	ok := v.Error == "" && v.Code >= 200 && v.Code < 400
	if ok {
		return gonogo.ErrNone, ""
	}
	msg := v.Error
	if msg == "" {
		msg = "HTTP " + strconv.Itoa(int(v.Code))
	}
	switch e := strings.ToLower(v.Error); {
	case v.Code >= 500:
		return gonogo.ErrHTTP5xx, msg
	case v.Code >= 400:
		return gonogo.ErrHTTP4xx, msg
	case strings.Contains(e, "timeout") || strings.Contains(e, "deadline exceeded"):
		return gonogo.ErrTimeout, msg
	case strings.Contains(e, "connection refused") || strings.Contains(e, "connection reset") ||
		strings.Contains(e, "no such host") || strings.Contains(e, "dial "):
		return gonogo.ErrConnect, msg
	case strings.Contains(e, "context canceled"):
		return gonogo.ErrCanceled, msg
	}
	return gonogo.ErrOther, msg
}
