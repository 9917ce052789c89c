package reports

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/extensions/ndjson"
)

// Trace ids of slowestRun's requests.
const (
	slowTraceC = "4bf92f3577b34da6a3ce929d0e0e4736"
	slowTraceA = "0af7651916cd43dd8448eb211c80319c"
	// slowTraceB is not a trace id: markup from a hand-edited run.json.
	slowTraceB = `<script>alert("id")</script>`
)

// slowestRun is a run whose slowest requests are listed out of order (as
// a hand-edited run.json may), one with markup in its scenario, trace id
// and error, one without a trace id.
func slowestRun() *Run {
	run := handRun("r-slow", handStats(100, 1, 1, false))
	run.Slowest = []ndjson.Sample{
		{ID: 7, Scenario: "chat", AtMs: 12345, LatencyMs: 45.3, ServiceMs: 44, Status: 200, TraceID: slowTraceA},
		{ID: 3, Row: 17, Scenario: "<script>alert(1)</script>", AtMs: 900, LatencyMs: 1234, ServiceMs: 1200,
			Status: 503, Class: "http_5xx", Err: "upstream <b>busy</b>", TraceID: slowTraceB},
		{ID: 11, Scenario: "chat", AtMs: 59000, LatencyMs: 3.5, ServiceMs: 3.4, Status: 200},
		{ID: 9, Scenario: "chat", AtMs: 30000, LatencyMs: 987.6, ServiceMs: 20, Class: "timeout", Queued: true, TraceID: slowTraceC},
	}
	return run
}

// slowestOrder are the latencies of slowestRun's requests as the reports
// write them, slowest first.
var slowestOrder = []string{"1234 ms", "988 ms", "45.3 ms", "3.5 ms"}

// section is what s holds from its first mark on, failing when it lacks
// it.
func section(t *testing.T, s, mark string) string {
	t.Helper()
	i := strings.Index(s, mark)
	if i < 0 {
		t.Fatalf("no %q in\n%s", mark, s)
	}
	return s[i:]
}

// inOrder fails unless s holds each of want, in that order.
func inOrder(t *testing.T, s string, want []string) {
	t.Helper()
	at := 0
	for _, w := range want {
		i := strings.Index(s[at:], w)
		if i < 0 {
			t.Errorf("%q missing or out of order in\n%s", w, s)
			return
		}
		at += i + len(w)
	}
}

func TestSlowestText(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteText(&buf, slowestRun()); err != nil {
		t.Fatal(err)
	}
	sec := section(t, buf.String(), "\nslowest requests\n")
	inOrder(t, sec, slowestOrder)
	for _, want := range []string{
		"latency  service  outcome",
		"http_5xx 503", "+900ms", "#3 row 17", slowTraceB,
		"timeout (queued)", "+30s", slowTraceC,
		"ok 200", "+12.3s", "#7", slowTraceA,
		"#11        -\n", // a request without a trace id
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("slowest requests lack %q:\n%s", want, sec)
		}
	}
	if n := strings.Count(sec, "\n"); n != 1+1+1+4 {
		t.Errorf("%d newlines, want a blank line, a heading, a head and 4 rows:\n%s", n, sec)
	}

	buf.Reset()
	if err := WriteText(&buf, handRun("r", handStats(100, 1, 1, false))); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "slowest") {
		t.Errorf("a run without slowest requests lists them:\n%s", buf.String())
	}
}

func TestSlowestMarkdown(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, Input{Run: slowestRun()}); err != nil {
		t.Fatal(err)
	}
	sec := section(t, buf.String(), "#### Slowest requests\n")
	inOrder(t, sec, slowestOrder)
	for _, want := range []string{
		"| latency | service | outcome | at | scenario | request | trace id |\n|--:|--:|---|--:|---|---|---|\n",
		"| 1234 ms | 1200 ms | http_5xx 503 | +900ms | <script>alert(1)</script> | #3 row 17 | `" + slowTraceB + "` |",
		"| 988 ms | 20 ms | timeout (queued) | +30s | chat | #9 | `" + slowTraceC + "` |",
		"| 3.5 ms | 3.4 ms | ok 200 | +59s | chat | #11 |  |",
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("slowest requests lack %q:\n%s", want, sec)
		}
	}

	// Without trace ids there is no trace id column; without slowest
	// requests no section.
	run := slowestRun()
	for i := range run.Slowest {
		run.Slowest[i].TraceID = ""
	}
	buf.Reset()
	if err := WriteMarkdown(&buf, Input{Run: run}); err != nil {
		t.Fatal(err)
	}
	if sec := section(t, buf.String(), "#### Slowest requests\n"); strings.Contains(sec, "trace id") {
		t.Errorf("a trace id column without trace ids:\n%s", sec)
	}
	run.Slowest = nil
	buf.Reset()
	if err := WriteMarkdown(&buf, Input{Run: run}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "Slowest") {
		t.Errorf("a run without slowest requests lists them:\n%s", buf.String())
	}
}

