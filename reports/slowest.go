package reports

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gonogo-dev/gonogo/extensions/ndjson"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// traceIDPlaceholder is what a TraceURL replaces with a trace id.
const traceIDPlaceholder = "{trace_id}"

// TraceURL is a link template for trace ids, such as
// "http://jaeger:16686/trace/{trace_id}": the HTML report links each trace
// id of its slowest requests to the template with the id in place of
// {trace_id}. The empty TraceURL links nothing. ParseTraceURL checks one.
type TraceURL string

// ParseTraceURL checks a trace link template: an http or https URL with a
// host, {trace_id} in it but not in the host.
func ParseTraceURL(s string) (TraceURL, error) {
	if !strings.Contains(s, traceIDPlaceholder) {
		return "", errors.New("want a URL containing " + traceIDPlaceholder)
	}
	// Hex digits are unreserved in every part of a URL, so one id stands
	// for all.
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	u, err := url.Parse(strings.ReplaceAll(s, traceIDPlaceholder, id))
	switch {
	case err != nil:
		return "", err
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return "", errors.New("want an http:// or https:// URL with a host")
	case strings.Contains(u.Host, id):
		return "", errors.New(traceIDPlaceholder + " must not be in the host")
	}
	return TraceURL(s), nil
}

// link is the link of a trace id, "" when t is empty or id is not a W3C
// trace id, so that no id read from run.json can change where the link
// goes.
func (t TraceURL) link(id string) string {
	if t == "" || !isTraceID(id) {
		return ""
	}
	return strings.ReplaceAll(string(t), traceIDPlaceholder, id)
}

// isTraceID reports whether id is a W3C trace id: 32 hex digits.
func isTraceID(id string) bool {
	_, err := hex.DecodeString(id)
	return len(id) == 32 && err == nil
}

// slowestRow is one of a run's slowest requests as the reports show it.
type slowestRow struct {
	// Latency is from the intended send, Service from the actual one.
	Latency, Service string
	// Outcome is "ok 200", or the failure class and status: "http_5xx
	// 503", "timeout"; "(queued)" when the request waited for a VU.
	Outcome string
	// Failed marks a failed request; Err is its message.
	Failed bool
	Err    string
	// At is the intended send time from the start of the run, "+12.3s".
	At       string
	Scenario string
	// Request is the request's id and, for replayed traffic, its trace
	// row: "#42 row 17".
	Request string
	// TraceID is empty when the request carried no traceparent;
	// TraceLink is its link into a tracing UI, empty when none.
	TraceID, TraceLink string
}

// slowestTable is the "Slowest requests" section of the reports.
type slowestTable struct {
	// Rows are slowest first.
	Rows []slowestRow
	// Traced says whether any request carried a trace id: without, the
	// reports leave the trace id column out.
	Traced bool
}

// newSlowestTable makes the section from run.json's slowest requests,
// each trace id linked by link.
func newSlowestTable(slowest []ndjson.Sample, link TraceURL) slowestTable {
	sorted := slices.Clone(slowest)
	slices.SortStableFunc(sorted, func(a, b ndjson.Sample) int { return cmp.Compare(b.LatencyMs, a.LatencyMs) })
	t := slowestTable{Rows: make([]slowestRow, len(sorted))}
	for i, s := range sorted {
		r := slowestRow{
			Latency: numfmt.Unit(s.LatencyMs, "ms"), Service: numfmt.Unit(s.ServiceMs, "ms"),
			Outcome: sampleOutcome(&s), Failed: s.Class != "", Err: s.Err,
			At:       fmtOffset(time.Duration(s.AtMs * float64(time.Millisecond))),
			Scenario: s.Scenario, Request: "#" + strconv.FormatUint(s.ID, 10),
			TraceID: s.TraceID, TraceLink: link.link(s.TraceID),
		}
		if s.Row != 0 {
			r.Request += " row " + strconv.FormatInt(s.Row, 10)
		}
		t.Rows[i] = r
		t.Traced = t.Traced || s.TraceID != ""
	}
	return t
}

// slowestHead is the head of the text and Markdown tables.
func (t slowestTable) head() []string {
	h := []string{"latency", "service", "outcome", "at", "scenario", "request"}
	if t.Traced {
		h = append(h, "trace id")
	}
	return h
}

// cells are the cells of row i in the text and Markdown tables; code
// formats a trace id.
func (t slowestTable) cells(i int, code func(string) string) []string {
	r := t.Rows[i]
	c := []string{r.Latency, r.Service, r.Outcome, r.At, r.Scenario, r.Request}
	if t.Traced {
		c = append(c, code(r.TraceID))
	}
	return c
}

// writeSlowestText lists the slowest requests in the text summary.
func writeSlowestText(ew *errWriter, t slowestTable) {
	if len(t.Rows) == 0 {
		return
	}
	ew.printf("\nslowest requests\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s\n", strings.Join(t.head(), "\t"))
	for i := range t.Rows {
		cells := t.cells(i, func(id string) string { return cmp.Or(id, "-") })
		for j, c := range cells {
			cells[j] = mdInline(c) // a tab or newline from run.json cannot break the table
		}
		fmt.Fprintf(tw, "  %s\n", strings.Join(cells, "\t"))
	}
	_ = tw.Flush()
}

// writeSlowestMarkdown lists the slowest requests in the Markdown
// summary, trace ids as code, where markup in them shows as written.
func writeSlowestMarkdown(ew *errWriter, t slowestTable) {
	if len(t.Rows) == 0 {
		return
	}
	ew.printf("\n#### Slowest requests\n")
	code := func(id string) string {
		if id == "" || strings.Contains(id, "`") {
			return id
		}
		return "`" + id + "`"
	}
	rows := make([][]string, len(t.Rows))
	for i := range t.Rows {
		rows[i] = t.cells(i, code)
	}
	align := "rrlrll"
	if t.Traced {
		align += "l"
	}
	mdTable(ew, align, t.head(), rows)
}

// sampleOutcome is "ok 200", "http_5xx 503", "timeout", with " (queued)"
// when the request waited for a VU.
func sampleOutcome(s *ndjson.Sample) string {
	out := "ok"
	if s.Class != "" {
		out = s.Class
	}
	if s.Status != 0 {
		out += " " + strconv.Itoa(s.Status)
	}
	if s.Queued {
		out += " (queued)"
	}
	return out
}
