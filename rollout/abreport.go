package rollout

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/gonogo-dev/gonogo/analyze/abtest"
	"github.com/gonogo-dev/gonogo/internal/input"
	"github.com/gonogo-dev/gonogo/store"
)

// abPoints is how many times the effect over time is computed at.
const abPoints = 12

// abSource is what an experiment report reads (store.DB).
type abSource interface {
	Experiment(ctx context.Context, name string) (*store.Experiment, error)
	Summaries(ctx context.Context, q store.Query) ([]store.Group, error)
}

// BuildABReport reports experiment spec at now: control and treatment
// are the stable and canary backends, split the canary weight the
// analysed users joined under, since when the experiment began (the
// first point over time). Without detail it leaves out the effect over
// time, by segment and by cohort (a live step's decision needs none).
func BuildABReport(ctx context.Context, db abSource, spec *ExperimentSpec, control, treatment string, split float64, since, now time.Time, detail bool) (*abtest.Readout, error) {
	ex, err := db.Experiment(ctx, spec.Name)
	if err != nil {
		return nil, err
	}
	r := &abtest.Readout{Schema: abtest.ReadoutSchema, Experiment: spec.Name, Time: now.UTC(), Control: control, Treatment: treatment,
		Split: split, Outcomes: abtest.Outcomes(ex.Outcomes)}
	cfg := spec.abConfig()
	splitText := strconv.FormatFloat(split, 'g', -1, 64)
	where := map[string]string{SplitAttr: splitText}
	exp := abtest.Experiment{Variants: []abtest.Variant{{Name: control, Weight: 100 - split}, {Name: treatment, Weight: split}}}
	for mi, m := range spec.Metrics {
		kind := abtest.Kind(m.Kind)
		// Every user once, grouped by the split they joined under.
		groups, err := db.Summaries(ctx, store.Query{Experiment: spec.Name, Metric: m.Name, Segment: SplitAttr, Covariate: spec.CUPED})
		if err != nil {
			return nil, err
		}
		sums := [2]abtest.Summary{}
		for _, g := range groups {
			vi := slices.Index([]string{control, treatment}, g.Variant)
			if vi < 0 {
				continue
			}
			if g.Segment != splitText {
				if mi == 0 {
					user(r, g.Variant).OtherSplit += g.Users
				}
				continue
			}
			sums[vi].Merge(toSummary(g.Summary, kind))
		}
		if mi == 0 {
			for vi := range exp.Variants {
				exp.Variants[vi].Users = sums[vi].Users
			}
		}
		exp.Metrics = append(exp.Metrics, abtest.Metric{Name: m.Name, Kind: kind, Role: abtest.Role(m.Role),
			LowerIsBetter: m.LowerIsBetter, Margin: m.Margin, Summaries: sums[:]})
		if !detail {
			continue
		}
		d := abtest.MetricDetail{Name: m.Name}
		// The effect over time reads a row per user and time bucket, the
		// others a row per user: it runs beside them, in its own read
		// transaction (a snapshot a moment apart from theirs).
		var timeErr error
		timeDone := make(chan struct{})
		go func() {
			defer close(timeDone)
			d.OverTime, timeErr = overTime(ctx, db, spec, m.Name, kind, cfg, where, control, treatment, since, now)
		}()
		segments, err := bySegment(ctx, db, spec, m.Name, kind, cfg, where, control, treatment)
		var nov *abtest.NoveltyResult
		if err == nil {
			nov, err = novelty(ctx, db, spec, m.Name, kind, cfg, where, control, treatment)
		}
		<-timeDone
		if err = errors.Join(timeErr, err); err != nil {
			return nil, err
		}
		d.Segments, d.Novelty = segments, nov
		r.Metrics = append(r.Metrics, d)
	}
	for _, v := range ex.Variants {
		u := user(r, v.Variant)
		u.Exposed, u.Contaminated = v.Users+v.Contaminated, v.Contaminated
	}
	for vi, v := range exp.Variants {
		user(r, v.Name).Analysed = exp.Variants[vi].Users
	}
	if r.Stats, err = abtest.Analyze(exp, cfg); err != nil {
		return nil, fmt.Errorf("experiment %s: %w", spec.Name, err)
	}
	for _, d := range r.Stats.Decisions {
		if d.Variant == treatment {
			r.Verdict, r.Reasons = d.Verdict, d.Reasons
		}
	}
	return r, nil
}

// user returns the users of variant v in r, added when new.
func user(r *abtest.Readout, v string) *abtest.Users {
	for i := range r.Users {
		if r.Users[i].Variant == v {
			return &r.Users[i]
		}
	}
	r.Users = append(r.Users, abtest.Users{Variant: v})
	return &r.Users[len(r.Users)-1]
}

// toSummary is a store summary as the statistics read it: a binomial
// metric counts a user with any outcome as converted. The covariate
// (zero without CUPED) is the user's pre-period sum either way.
func toSummary(s store.Summary, kind abtest.Kind) abtest.Summary {
	if kind == abtest.Binomial {
		return abtest.Summary{Users: s.Users, Sum: float64(s.WithOutcome), SumSq: float64(s.WithOutcome),
			SumX: s.SumX, SumXSq: s.SumXSq, SumXY: s.SumXHas}
	}
	return abtest.Summary{Users: s.Users, Sum: s.Sum, SumSq: s.SumSq, SumX: s.SumX, SumXSq: s.SumXSq, SumXY: s.SumXY}
}

