package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Experiments: exposures, outcomes and their per-user aggregates.
//
// An experiment (a rollout's A/B step, by name) has exposures: per user,
// the variant it was first exposed to, when, and the segment attributes of
// that first exposure. A later exposure to the same variant changes
// nothing (an earlier one moves the first exposure back); an exposure to
// another variant is a reassignment: the user is marked contaminated at
// the time of the change, kept and counted, and left out of every summary.
//
// Outcomes are joined to the exposures when they are ingested, and each
// is counted under exactly one reason (OutcomeCounts): duplicate (its
// event id was seen before in this experiment: ingesting it again changes
// nothing else), unknown_user (no exposure of the user yet), contaminated,
// before_exposure (its time is before the user's first exposure), or
// counted. A before_exposure outcome is kept as the user's pre-period
// value of the metric (the sum of them per user), CUPED's covariate: a
// warehouse export of the weeks before the experiment, imported after the
// exposures, makes it. Only a counted outcome enters the aggregates, which
// are kept per (metric, user) as a sum and a count, and per (metric, time
// bucket, user) for the cumulative effect over time; a summary therefore
// reads per-user rows, never the outcome events: one per exposed user and
// one per user with outcomes, and with cut-offs one per (user, bucket)
// with outcomes, at most users × duration / bucket width. (10 million
// outcomes of 200 000 users over 14 days make 9.3 million (user, hour)
// rows, which the cut-offs read in 3.4 s through an aggregate function
// (curve.go), and 2.7 million (user, day) rows.)
// The verdict of an outcome is final:
// an exposure recorded or moved later does not revisit it, and a user
// contaminated after some of its outcomes were counted keeps them in the
// aggregates but is left out of every summary.
//
// Event ids are kept as the first 8 bytes of their SHA-256 (a collision
// between two of 10 million ids has a probability near 3e-6, and would
// count the second as a duplicate), so the dedupe table stays near 20 bytes
// a row.

// schemaExperiments is the schema 1 → 2 migration: the experiment tables.
// Times are Unix nanoseconds; a bucket is the outcome time in Unix
// nanoseconds floor-divided by the experiment's bucket width. The
// aggregate tables refer to exposures and metrics by id, without foreign
// keys, so that ingestion pays for no check it does not need. The buckets
// are keyed by time before user: outcomes arrive roughly in time order,
// so a batch adds to a few neighbouring pages rather than one page per
// user.
var schemaExperiments = []string{
	`CREATE TABLE experiments (
		id              INTEGER PRIMARY KEY,
		name            TEXT NOT NULL UNIQUE,
		bucket_ns       INTEGER NOT NULL,
		created_ns      INTEGER NOT NULL,
		counted         INTEGER NOT NULL DEFAULT 0,
		unknown_user    INTEGER NOT NULL DEFAULT 0,
		before_exposure INTEGER NOT NULL DEFAULT 0,
		contaminated    INTEGER NOT NULL DEFAULT 0,
		duplicate       INTEGER NOT NULL DEFAULT 0
	)`,
	`CREATE TABLE exposures (
		id              INTEGER PRIMARY KEY,
		experiment      INTEGER NOT NULL REFERENCES experiments (id),
		uid             TEXT NOT NULL,
		variant         TEXT NOT NULL,
		first_ns        INTEGER NOT NULL,
		attrs           TEXT NOT NULL,
		contaminated_ns INTEGER,
		UNIQUE (experiment, uid)
	)`,
	`CREATE TABLE metrics (
		id         INTEGER PRIMARY KEY,
		experiment INTEGER NOT NULL REFERENCES experiments (id),
		name       TEXT NOT NULL,
		UNIQUE (experiment, name)
	)`,
	`CREATE TABLE outcome_totals (
		metric   INTEGER NOT NULL,
		exposure INTEGER NOT NULL,
		sum      REAL NOT NULL,
		n        INTEGER NOT NULL,
		PRIMARY KEY (metric, exposure)
	) WITHOUT ROWID`,
	`CREATE TABLE outcome_buckets (
		metric   INTEGER NOT NULL,
		bucket   INTEGER NOT NULL,
		exposure INTEGER NOT NULL,
		sum      REAL NOT NULL,
		n        INTEGER NOT NULL,
		PRIMARY KEY (metric, bucket, exposure)
	) WITHOUT ROWID`,
	`CREATE TABLE outcome_ids (
		experiment INTEGER NOT NULL,
		hash       INTEGER NOT NULL,
		PRIMARY KEY (experiment, hash)
	) WITHOUT ROWID`,
}

