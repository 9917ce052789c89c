package analyze

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// Stage kinds of a sweep (see SweepStage.Kind).
const (
	// StageSynchronous sends one request at a time (one closed-model VU):
	// its throughput is the synchronous rate and its latency the
	// unloaded baseline.
	StageSynchronous = "synchronous"
	// StageThroughput keeps as many requests in flight as the server
	// takes (many closed-model VUs): its throughput is the saturating
	// rate.
	StageThroughput = "throughput"
	// StageRate offers a constant arrival rate (open model).
	StageRate = "rate"
)

// Rules of the sweep analysis (docs/sweep.md).
const (
	// KneeThroughputShare and KneeLatencyFactor define the knee: the
	// first rate stage, by offered rate, whose throughput is below
	// KneeThroughputShare of the offered rate or whose p99 latency is
	// above KneeLatencyFactor × the baseline's p99 is where latency
	// turned; the knee is the rate below it.
	KneeThroughputShare = 0.9
	KneeLatencyFactor   = 3.0
	// DefaultSLOLatencyFactor, DefaultSLOErrorRate and DefaultSLODropRate
	// are the SLO of a sweep without a gates file: p99 latency and p99
	// TTFT at most DefaultSLOLatencyFactor × the baseline's (an "SLO
	// scale" over the unloaded latency, as in DistServe), at most 1 %
	// failed requests and at most 1 % dropped arrivals.
	DefaultSLOLatencyFactor = 5.0
	DefaultSLOErrorRate     = 0.01
	DefaultSLODropRate      = 0.01
	// DefaultHeadroom is the share of a replica's capacity kept free by
	// the scaling advice.
	DefaultHeadroom = 0.3
	// NearLimitShare is how close to a limit the server states (the
	// running batch's slots, the KV cache's capacity, 1 for KV use as a
	// fraction) a stage's 90th percentile of readings must come to count
	// as reaching it: the resource was at its limit for a tenth of the
	// stage at least, not touched once by a burst, and the ramp at a
	// stage's start and the drain at its end do not hide it;
	// PlateauShare how close to its highest stage mean the running batch
	// must come, once requests queue, to count as at its limit when the
	// server does not state it; QueueWaiting the mean number of waiting
	// requests that says a queue formed.
	NearLimitShare = 0.95
	PlateauShare   = 0.9
	QueueWaiting   = 1.0
)

// Server resources a sweep watches (the promscrape names).
const (
	ResourceWaiting = "waiting"
	ResourceRunning = "running"
	ResourceKVCache = "kv_cache"
)

// SweepStage is one stage of a sweep as measured: what it offered, what
// the service did, and, when the server exposes them, its load gauges.
type SweepStage struct {
	Index int    `json:"index"`
	Kind  string `json:"kind"`
	// OfferedPerSec is the arrival rate of a rate stage; VUs the requests
	// a closed-model stage keeps in flight.
	OfferedPerSec float64 `json:"offered_per_sec,omitempty"`
	VUs           int     `json:"vus,omitempty"`
	// Dir is the stage's results directory, relative to the sweep's.
	Dir string `json:"dir"`
	// Status is the stage run's status (run.json).
	Status string `json:"status"`

	Requests int64 `json:"requests"`
	OK       int64 `json:"ok"`
	Failed   int64 `json:"failed"`
	Dropped  int64 `json:"dropped"`
	// ErrorRate is failed / finished; DropRate dropped / (finished +
	// dropped).
	ErrorRate float64 `json:"error_rate"`
	DropRate  float64 `json:"drop_rate"`
	// ThroughputPerSec is the successful completions per second
	// (ServingThroughput).
	ThroughputPerSec float64  `json:"throughput_per_sec"`
	TokensPerSec     *float64 `json:"tokens_per_sec,omitempty"`
	// Latency and TTFT are percentiles of successful requests in ms.
	Latency *Quantiles `json:"latency_ms,omitempty"`
	TTFT    *Quantiles `json:"ttft_ms,omitempty"`

	// Verdict is the stage's verdict on the gates file (go, no-go,
	// inconclusive), "" without one; GateFailures name its failed gates.
	Verdict      string   `json:"verdict,omitempty"`
	GateFailures []string `json:"gate_failures,omitempty"`
	// Thresholds is the scenario's failed thresholds in one line, "" when
	// they passed.
	Thresholds string `json:"thresholds_failed,omitempty"`
	// SLO says whether the stage met the SLO (filled by AnalyzeSweep).
	SLO StageSLO `json:"slo"`
	// Server holds the load gauges read during the stage, by resource.
	Server map[string]ServerLoad `json:"server,omitempty"`
}

