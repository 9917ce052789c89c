package reports

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
)

// checkedRun is a run of 20 requests with two checks: "ok" failed by
// every fifth request, "has-choices" never failed, "spare" never judged.
func checkedRun(t *testing.T) *Run {
	t.Helper()
	rec, err := analyze.NewRecorder(analyze.Config{Start: t0, Checks: []string{"ok", "has-choices", "spare"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		at := t0.Add(time.Duration(i) * 50 * time.Millisecond)
		res := &gonogo.Result{Request: &gonogo.Request{Scenario: "chat", Intended: at}, Sent: at, Done: at.Add(10 * time.Millisecond), Status: 200}
		failed := uint64(0)
		if i%5 == 0 {
			failed = 1
		}
		rec.RecordChecked(res, 0b011, failed)
	}
	end := t0.Add(time.Second)
	_ = rec.Close(end)
	run := &Run{ID: "checked", Scenarios: map[string]Scenario{"chat": {}}}
	run.SetSummary(rec.Summary(end))
	return run
}

func TestReportsShowChecks(t *testing.T) {
	run := checkedRun(t)
	var text bytes.Buffer
	if err := WriteText(&text, run); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"✗ ok           16      4       80.00 %", "✓ has-choices  20      0       100.00 %"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, text.String())
		}
	}
	if !strings.Contains(text.String(), "failed 0") {
		t.Errorf("a failed check counted as a failed request:\n%s", text.String())
	}
	var html bytes.Buffer
	if err := WriteHTML(&html, Input{Run: run}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<table id="checks">`, `<tr class="fail"><td>ok</td><td class="num">16</td><td class="num">4</td><td class="num status">80 %</td></tr>`,
		`<tr class="pass"><td>spare</td><td class="num">0</td><td class="num">0</td><td class="num status">not judged</td></tr>`} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, Input{Run: run}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| checks passed | 90 % |") {
		t.Errorf("Markdown lacks the checks row:\n%s", md.String())
	}
	dir := t.TempDir()
	if err := WriteRunJSON(dir, run); err != nil {
		t.Fatal(err)
	}
	back, err := ReadRunJSON(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c := back.Overall.Checks["ok"]; c != (analyze.CheckCounts{Passed: 16, Failed: 4}) || len(back.Overall.Checks) != 3 ||
		back.Scenarios["chat"].Checks["has-choices"].Passed != 20 {
		t.Errorf("run.json read back: overall %v, chat %v", back.Overall.Checks, back.Scenarios["chat"].Checks)
	}
}
