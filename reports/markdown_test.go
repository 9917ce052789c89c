package reports

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/analyze/divergence"
	"github.com/gonogo-dev/gonogo/rundir"
)

// tableColumns checks that every row of every table in md has as many
// cells as the table's header, and returns the number of tables.
func tableColumns(t *testing.T, md string) int {
	t.Helper()
	tables, cols := 0, 0
	for i, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		// Cells are separated by pipes that are not escaped.
		n := strings.Count(line, "|") - strings.Count(line, `\|`) - 1
		if cols == 0 {
			tables++
			cols = n
			continue
		}
		if n != cols {
			t.Errorf("line %d has %d cells, its table %d: %s", i+1, n, cols, line)
		}
	}
	return tables
}

func writeMarkdown(t *testing.T, in Input) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, in); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestWriteMarkdownVerdict(t *testing.T) {
	in := verdictInput()
	md := writeMarkdown(t, in)
	golden(t, "golden/verdict.md", []byte(md))
	if n := tableColumns(t, md); n != 2 {
		t.Errorf("%d tables, want gates and key metrics", n)
	}
	for _, want := range []string{
		"**NO-GO** (score 62.5/100)",
		"- critical gate p99 latency failed",
		"| p99 latency | 569 ms | 412 ms | +38.1 % | **FAIL** (critical) |",
		"| goodput | — | — | — | inconclusive |",
		`| ttft p99 <800ms \| "chat" & co | 1319 ms | — | — | **FAIL** |`,
		"| metric | run | baseline | change |",
		"| error rate | 0.5 % | 0.339 % | +0.16 pp |",
		"| tpot p99 | 29.3 ms | 21.2 ms | +38.1 % |",
		"HTML report `out/20260301T120000-cand/report.html`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("lacks %q:\n%s", want, md)
		}
	}
}

func TestWriteMarkdownThresholds(t *testing.T) {
	run := handRun("20260301T120000-nov", handStats(400, 40, 1, false))
	run.Files = []string{rundir.IntervalLog}
	run.Thresholds = []analyze.ThresholdResult{
		{Metric: "errors", Expr: "rate<0.01", Observed: 0.1, AbortOnFail: true},
		{Metric: "latency{tag:model=a|b}", Expr: "p(99)<500", Observed: 412, Pass: true},
		{Metric: "ttft", Expr: "p(99)<100", NoData: true},
	}
	run.Aborted, run.AbortReason = true, "threshold errors rate<0.01 failed"
	md := writeMarkdown(t, Input{Run: run, Data: &analyze.RunData{ID: run.ID, Dir: "out/nov"}})
	golden(t, "golden/thresholds.md", []byte(md))
	if n := tableColumns(t, md); n != 2 {
		t.Errorf("%d tables, want thresholds and key metrics", n)
	}
	for _, want := range []string{
		"**THRESHOLDS FAILED** (2 of 3)",
		"**Aborted:** threshold errors rate<0.01 failed",
		"| `errors rate<0.01` | 0.1 | **FAIL** (abortOnFail) |",
		"| `latency{tag:model=a\\|b} p(99)<500` | 412 | pass |",
		"| `ttft p(99)<100` | no data | **FAIL** |",
		"| metric | run |\n",
		"| error rate | 10 % |",
		"run directory `out/nov`\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("lacks %q:\n%s", want, md)
		}
	}
	for _, absent := range []string{"ttft p99", "baseline", "report.html", "Output divergence"} {
		if strings.Contains(md, absent) {
			t.Errorf("has %q:\n%s", absent, md)
		}
	}
}

