package reports

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
)

// byTagTarget is one target of byTagRun: n requests paced evenly over
// byTagSecs, each taking latency, every failEvery-th failing with a 503
// (none when 0), with a first token at half the latency when ttft.
type byTagTarget struct {
	value     string
	n         int
	latency   time.Duration
	failEvery int
	ttft      bool
}

const byTagSecs = 2

// byTagScript is a target value that must render as text in the HTML
// report, and as one cell in the Markdown one.
const byTagScript = `<script>alert("x")</script> | y`

// byTagTargets are in the order of their values.
var byTagTargets = []byTagTarget{
	{value: byTagScript, n: 10, latency: 20 * time.Millisecond},
	{value: "GET /a", n: 60, latency: 10 * time.Millisecond, ttft: true},
	{value: "POST /b", n: 30, latency: 40 * time.Millisecond, failEvery: 10},
}

// byTagRun records byTagTargets through analyze.Recorder at the
// percentiles pcts, tagging each request target=VALUE and, alternately,
// backend=v1 or v2 (and the script target's mirrored=true, as a rollout
// tags its mirrored copies), writes run.json and reads it back. It
// returns the run and the true request and failure counts per
// "key=value".
func byTagRun(t *testing.T, pcts []float64) (run *Run, total, failed map[string]int64) {
	t.Helper()
	rec, err := analyze.NewRecorder(analyze.Config{Start: t0, Percentiles: pcts})
	if err != nil {
		t.Fatal(err)
	}
	total, failed = map[string]int64{}, map[string]int64{}
	k := 0
	for _, tg := range byTagTargets {
		gap := byTagSecs * time.Second / time.Duration(tg.n)
		for i := range tg.n {
			tags := map[string]string{"target": tg.value, "backend": "v" + strconv.Itoa(1+k%2)}
			if tg.value == byTagScript {
				tags["mirrored"] = "true"
			}
			k++
			at := t0.Add(time.Duration(i) * gap)
			res := &gonogo.Result{Request: &gonogo.Request{Scenario: "mixed", Intended: at, Tags: tags}, Sent: at, Done: at.Add(tg.latency)}
			if tg.ttft {
				res.TTFT = tg.latency / 2
			}
			fail := tg.failEvery > 0 && i%tg.failEvery == tg.failEvery-1
			if fail {
				res.Class, res.Status = gonogo.ErrHTTP5xx, 503
			}
			for key, v := range tags {
				total[key+"="+v]++
				if fail {
					failed[key+"="+v]++
				}
			}
			rec.Record(res)
		}
	}
	end := t0.Add(byTagSecs * time.Second)
	if err := rec.Close(end); err != nil {
		t.Fatal(err)
	}
	r := &Run{ID: "tagged", Scenarios: map[string]Scenario{"mixed": {}}, Percentiles: pcts}
	r.SetSummary(rec.Summary(end))
	dir := t.TempDir()
	if err := WriteRunJSON(dir, r); err != nil {
		t.Fatal(err)
	}
	back, err := ReadRunJSON(dir)
	if err != nil {
		t.Fatal(err)
	}
	return back, total, failed
}

// byTagTextTables parses the "By tag" section of a text summary: per
// key, its head and its rows (lines with as many cells as the head),
// cells split at runs of two spaces or more.
func byTagTextTables(t *testing.T, text string) map[string][][]string {
	t.Helper()
	_, sec, ok := strings.Cut(text, "\nby tag\n")
	if !ok {
		t.Fatalf("no by tag section in\n%s", text)
	}
	out := map[string][][]string{}
	var rows [][]string
	for _, line := range strings.Split(sec, "\n") {
		if line != "" && !strings.HasPrefix(line, "  ") {
			break // the next section
		}
		if line == "" {
			rows = nil
			continue
		}
		cells := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		if rows == nil {
			out[cells[0]] = [][]string{cells}
			rows = out[cells[0]]
			continue
		}
		if len(cells) == len(out[rows[0][0]][0]) {
			out[rows[0][0]] = append(out[rows[0][0]], cells)
		}
	}
	return out
}

