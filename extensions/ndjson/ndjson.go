// Package ndjson writes every request of a run as one JSON line, gzipped:
// the samples.ndjson.gz of a results directory. It is the per-request record
// that histograms summarize away — trace row, tags, timings, outcome — for
// analysis segmented after the fact.
package ndjson

import (
	"bufio"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// Sample is one line of the file. Times are milliseconds; at_ms is the
// intended send time from the start of the run.
type Sample struct {
	ID           uint64            `json:"id"`
	Row          int64             `json:"row,omitempty"`
	Scenario     string            `json:"scenario"`
	Tags         map[string]string `json:"tags,omitempty"`
	AtMs         float64           `json:"at_ms"`
	Dropped      bool              `json:"dropped,omitempty"`
	Queued       bool              `json:"queued,omitempty"`
	LagMs        float64           `json:"lag_ms"`
	LatencyMs    float64           `json:"latency_ms"`
	ServiceMs    float64           `json:"service_ms"`
	Status       int               `json:"status,omitempty"`
	Class        string            `json:"class,omitempty"`
	Err          string            `json:"err,omitempty"`
	TTFTMs       float64           `json:"ttft_ms,omitempty"`
	TPOTMs       float64           `json:"tpot_ms,omitempty"`
	OutputTokens int               `json:"output_tokens,omitempty"`
	BytesIn      int64             `json:"bytes_in,omitempty"`
	// PromptTokens is the prompt length the client sent, as it counts it;
	// ReportedPromptTokens what the server reported, CachedPromptTokens
	// the part its prefix cache served (gonogo.Result).
	PromptTokens         int `json:"prompt_tokens,omitempty"`
	ReportedPromptTokens int `json:"reported_prompt_tokens,omitempty"`
	CachedPromptTokens   int `json:"cached_prompt_tokens,omitempty"`
	// TraceID and SpanID are the W3C trace context the request carried
	// in its traceparent header (--traceparent), lowercase hex; Sampled
	// its sampled flag. Absent when none was sent.
	TraceID string `json:"trace_id,omitempty"`
	SpanID  string `json:"span_id,omitempty"`
	Sampled bool   `json:"sampled,omitempty"`
}

// Writer is a gonogo.Sink that writes one Sample per result or drop. It is
// safe for concurrent use; Close flushes and ends the gzip stream.
type Writer struct {
	start time.Time
	mu    sync.Mutex
	zw    *gzip.Writer
	bw    *bufio.Writer
	enc   *json.Encoder
	s     Sample
	err   error
	slow  []Sample // the SlowestN slowest results, slowest first
}

// SlowestN is how many of the slowest requests a Writer keeps for
// Slowest.
const SlowestN = 10

var _ gonogo.Sink = (*Writer)(nil)

// New writes samples to w, with at_ms counted from start.
func New(w io.Writer, start time.Time) *Writer {
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	bw := bufio.NewWriterSize(zw, 64<<10)
	return &Writer{start: start, zw: zw, bw: bw, enc: json.NewEncoder(bw)}
}

func ms(d time.Duration) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64), 64)
	return v
}

// Record writes res.
func (w *Writer) Record(res *gonogo.Result) {
	req := res.Request
	w.mu.Lock()
	defer w.mu.Unlock()
	w.s = Sample{
		ID: req.ID, Row: req.Row, Scenario: req.Scenario, Tags: req.Tags,
		AtMs: ms(req.Intended.Sub(w.start)), Queued: res.Queued,
		LagMs: ms(res.SchedulingLag()), LatencyMs: ms(res.Latency()), ServiceMs: ms(res.ServiceTime()),
		Status: res.Status, Class: string(res.Class), Err: res.Err,
		TTFTMs: ms(res.TTFT), TPOTMs: ms(res.TPOT()), OutputTokens: res.OutputTokens, BytesIn: res.BytesIn,
		PromptTokens: res.PromptTokens, ReportedPromptTokens: res.ReportedPromptTokens, CachedPromptTokens: res.CachedPromptTokens,
	}
	if res.TraceID != ([16]byte{}) {
		w.s.TraceID, w.s.SpanID, w.s.Sampled = hex.EncodeToString(res.TraceID[:]), hex.EncodeToString(res.SpanID[:]), res.TraceSampled
	}
	w.keepSlow()
	w.write()
}

// keepSlow keeps w.s among the slowest when it is one.
func (w *Writer) keepSlow() {
	n := len(w.slow)
	if n == SlowestN && w.s.LatencyMs <= w.slow[n-1].LatencyMs {
		return
	}
	i := sort.Search(n, func(i int) bool { return w.slow[i].LatencyMs < w.s.LatencyMs })
	if n < SlowestN {
		w.slow = append(w.slow, Sample{})
	}
	copy(w.slow[i+1:], w.slow[i:])
	w.slow[i] = w.s
}

// Slowest returns the SlowestN slowest requests recorded so far (by
// latency_ms, dropped arrivals excluded), slowest first, each with its
// trace id when --traceparent sent one: the requests to look up in the
// server's own traces. run.json lists them as slowest_requests.
func (w *Writer) Slowest() []Sample {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Sample(nil), w.slow...)
}

// Drop writes a dropped arrival.
func (w *Writer) Drop(req *gonogo.Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.s = Sample{ID: req.ID, Row: req.Row, Scenario: req.Scenario, Tags: req.Tags, AtMs: ms(req.Intended.Sub(w.start)), Dropped: true}
	w.write()
}

func (w *Writer) write() {
	if w.err == nil {
		w.err = w.enc.Encode(&w.s)
	}
}

// Flush writes what is buffered to the underlying writer as a complete
// gzip block, so that a reader of a run killed later gets every sample
// recorded until now.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	if w.err == nil {
		w.err = w.zw.Flush()
	}
	return w.err
}

// Close flushes everything and ends the gzip stream; it does not close the
// underlying writer. It returns the first error met.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	if err := w.zw.Close(); w.err == nil {
		w.err = err
	}
	return w.err
}

// Read decodes a samples file, calling fn for each sample until fn returns
// false or the file ends. A file cut short (the run was killed) gives every
// sample up to its last flush, then an error wrapping
// io.ErrUnexpectedEOF.
func Read(r io.Reader, fn func(*Sample) bool) error {
	zr, err := gzip.NewReader(r)
	if err == io.EOF {
		// Close always writes a gzip header: an empty file is a run
		// killed before its first flush.
		err = io.ErrUnexpectedEOF
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("samples cut short: %w", err)
	} else if err != nil {
		return err
	}
	defer zr.Close()
	dec := json.NewDecoder(zr)
	for {
		var s Sample
		if err := dec.Decode(&s); err == io.EOF {
			return nil
		} else if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("samples cut short: %w", err)
			}
			return err
		}
		if !fn(&s) {
			return nil
		}
	}
}
