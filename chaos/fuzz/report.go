package fuzz

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/rundir"
)

// Schema is the version of the Report document.
const Schema = 1

// Why a run stopped before sending every request (Report.Stopped).
const (
	StoppedCrash       = "crash"
	StoppedInterrupted = "interrupted"
	StoppedTimeLimit   = "time limit"
)

// Limits of what a report keeps.
const (
	// MaxExamples is the number of examples kept per class.
	MaxExamples = 3
	// RequestExcerptBytes and ResponseExcerptBytes bound the excerpts.
	RequestExcerptBytes  = 200
	ResponseExcerptBytes = 300
)

// Report is the result document of a fuzz run (fuzz.json, rundir.Fuzz).
type Report struct {
	Schema   int    `json:"schema"`
	Target   string `json:"target"`
	Protocol string `json:"protocol"`
	Model    string `json:"model,omitempty"`
	// Seed drew every mutation: the same seed, options and seeds send the
	// same requests.
	Seed uint64 `json:"seed"`
	// SeedSource is the request log the seeds came from, "" for the
	// built-in requests; SeedRequests is their number.
	SeedSource   string         `json:"seed_source,omitempty"`
	SeedRequests int            `json:"seed_requests"`
	PerClass     int            `json:"per_class"`
	Concurrency  int            `json:"concurrency"`
	Timeout      chaos.Duration `json:"timeout"`
	Started      time.Time      `json:"started"`
	Elapsed      chaos.Duration `json:"elapsed"`
	// Stopped says why the run ended before sending every request
	// (StoppedCrash, StoppedInterrupted, StoppedTimeLimit); "" when it
	// sent them all.
	Stopped string `json:"stopped,omitempty"`
	// Sent counts the requests whose outcome is known.
	Sent    int           `json:"sent"`
	Classes []ClassResult `json:"classes"`
	// Findings are the bad outcomes, grouped by class, variant and
	// outcome, in class order.
	Findings []Finding `json:"findings"`
}

// ClassResult is what one class's requests got.
type ClassResult struct {
	Class Class `json:"class"`
	Sent  int   `json:"sent"`
	// Counts holds the number of requests of each outcome (outcomes that
	// did not occur are left out).
	Counts map[Outcome]int `json:"counts"`
	// Examples are at most MaxExamples requests, one per outcome, bad
	// outcomes first.
	Examples []Example `json:"examples"`
}

// Example is one request and its answer, excerpted. Header values are
// never kept.
type Example struct {
	Variant string  `json:"variant"`
	Detail  string  `json:"detail,omitempty"`
	Outcome Outcome `json:"outcome"`
	// Status is the HTTP status; 0 when no answer came.
	Status int `json:"status,omitempty"`
	// Error is why no answer came, or what made it bad.
	Error string `json:"error,omitempty"`
	// Request is "METHOD path body…", the body cut at
	// RequestExcerptBytes and invalid bytes written as \xNN.
	Request      string `json:"request"`
	RequestBytes int    `json:"request_bytes"`
	// Response is the answer's body, cut at ResponseExcerptBytes.
	Response      string  `json:"response,omitempty"`
	LatencyMillis float64 `json:"latency_ms"`
}

// Finding is one bad outcome of one variant of a class: how often, and
// the first request that got it.
type Finding struct {
	Class   Class   `json:"class"`
	Variant string  `json:"variant"`
	Outcome Outcome `json:"outcome"`
	Count   int     `json:"count"`
	Example Example `json:"example"`
}

// Bad returns the number of requests with a bad outcome.
func (r *Report) Bad() int {
	n := 0
	for _, f := range r.Findings {
		n += f.Count
	}
	return n
}

// Class returns the result of class c, nil when it was not sent.
func (r *Report) Class(c Class) *ClassResult {
	for i := range r.Classes {
		if r.Classes[i].Class == c {
			return &r.Classes[i]
		}
	}
	return nil
}

func newReport(o Options, start time.Time, elapsed time.Duration) *Report {
	r := &Report{
		Schema: Schema, Target: o.Target, Protocol: o.Protocol, Model: o.Model, Seed: o.Seed,
		SeedSource: o.SeedSource, SeedRequests: len(o.Seeds), PerClass: o.PerClass,
		Concurrency: o.Concurrency, Timeout: chaos.Duration(o.Timeout), Started: start.UTC(),
		Elapsed: chaos.Duration(elapsed.Round(time.Millisecond)), Classes: []ClassResult{}, Findings: []Finding{},
	}
	for _, c := range o.Classes {
		r.Classes = append(r.Classes, ClassResult{Class: c, Counts: map[Outcome]int{}, Examples: []Example{}})
	}
	return r
}

