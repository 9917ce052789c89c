// Package store keeps the rollout controller's state and audit log in an
// embedded SQLite database (pure Go: modernc.org/sqlite), so that a
// controller killed at any instant resumes at the same step, with the same
// weights and the same sticky salt, and no audit event is lost.
//
// A rollout is one row of state (its spec as given, the current step and
// weights, the salt, phase and pause flag) and an append-only list of
// events, each a transition with who or what caused it, and of analysis
// results. Save writes the new state and the event that explains it in one
// transaction: the controller persists a transition first and acts on it
// only when Save has returned, so the state it resumes from always has its
// event, and an event always has its state.
//
// Durability. The database is journaled in WAL mode with synchronous=FULL:
// every commit appends to the write-ahead log and fsyncs it before Save
// returns. A committed transaction therefore survives a process kill
// (SIGKILL, OOM) and a power cut or kernel crash alike; a transaction cut
// off before its commit leaves no trace. (WAL with synchronous=NORMAL
// would survive a process kill but could lose the last transactions on a
// power cut, which a controller that has already moved traffic cannot
// afford; the cost, one fsync per transition, is nothing at the rate
// transitions happen.)
//
// Concurrency. Write transactions take the write lock when they begin
// (BEGIN IMMEDIATE) and wait up to a busy timeout for another process's,
// so several processes may use one file. Each Save names the revision of
// the state it was computed from and fails with ErrConflict when another
// writer saved first (optimistic locking): two controllers on one store
// cannot both act on the same step.
//
// Experiments (schema 2). The store also keeps each experiment's
// exposures (who saw which variant first, and when) and its outcomes,
// aggregated per user as they are ingested, so that a report reads per-user
// rows, never the raw outcome events: see RecordExposures, RecordOutcomes
// and Summaries. Schema 3 adds each user's outcomes from before its
// exposure, the pre-period covariate of CUPED. A database of schema 1 or
// 2 is upgraded in place by Open.
package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gonogo-dev/gonogo/internal/sqlitebusy"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SchemaVersion is the database schema this package writes and reads; it
// is stored in the schema_version table. Open upgrades a database of an
// older version in place (see migrations).
const SchemaVersion = 3

// applicationID marks a SQLite file as a gonogo rollout store (PRAGMA
// application_id, "gnrs"), so that Open refuses another program's
// database, the run history included, instead of adding tables to it.
const applicationID = 0x676e7273

// mmapBytes is how much of the database file SQLite reads through a memory
// map (PRAGMA mmap_size) rather than read calls into each connection's
// small page cache: the outcome aggregates of a large experiment are read
// at random when ingested, and the map shares the OS page cache between
// connections.
const mmapBytes = 1 << 30

// cacheKiB bounds each connection's page cache (PRAGMA cache_size, in
// KiB; SQLite's default is 2 MiB). A batch of outcomes dirties a page per
// aggregate it adds to; a cache too small for them spills them to the
// log mid-transaction, writing many twice. It grows only as it is used.
const cacheKiB = 64 << 10

// busyTimeoutMs is how long a statement waits for another process's write
// lock before it fails.
const busyTimeoutMs = 5000

// Statuses of an analysis result.
const (
	StatusPass         = "pass"
	StatusFail         = "fail"
	StatusInconclusive = "inconclusive"
	StatusHold         = "hold"
)

var (
	// ErrSchema is returned by Open for a database of another schema
	// version, or a file that is not a rollout store.
	ErrSchema = errors.New("store: unsupported database schema")
	// ErrNotFound is returned for a rollout never saved.
	ErrNotFound = errors.New("store: no such rollout")
	// ErrConflict is returned by Save when the state was saved by another
	// writer since the caller read it: its Revision is stale.
	ErrConflict = errors.New("store: revision conflict")
)

