package reports

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// WriteVerdictText writes a verdict for a terminal: the decision and score,
// a table of gates, then the reasons.
func WriteVerdictText(w io.Writer, v *analyze.Verdict) error {
	ew := &errWriter{w: w}
	ew.printf("VERDICT %s · score %s/100 (pass ≥ %s, marginal ≥ %s) · run %s",
		strings.ToUpper(string(v.Verdict)), numfmt.Decimals(v.Score, 1), numfmt.Decimals(v.PassScore, 1), numfmt.Decimals(v.MarginalScore, 1), v.Run)
	if v.Baseline != "" {
		ew.printf(" vs baseline %s", v.Baseline)
	}
	ew.printf("\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	ew.printf("\n")
	_, _ = io.WriteString(tw, "  STATUS\tGATE\tKIND\tSCOPE\tOBSERVED\tBASELINE\tCHANGE\n")
	for _, g := range v.Gates {
		status := strings.ToUpper(string(g.Status))
		if g.Critical {
			status += "*"
		}
		base, change := "-", "-"
		if g.Baseline != nil {
			base = fmtGateValue(g, *g.Baseline)
		}
		switch {
		case g.ChangePct != nil:
			change = numfmt.Change(*g.ChangePct / 100)
		case g.Kind == analyze.Relative && g.Metric == analyze.MetricErrors && g.EffectSize != nil:
			change = fmt.Sprintf("%+.2f pp", 100**g.EffectSize)
		}
		obs := "-"
		if g.Status != analyze.GateInconclusive || g.Observed != 0 {
			obs = fmtGateValue(g, g.Observed)
		}
		_, _ = io.WriteString(tw, "  "+status+"\t"+g.Name+"\t"+string(g.Kind)+"\t"+g.Scope+"\t"+obs+"\t"+base+"\t"+change+"\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	ew.printf("  (* critical)\n\n")
	for _, r := range v.Reasons {
		ew.printf("- %s\n", r)
	}
	return ew.err
}
