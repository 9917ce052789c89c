package analyze

import (
	"encoding/json"
	"io"
	"time"
)

// VerdictSchema is the verdict.json schema version (contract in DESIGN.md).
const VerdictSchema = 1

// Decision is the outcome of a verdict.
type Decision string

// Decisions, as written to verdict.json.
const (
	Go           Decision = "go"
	NoGo         Decision = "no-go"
	Inconclusive Decision = "inconclusive"
)

// GateKind says what a gate compares.
type GateKind string

// Gate kinds.
const (
	// Absolute gates hold a run's metric to a k6-style threshold.
	Absolute GateKind = "absolute"
	// Goodput gates hold the share of requests meeting every SLO.
	Goodput GateKind = "goodput"
	// Relative gates compare the candidate run with a baseline run.
	Relative GateKind = "relative"
	// DivergenceGate gates hold a shadow run's output divergence.
	DivergenceGate GateKind = "divergence"
)

// GateStatus is the outcome of one gate.
type GateStatus string

// Gate statuses. A gate with too little data is inconclusive, never a
// silent pass.
const (
	GatePass         GateStatus = "pass"
	GateFail         GateStatus = "fail"
	GateInconclusive GateStatus = "inconclusive"
)

// Verdict is the go / no-go decision over one run, as written to
// verdict.json. The rollout controller, Argo Rollouts' web metric provider
// (jsonPath {$.verdict}) and Flagger webhooks consume it.
type Verdict struct {
	Schema  int      `json:"schema"`
	Verdict Decision `json:"verdict"`
	// Score is the weighted share of passing non-critical gates, 0..100.
	Score float64 `json:"score"`
	// PassScore and MarginalScore are the gates file's thresholds: a score
	// at or above PassScore is a go, below MarginalScore a no-go, and in
	// between inconclusive ("marginal").
	PassScore     float64      `json:"pass_score"`
	MarginalScore float64      `json:"marginal_score"`
	Gates         []GateResult `json:"gates"`
	// Reasons explain the decision in sentences, most important first.
	Reasons []string `json:"reasons"`
	// Run is the judged run's id; Baseline the baseline run's, when one
	// was compared.
	Run      string    `json:"run"`
	Baseline string    `json:"baseline,omitempty"`
	Gatefile string    `json:"gates_file,omitempty"`
	Created  time.Time `json:"created"`
}

// GateResult is one gate's outcome.
type GateResult struct {
	Name string   `json:"name"`
	Kind GateKind `json:"kind"`
	// Metric is what was measured ("latency", "errors", "flip_rate",
	// "goodput"); Scope the group it was measured on ("overall",
	// "scenario:stress", "tag:model=llama", or a divergence segment).
	Metric string `json:"metric"`
	Scope  string `json:"scope,omitempty"`
	// Expr is the condition as written in the gates file.
	Expr string `json:"expr"`
	// Observed is the candidate's value in Unit; Baseline the baseline's,
	// for relative gates; ChangePct the relative change in percent.
	Observed  float64  `json:"observed"`
	Baseline  *float64 `json:"baseline,omitempty"`
	ChangePct *float64 `json:"change_pct,omitempty"`
	Unit      string   `json:"unit,omitempty"`
	// PValue is the statistical test's p-value and EffectSize its effect
	// size (Cliff's delta for Mann–Whitney, the difference of proportions
	// for error rates), for relative gates.
	PValue     *float64   `json:"p_value,omitempty"`
	EffectSize *float64   `json:"effect_size,omitempty"`
	Pass       bool       `json:"pass"`
	Status     GateStatus `json:"status"`
	Critical   bool       `json:"critical"`
	Weight     float64    `json:"weight"`
	// Reason says in a sentence what was found, e.g. "p99 ttft rose 38 %
	// (412 → 569 ms), allowed 10 %, Mann–Whitney p < 0.001".
	Reason string `json:"reason"`
	// Window is a windowed gate's window ("30s"); Windows counts the
	// windows judged and WindowsFailed those that failed; Worst is the
	// window the result (Observed, Reason) is of.
	Window        string      `json:"window,omitempty"`
	Windows       int         `json:"windows,omitempty"`
	WindowsFailed int         `json:"windows_failed,omitempty"`
	Worst         *WindowSpan `json:"worst_window,omitempty"`
}

// WindowSpan is a window of a run, in seconds from the run's start.
type WindowSpan struct {
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
}

// WriteVerdict writes v as verdict.json's indented JSON.
func WriteVerdict(w io.Writer, v *Verdict) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
