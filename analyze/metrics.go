package analyze

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gonogo-dev/gonogo"
)

// Metric names, as used in summaries, thresholds, gates and interval log
// tags.
const (
	// MetricLatency is the time from the intended send to completion of a
	// successful request.
	MetricLatency = "latency"
	// MetricLatencyService is the time from the actual send to completion
	// of a successful request (what a closed-loop tool reports).
	MetricLatencyService = "latency_service"
	// MetricSchedulingLag is actual minus intended send, of every request.
	MetricSchedulingLag = "scheduling_lag"
	MetricTTFT          = "ttft"
	MetricChunkGap      = "chunk_gap"
	MetricTPOT          = "tpot"
	MetricE2E           = "e2e"
	MetricOutputTokens  = "output_tokens"
	// MetricLatencyFailed is the latency (from the intended send) of failed
	// requests, kept apart: a server that fails fast must not make latency
	// look good.
	MetricLatencyFailed = "latency_failed"
	// MetricTTST is the time to second token: from the first to the second
	// non-empty content chunk of a streamed response (the first of
	// gonogo.Result.ChunkGaps), as AIPerf reports it.
	MetricTTST = "ttst"
	// MetricTokensPerSecPerUser is the output speed one user sees, in
	// tokens per second: (output_tokens − 1) / (e2e − ttft), which is
	// 1/tpot — AIPerf's "output token throughput per user", the inverse
	// of its inter_token_latency. Recorded for streamed answers of at
	// least two tokens.
	MetricTokensPerSecPerUser = "tokens_per_sec_per_user"
	// MetricInputTokens is the prompt length of each successful request
	// in tokens: the client's count (gonogo.Result.PromptTokens), else the
	// server's (ReportedPromptTokens).
	MetricInputTokens = "input_tokens"
)

// Histogram geometry (DESIGN.md, "Measurement semantics").
const (
	// HighestMicros is the largest time value a histogram holds: one hour.
	// Larger values are clamped to it and counted in Stats.Clamped.
	HighestMicros = int64(time.Hour / time.Microsecond)
	// HighestTokens is the largest output token count a histogram holds.
	HighestTokens = 10_000_000
	// SignificantDigits is the precision of every histogram.
	SignificantDigits = 3
)

type metricID int

const (
	mLatency metricID = iota
	mService
	mLag
	mTTFT
	mGap
	mTPOT
	mE2E
	mTokens
	mFailed
	mTTST
	mUserRate
	mInput
	numMetrics
)

var metricNames = [numMetrics]string{
	MetricLatency, MetricLatencyService, MetricSchedulingLag, MetricTTFT,
	MetricChunkGap, MetricTPOT, MetricE2E, MetricOutputTokens, MetricLatencyFailed,
	MetricTTST, MetricTokensPerSecPerUser, MetricInputTokens,
}

// Metrics lists the histogram metrics in report order.
var Metrics = metricNames[:]

func metricByName(name string) (metricID, bool) {
	for i, n := range metricNames {
		if n == name {
			return metricID(i), true
		}
	}
	return 0, false
}

// isCount reports whether m records counts (tokens) rather than times.
func isCount(m metricID) bool { return m == mTokens || m == mInput }

// HighestMilliTokensPerSec is the largest tokens_per_sec_per_user value a
// histogram holds, in thousandths of a token per second (1M tokens/s).
const HighestMilliTokensPerSec = 1_000_000_000

func newHist(m metricID) *hdr.Histogram {
	switch {
	case isCount(m):
		return hdr.New(1, HighestTokens, SignificantDigits)
	case m == mUserRate:
		return hdr.New(1, HighestMilliTokensPerSec, SignificantDigits)
	}
	return hdr.New(1, HighestMicros, SignificantDigits)
}

func newPacked(m metricID) *hdr.PackedHistogram {
	switch {
	case isCount(m):
		return hdr.NewPacked(1, HighestTokens, SignificantDigits)
	case m == mUserRate:
		return hdr.NewPacked(1, HighestMilliTokensPerSec, SignificantDigits)
	}
	return hdr.NewPacked(1, HighestMicros, SignificantDigits)
}

// unitScale converts recorded values to reported units: µs → ms for
// times, milli-tokens/s → tokens/s for tokens_per_sec_per_user.
func unitScale(m metricID) float64 {
	if isCount(m) {
		return 1
	}
	return 1000
}

// numClasses is len(gonogo.ErrorClasses); classIndex maps unknown classes
// to "other".
const numClasses = 7

func classIndex(c gonogo.ErrorClass) int {
	for i, k := range gonogo.ErrorClasses {
		if k == c {
			return i
		}
	}
	return numClasses - 1 // ErrOther
}

func clampMicros(d time.Duration) (int64, bool) {
	if d < 0 {
		return 0, true
	}
	us := int64(d / time.Microsecond)
	if us > HighestMicros {
		return HighestMicros, true
	}
	return us, false
}

