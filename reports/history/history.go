// Package history keeps a record of runs in an embedded SQLite database
// (pure Go: modernc.org/sqlite), so that a team can list past runs, take the
// latest go run as the baseline of a relative verdict even after its
// directory was deleted, and watch a percentile's trend across runs.
//
// Complete rate sweeps are kept beside the runs, one entry each with its
// knee, so that a nightly sweep's knee can be followed over nights
// (RecordSweep, Sweeps); their stages are not recorded as runs.
//
// A run is stored whole: its run.json document, its labels and scenario
// names, and every cumulative histogram in HdrHistogram's V2 compressed
// encoding, beside a few denormalised columns (requests, error rate,
// achieved rate, p50 and p99 latency) that keep listing fast. The database
// is journaled in WAL mode with a busy timeout, so several gonogo processes
// may record and read at the same time.
package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/internal/sqlitebusy"
	"github.com/gonogo-dev/gonogo/reports"
)

// PathEnv names the environment variable that overrides DefaultPath; set
// and empty, it turns the run history off.
const PathEnv = "GONOGO_HISTORY"

// DefaultPath is where gonogo keeps its run history unless told
// otherwise, the same whatever the current directory: $GONOGO_HISTORY when
// set, else gonogo/history.db in the user's state directory
// ($XDG_STATE_HOME, else ~/.local/state). It is empty when GONOGO_HISTORY
// is set and empty, or when no home directory is known. Open creates the
// directory.
func DefaultPath() string {
	if p, ok := os.LookupEnv(PathEnv); ok {
		return p
	}
	// The XDG spec ignores a relative XDG_STATE_HOME.
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "gonogo", "history.db")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".local", "state", "gonogo", "history.db")
}

// SchemaVersion is the database schema this package writes and reads; it
// is stored in the schema_version table.
const SchemaVersion = 1

// busyTimeoutMs is how long a statement waits for another process's write
// lock before it fails.
const busyTimeoutMs = 5000

var (
	// ErrSchema is returned by Open for a database of another schema
	// version.
	ErrSchema = errors.New("history: unsupported database schema")
	// ErrUnknownRun is returned by SetVerdict for a run never recorded.
	ErrUnknownRun = errors.New("history: no such run")
	// ErrNoBaseline is returned by LastGo when no go run matches.
	ErrNoBaseline = errors.New("history: no go run")
)

// schema creates the tables of SchemaVersion. Times are Unix nanoseconds;
// labels is a JSON object; run_json and verdict_json are the documents as
// JSON; hist is a histogram in HdrHistogram's V2 compressed encoding
// (base64 text, as in interval logs).
var schema = []string{
	`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS runs (
		id               TEXT PRIMARY KEY,
		started_ns       INTEGER NOT NULL,
		target           TEXT NOT NULL,
		protocol         TEXT NOT NULL,
		labels           TEXT NOT NULL,
		label_version    TEXT NOT NULL,
		label_commit     TEXT NOT NULL,
		dir              TEXT NOT NULL,
		run_json         BLOB NOT NULL,
		requests         INTEGER NOT NULL,
		error_rate       REAL NOT NULL,
		achieved_per_sec REAL NOT NULL,
		p50_ms           REAL,
		p99_ms           REAL,
		verdict          TEXT,
		score            REAL,
		verdict_json     BLOB
	)`,
	`CREATE INDEX IF NOT EXISTS runs_started ON runs (started_ns, id)`,
	`CREATE INDEX IF NOT EXISTS runs_version ON runs (label_version)`,
	`CREATE INDEX IF NOT EXISTS runs_commit ON runs (label_commit)`,
	`CREATE TABLE IF NOT EXISTS run_scenarios (
		run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
		name   TEXT NOT NULL,
		PRIMARY KEY (run_id, name)
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS run_scenarios_name ON run_scenarios (name)`,
	`CREATE TABLE IF NOT EXISTS run_hists (
		run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
		key    TEXT NOT NULL,
		hist   BLOB NOT NULL,
		PRIMARY KEY (run_id, key)
	) WITHOUT ROWID`,
	// sweeps holds complete rate sweeps (RecordSweep): sweep_json is the
	// sweep.json document, beside the figures a trend follows. Added
	// within schema 1: an older database gains the table when opened.
	`CREATE TABLE IF NOT EXISTS sweeps (
		id                 TEXT PRIMARY KEY,
		started_ns         INTEGER NOT NULL,
		target             TEXT NOT NULL,
		protocol           TEXT NOT NULL,
		labels             TEXT NOT NULL,
		label_version      TEXT NOT NULL,
		label_commit       TEXT NOT NULL,
		dir                TEXT NOT NULL,
		sweep_json         BLOB NOT NULL,
		knee_per_sec       REAL NOT NULL,
		slo_max_per_sec    REAL NOT NULL,
		saturation_per_sec REAL NOT NULL,
		first_resource     TEXT NOT NULL,
		first_at_per_sec   REAL NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS sweeps_started ON sweeps (started_ns, id)`,
}

