package store

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// t0 is the start of the tests' experiments, on the hour.
var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func mustExpose(t *testing.T, db *DB, exp string, batch ...Exposure) {
	t.Helper()
	if err := db.RecordExposures(ctx, exp, batch); err != nil {
		t.Fatal(err)
	}
}

func mustIngest(t *testing.T, db *DB, exp string, batch ...Outcome) OutcomeCounts {
	t.Helper()
	c, err := db.RecordOutcomes(ctx, exp, batch)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustSummaries(t *testing.T, db *DB, q Query) []Group {
	t.Helper()
	g, err := db.Summaries(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func mustExperiment(t *testing.T, db *DB, exp string) *Experiment {
	t.Helper()
	e, err := db.Experiment(ctx, exp)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestJoinReasons(t *testing.T) {
	db, _ := openTemp(t)
	mustExpose(t, db, "exp",
		Exposure{User: "alice", Variant: "a", Time: t0},
		Exposure{User: "bob", Variant: "b", Time: t0},
		Exposure{User: "carol", Variant: "a", Time: t0},
		Exposure{User: "carol", Variant: "b", Time: t0.Add(time.Hour)}, // reassigned
	)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	var total OutcomeCounts
	for _, c := range []struct {
		name  string
		batch []Outcome
		want  OutcomeCounts
	}{
		{"after the exposure", []Outcome{{User: "alice", Metric: "m", Value: 2, Time: at(time.Minute)}}, OutcomeCounts{Counted: 1}},
		{"at the exposure instant", []Outcome{{User: "bob", Metric: "m", Value: 1, Time: t0}}, OutcomeCounts{Counted: 1}},
		{"unknown user", []Outcome{{User: "dave", Metric: "m", Value: 1, Time: at(time.Minute)}}, OutcomeCounts{UnknownUser: 1}},
		{"before the exposure", []Outcome{{User: "alice", Metric: "m", Value: 1, Time: at(-time.Nanosecond)}}, OutcomeCounts{BeforeExposure: 1}},
		{"contaminated user", []Outcome{{User: "carol", Metric: "m", Value: 1, Time: at(2 * time.Hour)}}, OutcomeCounts{Contaminated: 1}},
		{"contaminated user, before the change", []Outcome{{User: "carol", Metric: "m", Value: 1, Time: at(time.Minute)}}, OutcomeCounts{Contaminated: 1}},
		{"with an id", []Outcome{{ID: "e1", User: "alice", Metric: "m", Value: 3, Time: at(time.Hour)}}, OutcomeCounts{Counted: 1}},
		{"the same id again", []Outcome{{ID: "e1", User: "alice", Metric: "m", Value: 3, Time: at(time.Hour)}}, OutcomeCounts{Duplicate: 1}},
		{"an id twice in a batch", []Outcome{
			{ID: "e2", User: "bob", Metric: "m", Value: 4, Time: at(time.Hour)},
			{ID: "e2", User: "bob", Metric: "m", Value: 4, Time: at(time.Hour)},
		}, OutcomeCounts{Counted: 1, Duplicate: 1}},
		{"an unknown user's id, then again", []Outcome{
			{ID: "e3", User: "dave", Metric: "m", Value: 1, Time: at(time.Hour)},
			{ID: "e3", User: "dave", Metric: "m", Value: 1, Time: at(time.Hour)},
		}, OutcomeCounts{UnknownUser: 1, Duplicate: 1}},
		{"an id of another metric", []Outcome{{ID: "e4", User: "alice", Metric: "other", Value: 10, Time: at(time.Hour)}}, OutcomeCounts{Counted: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := mustIngest(t, db, "exp", c.batch...)
			if got != c.want {
				t.Errorf("counts %+v, want %+v", got, c.want)
			}
			total.Add(got)
		})
	}
	e := mustExperiment(t, db, "exp")
	if e.Outcomes != total || total.Total() != 13 {
		t.Errorf("experiment counts %+v, want %+v (13 events)", e.Outcomes, total)
	}
	wantVariants := []VariantUsers{{Variant: "a", Users: 2, Contaminated: 1}, {Variant: "b", Users: 1}}
	if !reflect.DeepEqual(e.Variants, wantVariants) || !reflect.DeepEqual(e.Metrics, []string{"m", "other"}) {
		t.Errorf("variants %+v metrics %q, want %+v [m other]", e.Variants, e.Metrics, wantVariants)
	}
	// alice: 2 + 3 (e1 once); bob: 1 + 4 (e2 once); carol left out.
	want := []Group{
		{Variant: "a", Summary: Summary{Users: 1, Sum: 5, SumSq: 25, WithOutcome: 1}},
		{Variant: "b", Summary: Summary{Users: 1, Sum: 5, SumSq: 25, WithOutcome: 1}},
	}
	if got := mustSummaries(t, db, Query{Experiment: "exp", Metric: "m"}); !reflect.DeepEqual(got, want) {
		t.Errorf("summaries %+v, want %+v", got, want)
	}
	// A metric without outcomes: every exposed user at zero.
	want = []Group{{Variant: "a", Summary: Summary{Users: 1}}, {Variant: "b", Summary: Summary{Users: 1}}}
	if got := mustSummaries(t, db, Query{Experiment: "exp", Metric: "none"}); !reflect.DeepEqual(got, want) {
		t.Errorf("summaries of a metric without outcomes %+v, want %+v", got, want)
	}
}

func TestReassignment(t *testing.T) {
	db, _ := openTemp(t)
	region := func(r string) map[string]string { return map[string]string{"region": r} }
	mustExpose(t, db, "exp",
		Exposure{User: "alice", Variant: "a", Time: t0, Attrs: region("eu")},
		Exposure{User: "alice", Variant: "a", Time: t0.Add(time.Minute), Attrs: region("us")}, // same variant: no-op
		Exposure{User: "bob", Variant: "b", Time: t0.Add(time.Hour), Attrs: region("us")},
		Exposure{User: "bob", Variant: "b", Time: t0, Attrs: region("ap")}, // earlier: the first exposure moves back
	)
	if c := mustIngest(t, db, "exp", Outcome{User: "alice", Metric: "m", Value: 7, Time: t0.Add(10 * time.Minute)},
		Outcome{User: "bob", Metric: "m", Value: 1, Time: t0.Add(30 * time.Minute)}); c != (OutcomeCounts{Counted: 2}) {
		t.Fatalf("counts %+v, want 2 counted", c)
	}
	got := mustSummaries(t, db, Query{Experiment: "exp", Metric: "m", Segment: "region"})
	want := []Group{
		{Variant: "a", Segment: "eu", Summary: Summary{Users: 1, Sum: 7, SumSq: 49, WithOutcome: 1}},
		{Variant: "b", Segment: "ap", Summary: Summary{Users: 1, Sum: 1, SumSq: 1, WithOutcome: 1}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("before the reassignment: %+v, want %+v", got, want)
	}

	// alice moves to b at t0+2h: contaminated from then, whatever comes after.
	change := t0.Add(2 * time.Hour)
	mustExpose(t, db, "exp", Exposure{User: "alice", Variant: "b", Time: change})
	mustExpose(t, db, "exp", Exposure{User: "alice", Variant: "a", Time: t0.Add(3 * time.Hour)},
		Exposure{User: "alice", Variant: "c", Time: t0.Add(4 * time.Hour)})
	var variant string
	var first, contaminated int64
	if err := db.db.QueryRow(`SELECT variant, first_ns, contaminated_ns FROM exposures WHERE uid = 'alice'`).
		Scan(&variant, &first, &contaminated); err != nil {
		t.Fatal(err)
	}
	if variant != "a" || first != t0.UnixNano() || contaminated != change.UnixNano() {
		t.Errorf("alice: variant %s, first %s, contaminated %s; want a, %s, %s", variant,
			time.Unix(0, first).UTC(), time.Unix(0, contaminated).UTC(), t0, change)
	}
	if c := mustIngest(t, db, "exp", Outcome{User: "alice", Metric: "m", Value: 1, Time: t0.Add(5 * time.Hour)}); c != (OutcomeCounts{Contaminated: 1}) {
		t.Errorf("an outcome of a reassigned user: %+v, want contaminated", c)
	}
	got = mustSummaries(t, db, Query{Experiment: "exp", Metric: "m"})
	want = []Group{{Variant: "b", Summary: Summary{Users: 1, Sum: 1, SumSq: 1, WithOutcome: 1}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after the reassignment: %+v, want only bob: %+v", got, want)
	}
	e := mustExperiment(t, db, "exp")
	wantV := []VariantUsers{{Variant: "a", Users: 1, Contaminated: 1}, {Variant: "b", Users: 1}}
	if !reflect.DeepEqual(e.Variants, wantV) {
		t.Errorf("variants %+v, want %+v", e.Variants, wantV)
	}
}

// population is a simulated experiment: exposures in the order they are
// recorded and outcomes in the order they are ingested, with what the
// tests know of each user.
type population struct {
	exposures []Exposure
	outcomes  []Outcome
	users     map[string]*truthUser
}

// truthUser is what a user's exposures make of it.
type truthUser struct {
	variant      string
	first        time.Time
	attrs        map[string]string
	contaminated bool
}

// simulate makes a population of n users on variants a, b and c, some
// exposed again (later, earlier) or reassigned, and outcomes of metrics
// "purchase" (value 1) and "revenue" (any sign) for them and for unknown
// users, before and after their exposure, some with ids sent twice.
func simulate(seed uint64, n, outcomes int) *population {
	r := rand.New(rand.NewPCG(seed, 7))
	p := &population{users: map[string]*truthUser{}}
	type seqExp struct {
		pos  int
		key  float64
		expo Exposure
	}
	var seq []seqExp
	for i := range n {
		user := fmt.Sprintf("u%d", i)
		v := []string{"a", "b", "c"}[r.IntN(3)]
		first := t0.Add(time.Duration(r.Int64N(int64(72 * time.Hour))))
		attrs := map[string]string{"tier": []string{"free", "pro"}[r.IntN(2)]}
		if reg := []string{"eu", "us", ""}[r.IntN(3)]; reg != "" {
			attrs["region"] = reg
		}
		u := &truthUser{variant: v, first: first, attrs: attrs}
		p.users[user] = u
		// This user's exposures, in the order they are recorded.
		mine := []Exposure{{User: user, Variant: v, Time: first, Attrs: attrs}}
		if r.IntN(4) == 0 { // a later one: changes nothing
			mine = append(mine, Exposure{User: user, Variant: v, Time: first.Add(time.Hour), Attrs: map[string]string{"tier": "x"}})
		}
		if r.IntN(6) == 0 { // an earlier one, recorded later: the first exposure moves back
			earlier := first.Add(-time.Duration(r.Int64N(int64(3 * time.Hour))))
			more := map[string]string{"tier": "early"}
			mine = append(mine, Exposure{User: user, Variant: v, Time: earlier, Attrs: more})
			u.first, u.attrs = earlier, more
		}
		if r.IntN(20) == 0 { // reassigned
			w := []string{"a", "b", "c"}[(slices.Index([]string{"a", "b", "c"}, v)+1+r.IntN(2))%3]
			mine = append(mine, Exposure{User: user, Variant: w, Time: first.Add(time.Duration(r.Int64N(int64(48 * time.Hour))))})
			u.contaminated = true
		}
		for pos, e := range mine {
			seq = append(seq, seqExp{pos: pos, key: r.Float64(), expo: e})
		}
	}
	// Users interleave, each user's exposures keep their order.
	slices.SortFunc(seq, func(a, b seqExp) int { return cmp.Or(cmp.Compare(a.pos, b.pos), cmp.Compare(a.key, b.key)) })
	for _, s := range seq {
		p.exposures = append(p.exposures, s.expo)
	}
	for i := range outcomes {
		if i > 0 && r.IntN(30) == 0 { // an event sent again
			prev := p.outcomes[r.IntN(len(p.outcomes))]
			if prev.ID != "" {
				p.outcomes = append(p.outcomes, prev)
				continue
			}
		}
		user := fmt.Sprintf("u%d", r.IntN(n+n/15)) // some unknown
		at := t0.Add(time.Duration(r.Int64N(int64(100 * time.Hour))))
		if u := p.users[user]; u != nil {
			at = u.first.Add(time.Duration(r.Int64N(int64(100*time.Hour))) - 6*time.Hour)
		}
		o := Outcome{User: user, Metric: "purchase", Value: 1, Time: at}
		if r.IntN(2) == 0 {
			o.Metric, o.Value = "revenue", math.Round(r.NormFloat64()*2000+3000)/100
		}
		if r.IntN(5) > 0 {
			o.ID = fmt.Sprintf("ev-%d", i)
		}
		p.outcomes = append(p.outcomes, o)
	}
	return p
}

// judged is what the join rules make of outcomes: the counts, the
// outcomes counted and those kept as pre-period values.
type judged struct {
	counts       OutcomeCounts
	counted, pre []Outcome
}

// add adds the outcomes judged in o.
func (j *judged) add(o judged) {
	j.counts.Add(o.counts)
	j.counted = append(j.counted, o.counted...)
	j.pre = append(j.pre, o.pre...)
}

// judge applies the join rules to outcomes ingested in this order after
// every exposure.
func (p *population) judge(outcomes []Outcome) judged {
	var j judged
	c := &j.counts
	seen := map[string]bool{}
	for _, o := range outcomes {
		u := p.users[o.User]
		switch {
		case o.ID != "" && seen[o.ID]:
			c.Duplicate++
		case u == nil:
			c.UnknownUser++
		case u.contaminated:
			c.Contaminated++
		case o.Time.Before(u.first):
			c.BeforeExposure++
			j.pre = append(j.pre, o)
		default:
			c.Counted++
			j.counted = append(j.counted, o)
		}
		if o.ID != "" {
			seen[o.ID] = true
		}
	}
	return j
}

// truthGroups computes what Summaries should return for q from the
// population and its counted outcomes, directly: cut-offs are rounded
// down to bucketWidth with time.Truncate.
func (p *population) truthGroups(q Query, j judged, bucketWidth time.Duration) []Group {
	x := map[string]float64{}
	if q.Covariate {
		for _, o := range j.pre {
			if o.Metric == q.Metric {
				x[o.User] += o.Value
			}
		}
	}
	cuts := []time.Time{{}}
	if len(q.Cutoffs) > 0 {
		cuts = nil
		for _, c := range q.Cutoffs {
			cuts = append(cuts, c.Truncate(bucketWidth))
		}
		slices.SortFunc(cuts, time.Time.Compare)
		cuts = slices.CompactFunc(cuts, time.Time.Equal)
	}
	var out []Group
	for _, cut := range cuts {
		values := map[string]float64{}
		has := map[string]bool{}
		for _, o := range j.counted {
			if o.Metric == q.Metric && (cut.IsZero() || o.Time.Before(cut)) {
				values[o.User] += o.Value
				has[o.User] = true
			}
		}
		groups := map[Group]*Summary{}
	users:
		for name, u := range p.users {
			if u.contaminated || (!cut.IsZero() && !u.first.Before(cut)) {
				continue
			}
			for k, v := range q.Where {
				if u.attrs[k] != v {
					continue users
				}
			}
			k := Group{Cutoff: cut, Variant: u.variant, Segment: u.attrs[q.Segment]}
			if q.Segment == "" {
				k.Segment = ""
			}
			if q.CohortWidth > 0 {
				k.Cohort = u.first.Truncate(q.CohortWidth)
			}
			s := groups[k]
			if s == nil {
				s = &Summary{}
				groups[k] = s
			}
			v, xu := values[name], x[name]
			s.Users++
			s.Sum += v
			s.SumSq += v * v
			s.SumX += xu
			s.SumXSq += xu * xu
			s.SumXY += xu * v
			if has[name] {
				s.WithOutcome++
				s.SumXHas += xu
			}
		}
		for k, s := range groups {
			k.Summary = *s
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b Group) int {
		return cmp.Or(a.Cutoff.Compare(b.Cutoff), cmp.Compare(a.Variant, b.Variant),
			a.Cohort.Compare(b.Cohort), cmp.Compare(a.Segment, b.Segment))
	})
	return out
}

// record records the population's exposures in batches of size.
func (p *population) record(t *testing.T, db *DB, exp string, size int) {
	t.Helper()
	for lo := 0; lo < len(p.exposures); lo += size {
		mustExpose(t, db, exp, p.exposures[lo:min(lo+size, len(p.exposures))]...)
	}
}

// ingest ingests outcomes in batches of size and returns the counts.
func ingest(t *testing.T, db *DB, exp string, outcomes []Outcome, size int) OutcomeCounts {
	t.Helper()
	var c OutcomeCounts
	for lo := 0; lo < len(outcomes); lo += size {
		c.Add(mustIngest(t, db, exp, outcomes[lo:min(lo+size, len(outcomes))]...))
	}
	return c
}

// sameGroups compares summaries to the truth, sums to a relative 1e-9.
func sameGroups(t *testing.T, what string, got, want []Group) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d groups, want %d:\n got %+v\nwant %+v", what, len(got), len(want), got, want)
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Cutoff.Equal(w.Cutoff) || g.Variant != w.Variant || !g.Cohort.Equal(w.Cohort) || g.Segment != w.Segment ||
			g.Users != w.Users || g.WithOutcome != w.WithOutcome || !near(g.Sum, w.Sum) || !near(g.SumSq, w.SumSq) ||
			!near(g.SumX, w.SumX) || !near(g.SumXSq, w.SumXSq) || !near(g.SumXY, w.SumXY) || !near(g.SumXHas, w.SumXHas) {
			t.Errorf("%s: group %d: %+v, want %+v", what, i, g, w)
		}
	}
}

func TestSummariesTruth(t *testing.T) {
	db, _ := openTemp(t)
	const width = 30 * time.Minute
	if err := db.CreateExperiment(ctx, "exp", width); err != nil {
		t.Fatal(err)
	}
	p := simulate(1, 3000, 30_000)
	p.record(t, db, "exp", 700)
	got := ingest(t, db, "exp", p.outcomes, 1000)
	j := p.judge(p.outcomes)
	want := j.counts
	if got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
	if got.Counted < 10_000 || got.BeforeExposure == 0 || got.UnknownUser == 0 || got.Contaminated == 0 || got.Duplicate == 0 {
		t.Errorf("the simulation misses a case: %+v", got)
	}
	e := mustExperiment(t, db, "exp")
	if e.Outcomes != want || e.BucketWidth != width || !reflect.DeepEqual(e.Metrics, []string{"purchase", "revenue"}) {
		t.Errorf("experiment: counts %+v width %s metrics %q; want %+v, %s, [purchase revenue]", e.Outcomes, e.BucketWidth, e.Metrics, want, width)
	}
	wantV := map[string]VariantUsers{}
	for _, u := range p.users {
		v := wantV[u.variant]
		v.Variant = u.variant
		v.Users++
		if u.contaminated {
			v.Contaminated++
		}
		wantV[u.variant] = v
	}
	for _, v := range e.Variants {
		if v != wantV[v.Variant] {
			t.Errorf("variant %+v, want %+v", v, wantV[v.Variant])
		}
	}
	cuts := []time.Time{t0.Add(12 * time.Hour), t0.Add(50*time.Hour + 40*time.Minute), t0.Add(36 * time.Hour),
		t0.Add(36*time.Hour + 10*time.Minute), t0.Add(300 * time.Hour), t0.Add(-time.Hour)}
	for _, metric := range []string{"purchase", "revenue"} {
		for _, q := range []Query{
			{Metric: metric},
			{Metric: metric, Segment: "region"},
			{Metric: metric, CohortWidth: 24 * time.Hour, Segment: "tier"},
			{Metric: metric, Cutoffs: cuts},
			{Metric: metric, Cutoffs: cuts, CohortWidth: 24 * time.Hour, Segment: "region"},
			{Metric: metric, Where: map[string]string{"tier": "pro"}},
			{Metric: metric, Cutoffs: cuts, Segment: "tier", Where: map[string]string{"region": "eu", "tier": "free"}},
			{Metric: metric, Segment: "tier", Where: map[string]string{"region": ""}},
			{Metric: metric, Covariate: true},
			{Metric: metric, Covariate: true, Cutoffs: cuts, Segment: "region"},
		} {
			q.Experiment = "exp"
			name := fmt.Sprintf("%s segment %q cohorts %s %d cut-offs where %v covariate %v", metric, q.Segment, q.CohortWidth, len(q.Cutoffs), q.Where, q.Covariate)
			sameGroups(t, name, mustSummaries(t, db, q), p.truthGroups(q, j, width))
		}
	}
	// The last cut-off is after every outcome: it is the whole experiment.
	all := mustSummaries(t, db, Query{Experiment: "exp", Metric: "revenue"})
	last := mustSummaries(t, db, Query{Experiment: "exp", Metric: "revenue", Cutoffs: []time.Time{t0.Add(1000 * time.Hour)}})
	for i := range last {
		last[i].Cutoff = time.Time{}
	}
	sameGroups(t, "the last cut-off against the totals", last, all)
}

func TestReimportChangesNothing(t *testing.T) {
	db, _ := openTemp(t)
	p := simulate(2, 500, 5000)
	p.record(t, db, "exp", 1000)
	var withID []Outcome
	for _, o := range p.outcomes {
		if o.ID != "" {
			withID = append(withID, o)
		}
	}
	first := ingest(t, db, "exp", withID, 1000)
	before := mustSummaries(t, db, Query{Experiment: "exp", Metric: "revenue", Cutoffs: []time.Time{t0.Add(40 * time.Hour)}})
	again := ingest(t, db, "exp", withID, 777)
	if again != (OutcomeCounts{Duplicate: int64(len(withID))}) {
		t.Errorf("the second import: %+v, want all %d duplicates", again, len(withID))
	}
	after := mustSummaries(t, db, Query{Experiment: "exp", Metric: "revenue", Cutoffs: []time.Time{t0.Add(40 * time.Hour)}})
	if !reflect.DeepEqual(before, after) {
		t.Errorf("the second import changed the summaries:\n%+v\n%+v", before, after)
	}
	total := first
	total.Add(again)
	if e := mustExperiment(t, db, "exp"); e.Outcomes != total {
		t.Errorf("experiment counts %+v, want %+v", e.Outcomes, total)
	}
}

func TestConcurrentWriters(t *testing.T) {
	db, path := openTemp(t)
	other, err := Open(path) // a second handle: another process's
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	p := simulate(3, 1000, 12_000)
	p.record(t, db, "exp", 1000)
	// Writer one takes the first two thirds, writer two the last two:
	// the middle third is sent by both.
	third := len(p.outcomes) / 3
	parts := [][]Outcome{p.outcomes[:2*third], p.outcomes[third:]}
	var wg sync.WaitGroup
	counts := make([]OutcomeCounts, 2)
	errs := make([]error, 3)
	for i, h := range []*DB{db, other} {
		wg.Go(func() {
			for lo := 0; lo < len(parts[i]); lo += 300 {
				c, err := h.RecordOutcomes(ctx, "exp", parts[i][lo:min(lo+300, len(parts[i]))])
				if err != nil {
					errs[i] = err
					return
				}
				counts[i].Add(c)
			}
		})
	}
	// A reader meanwhile sees consistent snapshots: purchases (all 1)
	// only grow.
	stop, done := make(chan struct{}), make(chan struct{})
	reads := 0
	go func() {
		defer close(done)
		var last float64
		for {
			select {
			case <-stop:
				return
			default:
			}
			g, err := db.Summaries(ctx, Query{Experiment: "exp", Metric: "purchase"})
			if err != nil {
				errs[2] = err
				return
			}
			var sum float64
			for _, x := range g {
				sum += x.Sum
			}
			if sum < last {
				errs[2] = fmt.Errorf("purchases went down from %v to %v", last, sum)
				return
			}
			last = sum
			reads++
		}
	}()
	wg.Wait()
	close(stop)
	<-done
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := counts[0]
	got.Add(counts[1])
	// Every event once, whichever writer came first; the middle third
	// again: a duplicate with an id, another event without.
	j := p.judge(p.outcomes)
	for _, o := range p.outcomes[third : 2*third] {
		if o.ID != "" {
			j.counts.Duplicate++
			continue
		}
		j.add(p.judge([]Outcome{o}))
	}
	if want := j.counts; got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
	for _, metric := range []string{"purchase", "revenue"} {
		q := Query{Experiment: "exp", Metric: metric, Covariate: true}
		sameGroups(t, metric, mustSummaries(t, other, q), p.truthGroups(q, j, DefaultBucketWidth))
	}
	t.Logf("%d summaries read during the writes", reads)
}

func TestMigrationFromSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	// A database as schema 1 wrote it (in WAL mode, as Open leaves every
	// store), with a rollout and its event.
	stmts := append([]string{`PRAGMA journal_mode = WAL`}, schema...)
	stmts = append(stmts,
		fmt.Sprintf(`PRAGMA application_id = %d`, applicationID),
		`INSERT INTO schema_version (version) VALUES (1)`,
		`INSERT INTO rollouts (name, spec, spec_hash, salt, phase, step, step_started_ns, weights, paused, message, revision, updated_ns)
			VALUES ('r', x'6b696e643a2063616e6172790a', 'd9ab379e6715a60442e3f8e4ab60e287c91d738fe765a4d7f67a6cbdd09f9d4a', 's4lt', 'progressing', 2, NULL, '{"stable":90000,"canary":10000}', 0, 'ok', 3, 1)`,
		`INSERT INTO events (rollout, revision, time_ns, kind, actor, step, weights, reason, attrs)
			VALUES ('r', 3, 1, 'step', 'controller', 2, '{}', 'why', '{}')`)
	rawExec(t, path, stmts...)

	// Several processes open it at once: one upgrades, the others find
	// it upgraded.
	var wg sync.WaitGroup
	dbs := make([]*DB, 4)
	errs := make([]error, 4)
	for i := range dbs {
		wg.Go(func() { dbs[i], errs[i] = Open(path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	db := dbs[0]
	var v int
	if err := db.db.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != SchemaVersion {
		t.Fatalf("schema version %d (%v), want %d", v, err, SchemaVersion)
	}
	var rows int
	if err := db.db.QueryRow(`SELECT count(*) FROM schema_version`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("%d schema_version rows (%v), want 1", rows, err)
	}
	st, err := db.Load(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if st.Salt != "s4lt" || st.Step != 2 || st.Revision != 3 || st.Weights["canary"] != 10_000 || string(st.Spec) != "kind: canary\n" {
		t.Errorf("the schema-1 rollout after the upgrade: %+v", st)
	}
	if evs, err := db.Events(ctx, "r", 0, 0); err != nil || len(evs) != 1 || evs[0].Reason != "why" {
		t.Errorf("events after the upgrade: %+v, %v", evs, err)
	}
	// The experiment tables work, from every handle.
	mustExpose(t, dbs[1], "exp", Exposure{User: "u", Variant: "a", Time: t0})
	if c := mustIngest(t, dbs[2], "exp", Outcome{User: "u", Metric: "m", Value: 2, Time: t0}); c.Counted != 1 {
		t.Errorf("counts %+v", c)
	}
	if _, err := db.Save(ctx, st, Event{Kind: "step", Actor: "controller"}); err != nil {
		t.Errorf("save after the upgrade: %v", err)
	}
	var check string
	if err := db.db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: %q, %v", check, err)
	}
}

func TestRecordRefusesBadInput(t *testing.T) {
	db, _ := openTemp(t)
	mustExpose(t, db, "exp", Exposure{User: "u", Variant: "a", Time: t0})
	good := Outcome{User: "u", Metric: "m", Value: 1, Time: t0}
	for _, c := range []struct {
		name string
		bad  Outcome
		want string
	}{
		{"no user", Outcome{Metric: "m", Value: 1}, "outcome 1 has no user"},
		{"no metric", Outcome{User: "u", Value: 1}, "outcome 1: metric"},
		{"metric not UTF-8", Outcome{User: "u", Metric: "m\xff", Value: 1}, "not UTF-8"},
		{"NaN", Outcome{User: "u", Metric: "m", Value: math.NaN()}, "not finite"},
		{"infinite", Outcome{User: "u", Metric: "m", Value: math.Inf(-1)}, "not finite"},
		{"out of range", Outcome{User: "u", Metric: "m", Value: 1, Time: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}, "out of range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := db.RecordOutcomes(ctx, "exp", []Outcome{good, c.bad})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("RecordOutcomes: %v, want an error saying %q", err, c.want)
			}
		})
	}
	for _, c := range []struct {
		name string
		bad  Exposure
		want string
	}{
		{"no user", Exposure{Variant: "a"}, "exposure 0 has no user"},
		{"no variant", Exposure{User: "v"}, "variant"},
		{"variant not UTF-8", Exposure{User: "v", Variant: "\xff"}, "variant"},
		{"out of range", Exposure{User: "v", Variant: "a", Time: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)}, "out of range"},
	} {
		t.Run("exposure "+c.name, func(t *testing.T) {
			if err := db.RecordExposures(ctx, "exp", []Exposure{c.bad, {User: "w", Variant: "a"}}); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("RecordExposures: %v, want an error saying %q", err, c.want)
			}
		})
	}
	// A refused batch stored nothing, not even its good events.
	e := mustExperiment(t, db, "exp")
	if e.Outcomes.Total() != 0 || len(e.Variants) != 1 || e.Variants[0].Users != 1 {
		t.Errorf("after refused batches: %+v", e)
	}
	if _, err := db.RecordOutcomes(ctx, "nope", []Outcome{good}); !errors.Is(err, ErrNoExperiment) {
		t.Errorf("outcomes of an experiment never created: %v, want ErrNoExperiment", err)
	}
	if _, err := db.Summaries(ctx, Query{Experiment: "nope", Metric: "m"}); !errors.Is(err, ErrNoExperiment) {
		t.Errorf("summaries of an experiment never created: %v, want ErrNoExperiment", err)
	}
	if _, err := db.Experiment(ctx, "nope"); !errors.Is(err, ErrNoExperiment) {
		t.Errorf("an experiment never created: %v, want ErrNoExperiment", err)
	}
	if err := db.RecordExposures(ctx, "", []Exposure{{User: "u", Variant: "a"}}); err == nil {
		t.Error("exposures of an experiment without a name were recorded")
	}
	if _, err := db.Summaries(ctx, Query{Experiment: "exp", Metric: "m", CohortWidth: -time.Hour}); err == nil {
		t.Error("a negative cohort width was accepted")
	}
	// Zero times are the time of recording.
	before := time.Now()
	mustExpose(t, db, "exp", Exposure{User: "now", Variant: "b"})
	if c := mustIngest(t, db, "exp", Outcome{User: "now", Metric: "m", Value: 1}); c.Counted != 1 {
		t.Errorf("an outcome without time after an exposure without time: %+v, want counted", c)
	}
	g := mustSummaries(t, db, Query{Experiment: "exp", Metric: "m", CohortWidth: time.Nanosecond})
	if len(g) != 2 || g[1].Cohort.Before(before) || g[1].Cohort.After(time.Now()) {
		t.Errorf("the exposure without time: %+v, want one at about %s", g, before)
	}
}

func TestOpenTuning(t *testing.T) {
	db, _ := openTemp(t)
	var cache, mmap int64
	if err := db.db.QueryRow(`PRAGMA cache_size`).Scan(&cache); err != nil {
		t.Fatal(err)
	}
	if err := db.db.QueryRow(`PRAGMA mmap_size`).Scan(&mmap); err != nil {
		t.Fatal(err)
	}
	if cache != -cacheKiB || mmap != mmapBytes {
		t.Errorf("cache_size %d, mmap_size %d; want %d, %d", cache, mmap, -cacheKiB, mmapBytes)
	}
}

func TestCreateExperiment(t *testing.T) {
	db, _ := openTemp(t)
	for _, bad := range []time.Duration{0, -time.Hour, 1500 * time.Millisecond} {
		if err := db.CreateExperiment(ctx, "exp", bad); err == nil {
			t.Errorf("bucket width %s accepted", bad)
		}
	}
	if err := db.CreateExperiment(ctx, "", time.Hour); err == nil {
		t.Error("an experiment without a name was created")
	}
	if err := db.CreateExperiment(ctx, "exp", 15*time.Minute); err != nil {
		t.Fatal(err)
	}
	mustExpose(t, db, "exp", Exposure{User: "u", Variant: "a", Time: t0})
	if w := mustExperiment(t, db, "exp").BucketWidth; w != 15*time.Minute {
		t.Errorf("bucket width %s after exposures, want 15m", w)
	}
	if err := db.CreateExperiment(ctx, "exp", 24*time.Hour); err != nil {
		t.Errorf("changing the width before any outcome: %v", err)
	}
	mustIngest(t, db, "exp", Outcome{User: "u", Metric: "m", Value: 1, Time: t0.Add(time.Hour)})
	if err := db.CreateExperiment(ctx, "exp", 24*time.Hour); err != nil {
		t.Errorf("the same width again: %v", err)
	}
	if err := db.CreateExperiment(ctx, "exp", time.Hour); err == nil || !strings.Contains(err.Error(), "has outcomes") {
		t.Errorf("changing the width after outcomes: %v, want refused", err)
	}
	// Exposures create an experiment with the default width.
	mustExpose(t, db, "other", Exposure{User: "u", Variant: "a"})
	if w := mustExperiment(t, db, "other").BucketWidth; w != DefaultBucketWidth {
		t.Errorf("default bucket width %s, want %s", w, DefaultBucketWidth)
	}
}

// outcomeCrashEnv, when set to a database path, makes
// TestOutcomeCrashChild ingest outcome batches until it is killed.
const outcomeCrashEnv = "GONOGO_STORE_OUTCOME_CRASH_CHILD"

// crashBatch is batch k of the crash test: 500 outcomes of users u0 … u99.
func crashBatch(k int) []Outcome {
	r := rand.New(rand.NewPCG(uint64(k), 11))
	batch := make([]Outcome, 500)
	for i := range batch {
		batch[i] = Outcome{ID: fmt.Sprintf("%d-%d", k, i), User: fmt.Sprintf("u%d", r.IntN(100)), Metric: "m",
			Value: float64(r.IntN(100)), Time: t0.Add(time.Duration(k) * time.Minute)}
	}
	return batch
}

// TestOutcomeCrashChild is the process TestOutcomesSurviveSIGKILL kills:
// it prints the number of each batch once RecordOutcomes has returned.
func TestOutcomeCrashChild(t *testing.T) {
	path := os.Getenv(outcomeCrashEnv)
	if path == "" {
		t.Skip("the child of TestOutcomesSurviveSIGKILL")
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var users []Exposure
	for i := range 100 {
		users = append(users, Exposure{User: fmt.Sprintf("u%d", i), Variant: []string{"a", "b"}[i%2], Time: t0})
	}
	mustExpose(t, db, "crash", users...)
	deadline := time.Now().Add(30 * time.Second)
	for k := 0; time.Now().Before(deadline); k++ {
		mustIngest(t, db, "crash", crashBatch(k)...)
		fmt.Printf("batch %d\n", k)
	}
}

// TestOutcomesSurviveSIGKILL kills a process ingesting batches and checks
// that every batch it reported committed is stored, whole, and that no
// batch is stored in part.
func TestOutcomesSurviveSIGKILL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestOutcomeCrashChild$")
	cmd.Env = append(os.Environ(), outcomeCrashEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	watchdog := time.AfterFunc(20*time.Second, func() { _ = cmd.Process.Kill() })
	defer watchdog.Stop()
	const killAfter = 40
	reported := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var k int
		if _, err := fmt.Sscanf(sc.Text(), "batch %d", &k); err != nil {
			continue // the test framework's own lines
		}
		if k != reported {
			t.Fatalf("child reported batch %d after %d batches", k, reported)
		}
		reported++
		if reported == killAfter {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() || reported < killAfter {
		t.Fatalf("child ended with %v after %d batches (stderr %q), want killed mid-loop", err, reported, stderr.String())
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := mustExperiment(t, db, "crash")
	stored := int(e.Outcomes.Counted / 500)
	if e.Outcomes != (OutcomeCounts{Counted: int64(stored) * 500}) || stored < reported {
		t.Fatalf("after the kill: %+v, want whole batches, at least the %d reported", e.Outcomes, reported)
	}
	var sum [2]float64
	for k := range stored {
		for _, o := range crashBatch(k) {
			var u int
			fmt.Sscanf(o.User, "u%d", &u)
			sum[u%2] += o.Value
		}
	}
	g := mustSummaries(t, db, Query{Experiment: "crash", Metric: "m"})
	if len(g) != 2 || g[0].Sum != sum[0] || g[1].Sum != sum[1] {
		t.Errorf("after the kill, %d batches stored: %+v, want sums %v", stored, g, sum)
	}
	t.Logf("%d batches reported committed, %d stored", reported, stored)
}
