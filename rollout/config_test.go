package rollout

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// cfgBackendsYAML is the backends block most test configs share.
const cfgBackendsYAML = `backends:
  - name: blue
    url: http://127.0.0.1:9001
    role: stable
  - name: green
    url: http://127.0.0.1:9002
    role: canary
`

// cfgStepsYAML is a valid canary strategy.
const cfgStepsYAML = `strategy:
  canary:
    steps:
      - setWeight: 5
      - pause: {duration: 1s}
`

// cfgMarker ends the line a bad config's error must point at.
const cfgMarker = "# <-"

// cfgMarkedLine is the 1-based line of src that holds cfgMarker, 0 when none
// does.
func cfgMarkedLine(t *testing.T, src string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, cfgMarker) {
			return i + 1
		}
	}
	return 0
}

func TestParseConfigRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("bad-gates.yaml", "gates:\n  - name: p99\n    metric: latency\n    expr: [p(99)<\n")
	write("gates.yaml", "gates:\n  - name: p99\n    metric: latency\n    expr: p(99)<2000\n")
	// Rollout rules need a variant per backend: this flag has none for
	// green.
	write("flags.yaml", `flags:
  model:
    variants: {blue: v1, purple: v3}
    defaultVariant: blue
    rules:
      - rollout: true
`)
	write("flags-other.yaml", "flags:\n  other:\n    variants: {blue: v1, green: v2}\n    defaultVariant: blue\n")

	cases := []struct {
		name string
		src  string
		// field is the error's Field; file its File relative to dir
		// (default the config); line is where cfgMarker is unless the
		// file is not the config. A field whose value is a block is
		// placed on the block's first line (yamlpos.Find).
		field, file string
		line        int
		msg         string // a part of the message
	}{
		{name: "weights not summing to 100", field: "backends[1].weight", msg: "sum to 110", src: `name: r
backends:
  - name: blue
    url: http://127.0.0.1:9001
    role: stable
    weight: 90
  - name: green
    url: http://127.0.0.1:9002
    role: canary
    weight: 20 # <-
` + cfgStepsYAML},
		{name: "canary weight alone", field: "backends[1].weight", msg: "sum to 105", src: `name: r
backends:
  - name: blue
    url: http://127.0.0.1:9001
    role: stable
  - name: green
    url: http://127.0.0.1:9002
    role: canary
    weight: 5 # <-
` + cfgStepsYAML},
		{name: "two stables", field: "backends[1].role", msg: "second stable", src: `name: r
backends:
  - name: blue
    url: http://127.0.0.1:9001
    role: stable
  - name: green
    url: http://127.0.0.1:9002
    role: stable # <-
` + cfgStepsYAML},
		{name: "unknown role", field: "backends[0].role", msg: "primary", src: `name: r
backends:
  - name: blue
    url: http://127.0.0.1:9001
    role: primary # <-
  - name: green
    url: http://127.0.0.1:9002
    role: canary
` + cfgStepsYAML},
		{name: "bad URL scheme", field: "backends[1].url", msg: "ftp://", src: `name: r
backends:
  - name: blue
    url: http://127.0.0.1:9001
    role: stable
  - name: green
    url: ftp://127.0.0.1:9002 # <-
    role: canary
` + cfgStepsYAML},
		{name: "URL without host", field: "backends[0].url", src: `name: r
backends:
  - name: blue
    url: "http:///v1" # <-
    role: stable
  - name: green
    url: http://127.0.0.1:9002
    role: canary
` + cfgStepsYAML},
		{name: "one backend", field: "backends", msg: "got 1", src: `name: r
backends:
  - name: blue # <-
    url: http://127.0.0.1:9001
    role: stable
` + cfgStepsYAML},
		{name: "step with two actions", field: "strategy.canary.steps[1]", msg: "got 2", src: "name: r\n" + cfgBackendsYAML + `strategy:
  canary:
    steps:
      - setWeight: 5
      - setWeight: 10 # <-
        pause: {duration: 1s}
`},
		{name: "setWeight 101", field: "strategy.canary.steps[0].setWeight", msg: "percentage", src: "name: r\n" + cfgBackendsYAML + `strategy:
  canary:
    steps:
      - setWeight: 101 # <-
`},
		{name: "setWeight finer than 0.001 %", field: "strategy.canary.steps[1].setWeight", msg: "finer than 0.001", src: "name: r\n" + cfgBackendsYAML + `strategy:
  canary:
    steps:
      - setWeight: 0.001
      - setWeight: 0.0001 # <-
`},
		{name: "step after an unbounded pause", field: "strategy.canary.steps[2]", msg: "never runs", src: "name: r\n" + cfgBackendsYAML + `strategy:
  canary:
    steps:
      - setWeight: 5
      - pause: {}
      - setWeight: 50 # <-
`},
		{name: "no steps", field: "strategy.canary.steps", msg: "no steps", src: "name: r\n" + cfgBackendsYAML + `strategy:
  canary:
    steps: [] # <-
`},
		{name: "unknown field", field: "analysis.intervall", msg: "unknown field", src: "name: r\n" + cfgBackendsYAML + `analysis:
  intervall: 1s # <-
` + cfgStepsYAML},
		{name: "unknown top-level field", field: "backend", msg: "unknown field", src: "name: r\nbackend: {} # <-\n" + cfgBackendsYAML + cfgStepsYAML},
		{name: "inconclusive bogus", field: "analysis.inconclusive", msg: "bogus", src: "name: r\n" + cfgBackendsYAML + `analysis:
  inconclusive: bogus # <-
` + cfgStepsYAML},
		{name: "window shorter than interval", field: "analysis.window", msg: "shorter than the interval", src: "name: r\n" + cfgBackendsYAML + `analysis:
  interval: 10s
  window: 5s # <-
` + cfgStepsYAML},
		{name: "interval not whole seconds", field: "analysis.interval", msg: "whole seconds", src: "name: r\n" + cfgBackendsYAML + `analysis:
  interval: 1500ms # <-
` + cfgStepsYAML},
		{name: "srm alpha out of range", field: "analysis.srm.alpha", msg: "probability", src: "name: r\n" + cfgBackendsYAML + `analysis:
  srm:
    alpha: 1 # <-
` + cfgStepsYAML},
		{name: "gatesFile and gates", field: "analysis.gates", msg: "not both", src: "name: r\n" + cfgBackendsYAML + `analysis:
  gatesFile: gates.yaml
  gates:
    - {name: p99, metric: latency, expr: "p(99)<2000"} # <-
` + cfgStepsYAML},
		{name: "inline gate that does not parse", field: "analysis.gates", msg: `gate "p99": expr:`, src: "name: r\n" + cfgBackendsYAML + `analysis:
  gates:
    - name: p99
      metric: latency
      expr: p(99)<<2000 # <-
` + cfgStepsYAML},
		{name: "geo bad CIDR", field: "routing.geo.ranges.eu[1]", msg: "10.0.0.0/33", src: "name: r\n" + cfgBackendsYAML + `routing:
  geo:
    ranges:
      eu: [192.168.0.0/16, 10.0.0.0/33] # <-
    canaryRegions: [eu]
` + cfgStepsYAML},
		{name: "geo without canary regions", field: "routing.geo.canaryRegions", msg: "required", src: "name: r\n" + cfgBackendsYAML + `routing:
  geo:
    header: X-Region # <-
` + cfgStepsYAML},
		{name: "routing mode bogus", field: "routing.mode", msg: "roundrobin", src: "name: r\n" + cfgBackendsYAML + `routing:
  mode: sticky-ish # <-
` + cfgStepsYAML},
		{name: "gates file that does not parse", field: "analysis.gatesFile", msg: "bad-gates.yaml", src: "name: r\n" + cfgBackendsYAML + `analysis:
  gatesFile: bad-gates.yaml # <-
` + cfgStepsYAML},
		{name: "gates file missing", field: "analysis.gatesFile", msg: "no-such.yaml", src: "name: r\n" + cfgBackendsYAML + `analysis:
  gatesFile: no-such.yaml # <-
` + cfgStepsYAML},
		{name: "flags file naming an unknown backend", file: "flags.yaml", line: 6, field: "flags.model.rules[0].rollout", msg: `backend "green" is not a variant`, src: "name: r\n" + cfgBackendsYAML + `routing:
  flags: {file: flags.yaml, flag: model}
` + cfgStepsYAML},
		{name: "flag not in the flags file", field: "routing.flags.flag", msg: "no flag", src: "name: r\n" + cfgBackendsYAML + `routing:
  flags:
    file: flags-other.yaml
    flag: model # <-
` + cfgStepsYAML},
		{name: "blueGreen and canary", field: "strategy", msg: "not both", src: "name: r\n" + cfgBackendsYAML + `strategy:
  blueGreen: {} # <-
  canary:
    steps:
      - setWeight: 5
`},
		{name: "no strategy", field: "strategy", msg: "canary or blueGreen", src: "name: r\n" + cfgBackendsYAML},
		{name: "no name", field: "name", msg: "required", src: cfgBackendsYAML + cfgStepsYAML},
		{name: "whole number field fractional", field: "analysis.minRequests", msg: "whole number", src: "name: r\n" + cfgBackendsYAML + `analysis:
  minRequests: 2.5 # <-
` + cfgStepsYAML},
		{name: "behaviour without gates", field: "analysis.behaviour.gates", msg: "at least one gate", src: "name: r\n" + cfgBackendsYAML + cfgStepsYAML + `analysis:
  behaviour:
    sample: 5 # <-
`},
		{name: "behaviour gate metric", field: "analysis.behaviour.gates[0].metric", msg: "", src: "name: r\n" + cfgBackendsYAML + cfgStepsYAML + `analysis:
  behaviour:
    gates:
      - name: g
        metric: vibes # <-
        max: 1
`},
		{name: "experiment without sticky users", field: "experiment", msg: "sticky", src: "name: r\n" + cfgBackendsYAML + cfgStepsYAML + `experiment:
  metrics: [{name: purchase}] # <-
`},
		{name: "experiment metric kind", field: "experiment.metrics[0].kind", msg: "binomial or continuous", src: "name: r\n" + cfgBackendsYAML + cfgStepsYAML + `routing: {sticky: {header: X-User}}
experiment:
  metrics:
    - name: revenue
      kind: money # <-
`},
		{name: "experiment step without experiment", field: "strategy.canary.steps[0].experiment", msg: "experiment section", src: "name: r\n" + cfgBackendsYAML + `strategy:
  canary:
    steps:
      - experiment: {weight: 50, duration: 1h} # <-
`},
		{name: "experiment step at 100", field: "strategy.canary.steps[0].experiment.weight", msg: "both versions", src: "name: r\n" + cfgBackendsYAML + `routing: {sticky: {header: X-User}}
experiment: {metrics: [{name: purchase}]}
strategy:
  canary:
    steps:
      - experiment:
          weight: 100 # <-
          duration: 1h
`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "rollout.yaml")
			_, err := ParseConfig(path, []byte(tc.src))
			if err == nil {
				t.Fatal("ParseConfig accepted it")
			}
			if !errors.Is(err, input.ErrInput) {
				t.Errorf("error %v does not match input.ErrInput", err)
			}
			var ie *input.Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %T %v is not an *input.Error", err, err)
			}
			wantFile, wantLine := path, cfgMarkedLine(t, tc.src)
			if tc.file != "" {
				wantFile, wantLine = filepath.Join(dir, tc.file), tc.line
			}
			if ie.File != wantFile {
				t.Errorf("File = %q, want %q", ie.File, wantFile)
			}
			if ie.Line != wantLine {
				t.Errorf("Line = %d, want %d (%v)", ie.Line, wantLine, err)
			}
			if ie.Field != tc.field {
				t.Errorf("Field = %q, want %q (%v)", ie.Field, tc.field, err)
			}
			if !strings.Contains(ie.Msg, tc.msg) {
				t.Errorf("Msg = %q, want it to say %q", ie.Msg, tc.msg)
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.yaml")
	_, err := LoadConfig(path)
	var ie *input.Error
	if !errors.As(err, &ie) || ie.File != path {
		t.Fatalf("LoadConfig(missing) = %v, want an *input.Error naming %s", err, path)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig("rollout.yaml", []byte("name: r\n"+cfgBackendsYAML+cfgStepsYAML))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"listen", c.Listen, DefaultListen},
		{"admin.listen", c.Admin.Listen, DefaultAdminListen},
		{"backends[0].health", c.Backends[0].Health, DefaultHealth},
		{"backends[1].health", c.Backends[1].Health, DefaultHealth},
		{"stable weight", *c.Backends[0].Weight, 100.0},
		{"canary weight", *c.Backends[1].Weight, 0.0},
		{"routing.mode", c.Routing.Mode, ModeRandom},
		{"routing.override.header", c.Routing.Override.Header, DefaultOverride},
		{"warmup.requests", c.Warmup.Requests, DefaultWarmRequests},
		{"warmup.method", c.Warmup.Method, "GET"},
		{"warmup.path", c.Warmup.Path, DefaultHealth},
		{"warmup.stableWithin", *c.Warmup.StableWithin, DefaultStableWithin},
		{"warmup.timeout", c.Warmup.Timeout.D(), DefaultWarmTimeout},
		{"drainTimeout", c.DrainTimeout.D(), DefaultDrainTimeout},
		{"analysis.interval", c.Analysis.Interval.D(), DefaultInterval},
		{"analysis.window", c.Analysis.Window.D(), DefaultWindow},
		{"analysis.minRequests", c.Analysis.MinRequests, DefaultMinRequests},
		{"analysis.inconclusive", c.Analysis.Inconclusive, PolicyHold},
		{"analysis.maxHold", c.Analysis.MaxHold.D(), DefaultMaxHold},
		{"analysis.srm.alpha", *c.Analysis.SRM.Alpha, DefaultSRMAlpha},
		{"stable index", c.stable, 0},
		{"canary index", c.canary, 1},
		{"split order", strings.Join(c.names(), ","), "green,blue"},
		{"start weights", weightsText(c.startWeights()), "blue=100% green=0%"},
		{"steps", len(c.steps()), 2},
		{"path", c.Path, "rollout.yaml"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.what, ck.got, ck.want)
		}
	}
	if c.gates != nil || c.flagSet != nil || len(c.geo) != 0 {
		t.Errorf("gates, flags or geo set without being configured")
	}
}