// schemaPrePeriod is the schema 2 → 3 migration: per (metric, user) the
// sum and count of the outcomes from before the user's first exposure.
var schemaPrePeriod = []string{
	`CREATE TABLE outcome_pre (
		metric   INTEGER NOT NULL,
		exposure INTEGER NOT NULL,
		sum      REAL NOT NULL,
		n        INTEGER NOT NULL,
		PRIMARY KEY (metric, exposure)
	) WITHOUT ROWID`,
}

// DefaultBucketWidth is the outcome time bucket of an experiment that
// CreateExperiment did not configure: the resolution of cut-offs, right
// for a rollout step of hours and still within seconds for weeks of
// millions of outcomes (see the cost of cut-offs above).
const DefaultBucketWidth = time.Hour

// ErrNoExperiment is returned for an experiment never created.
var ErrNoExperiment = errors.New("store: no such experiment")

// Exposure is a user's exposure to a variant of an experiment.
type Exposure struct {
	// User is the sticky user key. Required; stored byte for byte.
	User string
	// Variant names the variant (backend) the user was served. Required.
	Variant string
	// Time is when the user was exposed; the time of recording when zero.
	Time time.Time
	// Attrs are segment attributes ("region", "tier"); those of the first
	// exposure are kept. Values are stored as UTF-8, invalid bytes
	// replaced with U+FFFD.
	Attrs map[string]string
}

// Outcome is one outcome event of a user.
type Outcome struct {
	// ID is the event's idempotency key: an outcome whose ID was ingested
	// before in the same experiment is a duplicate. Empty: no key, every
	// ingestion counts.
	ID string
	// User is the sticky user key, as in Exposure. Required.
	User string
	// Metric names the metric ("purchase", "revenue"). Required, UTF-8.
	Metric string
	// Value is the outcome's value; it must be finite.
	Value float64
	// Time is when the outcome happened; the time of ingestion when zero.
	Time time.Time
}

// OutcomeCounts counts outcome events by what ingestion did with them;
// every event ingested is in exactly one count.
type OutcomeCounts struct {
	// Counted entered the aggregates.
	Counted int64 `json:"counted"`
	// UnknownUser had no exposure of their user when ingested.
	UnknownUser int64 `json:"unknown_user"`
	// BeforeExposure happened before their user's first exposure.
	BeforeExposure int64 `json:"before_exposure"`
	// Contaminated were of a user already reassigned to another variant.
	Contaminated int64 `json:"contaminated"`
	// Duplicate had an event id ingested before.
	Duplicate int64 `json:"duplicate"`
}

// Total is the number of events counted in c.
func (c OutcomeCounts) Total() int64 {
	return c.Counted + c.UnknownUser + c.BeforeExposure + c.Contaminated + c.Duplicate
}

// Add adds o to c.
func (c *OutcomeCounts) Add(o OutcomeCounts) {
	c.Counted += o.Counted
	c.UnknownUser += o.UnknownUser
	c.BeforeExposure += o.BeforeExposure
	c.Contaminated += o.Contaminated
	c.Duplicate += o.Duplicate
}

// VariantUsers counts the users first exposed to a variant.
type VariantUsers struct {
	Variant string
	// Users is every user first exposed to the variant, contaminated ones
	// included (the sample-ratio check's count).
	Users int64
	// Contaminated is how many of Users were reassigned later and are left
	// out of the summaries.
	Contaminated int64
}

// Experiment describes a stored experiment.
type Experiment struct {
	Name string
	// BucketWidth is the resolution of outcome times for cut-offs.
	BucketWidth time.Duration
	// Created is when the experiment was first stored.
	Created time.Time
	// Outcomes counts every outcome event ingested, by reason.
	Outcomes OutcomeCounts
	// Variants counts exposed users per variant, by variant name.
	Variants []VariantUsers
	// Metrics names the metrics with a stored outcome (counted or
	// pre-period), sorted.
	Metrics []string
}

// CreateExperiment stores an experiment whose outcome times are bucketed
// by bucketWidth (a whole number of seconds, at least one), or checks the
// width of an existing one: it can change only while no outcome is
// stored. RecordExposures creates an experiment it does not know with
// DefaultBucketWidth.
func (db *DB) CreateExperiment(ctx context.Context, name string, bucketWidth time.Duration) error {
	if err := checkExperimentName(name); err != nil {
		return fmt.Errorf("store: create experiment: %w", err)
	}
	if bucketWidth < time.Second || bucketWidth%time.Second != 0 {
		return fmt.Errorf("store: create experiment %q: bucket width %s is not a whole number of seconds", name, bucketWidth)
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		id, width, err := experimentID(ctx, tx, name, bucketWidth, true)
		if err != nil || width == bucketWidth {
			return err
		}
		var one int
		switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM metrics WHERE experiment = ? LIMIT 1`, id).Scan(&one); {
		case err == nil:
			return fmt.Errorf("it has outcomes bucketed by %s, want %s", width, bucketWidth)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE experiments SET bucket_ns = ? WHERE id = ?`, int64(bucketWidth), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create experiment %q in %s: %w", name, db.path, err)
	}
	return nil
}

