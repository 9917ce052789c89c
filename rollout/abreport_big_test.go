package rollout

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze/abtest"
	"github.com/gonogo-dev/gonogo/store"
)

// TestBigABReport times the whole experiment report (summaries, the
// effect over time, segments, novelty) over the database of store's
// TestBigReport — 10 million outcomes of 200 000 users over 14 days in
// hourly buckets — which it marks as joined under a 50 % split first:
//
//	GONOGO_BIG=1 GONOGO_BIG_DIR=/tmp/big go test ./store -run TestBigReport -v -timeout 60m
//	GONOGO_BIG_DB=/tmp/big/big.db go test ./rollout -run TestBigABReport -v
func TestBigABReport(t *testing.T) {
	path := os.Getenv("GONOGO_BIG_DB")
	if path == "" {
		t.Skip("set GONOGO_BIG_DB to the database of store's TestBigReport")
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = raw.Exec(`UPDATE exposures SET attrs = json_set(attrs, '$.split', '50') WHERE json_extract(attrs, '$.split') IS NULL`)
	raw.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	spec := &ExperimentSpec{Name: "big", Attributes: map[string]string{"region": "X-Region"},
		Metrics: []ExperimentMetric{{Name: "revenue", Kind: string(abtest.Continuous)}}}
	if f := spec.check("big", true); f != nil {
		t.Fatal(f.msg)
	}
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for range 2 {
		began := time.Now()
		r, err := BuildABReport(context.Background(), db, spec, "a", "b", 50, start, start.Add(15*24*time.Hour), true)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("report of %d counted outcomes, %d analysed users, %d points over time: %s",
			r.Outcomes.Counted, r.Users[0].Analysed+r.Users[1].Analysed, len(r.Metrics[0].OverTime), time.Since(began))
	}
}