// pair sums groups into control and treatment summaries per key.
func pair(groups []store.Group, kind abtest.Kind, control, treatment string, key func(store.Group) string) (keys []string, sums map[string]*[2]abtest.Summary) {
	sums = map[string]*[2]abtest.Summary{}
	for _, g := range groups {
		vi := slices.Index([]string{control, treatment}, g.Variant)
		if vi < 0 {
			continue
		}
		k := key(g)
		s, ok := sums[k]
		if !ok {
			s = &[2]abtest.Summary{}
			sums[k] = s
			keys = append(keys, k)
		}
		s[vi].Merge(toSummary(g.Summary, kind))
	}
	return keys, sums
}

// overTime is the cumulative effect at abPoints times from since to now.
func overTime(ctx context.Context, db abSource, spec *ExperimentSpec, metric string, kind abtest.Kind, cfg abtest.Config,
	where map[string]string, control, treatment string, since, now time.Time) ([]abtest.Point, error) {
	if !now.After(since) {
		return nil, nil
	}
	var cuts []time.Time
	for i := 1; i <= abPoints; i++ {
		cuts = append(cuts, since.Add(now.Sub(since)*time.Duration(i)/abPoints))
	}
	groups, err := db.Summaries(ctx, store.Query{Experiment: spec.Name, Metric: metric, Cutoffs: cuts, Where: where, Covariate: spec.CUPED})
	if err != nil {
		return nil, err
	}
	keys, sums := pair(groups, kind, control, treatment, func(g store.Group) string { return g.Cutoff.Format(time.RFC3339Nano) })
	var out []abtest.Point
	for _, k := range keys {
		s := sums[k]
		res, err := abtest.Compare(s[0], s[1], kind, cfg)
		if err != nil {
			continue // one side without users yet
		}
		t, _ := time.Parse(time.RFC3339Nano, k)
		out = append(out, abtest.Point{Time: t, Result: res})
	}
	return out, nil
}

// bySegment compares the variants within each value of each segment
// attribute.
func bySegment(ctx context.Context, db abSource, spec *ExperimentSpec, metric string, kind abtest.Kind, cfg abtest.Config,
	where map[string]string, control, treatment string) (map[string]*abtest.SegmentReport, error) {
	var out map[string]*abtest.SegmentReport
	for _, attr := range slices.Sorted(maps.Keys(spec.Attributes)) {
		groups, err := db.Summaries(ctx, store.Query{Experiment: spec.Name, Metric: metric, Segment: attr, Where: where, Covariate: spec.CUPED})
		if err != nil {
			return nil, err
		}
		keys, sums := pair(groups, kind, control, treatment, func(g store.Group) string { return g.Segment })
		var segs []abtest.Segment
		for _, k := range keys {
			name := k
			if name == "" {
				name = "(none)"
			}
			segs = append(segs, abtest.Segment{Name: name, Control: sums[k][0], Treatment: sums[k][1]})
		}
		if len(segs) == 0 {
			continue
		}
		rep, err := abtest.CompareSegments(segs, kind, cfg)
		if err != nil {
			continue // a segment without users on one side
		}
		if out == nil {
			out = map[string]*abtest.SegmentReport{}
		}
		out[attr] = rep
	}
	return out, nil
}

// novelty is the effect by exposure cohort, when there are two cohorts
// or more.
func novelty(ctx context.Context, db abSource, spec *ExperimentSpec, metric string, kind abtest.Kind, cfg abtest.Config,
	where map[string]string, control, treatment string) (*abtest.NoveltyResult, error) {
	groups, err := db.Summaries(ctx, store.Query{Experiment: spec.Name, Metric: metric, CohortWidth: spec.Cohort.D(), Where: where, Covariate: spec.CUPED})
	if err != nil {
		return nil, err
	}
	keys, sums := pair(groups, kind, control, treatment, func(g store.Group) string { return g.Cohort.UTC().Format(time.RFC3339) })
	if len(keys) < 2 {
		return nil, nil
	}
	var cohorts []abtest.Cohort
	for _, k := range keys {
		cohorts = append(cohorts, abtest.Cohort{Label: k, Control: sums[k][0], Treatment: sums[k][1]})
	}
	res, err := abtest.Novelty(cohorts, kind, cfg)
	if err != nil {
		return nil, nil // too little data per cohort yet
	}
	return res, nil
}

// ABSetup is what the report of a stored rollout's experiment needs.
type ABSetup struct {
	Spec *ExperimentSpec
	// Control and Treatment name the stable and the canary backend.
	Control, Treatment string
	// Split is the canary weight of the rollout's experiment step.
	Split float64
}

// StoredABSetup reads the experiment of the rollout stored under name
// from its stored spec (the files it names are not read).
func StoredABSetup(ctx context.Context, db *store.DB, name string) (*ABSetup, error) {
	st, err := db.Load(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &input.Error{Msg: fmt.Sprintf("no rollout %q in the store", name)}
	}
	if err != nil {
		return nil, err
	}
	path := fmt.Sprintf("rollout %s (stored spec)", name)
	c := &Config{}
	if err := input.DecodeYAML(path, st.Spec, c); err != nil {
		return nil, err
	}
	c.Path, c.Src = path, st.Spec
	if field, msg := c.check(); msg != "" {
		return nil, &input.Error{File: path, Line: c.line(field), Field: field, Msg: msg}
	}
	if c.Experiment == nil {
		return nil, &input.Error{File: path, Field: "experiment", Msg: "the rollout runs no experiment"}
	}
	s := &ABSetup{Spec: c.Experiment, Control: c.Backends[c.stable].Name, Treatment: c.Backends[c.canary].Name}
	for _, step := range c.steps() {
		if step.Experiment != nil {
			s.Split = step.Experiment.Weight
			return s, nil
		}
	}
	return nil, &input.Error{File: path, Field: "strategy", Msg: "the rollout has no experiment step"}
}
