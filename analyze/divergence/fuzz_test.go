package divergence

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gonogo-dev/gonogo"
)

// FuzzAdd feeds arbitrary outputs of every kind: Add and Report
// must never panic, and the report must always encode as JSON.
func FuzzAdd(f *testing.F) {
	for _, s := range [][3]string{
		{kserve(0.1, 0.9), kserve(0.9, 0.1), `{"outputs":[{"data":[0.1,`},
		{`[1e308, -1e308]`, `[-1e308, 1e308]`, `[[1,2],[3]]`},
		{`{"a":[1,{"b":null}]}`, `{"a":[{"b":1},1]}`, `{"a":"x"}`},
		{`["a","b"]`, `[1,2,3]`, `"label"`},
		{`{"outputs":[{"shape":[2,2],"data":[1,2,3,4]}]}`, `{"outputs":[{"shape":[-1],"data":["x"]}]}`, `{"predictions":[]}`},
		{"the cat", "the dog", "\xff\xfe"},
	} {
		f.Add(s[0], s[1], s[2], uint8(0))
	}
	f.Fuzz(func(t *testing.T, prim, sec, cand string, k uint8) {
		kind := OutputKinds[int(k)%len(OutputKinds)]
		for _, jsonOut := range []bool{false, true} {
			d := New(Options{Kind: kind, JSONOutput: jsonOut, Segments: []string{"t"}, TopK: 3})
			for i := range 3 {
				exs := []gonogo.Exchange{
					{Target: "primary", Output: prim, LatencyMicros: int64(i) - 1},
					{Target: "secondary", Output: sec, TTFTMicros: 1 << 62},
					{Target: "candidate", Output: cand, Class: gonogo.ErrorClass(cand[:min(len(cand), i)])},
				}
				d.Add(&gonogo.Pair{ID: uint64(i), Tags: map[string]string{"t": sec, "label": cand}, InputTokens: len(prim), Exchanges: exs})
				prim, sec, cand = sec, cand, prim
			}
			r := d.Report()
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("report does not encode: %v", err)
			}
			if err := r.WriteText(&bytes.Buffer{}); err != nil {
				t.Fatal(err)
			}
		}
	})
}
