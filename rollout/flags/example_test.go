package flags_test

import (
	"fmt"

	"github.com/gonogo-dev/gonogo/rollout/flags"
)

// rollout is a stand-in for the live rollout: everyone on stable.
type rollout struct{}

func (rollout) Split(string) string { return "stable" }

func ExampleSet_Evaluate() {
	src := []byte(`flags:
  model:
    variants: {stable: v1, canary: v2, small: v1-distilled}
    defaultVariant: stable
    rules:
      - name: internal users
        users: [alice, bob]
        variant: canary
      - name: free tier gets the small model
        match: {tier: free}
        variant: small
      - name: everyone else follows the rollout
        rollout: true
`)
	set, err := flags.Parse("rules.yaml", src, []string{"stable", "canary"})
	if err != nil {
		fmt.Println(err)
		return
	}
	set = set.WithSalt("the rollout's sticky salt")
	for _, c := range []flags.Context{
		{Key: "alice"},
		{Key: "carol", Attrs: map[string]string{"tier": "free"}},
		{Key: "dave"},
		{},
	} {
		d := set.Evaluate("model", c, rollout{})
		fmt.Printf("%-7q %-6s %-12s %-15s %s\n", c.Key, d.Variant, d.Value, d.Reason, d.Rule)
	}
	// Output:
	// "alice" canary v2           TARGETING_MATCH internal users
	// "carol" small  v1-distilled TARGETING_MATCH free tier gets the small model
	// "dave"  stable v1           SPLIT           everyone else follows the rollout
	// ""      stable v1           DEFAULT
}
