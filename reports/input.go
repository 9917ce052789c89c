package reports

import (
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/chaos/fuzz"
)

// Input is what the HTML, JUnit and Markdown reports are made from: the
// judged run, optionally its baseline, and optionally the verdict.
type Input struct {
	Run  *Run
	Data *analyze.RunData
	// Baseline and BaselineData are nil when no baseline was compared.
	Baseline     *Run
	BaselineData *analyze.RunData
	// Verdict is nil when the run was not judged.
	Verdict *analyze.Verdict
	// Experiment is the journal of a chaos experiment (experiment.json),
	// nil for other runs; Fuzz the findings of a malformed-input run
	// (fuzz.json), nil when there were none.
	Experiment *chaos.Journal
	Fuzz       *fuzz.Report
}