// checkExperimentName refuses a name the store would not give back as is.
func checkExperimentName(name string) error {
	switch {
	case name == "":
		return errors.New("no experiment name")
	case !utf8.ValidString(name):
		return fmt.Errorf("experiment name %q is not valid UTF-8", name)
	}
	return nil
}

// experimentID returns the id and bucket width of an experiment, creating
// it with width when create is set and it is missing; otherwise a missing
// experiment wraps ErrNoExperiment.
func experimentID(ctx context.Context, q querier, name string, width time.Duration, create bool) (int64, time.Duration, error) {
	var id, ns int64
	err := q.QueryRowContext(ctx, `SELECT id, bucket_ns FROM experiments WHERE name = ?`, name).Scan(&id, &ns)
	switch {
	case err == nil:
		return id, time.Duration(ns), nil
	case !errors.Is(err, sql.ErrNoRows):
		return 0, 0, err
	case !create:
		return 0, 0, fmt.Errorf("%w: %q", ErrNoExperiment, name)
	}
	res, err := q.ExecContext(ctx, `INSERT INTO experiments (name, bucket_ns, created_ns) VALUES (?, ?, ?)`,
		name, int64(width), time.Now().UnixNano())
	if err != nil {
		return 0, 0, err
	}
	id, err = res.LastInsertId()
	return id, width, err
}

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// RecordExposures records a batch of exposures of experiment exp in one
// transaction (one fsync), creating the experiment when it is new. For each
// user the first exposure is kept; the same variant again is a no-op, or
// moves the first exposure back when earlier; another variant marks the
// user contaminated at the later of the two times (once: the first
// reassignment's time is kept). Duplicates within and across batches are
// fine. An exposure without user or variant, or with a time out of range,
// fails the whole batch, naming its index; nothing of it is stored.
func (db *DB) RecordExposures(ctx context.Context, exp string, batch []Exposure) error {
	if err := checkExperimentName(exp); err != nil {
		return fmt.Errorf("store: record exposures: %w", err)
	}
	now := time.Now().UnixNano()
	type row struct {
		user, variant, attrs string
		ns                   int64
	}
	rows := make([]row, len(batch))
	for i, e := range batch {
		r := row{user: e.User, variant: e.Variant, ns: now, attrs: "{}"}
		switch {
		case e.User == "":
			return fmt.Errorf("store: record exposures of %q: exposure %d has no user", exp, i)
		case e.Variant == "" || !utf8.ValidString(e.Variant):
			return fmt.Errorf("store: record exposures of %q: exposure %d: variant %q is empty or not UTF-8", exp, i, e.Variant)
		}
		if !e.Time.IsZero() {
			if err := checkTime("exposure time", e.Time); err != nil {
				return fmt.Errorf("store: record exposures of %q: exposure %d: %w", exp, i, err)
			}
			r.ns = e.Time.UnixNano()
		}
		if len(e.Attrs) > 0 {
			b, err := json.Marshal(e.Attrs) // sorted keys; invalid UTF-8 becomes U+FFFD
			if err != nil {
				return fmt.Errorf("store: record exposures of %q: exposure %d: %w", exp, i, err)
			}
			r.attrs = string(b)
		}
		rows[i] = r
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		id, _, err := experimentID(ctx, tx, exp, DefaultBucketWidth, true)
		if err != nil {
			return err
		}
		// Rows are upserted one after the other, each seeing the ones
		// before it; the SET expressions all see the row as it was.
		return inChunks(len(rows), func(lo, hi int) error {
			args := make([]any, 0, 5*(hi-lo))
			for _, r := range rows[lo:hi] {
				args = append(args, id, r.user, r.variant, r.ns, r.attrs)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO exposures (experiment, uid, variant, first_ns, attrs)
				VALUES `+placeholders(hi-lo, 5)+`
				ON CONFLICT (experiment, uid) DO UPDATE SET
					contaminated_ns = CASE WHEN contaminated_ns IS NULL AND variant <> excluded.variant
						THEN max(first_ns, excluded.first_ns) ELSE contaminated_ns END,
					attrs = CASE WHEN variant = excluded.variant AND excluded.first_ns < first_ns
						THEN excluded.attrs ELSE attrs END,
					first_ns = CASE WHEN variant = excluded.variant
						THEN min(first_ns, excluded.first_ns) ELSE first_ns END`, args...)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("store: record exposures of %q in %s: %w", exp, db.path, err)
	}
	return nil
}

// exposureRef is what the join needs of a stored exposure.
type exposureRef struct {
	id           int64
	firstNs      int64
	contaminated bool
}

// aggKey keys a per-user aggregate: bucket is unused for totals.
type aggKey struct{ metric, exposure, bucket int64 }

// agg is a sum and count of outcome values.
type agg struct {
	sum float64
	n   int64
}

// RecordOutcomes ingests a batch of outcome events of experiment exp in
// one transaction (one fsync for the batch: group commit), joins each to
// its user's exposure and returns what it did with them; the same counts
// are added to the experiment's (see Experiment). A batch of a few
// thousand events is the efficient size; the write lock is held while it
// is ingested. An event without user or metric, with a value that is not
// finite or a time out of range fails the whole batch, naming its index;
// nothing of it is stored. An experiment never created wraps
// ErrNoExperiment.
func (db *DB) RecordOutcomes(ctx context.Context, exp string, batch []Outcome) (OutcomeCounts, error) {
	now := time.Now().UnixNano()
	times := make([]int64, len(batch))
	hashes := make([]int64, len(batch))
	for i, o := range batch {
		switch {
		case o.User == "":
			return OutcomeCounts{}, fmt.Errorf("store: record outcomes of %q: outcome %d has no user", exp, i)
		case o.Metric == "" || !utf8.ValidString(o.Metric):
			return OutcomeCounts{}, fmt.Errorf("store: record outcomes of %q: outcome %d: metric %q is empty or not UTF-8", exp, i, o.Metric)
		case math.IsNaN(o.Value) || math.IsInf(o.Value, 0):
			return OutcomeCounts{}, fmt.Errorf("store: record outcomes of %q: outcome %d: value %v is not finite", exp, i, o.Value)
		}
		times[i] = now
		if !o.Time.IsZero() {
			if err := checkTime("outcome time", o.Time); err != nil {
				return OutcomeCounts{}, fmt.Errorf("store: record outcomes of %q: outcome %d: %w", exp, i, err)
			}
			times[i] = o.Time.UnixNano()
		}
		if o.ID != "" {
			hashes[i] = idHash(o.ID)
		}
	}
	var counts OutcomeCounts
	err := db.write(ctx, func(tx *sql.Tx) error {
		counts = OutcomeCounts{}
		id, width, err := experimentID(ctx, tx, exp, 0, false)
		if err != nil {
			return err
		}
		dup, err := markSeen(ctx, tx, id, batch, hashes)
		if err != nil {
			return err
		}
		users, err := lookupExposures(ctx, tx, id, batch, dup)
		if err != nil {
			return err
		}
		metrics := map[string]int64{}
		metric := func(name string) (int64, error) {
			m, ok := metrics[name]
			if !ok {
				var err error
				if m, err = metricID(ctx, tx, id, name); err != nil {
					return 0, err
				}
				metrics[name] = m
			}
			return m, nil
		}
		totals := map[aggKey]agg{}
		buckets := map[aggKey]agg{}
		pre := map[aggKey]agg{}
		for i, o := range batch {
			ref, known := users[o.User]
			switch {
			case dup[i]:
				counts.Duplicate++
				continue
			case !known:
				counts.UnknownUser++
				continue
			case ref.contaminated:
				counts.Contaminated++
				continue
			}
			m, err := metric(o.Metric)
			if err != nil {
				return err
			}
			k := aggKey{metric: m, exposure: ref.id}
			if times[i] < ref.firstNs {
				counts.BeforeExposure++
				a := pre[k]
				pre[k] = agg{a.sum + o.Value, a.n + 1}
				continue
			}
			counts.Counted++
			a := totals[k]
			totals[k] = agg{a.sum + o.Value, a.n + 1}
			k.bucket = floorDiv(times[i], int64(width))
			a = buckets[k]
			buckets[k] = agg{a.sum + o.Value, a.n + 1}
		}
		if err := upsertTotals(ctx, tx, "outcome_totals", totals); err != nil {
			return err
		}
		if err := upsertTotals(ctx, tx, "outcome_pre", pre); err != nil {
			return err
		}
		if err := upsertBuckets(ctx, tx, buckets); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE experiments SET counted = counted + ?, unknown_user = unknown_user + ?,
				before_exposure = before_exposure + ?, contaminated = contaminated + ?, duplicate = duplicate + ?
			WHERE id = ?`,
			counts.Counted, counts.UnknownUser, counts.BeforeExposure, counts.Contaminated, counts.Duplicate, id)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNoExperiment) {
			return OutcomeCounts{}, fmt.Errorf("store: record outcomes: %w in %s", err, db.path)
		}
		return OutcomeCounts{}, fmt.Errorf("store: record outcomes of %q in %s: %w", exp, db.path, err)
	}
	return counts, nil
}

// idHash is the event id as the dedupe table keeps it: the first 8 bytes
// of its SHA-256.
func idHash(id string) int64 {
	sum := sha256.Sum256([]byte(id))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// chunkRows is the most rows one multi-row statement carries: one
// statement per row would cost more than the row.
const chunkRows = 500

// inChunks calls f on [lo, hi) ranges of at most chunkRows covering [0, n).
func inChunks(n int, f func(lo, hi int) error) error {
	for lo := 0; lo < n; lo += chunkRows {
		if err := f(lo, min(lo+chunkRows, n)); err != nil {
			return err
		}
	}
	return nil
}

// placeholders returns rows groups of width parameters: "(?, ?), (?, ?)",
// or "?, ?" for a width of 0 (a list of rows values).
func placeholders(rows, width int) string {
	if width == 0 {
		return strings.TrimSuffix(strings.Repeat("?, ", rows), ", ")
	}
	group := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(group+", ", rows), ", ")
}

// markSeen records the event ids of the batch and reports, per event,
// whether its id was seen before (in an earlier batch or earlier in this
// one). Ids are inserted in hash order, which keeps the writes to the
// dedupe index local.
func markSeen(ctx context.Context, tx *sql.Tx, exp int64, batch []Outcome, hashes []int64) ([]bool, error) {
	dup := make([]bool, len(batch))
	first := map[int64]int{} // hash → index of its first event in the batch
	var order []int64
	for i, o := range batch {
		if o.ID == "" {
			continue
		}
		if _, ok := first[hashes[i]]; ok {
			dup[i] = true
			continue
		}
		first[hashes[i]] = i
		order = append(order, hashes[i])
	}
	slices.Sort(order)
	inserted := make(map[int64]bool, len(order))
	err := inChunks(len(order), func(lo, hi int) error {
		args := make([]any, 0, 2*(hi-lo))
		for _, h := range order[lo:hi] {
			args = append(args, exp, h)
		}
		return queryEach(ctx, tx, func(r *sql.Rows) error {
			var h int64
			err := r.Scan(&h)
			inserted[h] = true
			return err
		}, `INSERT INTO outcome_ids (experiment, hash) VALUES `+placeholders(hi-lo, 2)+`
			ON CONFLICT DO NOTHING RETURNING hash`, args...)
	})
	if err != nil {
		return nil, err
	}
	for _, h := range order {
		if !inserted[h] {
			dup[first[h]] = true
		}
	}
	return dup, nil
}

// lookupExposures returns the stored exposure of each user of the batch
// with an event that is not a duplicate; unknown users are absent.
func lookupExposures(ctx context.Context, tx *sql.Tx, exp int64, batch []Outcome, dup []bool) (map[string]exposureRef, error) {
	users := map[string]exposureRef{}
	var order []string
	seen := map[string]bool{}
	for i, o := range batch {
		if !dup[i] && !seen[o.User] {
			seen[o.User] = true
			order = append(order, o.User)
		}
	}
	slices.Sort(order)
	err := inChunks(len(order), func(lo, hi int) error {
		args := make([]any, 0, 1+hi-lo)
		args = append(args, exp)
		for _, u := range order[lo:hi] {
			args = append(args, u)
		}
		return queryEach(ctx, tx, func(r *sql.Rows) error {
			var u string
			var ref exposureRef
			err := r.Scan(&u, &ref.id, &ref.firstNs, &ref.contaminated)
			users[u] = ref
			return err
		}, `SELECT uid, id, first_ns, contaminated_ns IS NOT NULL FROM exposures
			WHERE experiment = ? AND uid IN (`+placeholders(hi-lo, 0)+`)`, args...)
	})
	return users, err
}

// metricID returns the id of a metric of an experiment, creating it when
// missing.
func metricID(ctx context.Context, tx *sql.Tx, exp int64, name string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM metrics WHERE experiment = ? AND name = ?`, exp, name).Scan(&id)
	if !errors.Is(err, sql.ErrNoRows) {
		return id, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO metrics (experiment, name) VALUES (?, ?)`, exp, name)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// upsertTotals adds per-user aggregates to table (outcome_totals or
// outcome_pre), in key order.
func upsertTotals(ctx context.Context, tx *sql.Tx, table string, aggs map[aggKey]agg) error {
	keys := sortedKeys(aggs)
	return inChunks(len(keys), func(lo, hi int) error {
		args := make([]any, 0, 4*(hi-lo))
		for _, k := range keys[lo:hi] {
			a := aggs[k]
			args = append(args, k.metric, k.exposure, a.sum, a.n)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (metric, exposure, sum, n)
			VALUES `+placeholders(hi-lo, 4)+`
			ON CONFLICT (metric, exposure) DO UPDATE SET sum = sum + excluded.sum, n = n + excluded.n`, args...)
		return err
	})
}

// upsertBuckets adds per-user, per-bucket aggregates to outcome_buckets,
// in key order.
func upsertBuckets(ctx context.Context, tx *sql.Tx, aggs map[aggKey]agg) error {
	keys := sortedKeys(aggs)
	return inChunks(len(keys), func(lo, hi int) error {
		args := make([]any, 0, 5*(hi-lo))
		for _, k := range keys[lo:hi] {
			a := aggs[k]
			args = append(args, k.metric, k.bucket, k.exposure, a.sum, a.n)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO outcome_buckets (metric, bucket, exposure, sum, n)
			VALUES `+placeholders(hi-lo, 5)+`
			ON CONFLICT (metric, bucket, exposure) DO UPDATE SET sum = sum + excluded.sum, n = n + excluded.n`, args...)
		return err
	})
}

// sortedKeys returns the keys of aggs in (metric, bucket, exposure) order.
func sortedKeys(aggs map[aggKey]agg) []aggKey {
	keys := make([]aggKey, 0, len(aggs))
	for k := range aggs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b aggKey) int {
		return cmp.Or(cmp.Compare(a.metric, b.metric), cmp.Compare(a.bucket, b.bucket), cmp.Compare(a.exposure, b.exposure))
	})
	return keys
}