// schema creates the tables of schema version 1; migrations take them to
// SchemaVersion. Times are Unix nanoseconds
// (NULL for a zero time); weights and attrs are JSON objects. AUTOINCREMENT
// keeps sequence numbers from ever being reused.
var schema = []string{
	`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
	`CREATE TABLE rollouts (
		name            TEXT PRIMARY KEY,
		spec            BLOB NOT NULL,
		spec_hash       TEXT NOT NULL,
		salt            TEXT NOT NULL,
		phase           TEXT NOT NULL,
		step            INTEGER NOT NULL,
		step_started_ns INTEGER,
		weights         TEXT NOT NULL,
		paused          INTEGER NOT NULL,
		message         TEXT NOT NULL,
		revision        INTEGER NOT NULL,
		updated_ns      INTEGER NOT NULL
	)`,
	`CREATE TABLE events (
		seq      INTEGER PRIMARY KEY AUTOINCREMENT,
		rollout  TEXT NOT NULL REFERENCES rollouts (name),
		revision INTEGER NOT NULL,
		time_ns  INTEGER NOT NULL,
		kind     TEXT NOT NULL,
		actor    TEXT NOT NULL,
		step     INTEGER NOT NULL,
		weights  TEXT NOT NULL,
		reason   TEXT NOT NULL,
		attrs    TEXT NOT NULL
	)`,
	`CREATE INDEX events_rollout ON events (rollout, seq)`,
	`CREATE TABLE analyses (
		id      INTEGER PRIMARY KEY AUTOINCREMENT,
		rollout TEXT NOT NULL REFERENCES rollouts (name),
		step    INTEGER NOT NULL,
		time_ns INTEGER NOT NULL,
		status  TEXT NOT NULL,
		detail  BLOB NOT NULL
	)`,
	`CREATE INDEX analyses_rollout ON analyses (rollout, id)`,
}

// migrations[i] takes a database of schema version i+1 to version i+2, in
// the transaction that opens it: an interrupted upgrade leaves the older
// version intact.
var migrations = [][]string{
	schemaExperiments, // 1 → 2
	schemaPrePeriod,   // 2 → 3
}

// DB is an open rollout store. It is safe for concurrent use, and other
// processes may use the same file at the same time.
type DB struct {
	db   *sql.DB
	path string
}

// Open opens the store at path, creating its directory, the file and the
// schema when missing. The database is put in WAL mode with
// synchronous=FULL and a busy timeout (see the package doc). A database of
// another schema version, or a SQLite file that is not a rollout store,
// wraps ErrSchema.
func Open(path string) (*DB, error) {
	switch {
	case path == "":
		return nil, errors.New("store: open: no path given")
	case strings.ContainsRune(path, '?'):
		return nil, fmt.Errorf("store: open %s: a path with '?' is not supported", path)
	}
	// An absolute path is always a file: never ":memory:" or a "file:" URI.
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	dsn := fmt.Sprintf("%s?_busy_timeout=%d&_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1&_txlock=immediate&_pragma=mmap_size(%d)&_pragma=cache_size(%d)",
		abs, busyTimeoutMs, mmapBytes, -cacheKiB)
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db := &DB{db: sdb, path: path}
	// A new file's switch to WAL can meet SQLITE_BUSY from another
	// process opening it at the same moment, without the busy handler.
	if err := sqlitebusy.Retry(db.migrate); err != nil {
		_ = sdb.Close()
		return nil, err
	}
	return db, nil
}

// migrate creates the schema of a new database and checks the application
// and schema version of an existing one.
func (db *DB) migrate() error {
	err := db.write(context.Background(), func(tx *sql.Tx) error {
		var tables, app int
		if err := tx.QueryRow(`SELECT count(*) FROM sqlite_schema`).Scan(&tables); err != nil {
			return err
		}
		if err := tx.QueryRow(`PRAGMA application_id`).Scan(&app); err != nil {
			return err
		}
		if tables == 0 && app == 0 {
			if err := execAll(tx, schema); err != nil {
				return err
			}
			for _, m := range migrations {
				if err := execAll(tx, m); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(fmt.Sprintf(`PRAGMA application_id = %d`, applicationID)); err != nil {
				return err
			}
			_, err := tx.Exec(`INSERT INTO schema_version (version) VALUES (?)`, SchemaVersion)
			return err
		}
		if app != applicationID {
			return fmt.Errorf("%w: %s is not a gonogo rollout store (application id %#x)", ErrSchema, db.path, app)
		}
		var v int
		switch err := tx.QueryRow(`SELECT version FROM schema_version`).Scan(&v); {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("%w: %s has no schema version", ErrSchema, db.path)
		case err != nil:
			return err
		case v < 1 || v > SchemaVersion:
			return fmt.Errorf("%w: %s has schema %d, this gonogo reads schema %d", ErrSchema, db.path, v, SchemaVersion)
		case v < SchemaVersion:
			for _, m := range migrations[v-1:] {
				if err := execAll(tx, m); err != nil {
					return fmt.Errorf("upgrade from schema %d: %w", v, err)
				}
			}
			_, err := tx.Exec(`UPDATE schema_version SET version = ?`, SchemaVersion)
			return err
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrSchema) {
		return fmt.Errorf("store: open %s: %w", db.path, err)
	}
	return err
}

// execAll runs statements in order.
func execAll(tx *sql.Tx, stmts []string) error {
	for _, stmt := range stmts {
		if _, err := tx.Exec(stmt); err != nil {
			return err
		}
	}
	return nil
}

// write runs f in a write transaction, committed when f returns nil.
func (db *DB) write(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Close closes the database.
func (db *DB) Close() error {
	if err := db.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", db.path, err)
	}
	return nil
}

// State is the persisted state of one rollout: what a restarted controller
// resumes from.
type State struct {
	// Rollout names the rollout; it is the key of the state.
	Rollout string
	// Spec is the rollout's config file as given (YAML bytes).
	Spec []byte
	// SpecHash is the hex SHA-256 of Spec; Save computes it when empty
	// and refuses one that does not match.
	SpecHash string
	// Salt is the sticky-routing salt: the same salt keeps every user on
	// the same backend. It is stored byte for byte.
	Salt string
	// Phase is free text owned by the controller: "progressing",
	// "paused", "promoted", "aborted", "rolled-back", ...
	Phase string
	// Step is the index of the current step.
	Step int
	// StepStarted is when the current step began; zero when none has.
	StepStarted time.Time
	// Weights maps a backend name to its buckets out of 100 000. The store
	// does not judge them.
	Weights map[string]int
	// Paused says whether the rollout is paused.
	Paused bool
	// Message is a human-readable note on the state.
	Message string
	// Revision counts the Saves of this rollout: 0 for a state never
	// saved, then 1, 2, ... Save takes the revision the state was read at
	// and sets the new one.
	Revision int64
	// Updated is when the state was last saved; Save sets it.
	Updated time.Time
}

// Event is one transition of a rollout in the audit log.
type Event struct {
	// Seq is assigned by Save, increasing across the whole database and
	// never reused.
	Seq int64
	// Rollout names the rollout; Save sets it from the state.
	Rollout string
	// Revision is the state revision this event's Save produced; Save
	// sets it.
	Revision int64
	// Time is when the transition happened; Save sets it to the time of
	// saving when zero.
	Time time.Time
	// Kind says what happened: "start", "step", "flip", "pause",
	// "resume", "promote", "abort", "rollback", "undo", "analysis",
	// "hold", "drain", "resume-after-restart", ... Required.
	Kind string
	// Actor says who or what caused it: "controller", "admin:<token
	// name>", "cli", "analysis". Required.
	Actor string
	// Step is the step index the event concerns.
	Step int
	// Weights are the weights the transition set or kept.
	Weights map[string]int
	// Reason explains the transition.
	Reason string
	// Attrs holds further details.
	Attrs map[string]string
}

// Save persists st and appends ev in one transaction, and returns ev as
// stored: Seq, Rollout, Revision and Time filled. st.Revision must be the
// revision st was loaded at (0 for a new rollout); when another writer
// has saved since, Save wraps ErrConflict and changes nothing. On success
// st takes the values stored: its new Revision, SpecHash, Updated,
// StepStarted in UTC and Message as stored.
//
// Save fails rather than lose information: names (Rollout, Kind, Actor,
// backend names, attribute names) must be valid UTF-8, and times within
// the range of Unix nanoseconds (years 1678 to 2262). Free text (Message,
// Reason, attribute values) is stored as UTF-8, any invalid bytes
// replaced with U+FFFD, so that a stray byte in an error message never
// blocks a rollback. The salt and the spec are stored byte for byte.
func (db *DB) Save(ctx context.Context, st *State, ev Event) (Event, error) {
	if st == nil {
		return Event{}, errors.New("store: save: no state")
	}
	next := *st
	if err := next.normalise(); err != nil {
		return Event{}, fmt.Errorf("store: save %q: %w", st.Rollout, err)
	}
	if ev.Rollout != "" && ev.Rollout != next.Rollout {
		return Event{}, fmt.Errorf("store: save %q: the event is of rollout %q", next.Rollout, ev.Rollout)
	}
	ev.Rollout = next.Rollout
	if err := ev.normalise(); err != nil {
		return Event{}, fmt.Errorf("store: save %q: %w", next.Rollout, err)
	}
	weights, err := json.Marshal(next.Weights)
	if err != nil {
		return Event{}, fmt.Errorf("store: save %q: %w", next.Rollout, err)
	}
	evWeights, err := json.Marshal(ev.Weights)
	if err != nil {
		return Event{}, fmt.Errorf("store: save %q: %w", next.Rollout, err)
	}
	attrs, err := json.Marshal(ev.Attrs)
	if err != nil {
		return Event{}, fmt.Errorf("store: save %q: %w", next.Rollout, err)
	}
	now := canonical(time.Now())
	if ev.Time.IsZero() {
		ev.Time = now
	}
	next.Updated = now
	next.Revision = st.Revision + 1
	ev.Revision = next.Revision
	spec := next.Spec
	if spec == nil {
		spec = []byte{}
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		var cur int64
		switch err := tx.QueryRowContext(ctx, `SELECT revision FROM rollouts WHERE name = ?`, next.Rollout).Scan(&cur); {
		case errors.Is(err, sql.ErrNoRows):
			cur = 0
		case err != nil:
			return err
		}
		if cur != st.Revision {
			return fmt.Errorf("%w: %q is at revision %d, the state saved was read at %d", ErrConflict, next.Rollout, cur, st.Revision)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO rollouts (name, spec, spec_hash, salt, phase, step,
				step_started_ns, weights, paused, message, revision, updated_ns)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, spec_hash = excluded.spec_hash,
				salt = excluded.salt, phase = excluded.phase, step = excluded.step,
				step_started_ns = excluded.step_started_ns, weights = excluded.weights,
				paused = excluded.paused, message = excluded.message,
				revision = excluded.revision, updated_ns = excluded.updated_ns`,
			next.Rollout, spec, next.SpecHash, next.Salt, next.Phase, next.Step,
			nanos(next.StepStarted), string(weights), next.Paused, next.Message,
			next.Revision, next.Updated.UnixNano()); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO events (rollout, revision, time_ns, kind, actor, step,
				weights, reason, attrs)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ev.Rollout, ev.Revision, ev.Time.UnixNano(), ev.Kind, ev.Actor, ev.Step,
			string(evWeights), ev.Reason, string(attrs))
		if err != nil {
			return err
		}
		ev.Seq, err = res.LastInsertId()
		return err
	})
	if err != nil {
		if errors.Is(err, ErrConflict) {
			return Event{}, err
		}
		return Event{}, fmt.Errorf("store: save %q in %s: %w", next.Rollout, db.path, err)
	}
	*st = next
	return ev, nil
}

