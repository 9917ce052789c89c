package flags

import (
	"fmt"
	"math"
	"testing"

	"github.com/gonogo-dev/gonogo/rollout/route"
)

// rulesYAML is the package documentation's example plus flags for the
// other reasons.
const rulesYAML = `flags:
  model:
    enabled: true
    variants: {stable: v1, canary: v2, small: v1-distilled}
    defaultVariant: stable
    rules:
      - name: internal users
        users: [alice, bob]
        variant: canary
      - name: free tier gets the small model
        match: {tier: free}
        variant: small
      - name: paid us on plan 3
        match: {tier: paid, region: us, plan: [3, pro]}
        variant: canary
      - name: eu canary
        match: {region: [eu-west, eu-north]}
        split: {canary: 10, stable: 90}
      - name: everyone else follows the rollout
        rollout: true
  static:
    variants: {on: "yes", off: "no"}
    defaultVariant: on
  off:
    enabled: false
    variants: {stable: v1, canary: v2}
    defaultVariant: stable
    rules:
      - users: [alice]
        variant: canary
  keyed:
    variants: {a: A, b: B}
    defaultVariant: a
    rules:
      - users: [alice]
        variant: b
      - split: {a: 50, b: 50}
`

// splitFunc is a Splitter from a function.
type splitFunc func(key string) string

func (f splitFunc) Split(key string) string { return f(key) }

var _ Splitter = splitFunc(nil)

// always gives every key the same backend.
func always(backend string) Splitter {
	return splitFunc(func(string) string { return backend })
}

func mustParse(t testing.TB, src string) *Set {
	t.Helper()
	s, err := Parse("rules.yaml", []byte(src), nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

func TestEvaluateOrderAndReasons(t *testing.T) {
	const salt = "rollout-salt"
	s := mustParse(t, rulesYAML).WithSalt(salt)
	euVariant := "stable"
	if route.Bucket(salt, "carol") < 10_000 {
		euVariant = "canary"
	}
	euValue := map[string]string{"canary": "v2", "stable": "v1"}[euVariant]
	attrs := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name  string
		flag  string
		c     Context
		split Splitter
		want  Decision
	}{
		{"users before segments", "model", Context{Key: "alice", Attrs: attrs("tier", "free")}, always("stable"),
			Decision{Flag: "model", Variant: "canary", Value: "v2", Reason: ReasonTargetingMatch, Rule: "internal users"}},
		{"segment by attribute", "model", Context{Key: "carol", Attrs: attrs("tier", "free")}, always("canary"),
			Decision{Flag: "model", Variant: "small", Value: "v1-distilled", Reason: ReasonTargetingMatch, Rule: "free tier gets the small model"}},
		{"every attribute must match", "model", Context{Key: "carol", Attrs: attrs("tier", "paid", "plan", "3")}, nil,
			Decision{Flag: "model", Variant: "stable", Value: "v1", Reason: ReasonDefault}},
		{"all attributes, one of a list", "model", Context{Key: "carol", Attrs: attrs("tier", "paid", "region", "us", "plan", "pro")}, nil,
			Decision{Flag: "model", Variant: "canary", Value: "v2", Reason: ReasonTargetingMatch, Rule: "paid us on plan 3"}},
		{"numbers by their text", "model", Context{Key: "carol", Attrs: attrs("tier", "paid", "region", "us", "plan", "3")}, nil,
			Decision{Flag: "model", Variant: "canary", Value: "v2", Reason: ReasonTargetingMatch, Rule: "paid us on plan 3"}},
		{"split in a segment", "model", Context{Key: "carol", Attrs: attrs("region", "eu-north")}, always("canary"),
			Decision{Flag: "model", Variant: euVariant, Value: euValue, Reason: ReasonSplit, Rule: "eu canary"}},
		{"rollout rule", "model", Context{Key: "carol"}, always("canary"),
			Decision{Flag: "model", Variant: "canary", Value: "v2", Reason: ReasonSplit, Rule: "everyone else follows the rollout"}},
		{"no splitter: default", "model", Context{Key: "carol"}, nil,
			Decision{Flag: "model", Variant: "stable", Value: "v1", Reason: ReasonDefault}},
		{"no live rollout: default", "model", Context{Key: "carol"}, always(""),
			Decision{Flag: "model", Variant: "stable", Value: "v1", Reason: ReasonDefault}},
		{"rollout gives no variant", "model", Context{Key: "carol"}, always("v3"),
			Decision{Flag: "model", Variant: "stable", Value: "v1", Reason: ReasonError, Rule: "everyone else follows the rollout", ErrorCode: ErrorGeneral}},
		{"no key, keyless rule applies", "model", Context{Attrs: attrs("tier", "free")}, always("canary"),
			Decision{Flag: "model", Variant: "small", Value: "v1-distilled", Reason: ReasonTargetingMatch, Rule: "free tier gets the small model"}},
		{"no key, split cannot apply", "model", Context{Attrs: attrs("region", "eu-west")}, always("canary"),
			Decision{Flag: "model", Variant: "stable", Value: "v1", Reason: ReasonDefault}},
		{"no key, every rule needs one", "keyed", Context{}, nil,
			Decision{Flag: "keyed", Variant: "a", Value: "A", Reason: ReasonError, ErrorCode: ErrorTargetingKeyMissing}},
		{"kill switch", "off", Context{Key: "alice"}, always("canary"),
			Decision{Flag: "off", Variant: "stable", Value: "v1", Reason: ReasonDisabled}},
		{"no rules", "static", Context{Key: "alice"}, nil,
			Decision{Flag: "static", Variant: "on", Value: "yes", Reason: ReasonStatic}},
		{"unknown flag", "nope", Context{Key: "alice"}, nil,
			Decision{Flag: "nope", Reason: ReasonError, ErrorCode: ErrorFlagNotFound}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Evaluate(tt.flag, tt.c, tt.split); got != tt.want {
				t.Errorf("Evaluate(%q, %+v)\n got %+v\nwant %+v", tt.flag, tt.c, got, tt.want)
			}
		})
	}
}

