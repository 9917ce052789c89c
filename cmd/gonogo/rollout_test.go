package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// TestRolloutExitCodes asserts gonogo rollout's exit codes as numbers and
// its one-line errors naming file, line and field.
func TestRolloutExitCodes(t *testing.T) {
	if testing.Short() {
		// Rollouts against two simulated servers: beside the chaos
		// experiments' race tests they cost those their steady state.
		t.Skip("runs rollouts for seconds")
	}
	cfg := modelserver.DefaultConfig()
	cfg.Knobs.LatencyScale = 0.2
	_, stable := modelservertest.Start(t, cfg)
	cfg.Version = modelserver.VersionV2
	_, canary := modelservertest.Start(t, cfg)
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("token", "s3cret\n")
	write("bad-gates.yaml", "gates:\n  - {name: x, metric: nope, expr: p(99)<1}\n")
	rollout := func(name, backends, steps, extra string) string {
		return write(name+".yaml", fmt.Sprintf("name: %s\nlisten: 127.0.0.1:0\nadmin: {listen: 127.0.0.1:0, tokenFile: token}\nbackends:\n%s%sstrategy:\n  canary:\n    steps:\n%s",
			name, backends, extra, steps))
	}
	two := fmt.Sprintf("  - {name: v1, url: %q, role: stable}\n  - {name: v2, url: %q, role: canary}\n", stable, canary)
	steps := "      - setWeight: 50\n      - pause: {duration: 1s}\n"
	serve := func(path string, extra ...string) []string {
		return append([]string{"rollout", "serve", "--config", path, "--store", filepath.Join(dir, "s.db"), "--out", filepath.Join(dir, "out-"+filepath.Base(path)), "--exit-on-end"}, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
		line string // the first line of stderr holds this
	}{
		{"promoted", serve(rollout("ok", two, steps, "analysis: {interval: 1s}\n")), 0, ""},
		{"canary not warm: rolled back", serve(rollout("cold", two, steps, "warmup: {path: /nope, timeout: 2s}\n")), 3, ""},
		{"weights not summing to 100", serve(rollout("sum", fmt.Sprintf("  - {name: v1, url: %q, role: stable, weight: 90}\n  - {name: v2, url: %q, role: canary, weight: 5}\n", stable, canary), steps, "")), 2,
			"sum.yaml:6: backends[1].weight: weights sum to 95, want 100"},
		{"step after an unbounded pause", serve(rollout("pause", two, "      - pause: {}\n      - setWeight: 50\n", "")), 2,
			"pause.yaml:11: strategy.canary.steps[1]: a step after an unbounded pause"},
		{"gates file that does not parse", serve(rollout("gates", two, steps, "analysis: {gatesFile: bad-gates.yaml}\n")), 2,
			"gates.yaml:7: analysis.gatesFile:"},
		{"unreachable backend", serve(rollout("down", fmt.Sprintf("  - {name: v1, url: %q, role: stable}\n  - {name: v2, url: \"http://127.0.0.1:1\", role: canary}\n", stable), steps, "")), 2,
			"down.yaml:6: backends[1].url: http://127.0.0.1:1 does not answer"},
		{"no config", []string{"rollout", "serve"}, 2, "--config is required"},
		{"no token", []string{"rollout", "status"}, 2, "--token-file is required"},
		{"admin API down", []string{"rollout", "status", "--token-file", filepath.Join(dir, "token"), "--admin", "http://127.0.0.1:1"}, 1, ""},
		{"set-weight not a number", []string{"rollout", "set-weight", "lots", "--token-file", filepath.Join(dir, "token")}, 2, "not a percentage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := quiet()
			got := run(context.Background(), o, tc.args)
			stderr := o.Err.(*bytes.Buffer).String()
			if got != tc.want {
				t.Fatalf("gonogo %s: exit %d, want %d\n%s", strings.Join(tc.args, " "), got, tc.want, stderr)
			}
			if tc.line != "" {
				last := stderr[strings.LastIndex(strings.TrimRight(stderr, "\n"), "\n")+1:]
				if !strings.Contains(last, tc.line) {
					t.Errorf("stderr's last line %q, want it to hold %q", last, tc.line)
				}
			}
		})
	}
}