// floorDiv is a / b rounded towards minus infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// Experiment returns an experiment's settings, outcome counts, users per
// variant and metrics. An experiment never created wraps ErrNoExperiment.
func (db *DB) Experiment(ctx context.Context, name string) (*Experiment, error) {
	e := &Experiment{Name: name}
	var id, width, created int64
	c := &e.Outcomes
	err := db.db.QueryRowContext(ctx, `SELECT id, bucket_ns, created_ns, counted, unknown_user, before_exposure,
			contaminated, duplicate FROM experiments WHERE name = ?`, name).
		Scan(&id, &width, &created, &c.Counted, &c.UnknownUser, &c.BeforeExposure, &c.Contaminated, &c.Duplicate)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("%w: %q in %s", ErrNoExperiment, name, db.path)
	case err != nil:
		return nil, fmt.Errorf("store: experiment %q in %s: %w", name, db.path, err)
	}
	e.BucketWidth, e.Created = time.Duration(width), time.Unix(0, created).UTC()
	err = queryEach(ctx, db.db, func(r *sql.Rows) error {
		var v VariantUsers
		if err := r.Scan(&v.Variant, &v.Users, &v.Contaminated); err != nil {
			return err
		}
		e.Variants = append(e.Variants, v)
		return nil
	}, `SELECT variant, count(*), count(contaminated_ns) FROM exposures WHERE experiment = ?
		GROUP BY variant ORDER BY variant`, id)
	if err == nil {
		err = queryEach(ctx, db.db, func(r *sql.Rows) error {
			var m string
			err := r.Scan(&m)
			e.Metrics = append(e.Metrics, m)
			return err
		}, `SELECT name FROM metrics WHERE experiment = ? ORDER BY name`, id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: experiment %q in %s: %w", name, db.path, err)
	}
	return e, nil
}