func TestKillSwitchOverridesEveryRule(t *testing.T) {
	on := mustParse(t, "flags:\n  f:\n    variants: {a: A, b: B}\n    defaultVariant: a\n    rules:\n      - variant: b\n")
	off := mustParse(t, "flags:\n  f:\n    enabled: false\n    variants: {a: A, b: B}\n    defaultVariant: a\n    rules:\n      - variant: b\n")
	for _, key := range []string{"", "alice", "bob"} {
		if d := on.Evaluate("f", Context{Key: key}, nil); d.Variant != "b" || d.Reason != ReasonTargetingMatch {
			t.Errorf("enabled, key %q: %+v, want b TARGETING_MATCH", key, d)
		}
		if d := off.Evaluate("f", Context{Key: key}, always("b")); d.Variant != "a" || d.Reason != ReasonDisabled {
			t.Errorf("disabled, key %q: %+v, want a DISABLED", key, d)
		}
	}
}

// TestSplitRealised checks the split against the router's buckets, key by
// key, and its realised shares over 100 000 keys.
func TestSplitRealised(t *testing.T) {
	const salt, n = "salt-1", 100_000
	s := mustParse(t, "flags:\n  f:\n    variants: {a: A, b: B, c: C}\n    defaultVariant: a\n    rules:\n      - split: {b: 10, c: 23.456, a: 66.544}\n").WithSalt(salt)
	count := map[string]int{}
	for i := range n {
		key := fmt.Sprintf("user-%d", i)
		d := s.Evaluate("f", Context{Key: key}, nil)
		b, want := route.Bucket(salt, key), "a"
		switch {
		case b < 10_000:
			want = "b"
		case b < 33_456:
			want = "c"
		}
		if d.Variant != want || d.Reason != ReasonSplit {
			t.Fatalf("key %q in bucket %d: %+v, want %s SPLIT", key, b, d, want)
		}
		count[d.Variant]++
	}
	for v, wantPct := range map[string]float64{"b": 10, "c": 23.456, "a": 66.544} {
		got := float64(count[v]) * 100 / n
		if math.Abs(got-wantPct) > 0.5 {
			t.Errorf("variant %s: realised %.3f %%, want %.3f ± 0.5", v, got, wantPct)
		}
	}
}

func TestSplitStickyAcrossSets(t *testing.T) {
	const src = "flags:\n  f:\n    variants: {a: A, b: B}\n    defaultVariant: a\n    rules:\n      - split: {a: 30, b: 70}\n"
	one, two := mustParse(t, src).WithSalt("s"), mustParse(t, src).WithSalt("s")
	other := two.WithSalt("another salt")
	const n = 10_000
	moved := 0
	for i := range n {
		c := Context{Key: fmt.Sprintf("user-%d", i)}
		d1, d2 := one.Evaluate("f", c, nil), two.Evaluate("f", c, nil)
		if d1 != d2 {
			t.Fatalf("key %q: %+v in one Set, %+v in another with the same salt", c.Key, d1, d2)
		}
		if other.Evaluate("f", c, nil).Variant != d1.Variant {
			moved++
		}
	}
	// Independent buckets move 1 - (0.3² + 0.7²) = 42 % of users.
	if got := float64(moved) / n; got < 0.38 || got > 0.46 {
		t.Errorf("a new salt moved %.3f of users, want 0.42 ± 0.04", got)
	}
	if two.salt != "s" || other.salt != "another salt" {
		t.Errorf("WithSalt changed the Set it was called on: salts %q, %q", two.salt, other.salt)
	}
}

func TestFlagsSorted(t *testing.T) {
	s := mustParse(t, rulesYAML)
	got := fmt.Sprint(s.Flags())
	if want := "[keyed model off static]"; got != want {
		t.Errorf("Flags() = %s, want %s", got, want)
	}
	s.Flags()[0] = "changed"
	if s.Flags()[0] != "keyed" {
		t.Error("Flags() returned the Set's own slice")
	}
}

func TestEvaluateAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s := mustParse(t, rulesYAML).WithSalt("s")
	split := always("canary")
	for _, c := range []Context{
		{Key: "alice"},
		{Key: "carol", Attrs: map[string]string{"region": "eu-west"}},
		{Key: "carol", Attrs: map[string]string{"tier": "paid", "region": "us", "plan": "pro"}},
		{Key: "carol"},
	} {
		if n := testing.AllocsPerRun(100, func() { s.Evaluate("model", c, split) }); n != 0 {
			t.Errorf("Evaluate(%+v) allocates %.0f times, want 0", c, n)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	s := mustParse(b, rulesYAML).WithSalt("s")
	split := always("canary")
	for _, bc := range []struct {
		name string
		c    Context
	}{
		{"users", Context{Key: "alice"}},
		{"match", Context{Key: "carol", Attrs: map[string]string{"tier": "free"}}},
		{"split", Context{Key: "carol", Attrs: map[string]string{"region": "eu-west"}}},
		{"rollout", Context{Key: "carol", Attrs: map[string]string{"tier": "paid"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Evaluate("model", bc.c, split)
			}
		})
	}
}