func TestSlowestHTML(t *testing.T) {
	const jaeger = "http://jaeger:16686/trace/{trace_id}"
	link, err := ParseTraceURL(jaeger)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := (HTMLOptions{TraceURL: link}).Write(&buf, Input{Run: slowestRun()}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	sec := section(t, page, `<table id="slowest">`)
	sec = sec[:strings.Index(sec, "</table>")]
	inOrder(t, sec, slowestOrder)
	for _, want := range []string{
		"<th>trace id</th>",
		`<tr class="fail"><td class="num">1234 ms</td><td class="num">1200 ms</td><td class="status">http_5xx 503<div class="reason">upstream &lt;b&gt;busy&lt;/b&gt;</div></td><td class="num">&#43;900ms</td><td>&lt;script&gt;alert(1)&lt;/script&gt;</td><td class="mono">#3 row 17</td><td class="mono trace">&lt;script&gt;alert(&#34;id&#34;)&lt;/script&gt;</td></tr>`,
		`<td class="mono trace"><a href="http://jaeger:16686/trace/` + slowTraceC + `">` + slowTraceC + `</a></td>`,
		`<td class="mono trace"><a href="http://jaeger:16686/trace/` + slowTraceA + `">` + slowTraceA + `</a></td>`,
		`<tr><td class="num">3.5 ms</td>`,
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("slowest table lacks %q:\n%s", want, sec)
		}
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "<b>") {
		t.Error("markup from run.json reached the page unescaped")
	}
	if n := strings.Count(sec, "<a href="); n != 2 {
		t.Errorf("%d trace links, want 2: the id that is not a trace id has none", n)
	}

	// Without --trace-url the ids are plain text; without slowest
	// requests there is no table.
	page = renderHTML(t, Input{Run: slowestRun()})
	if sec := section(t, page, `<table id="slowest">`); strings.Contains(sec, "jaeger") || strings.Contains(sec, "<a ") {
		t.Error("trace ids linked without a TraceURL")
	}
	if !strings.Contains(page, `<td class="mono trace">`+slowTraceC+`</td>`) {
		t.Error("trace id missing without a TraceURL")
	}
	if page := renderHTML(t, Input{Run: handRun("r", handStats(100, 1, 1, false))}); strings.Contains(page, "Slowest requests") {
		t.Error("a run without slowest requests lists them")
	}
}

func TestParseTraceURL(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"http://jaeger:16686/trace/{trace_id}", true},
		{"https://grafana.example/explore?left=%7B%22query%22:%22{trace_id}%22%7D", true},
		{"HTTPS://tempo/{trace_id}", true},
		{"", false},
		{"http://jaeger:16686/trace/", false},
		{"http://jaeger:16686/trace/{traceid}", false},
		{"ftp://jaeger/{trace_id}", false},
		{"javascript:alert('{trace_id}')", false},
		{"/trace/{trace_id}", false},
		{"http:///{trace_id}", false},
		{"http://jae ger/{trace_id}", false},
		{"http://:{trace_id}", false},
		{"http://{trace_id}.tempo/", false},
	} {
		_, err := ParseTraceURL(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseTraceURL(%q): %v, want ok %v", c.in, err, c.ok)
		}
	}
}

// FuzzParseTraceURL: a template ParseTraceURL accepts links every trace id
// to an http or https URL with a host, the id in it.
func FuzzParseTraceURL(f *testing.F) {
	for _, s := range []string{"http://jaeger:16686/trace/{trace_id}", "https://t/?id={trace_id}&x={trace_id}", "ftp://x/{trace_id}", "{trace_id}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tu, err := ParseTraceURL(s)
		if err != nil {
			return
		}
		link := tu.link(slowTraceC)
		u, err := url.Parse(link)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !strings.Contains(link, slowTraceC) {
			t.Fatalf("template %q accepted, links to %q (%v)", s, link, err)
		}
		if tu.link(slowTraceB) != "" {
			t.Fatalf("template %q links %q", s, slowTraceB)
		}
	})
}
