package rollout

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// FuzzParseConfig: ParseConfig never panics, an error is always an
// *input.Error matched by input.ErrInput, and a config it accepts is
// whole: two backends, one of each role, weights summing to 100 %, and
// steps to take.
func FuzzParseConfig(f *testing.F) {
	seeds := []string{
		"name: r\n" + cfgBackendsYAML + cfgStepsYAML,
		"name: r\n" + cfgBackendsYAML + "routing:\n  mode: roundrobin\n  sticky: {header: X-User, cookie: uid, bodyField: user}\n  override: {header: X-Canary}\n" + cfgStepsYAML,
		"name: r\n" + cfgBackendsYAML + "routing:\n  geo:\n    header: X-Region\n    ranges: {eu: [10.0.0.0/8, \"::1/128\"]}\n    canaryRegions: [eu]\n" + cfgStepsYAML,
		"name: r\n" + cfgBackendsYAML + "routing:\n  flags: {file: flags.yaml, flag: model, attributes: {tier: X-Tier}}\n" + cfgStepsYAML,
		"name: r\n" + cfgBackendsYAML + "analysis:\n  gatesFile: gates.yaml\n" + cfgStepsYAML,
		"name: r\n" + cfgBackendsYAML + "analysis:\n  interval: 1s\n  window: 5s\n  minRequests: 10\n  inconclusive: rollback\n  maxHold: 1m\n  srm: {alpha: 0.01}\n  gates:\n    - {name: p99, metric: latency, expr: \"p(99)<2000\", critical: true}\n" + cfgStepsYAML,
		"name: r\n" + cfgBackendsYAML + "analysis:\n  providers:\n    - name: err\n      prometheus: {address: \"http://127.0.0.1:9090\", query: \"up\", condition: \"== 1\"}\n" + cfgStepsYAML,
		"name: bg\n" + cfgBackendsYAML + "strategy:\n  blueGreen:\n    previewMirror: 50\n    prePromotionAnalysis: {passes: 2, timeout: 1m}\n    postPromotionAnalysis: {}\n    autoPromote: false\n    rollbackWindow: 1m\n    scaleDownDelay: 10s\n",
		"name: r\n" + cfgBackendsYAML + "strategy:\n  canary:\n    steps:\n      - setWeight: 0.001\n      - setMirror: {percent: 20}\n      - setHeaderRoute: {header: X-Beta, value: \"1\"}\n      - analysis: {passes: 3}\n      - setHeaderRoute: {}\n      - pause: {}\n",
		"name: r\nlisten: 127.0.0.1:0\nadmin: {listen: 127.0.0.1:0, tokenFile: tok}\ndrainTimeout: 5s\nwarmup: {requests: 5, method: POST, path: /v1/completions, body: '{}', stableWithin: 0.5, timeout: 10s}\n" + cfgBackendsYAML + cfgStepsYAML,
		"name: r\nbackends:\n  - {name: a, url: \"http://[::1]:1\", role: stable, weight: 99.999, maxConns: 4, health: /h}\n  - {name: b, url: \"https://x\", role: canary, weight: 0.001}\n" + cfgStepsYAML,
		"name: r\n" + cfgBackendsYAML + "routing: {sticky: {header: X-User}}\nexperiment:\n  name: e\n  attributes: {tier: X-Tier}\n  metrics:\n    - {name: purchase}\n    - {name: revenue, kind: continuous, role: guardrail, margin: 0.02, lowerIsBetter: false}\n  alpha: 0.05\n  sequential: false\n  tuning: 1000\n  correction: bh\n  minSample: -1\n  cohort: 2h\n  undecided: rollback\nstrategy:\n  canary:\n    steps:\n      - experiment: {weight: 50, duration: 1h}\n      - setWeight: 100\n",
		"name: r\nbackends: [{}, {}]\n",
		"name: [1\n",
		"",
		"!!binary AAAA",
		"name: r\nbackends: &a [*a]\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	dir := f.TempDir()
	for name, src := range map[string]string{
		"gates.yaml": "gates:\n  - name: p99\n    metric: latency\n    expr: p(99)<2000\n",
		"flags.yaml": "flags:\n  model:\n    variants: {blue: v1, green: v2}\n    defaultVariant: blue\n    rules:\n      - rollout: true\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	path := filepath.Join(dir, "rollout.yaml")
	f.Fuzz(func(t *testing.T, src string) {
		// Files the config names are read relative to dir; keep the
		// fuzzer away from device and process files.
		if strings.Contains(src, "/dev") || strings.Contains(src, "/proc") || strings.Contains(src, "/sys") {
			t.Skip()
		}
		c, err := ParseConfig(path, []byte(src))
		if err != nil {
			var ie *input.Error
			if !errors.As(err, &ie) || !errors.Is(err, input.ErrInput) {
				t.Fatalf("error %T %v is not an *input.Error", err, err)
			}
			return
		}
		if len(c.Backends) != 2 || c.stable == c.canary || c.Backends[c.stable].Role != RoleStable || c.Backends[c.canary].Role != RoleCanary {
			t.Fatalf("accepted backends %+v", c.Backends)
		}
		w := c.startWeights()
		if sum := w[c.Backends[0].Name] + w[c.Backends[1].Name]; sum != 100_000 {
			t.Fatalf("accepted weights summing to %d buckets", sum)
		}
		if len(c.steps()) == 0 {
			t.Fatal("accepted a rollout without steps")
		}
	})
}
