package experiment

import (
	"errors"
	"testing"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/chaos"
)

// FuzzParse: any experiment file parses or is refused as bad input with
// its place, never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(experimentYAML("http://127.0.0.1:8000", `  - name: d
    at: 2s
    duration: 2s
    http: {proxy: gpu, delay: {mean: 5ms}}`, "")))
	f.Add([]byte(experimentYAML("http://127.0.0.1:8000", `  - name: k
    at: 10s
    container: {target: fixture, action: kill}`, "abort:\n  - {metric: errors, expr: rate<0.2}\n")))
	f.Add([]byte("title: x\ntarget: http://127.0.0.1:1\nmethod: [{name: a, request: {url: http://127.0.0.1:1/}}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := Parse("exp.yaml", b)
		if err != nil {
			if !errors.Is(err, chaos.ErrInput) && !errors.Is(err, analyze.ErrGates) {
				t.Fatalf("error of another kind: %v (%T)", err, err)
			}
			return
		}
		if x.RunLength() <= 0 || len(x.Method) == 0 || x.Hypothesis == nil {
			t.Fatalf("a parsed experiment without a length, a method or a hypothesis: %+v", x)
		}
	})
}
