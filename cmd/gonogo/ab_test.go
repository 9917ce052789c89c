package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze/abtest"
	"github.com/gonogo-dev/gonogo/store"
)

// abStore is a store holding rollout "ab" with an experiment step at
// 50 % and users exposed 50/50, half of them under that split.
func abStore(t *testing.T, users int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rollouts.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	spec := `name: ab
backends:
  - {name: stable, url: "http://127.0.0.1:1", role: stable}
  - {name: canary, url: "http://127.0.0.1:2", role: canary}
routing: {sticky: {header: X-User}}
strategy:
  canary:
    steps:
      - experiment: {weight: 50, duration: 1h}
experiment:
  metrics: [{name: purchase}]
`
	ctx := context.Background()
	now := time.Now()
	if _, err := db.Save(ctx, &store.State{Rollout: "ab", Spec: []byte(spec), Salt: "s", Phase: "progressing", StepStarted: now,
		Weights: map[string]int{"stable": 50000, "canary": 50000}}, store.Event{Kind: "start", Actor: "test", Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	var batch []store.Exposure
	for i := range users {
		batch = append(batch, store.Exposure{User: fmt.Sprintf("u%d", i), Variant: []string{"stable", "canary"}[i%2],
			Time: now.Add(-time.Hour), Attrs: map[string]string{"split": "50"}})
	}
	if err := db.RecordExposures(ctx, "ab", batch); err != nil {
		t.Fatal(err)
	}
	return path
}

// ab plan, import and report through the command line, with their exit
// codes: a canary converting 20 % against 10 % ships (0); nothing yet is
// not decided (4); bad input is 2 and names the file and line.
func TestABCommands(t *testing.T) {
	o := quiet()
	if code := run(context.Background(), o, []string{"ab", "plan", "--baseline-rate", "0.05", "--mde", "3%", "--users-per-hour", "2000", "--json"}); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, o.Err)
	}
	var plan abtest.PlanResult
	if err := json.Unmarshal(o.Out.(*bytes.Buffer).Bytes(), &plan); err != nil || plan.Fixed.ControlUsers < 300000 || plan.Fixed.ControlUsers > 400000 {
		t.Errorf("plan: %+v (%v)", plan.Fixed, err)
	}
	if code := run(context.Background(), quiet(), []string{"ab", "plan", "--baseline-rate", "0.8", "--mde", "30%", "--users-per-hour", "10"}); code != exitUsage {
		t.Errorf("impossible plan: exit %d, want 2", code)
	}

	storePath := abStore(t, 4000)
	o = quiet()
	if code := run(context.Background(), o, []string{"ab", "report", "ab", "--store", storePath}); code != exitInconclusive {
		t.Errorf("report without outcomes: exit %d, want 4\n%s%s", code, o.Out, o.Err)
	}
	// Half the outcomes have an id; the others a time, which makes theirs.
	var lines strings.Builder
	at := time.Now().UTC().Format(time.RFC3339Nano)
	for i := range 4000 {
		rate := 10 // per 100 users: stable
		if i%2 == 1 {
			rate = 20 // canary
		}
		switch {
		case i/2%100 >= rate:
		case i%4 < 2:
			fmt.Fprintf(&lines, `{"id":"e%d","user":"u%d","metric":"purchase","value":1}`+"\n", i, i)
		default:
			fmt.Fprintf(&lines, `{"user":"u%d","metric":"purchase","value":1,"time":%q}`+"\n", i, at)
		}
	}
	// The same event twice in one file is two events.
	fmt.Fprintf(&lines, `{"user":"u1","metric":"revenue","value":5,"time":%q}`+"\n", at)
	fmt.Fprintf(&lines, `{"user":"u1","metric":"revenue","value":5,"time":%q}`+"\n", at)
	fmt.Fprintf(&lines, `{"id":"x","user":"stranger","metric":"purchase","value":1}`+"\n")
	file := filepath.Join(t.TempDir(), "outcomes.ndjson")
	if err := os.WriteFile(file, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{ // the second import counts only duplicates
		"602 counted, 1 of unknown users, 0 before the exposure, 0 of reassigned users, 0 duplicates",
		"0 counted, 0 of unknown users, 0 before the exposure, 0 of reassigned users, 603 duplicates",
	} {
		o = quiet()
		if code := run(context.Background(), o, []string{"ab", "import", file, "--rollout", "ab", "--store", storePath}); code != 0 {
			t.Fatalf("import: exit %d: %s", code, o.Err)
		}
		if out := o.Out.(*bytes.Buffer).String(); !strings.Contains(out, want) {
			t.Errorf("import %d: %s, want %s", i+1, out, want)
		}
	}
	o = quiet()
	jsonPath := filepath.Join(t.TempDir(), "ab.json")
	htmlPath := filepath.Join(t.TempDir(), "ab.html")
	if code := run(context.Background(), o, []string{"ab", "report", "ab", "--store", storePath, "--json", jsonPath, "--html", htmlPath}); code != 0 {
		t.Fatalf("report: exit %d, want 0 (ship)\n%s%s", code, o.Out, o.Err)
	}
	var r abtest.Readout
	b, _ := os.ReadFile(jsonPath)
	if err := json.Unmarshal(b, &r); err != nil || r.Verdict != abtest.Ship || r.Outcomes.Counted != 602 || r.Outcomes.UnknownUser != 1 {
		t.Errorf("ab.json: verdict %s, outcomes %+v (%v)", r.Verdict, r.Outcomes, err)
	}
	if h, err := os.ReadFile(htmlPath); err != nil || !bytes.Contains(h, []byte("purchase")) {
		t.Errorf("ab.html: %v", err)
	}

	bad := filepath.Join(t.TempDir(), "bad.ndjson")
	if err := os.WriteFile(bad, []byte(`{"user":"u1","metric":"purchase","value":1}`+"\n"+`{"user":"u2","metric":"purchase","value":"lots"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o = quiet()
	if code := run(context.Background(), o, []string{"ab", "import", bad, "--rollout", "ab", "--store", storePath}); code != exitUsage || !strings.Contains(o.Err.(*bytes.Buffer).String(), bad+":2:") {
		t.Errorf("bad file: exit %d: %s", code, o.Err)
	}
	if code := run(context.Background(), quiet(), []string{"ab", "report", "nope", "--store", storePath}); code != exitUsage {
		t.Errorf("report of an unknown rollout: exit %d, want 2", code)
	}
}
