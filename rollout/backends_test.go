package rollout

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/internal/input"
	"github.com/gonogo-dev/gonogo/store"
)

// More than two backends: a baseline and pinned backends, their roles
// checked like the rest of the file.
func TestConfigBaselineAndPinned(t *testing.T) {
	const head = "name: r\nbackends:\n  - {name: v1, url: http://127.0.0.1:1, role: stable}\n  - {name: v2, url: http://127.0.0.1:2, role: canary}\n"
	const canary = "strategy:\n  canary:\n    steps:\n      - setWeight: 20\n"
	flagsPath := filepath.Join(t.TempDir(), "flags.yaml")
	if err := os.WriteFile(flagsPath, []byte("flags:\n  model:\n    variants: {v1: a, large: b, small: c}\n    defaultVariant: v1\n    rules:\n      - users: [alice]\n        variant: large\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := head + "  - {name: v1-fresh, url: http://127.0.0.1:3, role: baseline}\n  - {name: large, url: http://127.0.0.1:4, role: pinned}\n  - {name: small, url: http://127.0.0.1:5, role: pinned}\n" +
		"routing: {flags: {file: " + flagsPath + ", flag: model}}\n" + canary
	c, err := ParseConfig("r.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, i := range c.order() {
		order = append(order, c.Backends[i].Name)
	}
	if got := strings.Join(order, ","); got != "v2,v1,v1-fresh,large,small" {
		t.Errorf("split order %s, want canary, stable, baseline, pinned", got)
	}
	if got := strings.Join(c.names(), ","); got != "v2,v1,v1-fresh" {
		t.Errorf("weighted backends %s, want canary, stable, baseline", got)
	}
	if w := c.startWeights(); len(w) != 3 || w["v1"] != buckets(100) || w["v1-fresh"] != 0 {
		t.Errorf("start weights %v: want stable 100 %%, the baseline 0, no pinned backend", w)
	}
	for _, tc := range []struct{ name, src, field string }{
		{"one backend", "name: r\nbackends:\n  - {name: v1, url: http://127.0.0.1:1, role: stable}\n" + canary, "backends"},
		{"two baselines", head + "  - {name: a, url: http://127.0.0.1:3, role: baseline}\n  - {name: b, url: http://127.0.0.1:4, role: baseline}\n" + canary, "backends[3].role"},
		{"unknown role", head + "  - {name: a, url: http://127.0.0.1:3, role: shadow}\n" + canary, "backends[2].role"},
		{"pinned weight", head + "  - {name: a, url: http://127.0.0.1:3, role: pinned, weight: 10}\n" + canary, "backends[2].weight"},
		{"baseline weight", head + "  - {name: a, url: http://127.0.0.1:3, role: baseline, weight: 10}\n" + canary, "backends[2].weight"},
		{"canary above 50 with a baseline", head + "  - {name: a, url: http://127.0.0.1:3, role: baseline}\nstrategy:\n  canary:\n    steps:\n      - setWeight: 20\n      - setWeight: 60\n", "strategy.canary.steps[1].setWeight"},
		{"pinned without flag rules", head + "  - {name: a, url: http://127.0.0.1:3, role: pinned}\n" + canary, "backends[2].role"},
		{"blue-green with a baseline", head + "  - {name: a, url: http://127.0.0.1:3, role: baseline}\nstrategy:\n  blueGreen: {}\n", "backends[2].role"},
	} {
		_, err := ParseConfig("r.yaml", []byte(tc.src))
		var ie *input.Error
		if !errors.As(err, &ie) || ie.Field != tc.field || ie.Line == 0 && tc.field != "backends" {
			t.Errorf("%s: %v, want an input error at %s with its line", tc.name, err, tc.field)
		}
	}
	// Up to 50 % and 100 % are steps a baseline allows.
	if _, err := ParseConfig("r.yaml", []byte(head+"  - {name: a, url: http://127.0.0.1:3, role: baseline}\nstrategy:\n  canary:\n    steps:\n      - setWeight: 50\n      - setWeight: 100\n")); err != nil {
		t.Errorf("50 then 100 %% with a baseline: %v", err)
	}
}

// With a baseline the canary and the baseline take the same weight, the
// canary from the lowest buckets and the baseline from the highest: across
// 5 → 25 → 50 → 25 %, a user moves only between stable and one of them in
// the direction of the change — never between canary and baseline — and
// each realised share is within 0.5 pp of the configured one over 100 000
// users. Promotion gives the canary everything.
func TestBaselineTakesTheCanaryWeight(t *testing.T) {
	f := newFixtureRollout(t, fixtureOpts{routing: "routing:\n  sticky: {header: X-User}",
		backends: "  - {name: base, url: " + startFixtureServer(t, "base-model", 0.2) + ", role: baseline}"})
	f.warm(t)
	if _, err := f.c.Do(Command{Op: "set-weight", Weight: 5, Actor: "test"}); !errors.Is(err, ErrNotWarm) {
		t.Fatalf("set-weight before the baseline is warm: %v, want ErrNotWarm", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.c.warm(ctx, f.c.baseline); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Do(Command{Op: "set-weight", Weight: 60, Actor: "test"}); !errors.Is(err, ErrBadCommand) {
		t.Errorf("set-weight 60 with a baseline: %v, want ErrBadCommand", err)
	}

	const users = 100_000
	r := httptest.NewRequest(http.MethodGet, "/v1/models", nil)
	was := make([]int, users)
	weights := []float64{5, 25, 50, 25}
	for wi, w := range weights {
		f.setWeight(t, w)
		tbl := f.c.proxy.table.Load()
		base := tbl.split.Index("base")
		n := map[int]int{}
		for u := range users {
			r.Header.Set("X-User", "u"+strconv.Itoa(u))
			i, _ := f.c.proxy.decide(tbl, httpIncoming{r}, nil)
			n[i]++
			if wi > 0 && i != was[u] {
				up := w > weights[wi-1]
				from, to := was[u], i
				if !up {
					from, to = to, from
				}
				if from != tbl.stable || to != tbl.canary && to != base {
					t.Fatalf("%g%% → %g%%: user %d moved %s → %s", weights[wi-1], w, u, tbl.split.Name(was[u]), tbl.split.Name(i))
				}
			}
			was[u] = i
		}
		for _, i := range []int{tbl.canary, base} {
			if got := 100 * float64(n[i]) / users; math.Abs(got-w) > 0.5 {
				t.Errorf("at %g %%: %.3f %% of users on %s", w, got, tbl.split.Name(i))
			}
		}
	}
	// Requests reach the baseline through the proxy.
	seen := map[string]int{}
	for u := range 60 {
		req, _ := http.NewRequest(http.MethodGet, f.url+"/v1/models", nil)
		req.Header.Set("X-User", "user-"+strconv.Itoa(u))
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		seen[resp.Header.Get(BackendHeader)]++
	}
	if seen["base"] == 0 || seen["green"] == 0 {
		t.Errorf("at 25 %%, 60 users reached %v: want some on the canary and the baseline", seen)
	}

	if _, err := f.c.Do(Command{Op: "promote", Full: true, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if st := f.c.State(); st.Weights["green"] != buckets(100) || st.Weights["base"] != 0 || st.Weights["blue"] != 0 {
		t.Errorf("promoted weights %v, want everything on the canary", st.Weights)
	}
	if f.c.baseline.eligible.Load() {
		t.Error("the baseline still takes traffic after the promotion")
	}
}

// The "two or more versions": a pinned backend serves the users a
// flag rule selects for it (model selection) once Run has warmed it, and
// nobody else; the canary is judged against the baseline (the gates name
// it), and a slow canary is rolled back with its baseline, both drained.
func TestCanaryJudgedAgainstBaseline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a rollout for seconds")
	}
	flagsPath := filepath.Join(t.TempDir(), "flags.yaml")
	if err := os.WriteFile(flagsPath, []byte(`flags:
  model:
    variants: {stable: v1, canary: v2, base: v1, large: v1-large}
    defaultVariant: stable
    rules:
      - match: {tier: premium}
        variant: large
      - rollout: true
`), 0o600); err != nil {
		t.Fatal(err)
	}
	src := e2eConfig("baseline", fixture(t, "v1"), fixture(t, "v2-slow"), `      - setWeight: 20
      - pause: {duration: 6s}
      - setWeight: 40
      - pause: {duration: 6s}
`)
	src = strings.Replace(src, "  - {name: canary,", fmt.Sprintf("  - {name: base, url: %q, role: baseline}\n  - {name: large, url: %q, role: pinned}\n  - {name: canary,", fixture(t, "v1"), fixture(t, "v1")), 1)
	src = strings.Replace(src, `compare: "role:stable"`, `compare: "role:baseline"`, 1)
	src = strings.Replace(src, "routing: {sticky: {header: X-User}}", "routing: {sticky: {header: X-User}, flags: {file: "+flagsPath+", flag: model, attributes: {tier: X-Tier}}}", 1)
	storePath := filepath.Join(t.TempDir(), "s.db")
	s := serve(t, src, storePath)

	premium := func() string {
		req, _ := http.NewRequest(http.MethodPost, s.proxy+"/v1/completions", strings.NewReader(`{"prompt":"hi","max_tokens":2}`))
		req.Header.Set("X-User", "vip")
		req.Header.Set("X-Tier", "premium")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get(BackendHeader)
	}
	// Until Run has warmed it, the rule's users follow the split.
	if !waitFor(20*time.Second, func() bool { return premium() == "large" }) {
		t.Fatal("the pinned backend was not warmed")
	}
	for range 5 {
		if got := premium(); got != "large" {
			t.Fatalf("a premium user went to %s, want the pinned backend", got)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	counts, _ := load(ctx, s, 80)
	wait(t, s, 40*time.Second)
	cancel()
	wantRolledBack(t, s, "canary median latency")
	if w := s.st.Weights; w["stable"] != buckets(100) || w["base"] != 0 || w["canary"] != 0 {
		t.Errorf("weights after the rollback %v, want all on stable", w)
	}
	n := func(name string) int64 {
		v, ok := counts.Load(name)
		if !ok {
			return 0
		}
		return v.(*atomic.Int64).Load()
	}
	if n("large") != 0 {
		t.Errorf("%d unflagged requests reached the pinned backend", n("large"))
	}
	// The baseline took as much as the canary (one binomial test: 5 σ).
	c, b := float64(n("canary")), float64(n("base"))
	if c+b < 20 || math.Abs(c-b) > 5*math.Sqrt(c+b)/2 {
		t.Errorf("canary %v and baseline %v requests: want equal shares", c, b)
	}

	db, err := store.Open(storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	as, _ := db.Analyses(context.Background(), "baseline", 1000)
	judgedBaseline := false
	for _, a := range as {
		judgedBaseline = judgedBaseline || strings.Contains(string(a.Detail), `"baseline_requests":`)
	}
	if !judgedBaseline {
		t.Error("no judgement counted baseline requests")
	}
	evs, _ := db.Events(context.Background(), "baseline", 0, 1000)
	drained := map[string]bool{}
	for _, e := range evs {
		if e.Kind == "drain" {
			drained[strings.TrimSuffix(strings.Fields(e.Reason)[0], ":")] = true
		}
	}
	if !drained["canary"] || !drained["base"] {
		t.Errorf("drained %v after the rollback, want the canary and the baseline", drained)
	}
}