// Quantiles are the percentiles a sweep reports.
type Quantiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

// QuantilesOf picks the sweep's percentiles; nil for nil.
func QuantilesOf(m *MetricStats) *Quantiles {
	if m == nil {
		return nil
	}
	return &Quantiles{P50: m.P50, P90: m.P90, P99: m.P99}
}

// StageSLO is a stage's SLO outcome.
type StageSLO struct {
	// Judged is false for the throughput probe, which overloads the
	// server by design.
	Judged  bool     `json:"judged"`
	Met     bool     `json:"met"`
	Reasons []string `json:"reasons,omitempty"`
}

// ServerLoad is one server gauge over a stage.
type ServerLoad struct {
	// Metric is the gauge's name; Fraction marks a 0..1 gauge whose limit
	// is 1.
	Metric   string  `json:"metric"`
	Fraction bool    `json:"fraction,omitempty"`
	Mean     float64 `json:"mean"`
	// P90 is the 90th percentile of the readings (nearest rank).
	P90     float64 `json:"p90"`
	Max     float64 `json:"max"`
	Samples int     `json:"samples"`
	// Limit is the resource's limit as the server's page states it (1 for
	// a fraction); 0 when it states none.
	Limit float64 `json:"limit,omitempty"`
}

// Completions counts what a stage's throughput needs of its results; a
// CompletionCounter gathers it as the stage runs.
type Completions struct {
	// OK and Total count successful and finished requests.
	OK, Total int64
	// Done holds when successful requests completed, in order: every
	// Stride-th of them once there were more than maxCompletionTimes.
	Done   []time.Time
	Stride int
	// Service sums the service time (actual send to completion) of every
	// finished request.
	Service time.Duration
}

// maxCompletionTimes bounds Completions.Done: past it every other time is
// dropped and the stride doubles, so that a long stage at a high rate
// keeps its memory flat.
const maxCompletionTimes = 1 << 20

// CompletionCounter is a gonogo.Sink that gathers a stage's Completions.
type CompletionCounter struct {
	mu      sync.Mutex
	c       Completions
	pending int // successes since the last time kept
}

var _ gonogo.Sink = (*CompletionCounter)(nil)

// Record counts one finished request.
func (cc *CompletionCounter) Record(res *gonogo.Result) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	c := &cc.c
	c.Total++
	c.Service += res.ServiceTime()
	if res.Failed() {
		return
	}
	c.OK++
	if c.Stride == 0 {
		c.Stride = 1
	}
	if cc.pending++; cc.pending < c.Stride {
		return
	}
	cc.pending = 0
	c.Done = append(c.Done, res.Done)
	if len(c.Done) >= maxCompletionTimes {
		slices.SortFunc(c.Done, time.Time.Compare)
		kept := c.Done[:0]
		for i := 0; i < len(c.Done); i += 2 {
			kept = append(kept, c.Done[i])
		}
		c.Done, c.Stride = kept, 2*c.Stride
	}
}

// Drop counts nothing: a dropped arrival was never served.
func (cc *CompletionCounter) Drop(*gonogo.Request) {}