// normalise checks the state's names and times, computes or checks its
// spec hash and makes its free text valid UTF-8.
func (st *State) normalise() error {
	switch {
	case st.Rollout == "":
		return errors.New("the state has no rollout name")
	case !utf8.ValidString(st.Rollout):
		return errors.New("the rollout name is not valid UTF-8")
	case st.Revision < 0:
		return fmt.Errorf("negative revision %d", st.Revision)
	}
	if err := checkWeights(st.Weights); err != nil {
		return err
	}
	sum := sha256.Sum256(st.Spec)
	hash := hex.EncodeToString(sum[:])
	switch st.SpecHash {
	case "":
		st.SpecHash = hash
	case hash:
	default:
		return fmt.Errorf("spec hash %q is not the SHA-256 of the spec (%s)", st.SpecHash, hash)
	}
	if !st.StepStarted.IsZero() {
		if err := checkTime("step start", st.StepStarted); err != nil {
			return err
		}
		st.StepStarted = canonical(st.StepStarted)
	}
	st.Message = strings.ToValidUTF8(st.Message, "\uFFFD")
	return nil
}

// normalise checks the event's names and time and makes its free text
// valid UTF-8. The maps are copied, so that the caller's stay as given.
func (ev *Event) normalise() error {
	switch {
	case ev.Kind == "":
		return errors.New("the event has no kind")
	case ev.Actor == "":
		return fmt.Errorf("the %s event has no actor", ev.Kind)
	case !utf8.ValidString(ev.Kind) || !utf8.ValidString(ev.Actor):
		return errors.New("the event's kind or actor is not valid UTF-8")
	}
	if err := checkWeights(ev.Weights); err != nil {
		return err
	}
	if !ev.Time.IsZero() {
		if err := checkTime("event time", ev.Time); err != nil {
			return err
		}
		ev.Time = canonical(ev.Time)
	}
	ev.Reason = strings.ToValidUTF8(ev.Reason, "\uFFFD")
	if ev.Attrs != nil {
		attrs := make(map[string]string, len(ev.Attrs))
		for k, v := range ev.Attrs {
			if !utf8.ValidString(k) {
				return fmt.Errorf("attribute name %q is not valid UTF-8", k)
			}
			attrs[k] = strings.ToValidUTF8(v, "\uFFFD")
		}
		ev.Attrs = attrs
	}
	if ev.Weights != nil {
		ev.Weights = maps.Clone(ev.Weights)
	}
	return nil
}