// DB is an open run history. It is safe for concurrent use, and other
// processes may use the same file at the same time.
type DB struct {
	db   *sql.DB
	path string
}

// Open opens the history at path, creating its directory, the file and the
// schema when missing. A database of another schema version wraps
// ErrSchema.
func Open(path string) (*DB, error) {
	switch {
	case path == "":
		return nil, fmt.Errorf("history: open: no path given (set %s or pass the database's path)", PathEnv)
	case strings.ContainsRune(path, '?'):
		return nil, fmt.Errorf("history: open %s: a path with '?' is not supported", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("history: open %s: %w", path, err)
	}
	// Write transactions take the write lock when they begin (immediate),
	// so two writers wait for each other instead of failing on upgrade.
	dsn := fmt.Sprintf("%s?_busy_timeout=%d&_journal_mode=WAL&_foreign_keys=1&_txlock=immediate", path, busyTimeoutMs)
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("history: open %s: %w", path, err)
	}
	db := &DB{db: sdb, path: path}
	// A new file's switch to WAL can meet SQLITE_BUSY from another
	// process opening it at the same moment, without the busy handler.
	if err := sqlitebusy.Retry(db.migrate); err != nil {
		sdb.Close()
		return nil, err
	}
	return db, nil
}

// migrate creates the schema of a new database and checks the version of
// an existing one.
func (db *DB) migrate() error {
	err := db.write(func(tx *sql.Tx) error {
		for _, stmt := range schema {
			if _, err := tx.Exec(stmt); err != nil {
				return err
			}
		}
		var v int
		switch err := tx.QueryRow(`SELECT version FROM schema_version`).Scan(&v); {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.Exec(`INSERT INTO schema_version (version) VALUES (?)`, SchemaVersion)
			return err
		case err != nil:
			return err
		case v != SchemaVersion:
			return fmt.Errorf("%w: %s has schema %d, this gonogo reads schema %d", ErrSchema, db.path, v, SchemaVersion)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrSchema) {
		return fmt.Errorf("history: open %s: %w", db.path, err)
	}
	return err
}

// write runs f in a write transaction, committed when f returns nil.
func (db *DB) write(f func(*sql.Tx) error) error {
	tx, err := db.db.Begin()
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
		return fmt.Errorf("history: close %s: %w", db.path, err)
	}
	return nil
}

// Record stores a run, replacing any run of the same ID but keeping its
// verdict: the run.json document, labels, scenario names, data.Dir (made
// absolute, so that Dir finds it from anywhere), and every cumulative
// histogram of data.Hists. The ID is run.ID, or data.ID
// when run.ID is empty. data may be nil for a run without histograms.
func (db *DB) Record(run *reports.Run, data *analyze.RunData) error {
	doc := *run
	if doc.ID == "" && data != nil {
		doc.ID = data.ID
	}
	if doc.ID == "" {
		return errors.New("history: record: the run has no id")
	}
	if doc.Started.IsZero() {
		return fmt.Errorf("history: record %s: the run has no start time", doc.ID)
	}
	doc.Schema = reports.SchemaVersion
	runJSON, err := json.Marshal(&doc)
	if err != nil {
		return fmt.Errorf("history: record %s: %w", doc.ID, err)
	}
	labels := doc.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	labelsJSON, err := json.Marshal(labels)
	if err != nil {
		return fmt.Errorf("history: record %s: %w", doc.ID, err)
	}
	var dir string
	var hists map[string][]byte
	if data != nil {
		if dir = data.Dir; dir != "" {
			if dir, err = filepath.Abs(dir); err != nil {
				return fmt.Errorf("history: record %s: %w", doc.ID, err)
			}
		}
		hists = make(map[string][]byte, len(data.Hists))
		for key, h := range data.Hists {
			if h == nil {
				continue
			}
			b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
			if err != nil {
				return fmt.Errorf("history: record %s: histogram %s: %w", doc.ID, key, err)
			}
			hists[key] = b
		}
	}
	ov := doc.Overall
	var errorRate float64
	if ov.Requests.Total > 0 {
		errorRate = float64(ov.Requests.FailedTotal()) / float64(ov.Requests.Total)
	}
	var p50, p99 sql.NullFloat64
	if ov.Latency != nil {
		p50 = sql.NullFloat64{Float64: ov.Latency.P50, Valid: true}
		p99 = sql.NullFloat64{Float64: ov.Latency.P99, Valid: true}
	}
	err = db.write(func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO runs (id, started_ns, target, protocol, labels,
				label_version, label_commit, dir, run_json, requests, error_rate,
				achieved_per_sec, p50_ms, p99_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET started_ns = excluded.started_ns,
				target = excluded.target, protocol = excluded.protocol,
				labels = excluded.labels, label_version = excluded.label_version,
				label_commit = excluded.label_commit, dir = excluded.dir,
				run_json = excluded.run_json, requests = excluded.requests,
				error_rate = excluded.error_rate,
				achieved_per_sec = excluded.achieved_per_sec,
				p50_ms = excluded.p50_ms, p99_ms = excluded.p99_ms`,
			doc.ID, doc.Started.UnixNano(), doc.Target, doc.Protocol, string(labelsJSON),
			labels["version"], labels["commit"], dir, runJSON, ov.Requests.Total, errorRate,
			ov.Rate.AchievedPerSec, p50, p99); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM run_scenarios WHERE run_id = ?`, doc.ID); err != nil {
			return err
		}
		for name := range doc.Scenarios {
			if _, err := tx.Exec(`INSERT INTO run_scenarios (run_id, name) VALUES (?, ?)`, doc.ID, name); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(`DELETE FROM run_hists WHERE run_id = ?`, doc.ID); err != nil {
			return err
		}
		for key, b := range hists {
			if _, err := tx.Exec(`INSERT INTO run_hists (run_id, key, hist) VALUES (?, ?, ?)`, doc.ID, key, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("history: record %s in %s: %w", doc.ID, db.path, err)
	}
	return nil
}

// SetVerdict stores the verdict of a recorded run: its decision, score and
// the whole document. A run never recorded wraps ErrUnknownRun.
func (db *DB) SetVerdict(runID string, v *analyze.Verdict) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("history: verdict of %s: %w", runID, err)
	}
	res, err := db.db.Exec(`UPDATE runs SET verdict = ?, score = ?, verdict_json = ? WHERE id = ?`,
		string(v.Verdict), v.Score, b, runID)
	if err != nil {
		return fmt.Errorf("history: verdict of %s: %w", runID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("history: verdict of %s: %w", runID, err)
	} else if n == 0 {
		return fmt.Errorf("%w: %s in %s", ErrUnknownRun, runID, db.path)
	}
	return nil
}

// LastGo rebuilds the latest run with a go verdict that matches f (its
// Verdict and Limit are ignored) from the database alone: the run from its
// stored run.json, and RunData with the run's summary and its cumulative
// histograms attached, so that a baseline outlives its directory.
// RunData.Dir and Intervals are empty. No such run wraps ErrNoBaseline.
func (db *DB) LastGo(f Filter) (*reports.Run, *analyze.RunData, error) {
	f.Verdict = analyze.Go
	conds, args := f.conds()
	return db.load(`SELECT id, run_json FROM runs`+where(conds)+` ORDER BY started_ns DESC, id DESC LIMIT 1`, args,
		func() error { return fmt.Errorf("%w%s in %s", ErrNoBaseline, f.describe(), db.path) })
}

// Get rebuilds the run with this ID from the database alone, as LastGo
// does; an unknown ID wraps ErrUnknownRun.
func (db *DB) Get(id string) (*reports.Run, *analyze.RunData, error) {
	return db.load(`SELECT id, run_json FROM runs WHERE id = ?`, []any{id},
		func() error { return fmt.Errorf("%w: %s in %s", ErrUnknownRun, id, db.path) })
}

// Dir returns the run directory recorded with the run of this ID, empty
// when none was; an unknown ID wraps ErrUnknownRun. The directory may have
// been deleted or reused by a later run since.
func (db *DB) Dir(id string) (string, error) {
	var dir string
	err := db.db.QueryRow(`SELECT dir FROM runs WHERE id = ?`, id).Scan(&dir)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("%w: %s in %s", ErrUnknownRun, id, db.path)
	case err != nil:
		return "", fmt.Errorf("history: run %s: %w", id, err)
	}
	return dir, nil
}

// load rebuilds the run the query (selecting id, run_json) finds; none
// returns the error of notFound.
func (db *DB) load(query string, args []any, notFound func() error) (*reports.Run, *analyze.RunData, error) {
	// One read transaction, so that the run and its histograms agree even
	// while another process records.
	tx, err := db.db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, fmt.Errorf("history: baseline: %w", err)
	}
	defer tx.Rollback()
	var id string
	var runJSON []byte
	err = tx.QueryRow(query, args...).Scan(&id, &runJSON)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, notFound()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("history: baseline: %w", err)
	}
	var run reports.Run
	if err := json.Unmarshal(runJSON, &run); err != nil {
		return nil, nil, fmt.Errorf("history: baseline %s: stored run.json: %w", id, err)
	}
	if run.Schema != reports.SchemaVersion {
		return nil, nil, fmt.Errorf("%w: run %s stored with schema %d", reports.ErrSchema, id, run.Schema)
	}
	rows, err := tx.Query(`SELECT key, hist FROM run_hists WHERE run_id = ?`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("history: baseline %s: %w", id, err)
	}
	defer rows.Close()
	hists := make(map[string]*hdr.Histogram)
	for rows.Next() {
		var key string
		var b []byte
		if err := rows.Scan(&key, &b); err != nil {
			return nil, nil, fmt.Errorf("history: baseline %s: %w", id, err)
		}
		h, err := hdr.Decode(b)
		if err != nil {
			return nil, nil, fmt.Errorf("history: baseline %s: histogram %s: %w", id, key, err)
		}
		hists[key] = h
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("history: baseline %s: %w", id, err)
	}
	data := &analyze.RunData{ID: id, Summary: run.Summary(), Hists: hists}
	data.Summary.AttachHistograms(hists)
	return &run, data, nil
}
