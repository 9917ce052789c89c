package store

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchStart is the start of the benchmarks' simulated experiment.
var benchStart = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// exposeUsers records users u0 … u(n-1), alternately on variants "a" and
// "b", exposed during the first hour of benchStart, in batches of 10 000.
func exposeUsers(tb testing.TB, db *DB, exp string, n int) {
	tb.Helper()
	batch := make([]Exposure, 0, 10_000)
	for i := range n {
		batch = append(batch, Exposure{User: fmt.Sprintf("u%d", i), Variant: []string{"a", "b"}[i%2],
			Time:  benchStart.Add(time.Duration(i%3600) * time.Second),
			Attrs: map[string]string{"region": []string{"eu", "us", "ap"}[i%3]}})
		if len(batch) == cap(batch) || i == n-1 {
			if err := db.RecordExposures(ctx, exp, batch); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// benchSpan is how long the benchmarks' outcomes go on: 14 days, at 10
// million outcomes over them.
const (
	benchSpan     = 14 * 24 * time.Hour
	benchOutcomes = 10_000_000
)

// genOutcome is outcome number i of a benchmark: a random user of n, a
// value, a unique id and a time after the exposures. Time-ordered, the
// outcomes arrive as they happen, as a live stream or a warehouse export
// sorted by time does: outcome i at i/benchOutcomes of benchSpan, give or
// take an hour. Otherwise each has a random time within benchSpan.
func genOutcome(r *rand.Rand, i, users int, timeOrdered bool) Outcome {
	at := time.Duration(r.Int64N(int64(benchSpan)))
	if timeOrdered {
		at = time.Duration(float64(benchSpan)*float64(i)/benchOutcomes) + time.Duration(r.Int64N(int64(time.Hour)))
	}
	return Outcome{ID: fmt.Sprintf("ev-%d", i), User: fmt.Sprintf("u%d", r.IntN(users)), Metric: "revenue",
		Value: float64(r.IntN(10_000)) / 100, Time: benchStart.Add(time.Hour + at)}
}

// BenchmarkIngest ingests outcomes with unique ids for 200 000 exposed
// users, in batches of 5 000 (one commit, one fsync each), time-ordered
// and at random times (see genOutcome), and reports events/s:
//
//	go test ./store -run '^$' -bench BenchmarkIngest -benchtime 1000000x
func BenchmarkIngest(b *testing.B) {
	for _, c := range []struct {
		name        string
		timeOrdered bool
	}{{"time-ordered", true}, {"random-times", false}} {
		b.Run(c.name, func(b *testing.B) {
			db, err := Open(filepath.Join(b.TempDir(), "ingest.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			const users, batchSize = 200_000, 5_000
			exposeUsers(b, db, "bench", users)
			r := rand.New(rand.NewPCG(1, 2))
			batch := make([]Outcome, 0, batchSize)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				batch = append(batch, genOutcome(r, i, users, c.timeOrdered))
				if len(batch) == batchSize || i == b.N-1 {
					if _, err := db.RecordOutcomes(ctx, "bench", batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// TestBigReport ingests 10 million time-ordered outcomes of 200 000 users
// over 14 days, in hourly buckets (the default width, which makes the
// most rows: one per user and hour with outcomes), and times the report's
// reads: summaries, segments with cohorts, and the curve over 15 daily
// and over 360 hourly cut-offs. It runs only with GONOGO_BIG=1 (about 8
// minutes on two cores; GONOGO_BIG_DIR keeps the database):
//
//	GONOGO_BIG=1 go test ./store -run TestBigReport -v -timeout 60m
func TestBigReport(t *testing.T) {
	if os.Getenv("GONOGO_BIG") != "1" {
		t.Skip("set GONOGO_BIG=1 to ingest 10 million outcomes")
	}
	n := benchOutcomes
	dir := t.TempDir()
	if d := os.Getenv("GONOGO_BIG_DIR"); d != "" {
		dir = d
	}
	db, err := Open(filepath.Join(dir, "big.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const users, batchSize = 200_000, 10_000
	if err := db.CreateExperiment(ctx, "big", DefaultBucketWidth); err != nil {
		t.Fatal(err)
	}
	exposeUsers(t, db, "big", users)
	truth := make([]float64, users)
	r := rand.New(rand.NewPCG(3, 4))
	batch := make([]Outcome, 0, batchSize)
	start := time.Now()
	for i := range n {
		o := genOutcome(r, i, users, true)
		var u int
		fmt.Sscanf(o.User, "u%d", &u)
		truth[u] += o.Value
		batch = append(batch, o)
		if len(batch) == batchSize || i == n-1 {
			if _, err := db.RecordOutcomes(ctx, "big", batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
		if (i+1)%1_000_000 == 0 {
			t.Logf("%d outcomes ingested, %.0f events/s", i+1, float64(i+1)/time.Since(start).Seconds())
		}
	}
	t.Logf("ingested %d outcomes in %s", n, time.Since(start))

	start = time.Now()
	groups, err := db.Summaries(ctx, Query{Experiment: "big", Metric: "revenue"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("summaries per variant: %s", time.Since(start))
	var want [2]Summary
	for u, v := range truth {
		s := &want[u%2]
		s.Users++
		s.Sum += v
		s.SumSq += v * v
		if v != 0 {
			s.WithOutcome++
		}
	}
	for i, g := range groups {
		w := want[i]
		if g.Users != w.Users || !near(g.Sum, w.Sum) || !near(g.SumSq, w.SumSq) {
			t.Errorf("variant %s: %+v, want %+v", g.Variant, g.Summary, w)
		}
	}

	var daily, hourly []time.Time
	for h := 1; h <= 15*24; h++ {
		at := benchStart.Add(time.Duration(h) * time.Hour)
		hourly = append(hourly, at)
		if h%24 == 0 {
			daily = append(daily, at)
		}
	}
	var curve []Group
	for _, q := range []Query{
		{Experiment: "big", Metric: "revenue", Segment: "region", CohortWidth: 10 * time.Minute},
		{Experiment: "big", Metric: "revenue", Cutoffs: daily},
		{Experiment: "big", Metric: "revenue", Cutoffs: hourly},
	} {
		start = time.Now()
		curve, err = db.Summaries(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d groups (segment %q, cohorts %s, %d cut-offs): %s", len(curve), q.Segment, q.CohortWidth, len(q.Cutoffs), time.Since(start))
	}
	// The last cut-off is after every outcome: the whole experiment.
	for i, g := range curve[len(curve)-2:] {
		w := want[i]
		if g.Users != w.Users || !near(g.Sum, w.Sum) || !near(g.SumSq, w.SumSq) {
			t.Errorf("variant %s at the last cut-off: %+v, want %+v", g.Variant, g.Summary, w)
		}
	}
	var rows int
	if err := db.db.QueryRow(`SELECT count(*) FROM outcome_buckets`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d (user, hour) rows", rows)
}

// near says whether a and b agree to 1e-9, relatively.
func near(a, b float64) bool {
	return a == b || (a-b)*(a-b) <= 1e-18*(a*a+b*b)
}