// add counts one result; results are added in job order, so the report is
// a function of the answers alone.
func (r *Report) add(res *result) {
	cr := r.Class(res.mu.Class)
	if cr == nil {
		return
	}
	r.Sent++
	cr.Sent++
	cr.Counts[res.outcome]++
	ex := example(res)
	if cr.Counts[res.outcome] == 1 {
		cr.Examples = append(cr.Examples, ex)
	}
	if !res.outcome.Bad() {
		return
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Class == res.mu.Class && f.Variant == res.mu.Variant && f.Outcome == res.outcome {
			f.Count++
			return
		}
	}
	r.Findings = append(r.Findings, Finding{Class: res.mu.Class, Variant: res.mu.Variant, Outcome: res.outcome, Count: 1, Example: ex})
}

// finish orders the findings by class and trims the examples.
func (r *Report) finish() {
	order := map[Class]int{}
	for i, c := range r.Classes {
		order[c.Class] = i
	}
	slices.SortStableFunc(r.Findings, func(a, b Finding) int { return order[a.Class] - order[b.Class] })
	for i := range r.Classes {
		ex := r.Classes[i].Examples
		slices.SortStableFunc(ex, func(a, b Example) int {
			switch {
			case a.Outcome.Bad() == b.Outcome.Bad():
				return 0
			case a.Outcome.Bad():
				return -1
			}
			return 1
		})
		if len(ex) > MaxExamples {
			ex = ex[:MaxExamples]
		}
		r.Classes[i].Examples = ex
	}
}

func example(res *result) Example {
	return Example{
		Variant: res.mu.Variant, Detail: res.mu.Detail, Outcome: res.outcome, Status: res.status, Error: res.errText,
		Request:      res.mu.Method + " " + res.mu.Path + " " + Excerpt(res.mu.Body, RequestExcerptBytes),
		RequestBytes: len(res.mu.Body), Response: Excerpt(res.resp, ResponseExcerptBytes),
		LatencyMillis: float64(res.latency.Microseconds()) / 1000,
	}
}

// Excerpt returns b as printable text of at most about n bytes: valid
// UTF-8 kept, invalid bytes and control characters written as \xNN, and,
// when cut, "… (N bytes)" at the end.
func Excerpt(b []byte, n int) string {
	var sb strings.Builder
	i := 0
	for i < len(b) && sb.Len() < n {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size <= 1, r < 0x20, r == 0x7f:
			fmt.Fprintf(&sb, `\x%02x`, b[i])
			i++
			continue
		}
		sb.WriteRune(r)
		i += size
	}
	if i < len(b) {
		fmt.Fprintf(&sb, "… (%d bytes)", len(b))
	}
	return sb.String()
}

// Write writes the report to dir as rundir.Fuzz, atomically.
func (r *Report) Write(dir rundir.Dir) error {
	if err := dir.Make(); err != nil {
		return err
	}
	return dir.WriteAtomic(rundir.Fuzz, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	})
}

// ReadReport reads the fuzz.json of dir.
func ReadReport(dir rundir.Dir) (*Report, error) {
	b, err := os.ReadFile(dir.Path(rundir.Fuzz))
	if err != nil {
		return nil, fmt.Errorf("fuzz: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("fuzz: %s: %w", dir.Path(rundir.Fuzz), err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("fuzz: %s: schema %d, want %d", dir.Path(rundir.Fuzz), r.Schema, Schema)
	}
	return &r, nil
}

// WriteTable prints the per-class table, the findings and a summary line.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "class\tsent\t")
	for _, o := range Outcomes {
		fmt.Fprintf(tw, "%s\t", o)
	}
	fmt.Fprintln(tw)
	for _, c := range r.Classes {
		fmt.Fprintf(tw, "%s\t%d\t", c.Class, c.Sent)
		for _, o := range Outcomes {
			fmt.Fprintf(tw, "%d\t", c.Counts[o])
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Findings) > 0 {
		fmt.Fprintln(w, "\nfindings:")
		for _, f := range r.Findings {
			what := f.Example.Error
			if f.Example.Status != 0 {
				what = fmt.Sprintf("%d %s", f.Example.Status, Excerpt([]byte(f.Example.Response), 80))
			}
			fmt.Fprintf(w, "  %s/%s: %s × %d — %s; %s\n", f.Class, f.Variant, f.Outcome, f.Count, f.Example.Detail, what)
		}
	}
	switch r.Stopped {
	case "":
	case StoppedCrash:
		fmt.Fprintln(w, "\nstopped: the target crashed")
	default:
		fmt.Fprintf(w, "\nstopped: %s\n", r.Stopped)
	}
	verdict := "no bad finding"
	if n := r.Bad(); n > 0 {
		verdict = fmt.Sprintf("%d bad answers in %d findings", n, len(r.Findings))
	}
	_, err := fmt.Fprintf(w, "\n%d requests in %v: %s\n", r.Sent, r.Elapsed.D(), verdict)
	return err
}
