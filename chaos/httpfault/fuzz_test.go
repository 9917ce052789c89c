package httpfault

import (
	"encoding/json"
	"testing"

	"github.com/gonogo-dev/gonogo/internal/yamlpos"
)

// FuzzFault: any admin API body or experiment block decodes to a fault
// that is refused with a field named, or checks and can be added,
// listed, selected on and removed without a panic.
func FuzzFault(f *testing.F) {
	for _, s := range []string{
		`{"match":{"path":"/v1/*","percent":5},"error":{"status":503,"retryAfter":"2s"}}`,
		`{"delay":{"mean":"200ms","variation":"50ms","distribution":"normal"}}`,
		`{"abort":{"when":"after-chunks","chunks":10}}`,
		`{"stream":{"truncate":true,"truncateAfter":3,"malformedChunk":2}}`,
		`{"body":{"patch":{"outputs.0.shape":[1,7]}}}`,
		`{"match":{"model":"llama","headers":{"x":"*"}},"bandwidth":{"bytesPerSec":1000}}`,
		"match: {path: /v2/*}\ndelay: {mean: 5ms}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fa Fault
		if json.Unmarshal(b, &fa) != nil && yamlpos.Decode(b, &fa) != nil {
			return
		}
		if _, msg := fa.Check(); msg != "" {
			return
		}
		p, err := New("http://127.0.0.1:1")
		if err != nil {
			t.Fatal(err)
		}
		id, err := p.Add(fa)
		if err != nil {
			return // a conflict is possible only with another fault: none here
		}
		fa.Match.Selects("POST", "/v1/completions", nil, "llama")
		fa.Match.Overlaps(&fa.Match)
		if len(p.List()) > 1 {
			t.Fatalf("one fault added, %d listed", len(p.List()))
		}
		if err := p.Remove(id); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzGlob: globMatch terminates and agrees with a literal comparison
// for patterns without a star.
func FuzzGlob(f *testing.F) {
	f.Add("/v1/*", "/v1/chat/completions")
	f.Add("*a*b*c", "xaxbxc")
	f.Fuzz(func(t *testing.T, p, s string) {
		got := globMatch(p, s)
		if !containsStar(p) && got != (p == s) {
			t.Fatalf("globMatch(%q, %q) = %v", p, s, got)
		}
		if globMatch("*", s) != true {
			t.Fatalf("* does not match %q", s)
		}
	})
}

func containsStar(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '*' {
			return true
		}
	}
	return false
}
