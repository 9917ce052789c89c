package annotations_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	_ "github.com/gonogo-dev/gonogo/extensions/all"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/outputs"
	"github.com/gonogo-dev/gonogo/outputs/annotations"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/rundir"
	"github.com/gonogo-dev/gonogo/runner"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// TestRun runs a two-stage ramp against the simulated server while a hook
// injects a "fault" and a person leaves a marker, and checks
// annotations.json (the run, its stages, the journal and the outcome, in
// time order) and what a loopback Grafana was posted: the same
// annotations, with the service account token.
func TestRun(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	cfg.Knobs.ErrorRate = 0
	_, target := modelservertest.Start(t, cfg)

	var (
		mu     sync.Mutex
		posted []annotations.Annotation
		auth   []string
	)
	grafana := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a annotations.Annotation
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/api/annotations" || json.Unmarshal(b, &a) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		posted, auth = append(posted, a), append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		_, _ = io.WriteString(w, `{"message":"Annotation added","id":1}`)
	}))
	defer grafana.Close()
	tok := filepath.Join(t.TempDir(), "grafana-token")
	if err := os.WriteFile(tok, []byte("glsa_abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := annotations.NewGrafana(outputs.Config{URL: grafana.URL, TokenFile: tok})
	if err != nil {
		t.Fatal(err)
	}

	file, err := scenarios.FromFlags(scenarios.Overrides{Executor: ptr(scenarios.RampingArrivalRate),
		Stages: []scenarios.Stage{{Duration: time.Second, Target: 20}, {Duration: time.Second, Target: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r, err := runner.New(runner.Config{File: file, Protocol: "openai", Target: target, Dir: dir, Command: []string{"gonogo", "load"},
		Outputs: []outputs.Output{out}, OutputInterval: time.Second, Err: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var faultAt time.Time
	r.Attach(runner.Hooks{
		Start: func(_ context.Context, r *runner.Run) error {
			faultAt = r.Zero().Add(200 * time.Millisecond)
			end := faultAt.Add(500 * time.Millisecond)
			return r.Journal().Emit(gonogo.Event{Time: faultAt, End: &end, Kind: gonogo.EventFault, Source: "chaos", Target: "gpu",
				Message: "latency 100ms", Attrs: map[string]string{"delay": "100ms"}})
		},
	})
	if _, err := r.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := runner.Mark(rundir.Dir(dir), "too late for the run", nil); err != nil { // after the end: not in annotations.json
		t.Fatal(err)
	}
	run, err := reports.ReadRunJSON(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, rundir.Annotations))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	anns, err := annotations.Read(f)
	if err != nil {
		t.Fatal(err)
	}

	type want struct {
		time, end int64
		tag, text string
	}
	start, ended := run.Started.UnixMilli(), run.Ended.UnixMilli()
	wants := []want{
		{start, ended, "run", "gonogo run " + run.ID + " (complete): default against " + target},
		{start, start + 1000, "stage", "scenario default: stage 1/2: to 20/s over 1s"},
		{faultAt.UnixMilli(), faultAt.UnixMilli() + 500, "fault", "latency 100ms (target gpu) · delay=100ms"},
		{start + 1000, min(start+2000, ended), "stage", "scenario default: stage 2/2: to 10/s over 1s"},
		{ended, ended, "verdict", "go: every threshold passed"},
	}
	if len(anns) != len(wants) {
		t.Fatalf("%d annotations, want %d:\n%+v", len(anns), len(wants), anns)
	}
	for i, w := range wants {
		a := anns[i]
		if a.Time != w.time || a.TimeEnd != w.end || a.Text != w.text || !slices.Contains(a.Tags, w.tag) ||
			!slices.Contains(a.Tags, "gonogo") || !slices.Contains(a.Tags, "run:"+run.ID) {
			t.Errorf("annotation %d = %+v\nwant time %d, end %d, tag %s, text %q", i, a, w.time, w.end, w.tag, w.text)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !reflect.DeepEqual(posted, anns) {
		t.Errorf("Grafana was posted\n%+v\nwant annotations.json's\n%+v", posted, anns)
	}
	for _, a := range auth {
		if a != "Bearer glsa_abc" {
			t.Errorf("Authorization %q, want the token file's bearer token", a)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, rundir.Run)); strings.Contains(string(b), "glsa_abc") {
		t.Error("run.json holds the token")
	}
}

func ptr[T any](v T) *T { return &v }