func TestWriteMarkdownDivergence(t *testing.T) {
	run := handRun("20260301T120000-shadow", handStats(500, 0, 1, true))
	run.Files = nil
	div := &divergence.Report{
		Schema: divergence.Schema, Pairs: 500, PairsWithPrimary: 500, NoiseMeasured: true,
		Candidates: []divergence.CandidateReport{
			{Target: "candidate", Headline: []divergence.Headline{
				{Metric: "divergence_rate", Raw: 0.124, Noise: 0.01, Corrected: 0.114, ExceedsNoise: true},
				{Metric: "error_rate", Raw: 0.002, Noise: 0.002, Corrected: 0},
			}},
			{Target: "candidate-2", Headline: []divergence.Headline{
				{Metric: "divergence_rate", Raw: 0.011, Noise: 0.01, Corrected: 0.001},
			}},
		},
	}
	v := &analyze.Verdict{
		Schema: analyze.VerdictSchema, Verdict: analyze.Go, Score: 100, Run: run.ID,
		Reasons: []string{"every gate passed"},
		Gates: []analyze.GateResult{{
			Name: "divergence", Kind: analyze.DivergenceGate, Metric: "divergence_rate", Expr: "corrected<0.2",
			Observed: 0.114, Pass: true, Status: analyze.GatePass, Critical: true, Weight: 1,
		}},
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, rundir.HTML), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	in := Input{Run: run, Data: &analyze.RunData{ID: run.ID, Dir: dir, Divergence: div}, Verdict: v}
	md := writeMarkdown(t, in)
	// The footer names a temporary directory: compare the rest.
	body, footer, ok := strings.Cut(md, "\n---\n")
	if !ok {
		t.Fatalf("no footer:\n%s", md)
	}
	golden(t, "golden/divergence.md", []byte(body))
	if n := tableColumns(t, md); n != 3 {
		t.Errorf("%d tables, want gates, key metrics and divergence", n)
	}
	for _, want := range []string{
		"**GO** (score 100/100)",
		"500 pairs; noise measured as secondary vs primary.",
		"| candidate | divergence_rate | 0.124 | 0.01 | 0.114 | **yes** |",
		"| candidate-2 | divergence_rate | 0.011 | 0.01 | 0.001 | no |",
		"| ttft p99 | 95.5 ms |",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("lacks %q:\n%s", want, body)
		}
	}
	// report.html is found in the directory though run.json does not list it.
	if want := "HTML report `" + filepath.Join(dir, rundir.HTML) + "`"; !strings.Contains(footer, want) {
		t.Errorf("footer %q lacks %q", footer, want)
	}
}

func TestWriteMarkdownNoCandidate(t *testing.T) {
	run := handRun("r", handStats(10, 0, 1, false))
	md := writeMarkdown(t, Input{Run: run, Data: &analyze.RunData{Divergence: &divergence.Report{Pairs: 3}}})
	if !strings.Contains(md, "3 pairs; no secondary") || !strings.Contains(md, "No candidate was compared.") {
		t.Errorf("divergence without candidates:\n%s", md)
	}
	if strings.Contains(md, "run directory") {
		t.Errorf("footer without a run directory:\n%s", md)
	}
	tableColumns(t, md)
}

func TestWriteMarkdownEvents(t *testing.T) {
	in := htmlFixture(t)
	md := writeMarkdown(t, in)
	want := "\n#### Events\n\n" +
		"- +36s · fault · for 12s · proxy · fault: latency +40ms\n" +
		"- +40s · fault · fault: http 503 5%\n" +
		"- +50s · flip · traffic flipped to v2\n"
	if !strings.Contains(md, want) {
		t.Errorf("lacks the events %q:\n%s", want, md)
	}
	for i := range 20 {
		in.Data.Events = append(in.Data.Events, gonogo.Event{Time: htmlT0.Add(time.Duration(i) * time.Second), Kind: "marker", Source: "marker"})
	}
	md = writeMarkdown(t, in)
	if n := strings.Count(md, "\n- +"); n != mdMaxEvents || !strings.Contains(md, "- and 13 more") {
		t.Errorf("%d events listed, want %d and 13 more:\n%s", n, mdMaxEvents, md)
	}
}