// Completions returns what was counted so far, Done sorted.
func (cc *CompletionCounter) Completions() Completions {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	c := cc.c
	c.Done = slices.Clone(c.Done)
	slices.SortFunc(c.Done, time.Time.Compare)
	return c
}

// throughputTrim is the share of completions left out at each end of an
// open-model stage's span.
const throughputTrim = 0.1

// ServingThroughput is a stage's throughput in successful completions per
// second. An open-model stage (vus 0) is measured by the rate at which its
// completions come, the first and the last 10 % of them left out: the
// least-squares slope of the number of completions against time between
// the 10th and the 90th percentile of completion times. That is the
// offered rate for a service that keeps up, its service rate for one that
// does not (which keeps completing at that rate while its queue drains),
// without the ramp at the start, the drain at the end or a hiccup at
// either biasing it, and whether answers complete one by one or in
// batches. A
// closed-model stage of vus VUs, which send again as soon as they are
// answered, is measured by Little's law: vus / mean service time, times
// the share of successes. That holds however the server batches its
// answers (a batch that completes together would make the span between
// completions a poor clock).
func ServingThroughput(c Completions, vus int) float64 {
	if c.OK == 0 {
		return 0
	}
	if vus > 0 {
		if c.Service <= 0 {
			return 0
		}
		mean := c.Service.Seconds() / float64(c.Total)
		return roundTo(float64(vus)/mean*float64(c.OK)/float64(c.Total), 3)
	}
	m := len(c.Done)
	if m < 2 {
		return 0
	}
	i, j := int(math.Floor(throughputTrim*float64(m-1))), int(math.Ceil((1-throughputTrim)*float64(m-1)))
	// The least-squares slope of the completion count against time: a
	// server whose answers complete in batches makes a staircase, whose
	// slope is its mean rate, where the rate between two completions
	// would depend on where in the batches they fell.
	var mx, my float64
	n := float64(j - i + 1)
	for k := i; k <= j; k++ {
		mx += c.Done[k].Sub(c.Done[i]).Seconds()
		my += float64(k)
	}
	mx, my = mx/n, my/n
	var sxy, sxx float64
	for k := i; k <= j; k++ {
		dx := c.Done[k].Sub(c.Done[i]).Seconds() - mx
		sxy += dx * (float64(k) - my)
		sxx += dx * dx
	}
	if sxx <= 0 {
		return 0
	}
	return roundTo(sxy/sxx*float64(max(c.Stride, 1)), 3)
}

// SweepOptions are the inputs of AnalyzeSweep besides the stages.
type SweepOptions struct {
	// Gates is the gates file the stages were judged by; "" judges them
	// by the default SLO.
	Gates string
	// TargetRatePerSec asks for scaling advice at this rate; 0 asks for
	// none. Headroom is the share of each replica kept free (0 ≤ h < 1).
	TargetRatePerSec float64
	Headroom         float64
}

// SweepAnalysis is what a sweep found.
type SweepAnalysis struct {
	Baseline   *SweepBaseline  `json:"baseline,omitempty"`
	SLO        SweepSLO        `json:"slo"`
	Knee       Knee            `json:"knee"`
	Saturation Saturation      `json:"saturation"`
	Resources  *ResourceReport `json:"resources,omitempty"`
	Advice     *Advice         `json:"advice,omitempty"`
}

// SweepBaseline is the stage latencies are compared with: the
// synchronous stage, else the lowest rate.
type SweepBaseline struct {
	Stage        int      `json:"stage"`
	LatencyP99Ms float64  `json:"latency_p99_ms"`
	TTFTP99Ms    *float64 `json:"ttft_p99_ms,omitempty"`
}

// SweepSLO says how stages were judged and the highest rate that held.
type SweepSLO struct {
	// Source is "gates" (the gates file) or "default".
	Source string   `json:"source"`
	Gates  string   `json:"gates,omitempty"`
	Rules  []string `json:"rules"`
	// MaxRatePerSec is the highest offered rate such that its stage and
	// every rate stage below it met the SLO; 0 when the lowest did not.
	MaxRatePerSec float64 `json:"max_rate_per_sec"`
	Stage         int     `json:"stage,omitempty"`
}

