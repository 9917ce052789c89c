package reports

import (
	"bytes"
	"testing"

	"github.com/gonogo-dev/gonogo/analyze"
)

func TestWritePromptTokens(t *testing.T) {
	cases := []struct {
		name string
		p    *analyze.PromptTokenStats
		want string
	}{
		{"none", nil, ""},
		{"exact", &analyze.PromptTokenStats{Requests: 400, IntendedMean: 250.25, ReportedMean: 250.25, Exact: 400, ExactShare: 1},
			"  prompt tokens intended 250.2 · reported 250.2 (mean) · exact 100.0% of 400\n"},
		{"template and cache", &analyze.PromptTokenStats{Requests: 10, IntendedMean: 100, ReportedMean: 107, MeanDiff: 7,
			ExactShare: 0, CachedShare: 0.5, Unreported: 2},
			"  prompt tokens intended 100.0 · reported 107.0 (mean) · exact 0.0% of 10 · server adds 7.0 · cached 50.0% · 2 unreported\n"},
		{"unreported", &analyze.PromptTokenStats{Unreported: 5}, "  prompt tokens: the server reported none (5 requests)\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			writePromptTokens(&errWriter{w: &b}, &analyze.Stats{PromptTokens: tc.p})
			if b.String() != tc.want {
				t.Fatalf("got %q\nwant %q", b.String(), tc.want)
			}
		})
	}
}