// byTagHTMLTables parses the "By tag" tables of an HTML report, cells
// unescaped: per key, its head and its rows.
func byTagHTMLTables(page string) map[string][][]string {
	out := map[string][][]string{}
	tables := regexp.MustCompile(`(?s)<table class="by-tag" data-key="([^"]*)">(.*?)</table>`).FindAllStringSubmatch(page, -1)
	cell := regexp.MustCompile(`<t[hd][^>]*>(.*?)</t[hd]>`)
	for _, tb := range tables {
		var rows [][]string
		for _, tr := range regexp.MustCompile(`<tr>(.*?)</tr>`).FindAllStringSubmatch(tb[2], -1) {
			if strings.Contains(tr[1], "colspan") {
				continue // the count of values left out
			}
			var row []string
			for _, c := range cell.FindAllStringSubmatch(tr[1], -1) {
				row = append(row, html.UnescapeString(c[1]))
			}
			rows = append(rows, row)
		}
		out[html.UnescapeString(tb[1])] = rows
	}
	return out
}

// checkByTagTables checks the tables of a rendered section against the
// truth and run.json: one table per key but mirrored, one row per value
// in order, counts equal to those recorded, rate and median latency of
// each target within 1 % of the paced rate and of its latency, and every
// figure equal to run.json's.
func checkByTagTables(t *testing.T, format string, got map[string][][]string, run *Run, total, failed map[string]int64, pcts []float64) {
	t.Helper()
	if _, ok := run.Tags["mirrored=true"]; !ok {
		t.Fatalf("run.json lacks mirrored=true: %v", run.Tags)
	}
	if len(got) != 2 || got["target"] == nil || got["backend"] == nil {
		t.Fatalf("%s: tables %v, want target and backend only", format, got)
	}
	wantHead := []string{"requests", "ok", "failed", "error rate", "rate/s"}
	for _, p := range pcts {
		wantHead = append(wantHead, "p"+analyze.PercentileKey(p)+" ms")
	}
	wantHead = append(wantHead, "ttft p50 ms")
	wantValues := map[string][]string{"target": {byTagScript, "GET /a", "POST /b"}, "backend": {"v1", "v2"}}
	for key, rows := range got {
		if h := strings.Join(rows[0], "|"); h != key+"|"+strings.Join(wantHead, "|") {
			t.Errorf("%s %s: head %q", format, key, h)
		}
		if len(rows)-1 != len(wantValues[key]) {
			t.Errorf("%s %s: %d rows, want %d", format, key, len(rows)-1, len(wantValues[key]))
			continue
		}
		for i, row := range rows[1:] {
			v := wantValues[key][i]
			kv := key + "=" + v
			st := run.Tags[kv]
			n, f := total[kv], failed[kv]
			if len(row) != 1+len(wantHead) || row[0] != v {
				t.Errorf("%s %s: row %d %q, want value %q and %d cells", format, key, i, row, v, len(wantHead))
				continue
			}
			if st.Requests.Total != n || st.Requests.FailedTotal() != f {
				t.Errorf("run.json %s: %d requests, %d failed; recorded %d, %d", kv, st.Requests.Total, st.Requests.FailedTotal(), n, f)
			}
			want := []string{strconv.FormatInt(n, 10), strconv.FormatInt(n-f, 10), strconv.FormatInt(f, 10)}
			if strings.Join(row[1:4], "|") != strings.Join(want, "|") {
				t.Errorf("%s %s: requests/ok/failed %q, want %q", format, kv, row[1:4], want)
			}
			if wantRate := fmt.Sprintf("%g %%", 100*float64(f)/float64(n)); row[4] != wantRate {
				t.Errorf("%s %s: error rate %q, want %q", format, kv, row[4], wantRate)
			}
			if row[5] != fmtNum(st.Rate.AchievedPerSec, 1) {
				t.Errorf("%s %s: rate %q, run.json %g", format, kv, row[5], st.Rate.AchievedPerSec)
			}
			for j, p := range pcts {
				rv, ok := st.Percentile(analyze.MetricLatency, p)
				if !ok || row[6+j] != fmtNum(rv, 2) {
					t.Errorf("%s %s: latency p%g %q, run.json %g (%v)", format, kv, p, row[6+j], rv, ok)
				}
			}
			ttft := row[len(row)-1]
			if (st.TTFT == nil) != (ttft == "–") || st.TTFT != nil && ttft != fmtNum(st.TTFT.P50, 2) {
				t.Errorf("%s %s: ttft p50 %q, run.json %+v", format, kv, ttft, st.TTFT)
			}
			if key != "target" {
				continue
			}
			tg := byTagTargets[i]
			rate, _ := strconv.ParseFloat(row[5], 64)
			p50, _ := strconv.ParseFloat(row[6], 64)
			if paced := float64(tg.n) / byTagSecs; math.Abs(rate-paced) > 0.01*paced {
				t.Errorf("%s %s: rate %g/s, paced at %g/s", format, kv, rate, paced)
			}
			if lat := float64(tg.latency.Milliseconds()); math.Abs(p50-lat) > 0.01*lat {
				t.Errorf("%s %s: p50 %g ms, every request took %g ms", format, kv, p50, lat)
			}
		}
	}
}