// Knee is where the throughput–latency curve turned.
type Knee struct {
	// RatePerSec is the highest offered rate before the turn (the highest
	// rate of the sweep when it never turned; 0 when the lowest rate had
	// turned already), Stage its stage.
	RatePerSec float64 `json:"rate_per_sec"`
	Stage      int     `json:"stage,omitempty"`
	// Turned says whether a rate stage turned; TurnedAtPerSec is its
	// offered rate, TurnedStage its stage and Reason why.
	Turned         bool    `json:"turned"`
	TurnedAtPerSec float64 `json:"turned_at_per_sec,omitempty"`
	TurnedStage    int     `json:"turned_stage,omitempty"`
	Reason         string  `json:"reason,omitempty"`
	// TTFTTurnedAtPerSec is the first offered rate whose p99 TTFT was
	// above KneeLatencyFactor × the baseline's; 0 when none (or no TTFT).
	TTFTTurnedAtPerSec float64 `json:"ttft_turned_at_per_sec,omitempty"`
	Definition         string  `json:"definition"`
}

// Saturation is the highest throughput the sweep saw.
type Saturation struct {
	RatePerSec float64 `json:"rate_per_sec"`
	Stage      int     `json:"stage,omitempty"`
	// Reached says whether the service was driven past it: a throughput
	// stage ran, or a rate stage's throughput fell below
	// KneeThroughputShare of its offered rate. Otherwise RatePerSec is
	// only a lower bound.
	Reached bool `json:"reached"`
}

// ResourceReport says which server resource reached its limit first.
type ResourceReport struct {
	// First is the resource (waiting, running, kv_cache) that reached its
	// limit at the lowest load, "" when none did; Stage and AtPerSec say
	// where (the offered rate, or a closed stage's throughput), Basis how
	// it was decided.
	First    string  `json:"first,omitempty"`
	Stage    int     `json:"stage,omitempty"`
	AtPerSec float64 `json:"at_per_sec,omitempty"`
	Basis    string  `json:"basis"`
	// QueueStage is the first stage, by load, whose mean waiting
	// requests reached QueueWaiting; 0 when none.
	QueueStage int             `json:"queue_stage,omitempty"`
	Each       []ResourceLimit `json:"each"`
}

// ResourceLimit is one resource's limit and where it was reached.
type ResourceLimit struct {
	Resource string `json:"resource"`
	Metric   string `json:"metric"`
	// Limit is the limit the gauge was judged against and LimitSource
	// where it came from: "server" (the server's page states it: a limit
	// gauge, or 1 for a fraction), "inferred" (the running batch's peak
	// once requests queued, where the page states no limit), "queue"
	// (waiting requests: QueueWaiting, the sign that another resource is
	// full) or "none" (not judged: a count with no limit on the page, or
	// a running batch while nothing queued).
	Limit       float64 `json:"limit,omitempty"`
	LimitSource string  `json:"limit_source"`
	Peak        float64 `json:"peak"`
	// Stage is the first stage, by load, that reached the limit; 0 when
	// none.
	Stage    int     `json:"stage,omitempty"`
	AtPerSec float64 `json:"at_per_sec,omitempty"`
}

// Advice is the scaling advice for a target rate.
type Advice struct {
	TargetRatePerSec float64 `json:"target_rate_per_sec"`
	Headroom         float64 `json:"headroom"`
	// CapacityPerSec is one replica's usable rate: the lower of the knee
	// and the highest rate that met the SLO. PerReplicaPerSec is what
	// each replica is given: CapacityPerSec × (1 − Headroom).
	CapacityPerSec   float64 `json:"capacity_per_sec"`
	PerReplicaPerSec float64 `json:"per_replica_per_sec"`
	// Replicas is ceil(target / PerReplicaPerSec); 0 when no rate met the
	// SLO before the knee, Reason then says so.
	Replicas int    `json:"replicas"`
	Formula  string `json:"formula"`
	Reason   string `json:"reason,omitempty"`
}