// checkWeights refuses backend names that JSON would not store exactly.
func checkWeights(w map[string]int) error {
	for name := range w {
		if !utf8.ValidString(name) {
			return fmt.Errorf("backend name %q is not valid UTF-8", name)
		}
	}
	return nil
}

// minTime and maxTime bound the times UnixNano represents.
var (
	minTime = time.Unix(0, -1<<63)
	maxTime = time.Unix(0, 1<<63-1)
)

// checkTime refuses a time that Unix nanoseconds cannot hold.
func checkTime(what string, t time.Time) error {
	if t.Before(minTime) || t.After(maxTime) {
		return fmt.Errorf("%s %s is out of range", what, t.Format(time.RFC3339))
	}
	return nil
}

// canonical returns t as the store gives it back: UTC, nanoseconds, no
// monotonic reading.
func canonical(t time.Time) time.Time { return time.Unix(0, t.UnixNano()).UTC() }

// nanos returns t in Unix nanoseconds, NULL for a zero time.
func nanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

// fromNanos is the inverse of nanos.
func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// stateColumns are the columns scanState reads, in order.
const stateColumns = `name, spec, spec_hash, salt, phase, step, step_started_ns, weights, paused,
	message, revision, updated_ns`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanState reads a row of stateColumns.
func scanState(r scanner) (*State, error) {
	var st State
	var started sql.NullInt64
	var weights string
	var updated int64
	if err := r.Scan(&st.Rollout, &st.Spec, &st.SpecHash, &st.Salt, &st.Phase, &st.Step, &started,
		&weights, &st.Paused, &st.Message, &st.Revision, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(weights), &st.Weights); err != nil {
		return nil, fmt.Errorf("rollout %q: stored weights: %w", st.Rollout, err)
	}
	st.StepStarted = fromNanos(started)
	st.Updated = time.Unix(0, updated).UTC()
	return &st, nil
}

