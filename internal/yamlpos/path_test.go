package yamlpos

import (
	"testing"
	"time"
)

func TestPathAt(t *testing.T) {
	src := []byte("scenarios:\n  a:\n    rate: 5\n    stages:\n      - {duration: 1s, target: x}\n    tags: [a]\n")
	for _, tc := range []struct {
		line, col int
		want      string
	}{
		{3, 11, "$.scenarios.a.rate"}, // a value
		{3, 5, "$.scenarios.a.rate"},  // its key
		{5, 32, "$.scenarios.a.stages[0].target"},
		{6, 11, "$.scenarios.a.tags"}, // a flow sequence
		{2, 3, "$.scenarios.a"},
		{4, 1, ""},
		{0, 0, ""},
	} {
		if got := Parse(src).PathAt(tc.line, tc.col); got != tc.want {
			t.Errorf("PathAt(%d, %d) = %q, want %q", tc.line, tc.col, got, tc.want)
		}
	}
}

func TestFractional(t *testing.T) {
	type stage struct {
		Target   float64       `yaml:"target"`
		Duration time.Duration `yaml:"duration"`
	}
	type spec struct {
		VUs    int               `yaml:"vus"`
		Rate   float64           `yaml:"rate"`
		Tags   map[string]string `yaml:"tags"`
		Stages []stage           `yaml:"stages"`
		Loops  map[string]*int   `yaml:"loops"`
	}
	for _, tc := range []struct {
		name, src, path, text string
		line, col             int
	}{
		{"whole", "vus: 3\nrate: 2.5\ntags: {a: 1.5}\nstages: [{target: 0.5}]\n", "", "", 0, 0},
		{"a fraction", "rate: 1\nvus: 2.5\n", "$.vus", "2.5", 2, 6},
		{"quoted", "vus: \"2.5\"\n", "$.vus", "2.5", 1, 6},
		{"in a map of pointers", "loops:\n  x: 3\n  y: 0.25\n", "$.loops.y", "0.25", 3, 6},
		{"whole as a float", "vus: 3.0\n", "", "", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, line, col, text := Parse([]byte(tc.src)).Fractional(&spec{})
			if path != tc.path || text != tc.text || line != tc.line || col != tc.col {
				t.Errorf("Fractional = %q %q at %d:%d, want %q %q at %d:%d", path, text, line, col, tc.path, tc.text, tc.line, tc.col)
			}
		})
	}
}