// KneeDefinition states the knee in words, as sweep.json records it.
var KneeDefinition = fmt.Sprintf("the highest offered rate before the first rate stage whose throughput is below %g %% of its offered rate or whose p99 latency is above %g× the baseline's p99 (the synchronous stage, else the lowest rate)",
	100*KneeThroughputShare, KneeLatencyFactor)

// AnalyzeSweep judges each stage's SLO (setting stages[i].SLO) and finds
// the highest rate that met it, the knee, the saturation rate, the
// resource that saturated first and, when asked, the replicas a target
// rate needs. Stages come in run order with Index set.
func AnalyzeSweep(stages []SweepStage, o SweepOptions) *SweepAnalysis {
	a := &SweepAnalysis{}
	a.Baseline = sweepBaseline(stages)
	a.SLO = judgeSLO(stages, a.Baseline, o.Gates)
	a.Knee = findKnee(stages, a.Baseline)
	a.Saturation = saturation(stages)
	a.Resources = resources(stages)
	if o.TargetRatePerSec > 0 {
		a.Advice = advise(a, o.TargetRatePerSec, o.Headroom)
	}
	return a
}

// rateStages are the rate stages by offered rate.
func rateStages(stages []SweepStage) []*SweepStage {
	var out []*SweepStage
	for i := range stages {
		if stages[i].Kind == StageRate {
			out = append(out, &stages[i])
		}
	}
	slices.SortStableFunc(out, func(a, b *SweepStage) int { return cmp.Compare(a.OfferedPerSec, b.OfferedPerSec) })
	return out
}

func sweepBaseline(stages []SweepStage) *SweepBaseline {
	var base *SweepStage
	for i := range stages {
		if stages[i].Kind == StageSynchronous && stages[i].Latency != nil {
			base = &stages[i]
			break
		}
	}
	if base == nil {
		for _, s := range rateStages(stages) {
			if s.Latency != nil {
				base = s
				break
			}
		}
	}
	if base == nil {
		return nil
	}
	b := &SweepBaseline{Stage: base.Index, LatencyP99Ms: base.Latency.P99}
	if base.TTFT != nil {
		v := base.TTFT.P99
		b.TTFTP99Ms = &v
	}
	return b
}

// SweepSLORules are, in words, the rules a stage must meet: those of the
// gates file gates, or the default SLO when it is "".
func SweepSLORules(gates string) []string {
	rules := []string{
		fmt.Sprintf("error rate ≤ %g %%", 100*DefaultSLOErrorRate),
		fmt.Sprintf("dropped ≤ %g %%", 100*DefaultSLODropRate),
		fmt.Sprintf("p99 latency ≤ %g× the baseline's", DefaultSLOLatencyFactor),
		fmt.Sprintf("p99 TTFT ≤ %g× the baseline's (streamed requests)", DefaultSLOLatencyFactor),
	}
	if gates != "" {
		rules = []string{"the stage's verdict on " + gates + " is go (windowed gates judged over the stage's windows)"}
	}
	return append(rules, "the scenario's thresholds pass", "the stage ran to its end")
}

