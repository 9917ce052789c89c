package reports

import (
	"fmt"

	"github.com/gonogo-dev/gonogo/analyze"
)

// writePromptTokens prints how the prompt tokens the server reported
// compare with those the client intended: one line, when known.
func writePromptTokens(ew *errWriter, st *analyze.Stats) {
	p := st.PromptTokens
	if p == nil {
		return
	}
	if p.Requests == 0 {
		ew.printf("  prompt tokens: the server reported none (%d requests)\n", p.Unreported)
		return
	}
	line := fmt.Sprintf("  prompt tokens intended %s · reported %s (mean) · exact %s%% of %d",
		fmtNum(p.IntendedMean, 1), fmtNum(p.ReportedMean, 1), fmtNum(100*p.ExactShare, 1), p.Requests)
	if p.MeanDiff != 0 {
		line += fmt.Sprintf(" · server adds %s", fmtNum(p.MeanDiff, 1))
	}
	if p.CachedShare > 0 {
		line += fmt.Sprintf(" · cached %s%%", fmtNum(100*p.CachedShare, 1))
	}
	if p.Unreported > 0 {
		line += fmt.Sprintf(" · %d unreported", p.Unreported)
	}
	ew.printf("%s\n", line)
}
