//go:build !race

// The latency-vs-baseline gate compares real latencies of runs made one
// after the other; a race build slows the generator enough (14 ms → 49 ms
// medians with other packages on both cores) to fail it.

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/rundir"
)

// TestVerdictErrorBurst injects a real error burst into the simulated
// server during a run — 20 % errors for a tenth of it, about 2 % of all
// requests — and checks that the verdict is a no-go on the error gates
// while a run without the burst is a go.
func TestVerdictErrorBurst(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	cfg.Knobs.LatencyScale = 5
	srv, url := modelservertest.Start(t, cfg)
	dir := t.TempDir()
	cli := func(args ...string) (int, string) {
		var out bytes.Buffer
		o := &options{Out: &out, Err: &out}
		code := run(context.Background(), o, args)
		return code, out.String()
	}
	load := func(name string) {
		t.Helper()
		if code, out := cli("load", "--target", url, "--protocol", "kserve", "--model", modelserver.DefaultClassifierModel,
			"--rate", "500", "--duration", "4s", "--out", filepath.Join(dir, name), "--history", "", "--quiet"); code != 0 {
			t.Fatalf("load %s: exit %d\n%s", name, code, out)
		}
	}
	load("base")
	// The burst: 20 % errors from 1.8 s to 2.2 s of the next run.
	burst := time.AfterFunc(1800*time.Millisecond, func() {
		k := srv.Knobs()
		k.ErrorRate = 0.2
		if err := srv.SetKnobs(k); err != nil {
			t.Error(err)
		}
		time.AfterFunc(400*time.Millisecond, func() {
			k.ErrorRate = 0
			_ = srv.SetKnobs(k)
		})
	})
	defer burst.Stop()
	load("burst")
	load("calm")

	gates := filepath.Join(dir, "gates.yaml")
	os.WriteFile(gates, []byte(`gates:
  - {name: error rate, metric: errors, expr: rate<0.01, critical: true}
  - {name: errors vs baseline, metric: errors, compare: baseline, allowed: 0.5pp}
  - {name: latency vs baseline, metric: latency, compare: baseline, stat: med, allowed: 50%}
`), 0o644)
	judge := func(name string) *analyze.Verdict {
		t.Helper()
		code, out := cli("verdict", "--gates", gates, "--baseline", filepath.Join(dir, "base"), "--history", "", filepath.Join(dir, name))
		var v analyze.Verdict
		b, err := os.ReadFile(filepath.Join(dir, name, rundir.Verdict))
		if err == nil {
			err = json.Unmarshal(b, &v)
		}
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		if code != v.Verdict.ExitCode() {
			t.Errorf("%s: exit %d for verdict %s", name, code, v.Verdict)
		}
		return &v
	}
	v := judge("burst")
	failed := map[string]bool{}
	for _, g := range v.Gates {
		failed[g.Name] = g.Status == analyze.GateFail
	}
	if v.Verdict != analyze.NoGo || !failed["error rate"] || !failed["errors vs baseline"] || failed["latency vs baseline"] {
		t.Errorf("burst: verdict %s, failed %v; want no-go on both error gates only\n%s", v.Verdict, failed, strings.Join(v.Reasons, "\n"))
	}
	if v := judge("calm"); v.Verdict != analyze.Go {
		t.Errorf("calm: verdict %s, want go\n%s", v.Verdict, strings.Join(v.Reasons, "\n"))
	}
}
