package analyze

import (
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Counts are the plain counts of one group over a span of a run: one
// interval (timeline.ndjson, Slice) or a window.
type Counts struct {
	// Requests counts finished requests, failures included.
	Requests int64 `json:"requests"`
	// Failed counts failures, ByClass by error class (classes with none
	// are left out).
	Failed  int64            `json:"failed"`
	ByClass map[string]int64 `json:"by_class,omitempty"`
	// Dropped counts arrivals never sent, Queued requests that waited for
	// a VU.
	Dropped int64 `json:"dropped"`
	Queued  int64 `json:"queued,omitempty"`
	// Tokens sums the output tokens of successful requests.
	Tokens int64 `json:"tokens"`
	// Clamped counts values outside the histogram range.
	Clamped int64 `json:"clamped,omitempty"`
	// Goodput counts the requests that met each SLO the run counted, by
	// SLO key (SLO.Key).
	Goodput map[string]int64 `json:"goodput,omitempty"`
	// Checks counts the passes and failures of each response check, by
	// name; checks not judged in the span are left out.
	Checks map[string]CheckCounts `json:"checks,omitempty"`
}

// CheckCounts are the passes and failures of one response check.
type CheckCounts struct {
	Passed int64 `json:"passed"`
	Failed int64 `json:"failed"`
}

// Total is the number of times the check was judged.
func (c CheckCounts) Total() int64 { return c.Passed + c.Failed }

// Rate is the share of the judgements that passed, 0 when there was none.
func (c CheckCounts) Rate() float64 {
	if c.Total() == 0 {
		return 0
	}
	return float64(c.Passed) / float64(c.Total())
}

// Add adds o's counts to c.
func (c *Counts) Add(o *Counts) {
	c.Requests += o.Requests
	c.Failed += o.Failed
	c.Dropped += o.Dropped
	c.Queued += o.Queued
	c.Tokens += o.Tokens
	c.Clamped += o.Clamped
	for k, n := range o.ByClass {
		if c.ByClass == nil {
			c.ByClass = map[string]int64{}
		}
		c.ByClass[k] += n
	}
	for k, n := range o.Goodput {
		if c.Goodput == nil {
			c.Goodput = map[string]int64{}
		}
		c.Goodput[k] += n
	}
	for k, n := range o.Checks {
		if c.Checks == nil {
			c.Checks = map[string]CheckCounts{}
		}
		cc := c.Checks[k]
		cc.Passed += n.Passed
		cc.Failed += n.Failed
		c.Checks[k] = cc
	}
}

// Slice is one interval of a run: the counts and histograms of every group
// that was active in it. A Recorder keeps its last intervals as Slices for
// live windows; ReadSlices reads them back from a run directory's interval
// log and timeline. A Slice is not changed once made.
type Slice struct {
	Start, End time.Time
	// Groups holds the groups by key (Overall, ScenarioGroup, TagGroup).
	// The overall group is always present.
	Groups map[string]*SliceGroup
}

// SliceGroup is one group's share of a Slice.
type SliceGroup struct {
	Counts
	// Hists holds the interval's histogram of each metric, nil when the
	// metric had no value in it.
	Hists [numMetrics]*hdr.PackedHistogram
}

// Hist returns the interval's histogram of a metric, nil when none.
func (g *SliceGroup) Hist(metric string) *hdr.PackedHistogram {
	m, ok := metricByName(metric)
	if !ok {
		return nil
	}
	return g.Hists[m]
}

// ring keeps the last n slices.
type ring struct {
	mu     sync.RWMutex
	slices []*Slice // oldest first
	n      int
}

func newRing(n int) *ring { return &ring{n: n, slices: make([]*Slice, 0, n)} }

func (r *ring) push(s *Slice) {
	r.mu.Lock()
	if len(r.slices) == r.n {
		copy(r.slices, r.slices[1:])
		r.slices[len(r.slices)-1] = s
	} else {
		r.slices = append(r.slices, s)
	}
	r.mu.Unlock()
}

// last returns the slices that end within span before the newest one's
// end (all of them when span ≤ 0), oldest first.
func (r *ring) last(span time.Duration) []*Slice {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := len(r.slices)
	if n == 0 {
		return nil
	}
	i := 0
	if span > 0 {
		from := r.slices[n-1].End.Add(-span)
		i = n - 1
		for i > 0 && !r.slices[i-1].Start.Before(from) {
			i--
		}
	}
	return append([]*Slice(nil), r.slices[i:]...)
}

// Slices returns the recorder's intervals that lie within the last span of
// the run (every interval it keeps when span ≤ 0), oldest first. They are
// shared: do not change them.
func (r *Recorder) Slices(span time.Duration) []*Slice { return r.ring.last(span) }

// Window returns the last span of the run as the input Judge takes: the
// counts of every group over the intervals within span, and their
// histograms, merged when first asked for. It holds no lock of the
// recorder once it returns.
func (r *Recorder) Window(span time.Duration) *RunData {
	return WindowOf(r.ring.last(span), r.slos)
}

// SoFar returns the run from its start to now as the input Judge takes:
// every group's counts, and its histograms copied when first asked for.
func (r *Recorder) SoFar(now time.Time) *RunData {
	r.mu.Lock()
	dur := now.Sub(r.start).Seconds()
	s := &Summary{Started: r.start, Ended: now, DurationS: roundTo(dur, 3), TagOverflow: r.tagOverflow,
		Scenarios: make(map[string]Stats, len(r.scenarios)), Tags: make(map[string]Stats, len(r.tagOrder))}
	stats := func(g *group, span float64) Stats {
		c := g.cum.counts(r.slos)
		if span <= 0 && !g.first.IsZero() && g.last.After(g.first) {
			span = g.last.Sub(g.first).Seconds()
		}
		st := statsOfCounts(&c, span)
		st.Rate.AchievedPerSec = roundTo(g.achievedRate(span), 3)
		return st
	}
	s.Overall = stats(r.overall, dur)
	s.Overall.Checks = r.allChecks(s.Overall.Checks)
	for name, g := range r.scenarios {
		s.Scenarios[name] = stats(g, 0)
	}
	for _, g := range r.tagOrder {
		s.Tags[strings.TrimPrefix(g.key, tagPrefix)] = stats(g, 0)
	}
	r.mu.Unlock()
	s.hist = r.Histogram
	return &RunData{Summary: s, hist: r.Histogram, SLOs: r.slos}
}

// WindowOf makes RunData of consecutive slices: the summary's counts are
// their sums, its rates per second of the slices' span, and every
// histogram is merged from the slices when Histogram (or a threshold's
// percentile) first needs it. slos name the SLOs the slices counted.
func WindowOf(slices []*Slice, slos []SLO) *RunData {
	d := &RunData{}
	s := &Summary{Scenarios: map[string]Stats{}, Tags: map[string]Stats{}}
	d.Summary = s
	if len(slices) == 0 {
		return d
	}
	s.Started, s.Ended = slices[0].Start, slices[len(slices)-1].End
	span := s.Ended.Sub(s.Started).Seconds()
	s.DurationS = roundTo(span, 3)
	sums := map[string]*Counts{}
	for _, sl := range slices {
		for key, g := range sl.Groups {
			c := sums[key]
			if c == nil {
				c = &Counts{}
				sums[key] = c
			}
			c.Add(&g.Counts)
		}
	}
	for key, c := range sums {
		st := statsOfCounts(c, span)
		if key == Overall {
			s.Overall = st
		} else if name, ok := strings.CutPrefix(key, scenarioPrefix); ok {
			s.Scenarios[name] = st
		} else if kv, ok := strings.CutPrefix(key, tagPrefix); ok {
			s.Tags[kv] = st
		}
	}
	var mu sync.Mutex
	cache := map[string]*hdr.Histogram{}
	hist := func(group, metric string) *hdr.Histogram {
		m, ok := metricByName(metric)
		if !ok {
			return nil
		}
		k := HistKey(group, metric)
		mu.Lock()
		defer mu.Unlock()
		if h, ok := cache[k]; ok {
			return h
		}
		var h *hdr.Histogram
		for _, sl := range slices {
			if g := sl.Groups[group]; g != nil && g.Hists[m] != nil {
				if h == nil {
					h = newHist(m)
				}
				g.Hists[m].MergeInto(h)
			}
		}
		cache[k] = h
		return h
	}
	s.hist = hist
	d.hist = hist
	d.SLOs = slos
	return d
}

// statsOfCounts is the Stats of counts over span seconds, without metric
// digests (a window's histograms are merged on demand).
func statsOfCounts(c *Counts, span float64) Stats {
	st := Stats{
		Requests: Requests{
			Total:   c.Requests,
			OK:      c.Requests - c.Failed,
			Failed:  map[string]int64{},
			Dropped: c.Dropped,
			Queued:  c.Queued,
		},
		Clamped: c.Clamped,
		ActiveS: roundTo(span, 3),
		Goodput: c.Goodput,
		Checks:  c.Checks,
	}
	for k, n := range c.ByClass {
		st.Requests.Failed[k] = n
	}
	if arrivals := c.Requests + c.Dropped; len(c.Goodput) > 0 && arrivals > 0 {
		st.GoodputShares = make(map[string]float64, len(c.Goodput))
		for k, met := range c.Goodput {
			st.GoodputShares[k] = roundTo(float64(met)/float64(arrivals), 6)
		}
	}
	if len(c.Goodput) > 0 && span > 0 {
		st.GoodputPerSec = make(map[string]float64, len(c.Goodput))
		for k, met := range c.Goodput {
			st.GoodputPerSec[k] = roundTo(float64(met)/span, 3)
		}
	}
	if span > 0 {
		st.Rate.AchievedPerSec = roundTo(float64(c.Requests)/span, 3)
		st.Rate.SentPerSec = st.Rate.AchievedPerSec
		st.Rate.CompletedPerSec = roundTo(float64(st.Requests.OK)/span, 3)
		if c.Tokens > 0 {
			tps := roundTo(float64(c.Tokens)/span, 3)
			st.TokensPerSec = &tps
		}
	}
	return st
}

// ReadSlices rebuilds a run's intervals from its timeline (the counts of
// every group; see TimelinePoint) and its interval log (the histograms),
// for windowed gates on a finished run. start is the run's time zero. Only
// the histograms keep asks for are read (nil keeps none), so memory grows
// with the intervals of those few histograms, not with the whole log.
func ReadSlices(timeline []TimelinePoint, start time.Time, hlog io.Reader, keep func(group, metric string) bool) ([]*Slice, error) {
	out := make([]*Slice, 0, len(timeline))
	for _, p := range timeline {
		sl := &Slice{
			Start:  start.Add(secondsDur(p.StartS)),
			End:    start.Add(secondsDur(p.EndS)),
			Groups: map[string]*SliceGroup{Overall: {Counts: p.Counts}},
		}
		for key, c := range p.Groups {
			if key != Overall { // the point's own counts are the whole run's
				sl.Groups[key] = &SliceGroup{Counts: c}
			}
		}
		out = append(out, sl)
	}
	if hlog == nil || keep == nil || len(out) == 0 {
		return out, nil
	}
	want := func(tag string) bool {
		g, m := groupOfTag(tag)
		return keep(g, m)
	}
	err := ReadIntervalLogFunc(hlog, want, func(iv Interval) error {
		g, metric := groupOfTag(iv.Tag)
		m, ok := metricByName(metric)
		if !ok || iv.Histogram.TotalCount() == 0 {
			return nil
		}
		// The log keeps milliseconds, the timeline microseconds.
		from := iv.Start.Add(-2 * time.Millisecond)
		i := sort.Search(len(out), func(i int) bool { return !out[i].Start.Before(from) })
		if i == len(out) || out[i].Start.Sub(iv.Start) > 2*time.Millisecond {
			return nil // an interval the timeline does not have (a log of another tool)
		}
		sg := out[i].Groups[g]
		if sg == nil {
			sg = &SliceGroup{}
			out[i].Groups[g] = sg
		}
		p := newPacked(m)
		p.MergeFrom(iv.Histogram)
		sg.Hists[m] = p
		return nil
	})
	return out, err
}

// secondsDur converts seconds to a duration, to the microsecond.
func secondsDur(s float64) time.Duration {
	return time.Duration(math.Round(s*1e6)) * time.Microsecond
}