func TestParseConfigBlueGreenDefaults(t *testing.T) {
	src := "name: bg\n" + cfgBackendsYAML + `analysis:
  interval: 2s
  window: 4s
strategy:
  blueGreen:
    prePromotionAnalysis: {}
    rollbackWindow: 30s
`
	c, err := ParseConfig("bg.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	bg := c.Strategy.BlueGreen
	if *bg.PreviewMirror != 100 || !*bg.AutoPromote || bg.PrePromotionAnalysis.Passes != 1 {
		t.Errorf("previewMirror %v autoPromote %v passes %d, want 100 true 1", *bg.PreviewMirror, *bg.AutoPromote, bg.PrePromotionAnalysis.Passes)
	}
	var got []string
	for _, s := range c.steps() {
		got = append(got, describe(s))
	}
	want := []string{
		"setMirror 100% to canary",
		"analysis passed 1 time(s)",
		"setWeight 100%",
		"setMirror 100% to stable",
		"pause 30s",
		"setMirror 0% to canary",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("blue-green steps:\n got %q\nwant %q", got, want)
	}
	if c.Analysis.Interval.D() != 2*time.Second || c.Analysis.Window.D() != 4*time.Second {
		t.Errorf("analysis %s/%s, want 2s/4s", c.Analysis.Interval.D(), c.Analysis.Window.D())
	}
}

func TestParseConfigLoadsGatesAndFlags(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gates.yaml"), []byte("gates:\n  - name: p99\n    metric: latency\n    expr: p(99)<2000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "flags.yaml"), []byte("flags:\n  model:\n    variants: {blue: v1, green: v2}\n    defaultVariant: blue\n    rules:\n      - users: [alice]\n        variant: green\n      - rollout: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := "name: r\n" + cfgBackendsYAML + `routing:
  flags: {file: flags.yaml, flag: model}
analysis:
  gatesFile: gates.yaml
` + cfgStepsYAML
	c, err := ParseConfig(filepath.Join(dir, "rollout.yaml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.gates == nil || len(c.gates.Gates) != 1 {
		t.Errorf("gates not loaded: %+v", c.gates)
	}
	if c.flagSet == nil {
		t.Errorf("flags not loaded")
	}
}