// queryEach runs query and calls f on each row.
func queryEach(ctx context.Context, q querier, f func(*sql.Rows) error, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Summary summarises the per-user values of a metric over a group of
// users: a user's value is the sum of its counted outcomes (0 for a user
// with none), so Users counts every exposed user of the group, not only
// those with outcomes.
type Summary struct {
	// Users is the number of users in the group.
	Users int64
	// Sum and SumSq are the sum of the users' values and of their squares.
	Sum, SumSq float64
	// WithOutcome is the number of users with at least one counted
	// outcome (the numerator of a conversion rate).
	WithOutcome int64
	// With Query.Covariate, the sums of the users' pre-period values X
	// (the sum of their outcomes before exposure, 0 for none), of X², of
	// X times the value, and of X over the users with an outcome (X times
	// the 0/1 value of a conversion).
	SumX, SumXSq, SumXY, SumXHas float64
}

// Query selects the summaries of one metric of an experiment and how
// they are grouped. Contaminated users are always left out.
type Query struct {
	Experiment string
	Metric     string
	// Cutoffs, when given, asks for the cumulative effect over time: one
	// set of groups per cut-off, each of the users first exposed before
	// it, with their outcomes before it. A cut-off is rounded down to a
	// multiple of the experiment's bucket width (outcome times are stored
	// at that resolution). Without cut-offs: every user and outcome.
	Cutoffs []time.Time
	// CohortWidth, when positive, groups users by exposure cohort: their
	// first exposure time rounded down to a multiple of CohortWidth
	// (Unix time, so whole days are UTC days).
	CohortWidth time.Duration
	// Segment, when given, groups users by the value of this segment
	// attribute of their first exposure ("" for users without it).
	Segment string
	// Covariate asks for the pre-period sums of the summaries (SumX and
	// the others), CUPED's covariate.
	Covariate bool
	// Where, when given, keeps only the users whose first exposure has
	// each of these attribute values ("" matching a user without the
	// attribute): the users of one split, say.
	Where map[string]string
}

// Group is the summary of one group of users.
type Group struct {
	// Cutoff is the rounded cut-off of the group; zero without cut-offs.
	Cutoff time.Time
	// Variant is the variant the users were exposed to.
	Variant string
	// Cohort is the start of the users' exposure cohort; zero without
	// CohortWidth.
	Cohort time.Time
	// Segment is the value of the Query's segment attribute.
	Segment string
	Summary
}

// groupKey is a Group's key but its cut-off.
type groupKey struct {
	variant, segment string
	cohortNs         int64
}

// Summaries returns the summaries of a metric per variant, and per cohort
// and segment value when the query asks, for each cut-off when it gives
// some: sorted by cut-off, variant, cohort and segment, a group present
// when it has a user. It reads one row per exposed user and one per
// (user, outcome) aggregate (per (user, bucket) with cut-offs), never the
// outcome events. A metric without outcomes has groups of zeros; an
// experiment never created wraps ErrNoExperiment.
func (db *DB) Summaries(ctx context.Context, q Query) ([]Group, error) {
	out, err := db.summaries(ctx, q)
	if err != nil {
		if errors.Is(err, ErrNoExperiment) {
			return nil, fmt.Errorf("store: summaries: %w in %s", err, db.path)
		}
		return nil, fmt.Errorf("store: summaries of %q/%q in %s: %w", q.Experiment, q.Metric, db.path, err)
	}
	return out, nil
}

func (db *DB) summaries(ctx context.Context, q Query) ([]Group, error) {
	if q.CohortWidth < 0 {
		return nil, fmt.Errorf("negative cohort width %s", q.CohortWidth)
	}
	// One read transaction: a consistent snapshot of exposures and
	// aggregates while ingestion goes on.
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	exp, width, err := experimentID(ctx, tx, q.Experiment, 0, false)
	if err != nil {
		return nil, err
	}
	metric := int64(-1) // no outcomes: matches no row
	err = tx.QueryRowContext(ctx, `SELECT id FROM metrics WHERE experiment = ? AND name = ?`, exp, q.Metric).Scan(&metric)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}

	// The cut-offs, rounded to bucket boundaries, as bucket numbers: a
	// bucket is before cut-off k when it is below ends[k].
	ends := make([]int64, len(q.Cutoffs))
	for i, c := range q.Cutoffs {
		if err := checkTime("cut-off", c); err != nil {
			return nil, err
		}
		ends[i] = floorDiv(c.UnixNano(), int64(width))
	}
	slices.Sort(ends)
	ends = slices.Compact(ends)
	nCut := max(len(ends), 1)

	// Users: the clean exposures, each in its group. Exposure ids are
	// row ids, dense within a store: slot finds a user by id.
	var keys []groupKey
	index := map[groupKey]int{}
	var users []curveUser
	query := `SELECT id, variant, first_ns, '' FROM exposures WHERE experiment = ? AND contaminated_ns IS NULL`
	if q.Segment != "" || len(q.Where) > 0 {
		query = `SELECT id, variant, first_ns, attrs FROM exposures WHERE experiment = ? AND contaminated_ns IS NULL`
	}
	// What the attributes say of a user: its segment, and whether Where
	// keeps it; few users have attributes unlike another's.
	type verdict struct {
		segment string
		keep    bool
	}
	byAttrs := map[string]verdict{}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	err = queryEach(ctx, tx, func(r *sql.Rows) error {
		var id, firstNs int64
		var variant, attrs string
		if err := r.Scan(&id, &variant, &firstNs, &attrs); err != nil {
			return err
		}
		v, ok := byAttrs[attrs]
		if !ok {
			v.keep = true
			if attrs != "" {
				var m map[string]string
				if err := json.Unmarshal([]byte(attrs), &m); err != nil {
					return fmt.Errorf("exposure %d: stored attrs: %w", id, err)
				}
				v.segment = m[q.Segment]
				for k, want := range q.Where {
					v.keep = v.keep && m[k] == want
				}
			}
			byAttrs[attrs] = v
		}
		if !v.keep {
			return nil
		}
		k := groupKey{variant: variant, segment: v.segment}
		if q.CohortWidth > 0 {
			k.cohortNs = floorDiv(firstNs, int64(q.CohortWidth)) * int64(q.CohortWidth)
		}
		g, ok := index[k]
		if !ok {
			g = len(keys)
			index[k] = g
			keys = append(keys, k)
		}
		users = append(users, curveUser{id: id, firstNs: firstNs, group: g})
		lo, hi = min(lo, id), max(hi, id)
		return nil
	}, query, exp)
	if err != nil {
		return nil, err
	}
	var slot []int32
	if len(users) > 0 {
		slot = make([]int32, hi-lo+1)
		for i := range slot {
			slot[i] = -1
		}
		for i, u := range users {
			slot[u.id-lo] = int32(i)
		}
	}
	find := func(id int64) int {
		if id < lo || id > hi {
			return -1
		}
		return int(slot[id-lo])
	}

	if q.Covariate {
		err = queryEach(ctx, tx, func(r *sql.Rows) error {
			var id int64
			var x float64
			if err := r.Scan(&id, &x); err != nil {
				return err
			}
			if i := find(id); i >= 0 {
				users[i].x = x
			}
			return nil
		}, `SELECT exposure, sum FROM outcome_pre WHERE metric = ?`, metric)
		if err != nil {
			return nil, err
		}
	}

	// sums[c*len(keys)+g] is group g at cut-off c.
	sums := make([]Summary, nCut*len(keys))
	for _, u := range users {
		for c := range nCut {
			// Exposed before the cut-off: firstNs < ends[c]*width.
			if len(ends) == 0 || floorDiv(u.firstNs, int64(width)) < ends[c] {
				s := &sums[c*len(keys)+u.group]
				s.Users++
				s.SumX += u.x
				s.SumXSq += u.x * u.x
			}
		}
	}
	if len(ends) == 0 {
		err = queryEach(ctx, tx, func(r *sql.Rows) error {
			var id int64
			var v float64
			if err := r.Scan(&id, &v); err != nil {
				return err
			}
			if i := find(id); i >= 0 {
				u := &users[i]
				s := &sums[u.group]
				s.Sum += v
				s.SumSq += v * v
				s.WithOutcome++
				s.SumXY += u.x * v
				s.SumXHas += u.x
			}
			return nil
		}, `SELECT exposure, sum FROM outcome_totals WHERE metric = ?`, metric)
	} else {
		// The buckets, in time order (which the index gives without a
		// sort), through the curve aggregate.
		c := &curve{users: users, find: find, ends: ends, groups: len(keys),
			run: make([]Summary, len(keys)), sums: sums}
		h := c.register()
		var ignored any
		err = tx.QueryRowContext(ctx, `SELECT `+curveFunc+`(?, bucket, exposure, sum) FROM
			(SELECT bucket, exposure, sum FROM outcome_buckets WHERE metric = ? AND bucket < ? ORDER BY bucket, exposure)`, h, metric, ends[nCut-1]).Scan(&ignored)
		unregister(h)
		c.passTo(math.MaxInt64)
	}
	if err != nil {
		return nil, err
	}

	var out []Group
	for c := range nCut {
		var cut time.Time
		if len(ends) > 0 {
			cut = time.Unix(0, ends[c]*int64(width)).UTC()
		}
		for g, k := range keys {
			s := sums[c*len(keys)+g]
			if s.Users == 0 {
				continue
			}
			grp := Group{Cutoff: cut, Variant: k.variant, Segment: k.segment, Summary: s}
			if q.CohortWidth > 0 {
				grp.Cohort = time.Unix(0, k.cohortNs).UTC()
			}
			out = append(out, grp)
		}
	}
	slices.SortFunc(out, func(a, b Group) int {
		return cmp.Or(a.Cutoff.Compare(b.Cutoff), cmp.Compare(a.Variant, b.Variant),
			a.Cohort.Compare(b.Cohort), cmp.Compare(a.Segment, b.Segment))
	})
	return out, nil
}
