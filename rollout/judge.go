package rollout

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/analyze/abtest"
	"github.com/gonogo-dev/gonogo/analyze/behaviour"
	"github.com/gonogo-dev/gonogo/rollout/provider"
)

// Decisions of a judgement besides analyze's go, no-go and inconclusive.
const (
	// DecisionHold: too little traffic in the window to judge.
	DecisionHold = "hold"
	// DecisionIdle: the canary has no traffic to judge (weight 0, no
	// mirror).
	DecisionIdle = "idle"
)

// Judgement is one judgement of the live window: the gates' verdict, the
// sample-ratio check and the providers' measurements, and what they add
// up to.
type Judgement struct {
	Time     time.Time `json:"time"`
	Step     int       `json:"step"`
	Decision string    `json:"decision"`
	Reason   string    `json:"reason"`
	// Canary, Stable and Baseline count the requests of each in the
	// window.
	Canary   int64 `json:"canary_requests"`
	Stable   int64 `json:"stable_requests"`
	Baseline int64 `json:"baseline_requests,omitempty"`
	// Stalled counts, by backend, the requests still without a response
	// byte after analysis.stallAfter, counted in the window as timeouts
	// (and in the counts above).
	Stalled   map[string]int64       `json:"stalled,omitempty"`
	Verdict   *analyze.Verdict       `json:"verdict,omitempty"`
	SRM       *SRMResult             `json:"srm,omitempty"`
	Providers []provider.Measurement `json:"providers,omitempty"`
	// Behaviour are the behaviour gates' results, canary against its
	// control (the baseline when there is one, else stable).
	Behaviour []behaviour.GateResult `json:"behaviour,omitempty"`
}

// SRMResult is the sample-ratio-mismatch check: the split the router
// produced against the one configured (abtest.SRM), and what was
// counted: users (sticky) or requests.
type SRMResult struct {
	Unit string `json:"unit"`
	abtest.SRMResult
}

// judge judges the live window of a rollout.
type judge struct {
	cfg *Config
	rec *analyze.Recorder
	// external: an external router moves the traffic, which the proxy
	// does not see; only the providers judge, and the split the router
	// reports, when it does (routerSplit).
	external bool
	router   *routerSplit
	// beh is the proxy's behaviour tracker; nil without behaviour gates.
	beh *behaviour.Tracker
}

func newJudge(cfg *Config, rec *analyze.Recorder) *judge { return &judge{cfg: cfg, rec: rec} }

// evaluate judges the window ending now that began at most at since (the
// step's start): the gates on the routed (and mirrored) traffic, the
// split's ratio, the providers. The canary is compared with control:
// the baseline when there is one, else stable.
func (j *judge) evaluate(ctx context.Context, now, since time.Time, split map[string]int64, unit string, weights map[string]int, canary, control string, mirrored bool, stalled []stall) Judgement {
	a := &j.cfg.Analysis
	span := a.Window.D()
	if d := now.Sub(since); d < span {
		span = max(a.Interval.D(), d.Truncate(a.Interval.D()))
	}
	// Intervals end on a ticker and last a hair more or less than the
	// interval: half an interval of slack keeps the window's last whole
	// intervals in it.
	data := j.rec.Window(span + a.Interval.D()/2)
	out := Judgement{Time: now}
	if data.Summary != nil && len(stalled) > 0 {
		addStalled(data.Summary, stalled)
		out.Stalled = map[string]int64{}
		for _, x := range stalled {
			out.Stalled[x.backend] = x.n
		}
	}
	if data.Summary != nil {
		out.Canary = data.Summary.Tags["role="+RoleCanary].Requests.Total
		out.Stable = data.Summary.Tags["role="+RoleStable].Requests.Total
		out.Baseline = data.Summary.Tags["role="+RoleBaseline].Requests.Total
	}
	if weights[canary] == 0 && !mirrored {
		out.Decision, out.Reason = DecisionIdle, "the canary has no traffic"
		return out
	}
	var reasons []string
	nogo, inconclusive := false, false
	if !a.SRM.Disabled && weights[canary] > 0 && weights[control] > 0 && len(split) > 0 {
		out.SRM = srm(split, weights, *a.SRM.Alpha, unit)
		if out.SRM != nil && out.SRM.Mismatch {
			nogo = true
			reasons = append(reasons, fmt.Sprintf("sample ratio mismatch: %s split %s, expected %s (chi-square p = %.2g < %g)",
				unit, countsText(out.SRM.Observed), sharesText(weights), out.SRM.PValue, out.SRM.Alpha))
		}
	}
	if j.external {
		return j.decide(ctx, out, reasons, nogo, inconclusive)
	}
	if j.cfg.gates == nil && len(j.cfg.provider) == 0 && j.beh == nil {
		// Nothing to judge by but the split: the steps go on time.
		if nogo {
			out.Decision, out.Reason = string(analyze.NoGo), strings.Join(reasons, "; ")
			return out
		}
		out.Decision, out.Reason = string(analyze.Go), "no gates or providers: only the split is checked"
		return out
	}
	if out.Canary < int64(a.MinRequests) {
		out.Decision = DecisionHold
		out.Reason = fmt.Sprintf("too few requests to judge: %d canary requests in the last %s, want %d", out.Canary, span, a.MinRequests)
		if nogo {
			out.Decision, out.Reason = string(analyze.NoGo), strings.Join(reasons, "; ")
		}
		return out
	}
	if j.cfg.gates != nil {
		v, err := analyze.Judge(j.cfg.gates, data, nil)
		switch {
		case err != nil:
			inconclusive = true
			reasons = append(reasons, "gates: "+err.Error())
		default:
			out.Verdict = v
			switch v.Verdict {
			case analyze.NoGo:
				nogo = true
				reasons = append(reasons, v.Reasons...)
			case analyze.Inconclusive:
				inconclusive = true
				reasons = append(reasons, v.Reasons...)
			}
		}
	}
	if t := j.beh; t != nil {
		var fails, holds []string
		out.Behaviour, fails, holds = j.judgeBehaviour(t, max(1, int(span/a.Interval.D())), canary, control)
		nogo = nogo || len(fails) > 0
		reasons = append(reasons, fails...)
		if !nogo && len(holds) > 0 {
			out.Decision, out.Reason = DecisionHold, strings.Join(holds, "; ")
			return out
		}
	}
	return j.decide(ctx, out, reasons, nogo, inconclusive)
}

