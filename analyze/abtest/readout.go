package abtest

import "time"

// Readout is an experiment's report at one time: who was exposed, what
// the outcomes were and what the statistics say (JSON: ab.json). The
// rollout builds it from its store; reports draw it.
type Readout struct {
	Schema     int       `json:"schema"`
	Experiment string    `json:"experiment"`
	Time       time.Time `json:"time"`
	// Control and Treatment name the stable and the canary backend.
	Control   string `json:"control"`
	Treatment string `json:"treatment"`
	// Split is the canary weight (percent) the analysed users joined
	// under; users first exposed under another are left out.
	Split float64 `json:"split"`
	// Users are the exposed users per variant and why some are left out.
	Users []Users `json:"users"`
	// Outcomes counts the outcomes ingested, by what became of them.
	Outcomes Outcomes `json:"outcomes"`
	// Stats are the comparisons, SRM and the decision.
	Stats *Report `json:"stats"`
	// Verdict is the treatment's decision: ship, worse, not-yet-decided
	// or invalid; Reasons say why.
	Verdict Verdict  `json:"verdict"`
	Reasons []string `json:"reasons"`
	// Metrics hold, per metric, the effect over time, by segment and by
	// exposure cohort.
	Metrics []MetricDetail `json:"metrics"`
}

// ReadoutSchema is the version of Readout's JSON.
const ReadoutSchema = 1

// Users are one variant's users.
type Users struct {
	Variant string `json:"variant"`
	// Exposed is every user first exposed to the variant.
	Exposed int64 `json:"exposed"`
	// Contaminated users were later routed to the other variant.
	Contaminated int64 `json:"contaminated"`
	// OtherSplit users joined under another split than the experiment's.
	OtherSplit int64 `json:"other_split"`
	// Analysed are the users the statistics count.
	Analysed int64 `json:"analysed"`
}

// MetricDetail is one metric's detail.
type MetricDetail struct {
	Name string `json:"name"`
	// OverTime is the cumulative effect: the comparison of the users
	// exposed, and their outcomes, up to each time.
	OverTime []Point `json:"over_time,omitempty"`
	// Segments compare the variants within each value of a segment
	// attribute (attribute → report).
	Segments map[string]*SegmentReport `json:"segments,omitempty"`
	// Novelty is the effect by exposure cohort.
	Novelty *NoveltyResult `json:"novelty,omitempty"`
}

// Point is the cumulative effect at one time.
type Point struct {
	Time   time.Time `json:"time"`
	Result Result    `json:"result"`
}

// Outcomes counts the outcomes ingested, by what became of them: only
// the counted ones enter the statistics.
type Outcomes struct {
	Counted        int64 `json:"counted"`
	UnknownUser    int64 `json:"unknown_user"`
	BeforeExposure int64 `json:"before_exposure"`
	Contaminated   int64 `json:"contaminated"`
	Duplicate      int64 `json:"duplicate"`
}
