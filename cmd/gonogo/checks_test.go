package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// TestLoadChecks runs gonogo load with response checks: a check that does
// not compile exits 2 naming the file, line and field; a threshold on a
// check decides the exit code; the summary lists the checks.
func TestLoadChecks(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	cfg.Knobs.ErrorRate = 0.3
	_, url := modelservertest.Start(t, cfg)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const sc = "scenarios:\n  s: {executor: constant-arrival-rate, rate: 40, duration: 1s}\n"
	bad := write("bad.yaml", "checks:\n  - name: has-choices\n    json: 'choices[0.text exists'\n"+sc)
	strict := write("strict.yaml", "checks:\n  - {name: ok, status: 2xx}\n"+sc+"thresholds:\n  checks{check:ok}: ['rate>0.99']\n  errors: ['rate<1']\n")
	lenient := write("lenient.yaml", "checks:\n  - {name: ok, status: 2xx}\n  - {name: tokens, length: tokens == 4}\n"+sc+
		"thresholds:\n  checks_failed{check:tokens}: ['rate<0.9']\n  errors: ['rate<1']\n")
	for _, tc := range []struct {
		name, scenario string
		want           int
		out            []string
	}{
		{"bad check", bad, 2, []string{"bad.yaml:3:11: checks[0].json:", "not closed"}},
		{"failed check threshold", strict, 3, []string{"✗ checks{check:ok}", "✗ ok"}},
		{"passing check threshold", lenient, 0, []string{"✓ checks_failed{check:tokens}", "✗ tokens", "checks: ok (status 2xx), tokens (length tokens == 4)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := []string{"load", "--target", url, "--protocol", "openai", "--max-tokens", "4", "--scenario", tc.scenario,
				"--out", filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")), "--history", ""}
			if code := run(context.Background(), &options{Out: &out, Err: &errb}, args); code != tc.want {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.want, out.String(), errb.String())
			}
			for _, w := range tc.out {
				if !strings.Contains(out.String()+errb.String(), w) {
					t.Errorf("output lacks %q:\n%s%s", w, out.String(), errb.String())
				}
			}
		})
	}
}