func judgeSLO(stages []SweepStage, base *SweepBaseline, gates string) SweepSLO {
	out := SweepSLO{Source: "default", Rules: SweepSLORules(gates)}
	if gates != "" {
		out.Source, out.Gates = "gates", gates
	}
	for i := range stages {
		s := &stages[i]
		if s.Kind == StageThroughput {
			s.SLO = StageSLO{Reasons: []string{"not judged: the throughput stage overloads the server by design"}}
			continue
		}
		var why []string
		if s.Status != "" && s.Status != "complete" {
			why = append(why, "the stage ended early ("+s.Status+")")
		}
		if s.Thresholds != "" {
			why = append(why, s.Thresholds)
		}
		if gates != "" {
			if s.Verdict != "go" {
				why = append(why, "verdict "+cmp.Or(s.Verdict, "missing"))
				why = append(why, s.GateFailures...)
			}
		} else {
			why = append(why, defaultSLO(s, base)...)
		}
		s.SLO = StageSLO{Judged: true, Met: len(why) == 0, Reasons: why}
	}
	for _, s := range rateStages(stages) {
		if !s.SLO.Met {
			break
		}
		out.MaxRatePerSec, out.Stage = s.OfferedPerSec, s.Index
	}
	return out
}

// defaultSLO lists what s failed of the default SLO.
func defaultSLO(s *SweepStage, base *SweepBaseline) []string {
	var why []string
	if s.Requests+s.Dropped == 0 {
		return []string{"no request finished"}
	}
	if s.ErrorRate > DefaultSLOErrorRate {
		why = append(why, fmt.Sprintf("error rate %s > %g %%", numfmt.Percent(s.ErrorRate), 100*DefaultSLOErrorRate))
	}
	if s.DropRate > DefaultSLODropRate {
		why = append(why, fmt.Sprintf("dropped %s > %g %%", numfmt.Percent(s.DropRate), 100*DefaultSLODropRate))
	}
	if base == nil {
		return why
	}
	if s.Latency == nil {
		return append(why, "no successful request")
	}
	if lim := DefaultSLOLatencyFactor * base.LatencyP99Ms; s.Latency.P99 > lim {
		why = append(why, fmt.Sprintf("p99 latency %s ms > %s ms (%g× the baseline's %s ms)", numfmt.Sig(s.Latency.P99), numfmt.Sig(lim), DefaultSLOLatencyFactor, numfmt.Sig(base.LatencyP99Ms)))
	}
	if base.TTFTP99Ms != nil && s.TTFT != nil {
		if lim := DefaultSLOLatencyFactor * *base.TTFTP99Ms; s.TTFT.P99 > lim {
			why = append(why, fmt.Sprintf("p99 TTFT %s ms > %s ms (%g× the baseline's %s ms)", numfmt.Sig(s.TTFT.P99), numfmt.Sig(lim), DefaultSLOLatencyFactor, numfmt.Sig(*base.TTFTP99Ms)))
		}
	}
	return why
}

func findKnee(stages []SweepStage, base *SweepBaseline) Knee {
	k := Knee{Definition: KneeDefinition}
	for _, s := range rateStages(stages) {
		if k.TTFTTurnedAtPerSec == 0 && base != nil && base.TTFTP99Ms != nil && s.TTFT != nil && s.TTFT.P99 > KneeLatencyFactor**base.TTFTP99Ms {
			k.TTFTTurnedAtPerSec = s.OfferedPerSec
		}
		if k.Turned {
			continue
		}
		var why string
		switch {
		case s.ThroughputPerSec < KneeThroughputShare*s.OfferedPerSec:
			why = fmt.Sprintf("throughput %s/s is %s of the offered %s/s (below %g %%)", numfmt.Sig(s.ThroughputPerSec), numfmt.Percent(s.ThroughputPerSec/s.OfferedPerSec), numfmt.Sig(s.OfferedPerSec), 100*KneeThroughputShare)
		case base != nil && s.Latency == nil:
			why = "no successful request"
		case base != nil && s.Latency.P99 > KneeLatencyFactor*base.LatencyP99Ms:
			why = fmt.Sprintf("p99 latency %s ms is %s× the baseline's %s ms (above %g×)", numfmt.Sig(s.Latency.P99), numfmt.Sig(s.Latency.P99/base.LatencyP99Ms), numfmt.Sig(base.LatencyP99Ms), KneeLatencyFactor)
		}
		if why != "" {
			k.Turned, k.TurnedAtPerSec, k.TurnedStage, k.Reason = true, s.OfferedPerSec, s.Index, why
			continue
		}
		k.RatePerSec, k.Stage = s.OfferedPerSec, s.Index
	}
	return k
}

