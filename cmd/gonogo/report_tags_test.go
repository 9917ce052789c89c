package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/internal/numfmt"
	"github.com/gonogo-dev/gonogo/reports"
)

// A load over a targets file shows each target's figures in summary.txt
// and in the HTML report of gonogo report: a row per target whose
// requests, ok and failed counts are those the server counted and
// run.json holds.
func TestReportByTarget(t *testing.T) {
	url, counts := countingServer(t)
	path := writeTargets(t, "# weight=3\nGET "+url+"/a\n\n# name=b\nPOST /b\n@body.json\n")
	out := filepath.Join(t.TempDir(), "run")
	o := quiet()
	if code := run(context.Background(), o, []string{"load", "--targets", path, "--rate", "200", "--duration", "1s",
		"--out", out, "--history", "", "-q", "--no-preflight"}); code != 0 {
		t.Fatalf("load: exit %d\n%s", code, o.Err)
	}
	page := filepath.Join(t.TempDir(), "report.html")
	if code := run(context.Background(), o, []string{"report", out, "--html", page, "--history", ""}); code != 0 {
		t.Fatalf("report: exit %d\n%s", code, o.Err)
	}
	rj, err := reports.ReadRunJSON(out)
	if err != nil {
		t.Fatal(err)
	}
	summary, err := os.ReadFile(filepath.Join(out, "summary.txt"))
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	got := counts()
	for tag, served := range map[string]int{"target=GET /a": got["GET /a x="], "target=b": got["POST /b x="]} {
		st := rj.Tags[tag]
		if served == 0 || st.Requests.Total != int64(served) || st.Requests.OK != int64(served) {
			t.Errorf("run.json tags[%q]: %d requests (%d ok), server counted %d", tag, st.Requests.Total, st.Requests.OK, served)
		}
		value := strings.TrimPrefix(tag, "target=")
		n := regexp.QuoteMeta(numfmt.Thousands(int64(served)))
		text := `(?m)^\s+` + regexp.QuoteMeta(value) + `\s+` + n + `\s+` + n + `\s+0\s+0 %\s`
		if !regexp.MustCompile(text).Match(summary) {
			t.Errorf("summary.txt has no by tag row %s with %d requests, all ok:\n%s", value, served, summary)
		}
		row := `<tr><td class="mono">` + value + `</td><td class="num">` + numfmt.Thousands(int64(served)) +
			`</td><td class="num">` + numfmt.Thousands(int64(served)) + `</td><td class="num">0</td>`
		if !strings.Contains(string(html), row) {
			t.Errorf("the HTML report lacks the row %s", row)
		}
	}
	if !strings.Contains(string(html), `<table class="by-tag" data-key="target">`) {
		t.Error("the HTML report has no table of targets")
	}
}