// Group keys: the whole run, one scenario, or one tag key=value.
const Overall = ""

const (
	scenarioPrefix = "scenario:"
	tagPrefix      = "tag:"
)

// ScenarioGroup is the group key of a scenario.
func ScenarioGroup(name string) string { return scenarioPrefix + name }

// TagGroup is the group key of a tag key=value pair.
func TagGroup(key, value string) string { return tagPrefix + key + "=" + value }

// logTagPart makes s usable in an interval log tag, which ends at a comma
// and must not hold white space.
func logTagPart(s string) string {
	return strings.Map(func(c rune) rune {
		switch c {
		case ',', ' ', '\r', '\n', '\t':
			return '_'
		}
		return c
	}, s)
}

// logTag is the interval log tag of a group's metric: "latency" for the
// whole run, "stress/latency" for a scenario, "tag:model=llama/latency" for
// a tag group.
func logTag(group string, m metricID) string {
	switch {
	case group == Overall:
		return metricNames[m]
	case strings.HasPrefix(group, tagPrefix):
		return logTagPart(group) + "/" + metricNames[m]
	}
	name := logTagPart(strings.TrimPrefix(group, scenarioPrefix))
	if name == "" || strings.HasPrefix(name, tagPrefix) {
		name = "_" + name // not mistaken for a tag group
	}
	return name + "/" + metricNames[m]
}

// groupOfTag maps an interval log tag back to a group and metric; scenario
// names come back as logTagPart wrote them.
func groupOfTag(tag string) (group, metric string) {
	i := strings.LastIndexByte(tag, '/')
	if i < 0 {
		return Overall, tag
	}
	g, m := tag[:i], tag[i+1:]
	if strings.HasPrefix(g, tagPrefix) {
		return g, m
	}
	return ScenarioGroup(g), m
}

// SLO is a goodput objective: limits on per-request metrics that a request
// must all meet to count as good. A failed or dropped request never meets
// an SLO; a successful request without one of the metrics (the tpot of a
// one-token answer) is not held to that limit.
type SLO struct {
	// Key names the SLO in Stats.Goodput and timeline.ndjson: its limits in
	// metric order, "ttft<=300ms,tpot<=50ms".
	Key    string
	limits [numMetrics]int64 // µs; 0: no limit
}

// GoodputMetrics are the metrics an SLO may limit: those every request
// that has them carries in its record.
var GoodputMetrics = []string{MetricLatency, MetricLatencyService, MetricE2E, MetricTTFT, MetricTPOT, MetricTTST}

// NewSLO builds an SLO from limits in milliseconds by metric name.
func NewSLO(limitsMs map[string]float64) (SLO, error) {
	var s SLO
	if len(limitsMs) == 0 {
		return s, fmt.Errorf("%w: an SLO needs at least one limit", ErrGates)
	}
	var parts []string
	for _, name := range metricNames {
		lim, ok := limitsMs[name]
		if !ok {
			continue
		}
		m, _ := metricByName(name)
		if !slices.Contains(GoodputMetrics, name) {
			return s, fmt.Errorf("%w: SLO metric %q (want %s)", ErrGates, name, strings.Join(GoodputMetrics, ", "))
		}
		if !(lim > 0 && lim <= float64(HighestMicros)/1000) {
			return s, fmt.Errorf("%w: SLO limit %s: %g ms is not in (0, 1 h]", ErrGates, name, lim)
		}
		s.limits[m] = max(1, int64(lim*1000))
		parts = append(parts, name+"<="+strconv.FormatFloat(lim, 'g', -1, 64)+"ms")
	}
	if len(parts) != len(limitsMs) {
		for name := range limitsMs {
			if _, ok := metricByName(name); !ok {
				return s, fmt.Errorf("%w: SLO metric %q (want %s)", ErrGates, name, strings.Join(GoodputMetrics, ", "))
			}
		}
	}
	s.Key = strings.Join(parts, ",")
	return s, nil
}

// Metrics returns the metric names the SLO limits, in metric order.
func (s SLO) Metrics() []string {
	var out []string
	for m, lim := range s.limits {
		if lim > 0 {
			out = append(out, metricNames[m])
		}
	}
	return out
}

// MetBy reports whether a request met the SLO, given whether it failed and
// its value of each metric in milliseconds (0 when it has none).
func (s SLO) MetBy(failed bool, valueMs func(metric string) float64) bool {
	if failed {
		return false
	}
	for m, lim := range s.limits {
		if lim <= 0 {
			continue
		}
		if v := valueMs(metricNames[m]); v > 0 && v*1000 > float64(lim) {
			return false
		}
	}
	return true
}

// met reports whether a recorded request met the SLO.
func (s *SLO) met(sm *sample) bool {
	if sm.failed {
		return false
	}
	for m, lim := range s.limits {
		if lim > 0 && sm.has[m] && sm.vals[m] > lim {
			return false
		}
	}
	return true
}