// decide adds the providers' measurements to what the window showed and
// makes the decision.
func (j *judge) decide(ctx context.Context, out Judgement, reasons []string, nogo, inconclusive bool) Judgement {
	for i, p := range j.cfg.provider {
		m := p.Measure(ctx)
		out.Providers = append(out.Providers, m)
		switch m.Status {
		case provider.Fail:
			// A critical provider's failure is a no-go; another's leaves
			// the step to the inconclusive policy.
			if j.cfg.Analysis.Providers[i].Critical {
				nogo = true
			} else {
				inconclusive = true
			}
			reasons = append(reasons, fmt.Sprintf("%s failed: %s", m.Name, m.Detail))
		case provider.Inconclusive:
			inconclusive = true
			reasons = append(reasons, fmt.Sprintf("%s inconclusive: %s", m.Name, m.Detail))
		}
	}
	switch {
	case nogo:
		out.Decision = string(analyze.NoGo)
	case inconclusive:
		out.Decision = string(analyze.Inconclusive)
	default:
		out.Decision = string(analyze.Go)
		if j.external {
			reasons = append(reasons, "every provider passed")
		} else {
			passed := fmt.Sprintf("every check passed on %d canary and %d stable requests", out.Canary, out.Stable)
			if out.Baseline > 0 {
				passed = fmt.Sprintf("every check passed on %d canary, %d baseline and %d stable requests", out.Canary, out.Baseline, out.Stable)
			}
			reasons = append(reasons, passed)
		}
	}
	out.Reason = strings.Join(reasons, "; ")
	return out
}

// sharesText says the split weights make, each as a percentage of their
// sum: "canary=10% stable=90%".
func sharesText(weights map[string]int) string {
	var sum int
	for _, w := range weights {
		sum += w
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(weights)) {
		share := 0.0
		if sum > 0 {
			share = 100 * float64(weights[name]) / float64(sum)
		}
		parts = append(parts, name+"="+strconv.FormatFloat(share, 'g', 4, 64)+"%")
	}
	return strings.Join(parts, " ")
}

// requestCounter is a Router that reports the split it produced: the
// requests it sent each backend so far, and the weights it realises for
// a split in buckets, which those requests should follow
// (haproxy.Router).
type requestCounter interface {
	Requests(ctx context.Context) (map[string]int64, error)
	Realised(buckets map[string]int) (map[string]int, error)
}

// routerSplit follows the split an external router reports since the
// step began: the base is its counts at the step's first judgement.
type routerSplit struct {
	rc      requestCounter
	started time.Time // the step the base is of
	base    map[string]int64
}

// counts returns the requests the router sent each backend since the
// first judgement of the step that started at started; nil at that first
// judgement, or when the router does not answer.
func (s *routerSplit) counts(ctx context.Context, started time.Time) map[string]int64 {
	now, err := s.rc.Requests(ctx)
	switch {
	case err != nil:
		return nil
	case s.base == nil || !s.started.Equal(started):
		s.started, s.base = started, now
		return nil
	}
	return diffCounts(now, s.base)
}

// srm tests the observed split against the weights with Pearson's
// chi-square (abtest.SRM); nil when a cell expects too few to test.
func srm(observed map[string]int64, weights map[string]int, alpha float64, unit string) *SRMResult {
	w := make(map[string]float64, len(weights))
	in := make(map[string]int64, len(weights)) // backends out of the split (pinned) are not counted
	for name, b := range weights {
		w[name], in[name] = float64(b), observed[name]
	}
	r, err := abtest.SRM(in, w, alpha)
	if err != nil || r == nil || math.IsNaN(r.PValue) {
		return nil
	}
	return &SRMResult{Unit: unit, SRMResult: *r}
}

func countsText(m map[string]int64) string {
	s := ""
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if s != "" {
			s += " "
		}
		s += fmt.Sprintf("%s=%d", k, m[k])
	}
	return s
}