func saturation(stages []SweepStage) Saturation {
	var s Saturation
	for _, st := range stages {
		if st.ThroughputPerSec > s.RatePerSec {
			s.RatePerSec, s.Stage = st.ThroughputPerSec, st.Index
		}
		if st.Kind == StageThroughput && st.OK > 0 ||
			st.Kind == StageRate && st.ThroughputPerSec < KneeThroughputShare*st.OfferedPerSec {
			s.Reached = true
		}
	}
	return s
}

// byLoad orders the stages from the least load to the most: the
// synchronous stage, the rate stages by offered rate, the throughput
// stage. Stages without server gauges are left out.
func byLoad(stages []SweepStage) []*SweepStage {
	var out []*SweepStage
	add := func(kind string) {
		for i := range stages {
			if stages[i].Kind == kind && len(stages[i].Server) > 0 {
				out = append(out, &stages[i])
			}
		}
	}
	add(StageSynchronous)
	for _, s := range rateStages(stages) {
		if len(s.Server) > 0 {
			out = append(out, s)
		}
	}
	add(StageThroughput)
	return out
}

// loadRate is where a stage stands on the load axis: its offered rate,
// or a closed stage's throughput.
func loadRate(s *SweepStage) float64 {
	if s.Kind == StageRate {
		return s.OfferedPerSec
	}
	return s.ThroughputPerSec
}

// Sources of a resource's limit (ResourceLimit.LimitSource).
const (
	LimitServer   = "server"
	LimitInferred = "inferred"
	LimitQueue    = "queue"
	LimitNone     = "none"
)

