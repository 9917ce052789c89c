package sqlitebusy

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	_ "modernc.org/sqlite"
)

// Is knows SQLite's busy error from a real lock, and nothing else.
func TestIs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	a, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Exec(`CREATE TABLE t (x)`); err != nil {
		t.Fatal(err)
	}
	tx, err := a.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	b, err := sql.Open("sqlite", path+"?_busy_timeout=0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = b.Exec(`INSERT INTO t VALUES (2)`)
	if !Is(err) {
		t.Errorf("a write under another's write lock: %v, not busy", err)
	}
	if Is(errors.New("database is locked")) || Is(nil) || Is(fmt.Errorf("wrapped: %w", sql.ErrNoRows)) {
		t.Error("Is took a non-SQLite error for busy")
	}
	tx.Rollback()
}

// Retry gives up on other errors at once, and on busy after Tries.
func TestRetry(t *testing.T) {
	calls := 0
	other := errors.New("other")
	if err := Retry(func() error { calls++; return other }); err != other || calls != 1 {
		t.Errorf("other error: %v after %d calls", err, calls)
	}
	// Many connections creating one new WAL database at once: each open
	// succeeds through Retry.
	path := filepath.Join(t.TempDir(), "new.db")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			db, err := sql.Open("sqlite", path+"?_busy_timeout=5000&_journal_mode=WAL&_txlock=immediate")
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			errs <- Retry(func() error {
				_, err := db.Exec(`CREATE TABLE IF NOT EXISTS t (x)`)
				return err
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