// Load returns the latest saved state of a rollout; a rollout never saved
// wraps ErrNotFound.
func (db *DB) Load(ctx context.Context, rollout string) (*State, error) {
	st, err := scanState(db.db.QueryRowContext(ctx, `SELECT `+stateColumns+` FROM rollouts WHERE name = ?`, rollout))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("%w: %q in %s", ErrNotFound, rollout, db.path)
	case err != nil:
		return nil, fmt.Errorf("store: load %q from %s: %w", rollout, db.path, err)
	}
	return st, nil
}

// Rollouts returns the state of every rollout, by name.
func (db *DB) Rollouts(ctx context.Context) ([]State, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+stateColumns+` FROM rollouts ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: rollouts in %s: %w", db.path, err)
	}
	defer rows.Close()
	var out []State
	for rows.Next() {
		st, err := scanState(rows)
		if err != nil {
			return nil, fmt.Errorf("store: rollouts in %s: %w", db.path, err)
		}
		out = append(out, *st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: rollouts in %s: %w", db.path, err)
	}
	return out, nil
}

// Events returns the events of a rollout (of every rollout when rollout is
// empty) with a Seq above afterSeq, in Seq order, at most limit of them
// (all when limit <= 0). Paging: pass the last Seq returned as the next
// afterSeq.
func (db *DB) Events(ctx context.Context, rollout string, afterSeq int64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	query := `SELECT seq, rollout, revision, time_ns, kind, actor, step, weights, reason, attrs FROM events
		WHERE seq > ? ORDER BY seq LIMIT ?`
	args := []any{afterSeq, limit}
	if rollout != "" {
		query = `SELECT seq, rollout, revision, time_ns, kind, actor, step, weights, reason, attrs FROM events
			WHERE rollout = ? AND seq > ? ORDER BY seq LIMIT ?`
		args = []any{rollout, afterSeq, limit}
	}
	rows, err := db.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: events of %q in %s: %w", rollout, db.path, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var ev Event
		var timeNs int64
		var weights, attrs string
		if err := rows.Scan(&ev.Seq, &ev.Rollout, &ev.Revision, &timeNs, &ev.Kind, &ev.Actor, &ev.Step,
			&weights, &ev.Reason, &attrs); err != nil {
			return nil, fmt.Errorf("store: events of %q in %s: %w", rollout, db.path, err)
		}
		if err := json.Unmarshal([]byte(weights), &ev.Weights); err != nil {
			return nil, fmt.Errorf("store: event %d in %s: stored weights: %w", ev.Seq, db.path, err)
		}
		if err := json.Unmarshal([]byte(attrs), &ev.Attrs); err != nil {
			return nil, fmt.Errorf("store: event %d in %s: stored attrs: %w", ev.Seq, db.path, err)
		}
		ev.Time = time.Unix(0, timeNs).UTC()
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: events of %q in %s: %w", rollout, db.path, err)
	}
	return out, nil
}

// Analysis is the result of one analysis of a rollout's step.
type Analysis struct {
	// Rollout names the rollout; it must have been saved before.
	Rollout string
	// Step is the step index analysed.
	Step int
	// Time is when the analysis ended; SaveAnalysis sets it to the time of
	// saving when zero.
	Time time.Time
	// Status is StatusPass, StatusFail, StatusInconclusive or StatusHold.
	Status string
	// Detail is the analysis as a JSON document (gates, counts, reasons);
	// empty or valid JSON.
	Detail []byte
}

// SaveAnalysis appends an analysis result. A rollout never saved wraps
// ErrNotFound.
func (db *DB) SaveAnalysis(ctx context.Context, a Analysis) error {
	switch {
	case a.Rollout == "":
		return errors.New("store: save analysis: no rollout name")
	case !slices.Contains([]string{StatusPass, StatusFail, StatusInconclusive, StatusHold}, a.Status):
		return fmt.Errorf("store: save analysis of %q: status %q is not pass, fail, inconclusive or hold", a.Rollout, a.Status)
	case len(a.Detail) > 0 && !json.Valid(a.Detail):
		return fmt.Errorf("store: save analysis of %q: the detail is not valid JSON", a.Rollout)
	}
	if a.Time.IsZero() {
		a.Time = time.Now()
	} else if err := checkTime("analysis time", a.Time); err != nil {
		return fmt.Errorf("store: save analysis of %q: %w", a.Rollout, err)
	}
	detail := a.Detail
	if detail == nil {
		detail = []byte{}
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		var one int
		switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM rollouts WHERE name = ?`, a.Rollout).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("%w: %q in %s", ErrNotFound, a.Rollout, db.path)
		case err != nil:
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO analyses (rollout, step, time_ns, status, detail) VALUES (?, ?, ?, ?, ?)`,
			a.Rollout, a.Step, a.Time.UnixNano(), a.Status, detail)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return err
		}
		return fmt.Errorf("store: save analysis of %q in %s: %w", a.Rollout, db.path, err)
	}
	return nil
}

// Analyses returns the latest limit analysis results of a rollout (all
// when limit <= 0), newest last.
func (db *DB) Analyses(ctx context.Context, rollout string, limit int) ([]Analysis, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := db.db.QueryContext(ctx, `SELECT rollout, step, time_ns, status, detail FROM analyses
		WHERE rollout = ? ORDER BY id DESC LIMIT ?`, rollout, limit)
	if err != nil {
		return nil, fmt.Errorf("store: analyses of %q in %s: %w", rollout, db.path, err)
	}
	defer rows.Close()
	var out []Analysis
	for rows.Next() {
		var a Analysis
		var timeNs int64
		if err := rows.Scan(&a.Rollout, &a.Step, &timeNs, &a.Status, &a.Detail); err != nil {
			return nil, fmt.Errorf("store: analyses of %q in %s: %w", rollout, db.path, err)
		}
		a.Time = time.Unix(0, timeNs).UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: analyses of %q in %s: %w", rollout, db.path, err)
	}
	slices.Reverse(out)
	return out, nil
}
