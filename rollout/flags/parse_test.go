package flags

import (
	"errors"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/internal/input"
)

func TestParseBadInput(t *testing.T) {
	const head = "flags:\n  model:\n    variants: {stable: v1, canary: v2}\n    defaultVariant: stable\n    rules:\n"
	tests := []struct {
		name     string
		src      string
		backends []string
		want     string // the error's text
	}{
		{"empty file", "", nil, "rules.yaml: empty"},
		{"no flags", "flags: {}\n", nil, "rules.yaml:1: flags: want at least one flag"},
		{"unknown top-level field", "flag:\n  model: {}\n", nil, "rules.yaml:1: flag: unknown field"},
		{"unknown rule field", head + "      - variant: canary\n        colour: red\n", nil,
			"rules.yaml:7: flags.model.rules[0].colour: unknown field"},
		{"rule names unknown variant", head + "      - users: [alice]\n        variant: canary\n      - match: {tier: free}\n        variant: small\n", nil,
			`rules.yaml:9: flags.model.rules[1].variant: unknown variant "small" (variants: canary, stable)`},
		{"split does not sum to 100", head + "      - split: {canary: 10, stable: 80.5}\n", nil,
			"rules.yaml:6: flags.model.rules[0].split: percentages sum to 90.5, want 100"},
		{"split with 4 decimals", head + "      - split: {canary: 10.0005, stable: 89.9995}\n", nil,
			"rules.yaml:6: flags.model.rules[0].split.canary: at most 3 decimals (got 10.0005)"},
		{"split over 100", head + "      - split: {canary: 120, stable: -20}\n", nil,
			"rules.yaml:6: flags.model.rules[0].split.canary: want a percentage from 0 to 100 (got 120)"},
		{"split as text", head + "      - split: {canary: \"10\", stable: 90}\n", nil,
			"rules.yaml:6: flags.model.rules[0].split.canary: want a percentage (got 10)"},
		{"split names unknown variant", head + "      - split:\n          canary: 10\n          blue: 90\n", nil,
			`rules.yaml:8: flags.model.rules[0].split.blue: unknown variant "blue"`},
		{"split twice the same variant", head + "      - split: {canary: 10, canary: 90}\n", nil,
			`rules.yaml:6: mapping key "canary" already defined`},
		{"operator in a match", head + "      - match: {tier: {$in: [free]}}\n        variant: canary\n", nil,
			"rules.yaml:6: flags.model.rules[0].match.tier: want a value or a list of values (any of); match has no operators"},
		{"match null", head + "      - match: {tier: ~}\n        variant: canary\n", nil,
			"flags.model.rules[0].match.tier: want a string, number, true or false, or a list of them"},
		{"match on the targeting key", head + "      - match: {targetingKey: alice}\n        variant: canary\n", nil,
			"flags.model.rules[0].match.targetingKey: the targeting key is matched with users, not match"},
		{"empty match list", head + "      - match: {tier: []}\n        variant: canary\n", nil,
			"flags.model.rules[0].match.tier: want at least one value"},
		{"empty users", head + "      - users: []\n        variant: canary\n", nil,
			"rules.yaml:6: flags.model.rules[0].users: want at least one targeting key"},
		{"empty user", head + "      - users: [alice, \"\"]\n        variant: canary\n", nil,
			"flags.model.rules[0].users[1]: empty targeting key"},
		{"no outcome", head + "      - name: nothing\n        users: [alice]\n", nil,
			"rules.yaml:6: flags.model.rules[0]: want one of variant, split or rollout: true"},
		{"two outcomes", head + "      - variant: canary\n        rollout: true\n", nil,
			"rules.yaml:6: flags.model.rules[0]: want only one of variant, split or rollout: true"},
		{"unreachable rule", head + "      - name: all\n        variant: canary\n      - users: [alice]\n        variant: stable\n", nil,
			"rules.yaml:8: flags.model.rules[1]: unreachable: all before it applies to everyone"},
		{"rollout to a backend without variant", head + "      - rollout: true\n", []string{"stable", "canary", "v3"},
			`rules.yaml:6: flags.model.rules[0].rollout: backend "v3" is not a variant of this flag (variants: canary, stable)`},
		{"default variant unknown", "flags:\n  model:\n    variants: {stable: v1}\n    defaultVariant: blue\n", nil,
			`rules.yaml:4: flags.model.defaultVariant: unknown variant "blue" (variants: stable)`},
		{"default variant missing", "flags:\n  model:\n    variants: {stable: v1}\n", nil,
			"rules.yaml:3: flags.model.defaultVariant: missing"},
		{"no variants", "flags:\n  model:\n    defaultVariant: stable\n", nil,
			"rules.yaml:3: flags.model.variants: want at least one variant"},
		{"variant without value", "flags:\n  model:\n    variants:\n      stable:\n    defaultVariant: stable\n", nil,
			"rules.yaml:4: flags.model.variants.stable: want a value"},
		{"variant value a list", "flags:\n  model:\n    variants:\n      stable: [v1]\n    defaultVariant: stable\n", nil,
			"rules.yaml:4: flags.model.variants.stable: want a string"},
		{"bad flag key", "flags:\n  \"my model\":\n    variants: {stable: v1}\n    defaultVariant: stable\n", nil,
			"rules.yaml:3: flags.my model: flag key: want letters, digits"},
		{"dotted flag key keeps its line", "flags:\n  a:\n    variants: {x: X}\n    defaultVariant: x\n  my.model:\n    variants: {x: X}\n    defaultVariant: y\n", nil,
			`rules.yaml:7: flags.'my.model'.defaultVariant: unknown variant "y"`},
		{"enabled not a boolean", "flags:\n  model:\n    enabled: maybe\n    variants: {stable: v1}\n    defaultVariant: stable\n", nil,
			"rules.yaml:3: flags.model.enabled: want true or false (got maybe)"},
		{"flag not a mapping", "flags:\n  model:\n", nil,
			"rules.yaml:2: flags.model: want a mapping with variants and defaultVariant"},
		{"rule not a mapping", head + "      -\n", nil, "rules.yaml:6: flags.model.rules[0]: want a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("rules.yaml", []byte(tt.src), tt.backends)
			if err == nil {
				t.Fatalf("Parse: no error, want %q (flags %v)", tt.want, s.Flags())
			}
			var ie *input.Error
			if !errors.As(err, &ie) || !errors.Is(err, input.ErrInput) {
				t.Errorf("error %v (%T) is not an *input.Error", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n got %q\nwant %q", err, tt.want)
			}
		})
	}
}

func TestParseRolloutBackends(t *testing.T) {
	const src = "flags:\n  model:\n    variants: {stable: v1, canary: v2, small: v1-distilled}\n    defaultVariant: stable\n    rules:\n      - rollout: true\n"
	for _, backends := range [][]string{nil, {}, {"stable", "canary"}} {
		if _, err := Parse("rules.yaml", []byte(src), backends); err != nil {
			t.Errorf("backends %q: %v", backends, err)
		}
	}
}

func TestParseSplitDecimals(t *testing.T) {
	s := mustParse(t, "flags:\n  f:\n    variants: {a: A, b: B, c: C}\n    defaultVariant: a\n    rules:\n      - split: {a: 33.333, b: 33.333, c: 33.334}\n")
	var uptos []int
	for _, sh := range s.flags["f"].rules[0].split {
		uptos = append(uptos, sh.upto)
	}
	if got, want := uptos, []int{33_333, 66_666, 100_000}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("bucket bounds %v, want %v", got, want)
	}
}
