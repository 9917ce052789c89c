// Package sqlitebusy retries what SQLite refuses with SQLITE_BUSY where
// its busy handler does not wait: opening a new database file while
// another connection (or process) switches it to WAL and creates its
// schema. The stores (store, reports/history) open through it.
package sqlitebusy

import (
	"errors"
	"time"
)

// sqliteBusy is SQLite's primary result code SQLITE_BUSY.
const sqliteBusy = 5

// Is reports whether err is SQLite's SQLITE_BUSY (any extended code).
func Is(err error) bool {
	var e interface{ Code() int }
	return errors.As(err, &e) && e.Code()&0xff == sqliteBusy
}

// Tries bounds Retry: with its growing pauses, about 2 s in all.
const Tries = 20

// Retry calls f until it returns anything but SQLITE_BUSY, at most Tries
// times, pausing a little longer each time; it returns f's last error.
func Retry(f func() error) error {
	var err error
	for i := range Tries {
		if err = f(); err == nil || !Is(err) {
			return err
		}
		time.Sleep(time.Duration(i+1) * 10 * time.Millisecond)
	}
	return err
}