// resources decides which resource reached its limit first. A resource
// whose limit the server states (a limit gauge, or 1 for a fraction)
// reaches it at the first stage whose 90th percentile of readings is at
// least NearLimitShare of it. The running batch's limit, when the page
// does not state it (vLLM's max_num_seqs is on no page), is inferred:
// once requests queue, the running batch is at it from the first stage
// on (from the one where requests queued) whose mean comes within
// PlateauShare of the highest stage mean; its peak is reported as the
// limit. A count with no limit
// (KV tokens without a capacity gauge) is not judged. At equal load a
// stated limit wins over an inferred one. When requests queue and no
// limit shows, the queue itself is reported: something the metrics page
// does not expose saturated.
func resources(stages []SweepStage) *ResourceReport {
	ordered := byLoad(stages)
	if len(ordered) == 0 {
		return nil
	}
	r := &ResourceReport{}
	queueAt := -1
	for i, s := range ordered {
		if l, ok := s.Server[ResourceWaiting]; ok && l.Mean >= QueueWaiting {
			queueAt = i
			r.QueueStage = s.Index
			break
		}
	}
	type hit struct {
		at  int
		res ResourceLimit
	}
	var hits []hit
	for _, res := range []string{ResourceWaiting, ResourceRunning, ResourceKVCache} {
		rl := ResourceLimit{Resource: res, LimitSource: LimitNone}
		seen := false
		for _, s := range ordered {
			if l, ok := s.Server[res]; ok {
				rl.Metric, rl.Peak, seen = l.Metric, max(rl.Peak, l.Max), true
			}
		}
		if !seen {
			continue
		}
		at := -1
		switch limit := serverLimit(ordered, res); {
		case res == ResourceWaiting:
			at = queueAt
			if at >= 0 {
				rl.LimitSource, rl.Limit = LimitQueue, QueueWaiting
			}
		case limit > 0:
			rl.LimitSource, rl.Limit = LimitServer, roundTo(limit, 3)
			for i, s := range ordered {
				if l, ok := s.Server[res]; ok && l.P90 >= NearLimitShare*limit {
					at = i
					break
				}
			}
		case res == ResourceRunning && queueAt >= 0:
			plateau, peak := 0.0, 0.0
			for _, s := range ordered[queueAt:] {
				if l, ok := s.Server[res]; ok {
					plateau, peak = max(plateau, l.Mean), max(peak, l.Max)
				}
			}
			if plateau > 0 {
				rl.LimitSource, rl.Limit = LimitInferred, roundTo(peak, 3)
				for i, s := range ordered[queueAt:] {
					if l, ok := s.Server[res]; ok && l.Mean >= PlateauShare*plateau {
						at = queueAt + i
						break
					}
				}
			}
		}
		rl.Peak = roundTo(rl.Peak, 3)
		if at >= 0 {
			rl.Stage, rl.AtPerSec = ordered[at].Index, roundTo(loadRate(ordered[at]), 3)
			if res != ResourceWaiting {
				hits = append(hits, hit{at, rl})
			}
		}
		r.Each = append(r.Each, rl)
	}
	var best *hit
	for i, h := range hits {
		if best == nil || h.at < best.at || h.at == best.at && h.res.LimitSource == LimitServer && best.res.LimitSource != LimitServer {
			best = &hits[i]
		}
	}
	switch {
	case best != nil:
		s, rl := ordered[best.at], best.res
		r.First, r.Stage, r.AtPerSec = rl.Resource, s.Index, roundTo(loadRate(s), 3)
		if rl.LimitSource == LimitServer {
			r.Basis = fmt.Sprintf("%s reached its limit of %s, stated by the server: its readings' p90 over the stage, %s, is at least %g %% of it",
				rl.Resource, numfmt.Sig(rl.Limit), numfmt.Sig(s.Server[rl.Resource].P90), 100*NearLimitShare)
		} else {
			r.Basis = fmt.Sprintf("requests queued and the running batch stayed at its plateau (within %g %% of its highest mean; the server states no limit) from this load on", 100*PlateauShare)
		}
	case queueAt >= 0:
		s := ordered[queueAt]
		r.First, r.Stage, r.AtPerSec = ResourceWaiting, s.Index, roundTo(loadRate(s), 3)
		r.Basis = "requests queued while neither the running batch nor the KV cache showed a limit: something the metrics page does not expose saturated"
	default:
		r.Basis = "no resource reached its limit during the sweep"
	}
	return r
}

// serverLimit is the limit the stages' pages state for res: the highest
// stated, 1 for a fraction, 0 when none is.
func serverLimit(stages []*SweepStage, res string) float64 {
	limit := 0.0
	for _, s := range stages {
		if l, ok := s.Server[res]; ok {
			if l.Fraction {
				return 1
			}
			limit = max(limit, l.Limit)
		}
	}
	return limit
}

// AdviceFormula is the replicas formula in words.
const AdviceFormula = "replicas = ceil(target / (capacity × (1 − headroom))), capacity = min(knee, highest rate that met the SLO)"

func advise(a *SweepAnalysis, target, headroom float64) *Advice {
	ad := &Advice{TargetRatePerSec: target, Headroom: headroom, Formula: AdviceFormula}
	capacity := a.Knee.RatePerSec
	if a.SLO.MaxRatePerSec < capacity {
		capacity = a.SLO.MaxRatePerSec
	}
	ad.CapacityPerSec = capacity
	if capacity <= 0 {
		ad.Reason = "no rate of the sweep met the SLO before the knee: lower the rates, or loosen the SLO"
		return ad
	}
	ad.PerReplicaPerSec = roundTo(capacity*(1-headroom), 3)
	// The small tolerance keeps an exact multiple (10 / 5) from rounding
	// up on float error.
	ad.Replicas = int(math.Ceil(target/(capacity*(1-headroom)) - 1e-9))
	return ad
}