func TestByTagText(t *testing.T) {
	pcts := []float64{50, 90, 99}
	run, total, failed := byTagRun(t, nil)
	var buf bytes.Buffer
	if err := WriteText(&buf, run); err != nil {
		t.Fatal(err)
	}
	checkByTagTables(t, "text", byTagTextTables(t, buf.String()), run, total, failed, pcts)
}

// The HTML report shows the run's --percentiles, and a tag value from a
// user's file as text.
func TestByTagHTML(t *testing.T) {
	pcts := []float64{50, 99.9}
	run, total, failed := byTagRun(t, pcts)
	page := renderHTML(t, Input{Run: run})
	if !strings.Contains(page, `<h2>By tag</h2>`) {
		t.Fatal("no By tag heading")
	}
	checkByTagTables(t, "html", byTagHTMLTables(page), run, total, failed, pcts)
	if strings.Contains(page, "<script") {
		t.Error("a tag value's <script> is in the page unescaped")
	}
	if !strings.Contains(page, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; | y`) {
		t.Error("the <script> tag value is not shown as escaped text")
	}
}

func TestByTagMarkdown(t *testing.T) {
	run, total, _ := byTagRun(t, nil)
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, Input{Run: run}); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"\n#### By tag\n",
		"| target | requests | ok | failed | error rate | rate/s | p50 ms | p90 ms | p99 ms | ttft p50 ms |\n|---|--:|",
		fmt.Sprintf("| POST /b | %d | %d | %d | 10 %% |", total["target=POST /b"], total["target=POST /b"]-3, 3),
		`| <script>alert("x")</script> \| y | 10 | 10 | 0 | 0 % |`,
		"| backend |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "mirrored") {
		t.Error("markdown shows the mirrored tag gonogo sets")
	}
}

// A key with more than tagMaxRows values lists the first in natural
// order and counts the rest; a tag overflow is said.
func TestByTagCap(t *testing.T) {
	tags := map[string]analyze.Stats{}
	for i := range tagMaxRows + 5 {
		var st analyze.Stats
		st.Requests.Total, st.Requests.OK = int64(i+1), int64(i+1)
		tags["shard=s"+strconv.Itoa(i+1)] = st
	}
	run := &Run{ID: "capped", Tags: tags, TagOverflow: 7}
	var buf bytes.Buffer
	if err := WriteText(&buf, run); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	rows := byTagTextTables(t, text)["shard"]
	if len(rows) != 1+tagMaxRows {
		t.Fatalf("%d shard rows, want %d:\n%s", len(rows)-1, tagMaxRows, text)
	}
	for i, row := range rows[1:] {
		if want := "s" + strconv.Itoa(i+1); row[0] != want || row[1] != strconv.Itoa(i+1) {
			t.Errorf("row %d: %q, want %s with %d requests", i, row, want, i+1)
		}
	}
	for _, want := range []string{"… 5 more values in run.json", "7 tagged results not grouped"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	page := renderHTML(t, Input{Run: run})
	if got := len(byTagHTMLTables(page)["shard"]); got != 1+tagMaxRows {
		t.Errorf("HTML: %d shard rows, want %d", got-1, tagMaxRows)
	}
	for _, want := range []string{`<td colspan="9">and 5 more values (see run.json)</td>`, "7 tagged results not grouped"} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

// Without tags, or with only those gonogo sets, no report has the
// section.
func TestByTagNone(t *testing.T) {
	for name, tags := range map[string]map[string]analyze.Stats{
		"none":     nil,
		"mirrored": {"mirrored=true": {Requests: analyze.Requests{Total: 3, OK: 3}}},
	} {
		run := &Run{ID: "plain", Tags: tags, Scenarios: map[string]Scenario{"s": {}}}
		var text, md bytes.Buffer
		if err := WriteText(&text, run); err != nil {
			t.Fatal(err)
		}
		if err := WriteMarkdown(&md, Input{Run: run}); err != nil {
			t.Fatal(err)
		}
		page := renderHTML(t, Input{Run: run})
		if strings.Contains(text.String(), "by tag") || strings.Contains(md.String(), "By tag") || strings.Contains(page, `id="by-tag"`) {
			t.Errorf("%s: a report has the By tag section", name)
		}
	}
}
