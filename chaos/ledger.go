package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo/rundir"
)

// Ledger operations.
const (
	OpApply  = "apply"  // the fault is about to be applied
	OpRevert = "revert" // the fault is reverted
)

// Entry is one line of a ledger.
type Entry struct {
	Op     string    `json:"op"`
	Time   time.Time `json:"time"`
	ID     string    `json:"id"`
	Kind   string    `json:"kind,omitempty"`
	Target string    `json:"target,omitempty"`
	// Undo reverts the fault from any process (on apply entries).
	Undo *Undo `json:"undo,omitempty"`
	// PID is the process that wrote the entry.
	PID int `json:"pid"`
	// By says who reverted the fault: the run, its guard, gonogo chaos
	// revert (on revert entries).
	By string `json:"by,omitempty"`
}

// Ledger is the on-disk record of a results directory's faults
// (rundir.Ledger), one JSON line per entry: every fault is written before
// it is applied and again once it is reverted, each line synced to disk
// before the call returns. Several processes (the run, its guard, gonogo
// chaos revert) append to the same file; a line is one write (O_APPEND).
type Ledger struct {
	mu  sync.Mutex
	f   *os.File
	dir rundir.Dir
}

// OpenLedger opens dir's ledger for appending, creating it when missing.
func OpenLedger(dir rundir.Dir) (*Ledger, error) {
	if err := dir.Make(); err != nil {
		return nil, err
	}
	f, err := dir.Append(rundir.Ledger)
	if err != nil {
		return nil, err
	}
	return &Ledger{f: f, dir: dir}, nil
}

// Applying records that f is about to be applied, with how to undo it.
func (l *Ledger) Applying(f *Fault, u Undo) error {
	return l.write(Entry{Op: OpApply, ID: f.ID, Kind: f.Kind, Target: f.Target, Undo: &u})
}

// Reverted records that the fault id is reverted, by whom.
func (l *Ledger) Reverted(id, by string) error {
	return l.write(Entry{Op: OpRevert, ID: id, By: by})
}

func (l *Ledger) write(e Entry) error {
	e.Time, e.PID = time.Now(), os.Getpid()
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("chaos: ledger: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("chaos: ledger %s is closed", l.dir.Path(rundir.Ledger))
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("chaos: ledger %s: %w", l.dir.Path(rundir.Ledger), err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("chaos: ledger %s: %w", l.dir.Path(rundir.Ledger), err)
	}
	return nil
}

// Close closes the ledger file.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// ReadLedger reads every entry of dir's ledger; a missing ledger has
// none. A line that does not parse is an error naming the file and line,
// except a last line cut short by a crash mid-write, which is skipped.
func ReadLedger(dir rundir.Dir) ([]Entry, error) {
	path := dir.Path(rundir.Ledger)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readEntries(path, f)
}

func readEntries(path string, r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	var bad error
	for sc.Scan() {
		line++
		if bad != nil { // a bad line followed by more: not a torn tail
			return nil, bad
		}
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(b, &e); err != nil {
			bad = &InputError{File: path, Line: line, Msg: "not a ledger entry: " + err.Error()}
			continue
		}
		if e.ID == "" || (e.Op != OpApply && e.Op != OpRevert) {
			return nil, &InputError{File: path, Line: line, Msg: "a ledger entry needs an id and op apply or revert"}
		}
		if e.Op == OpApply && e.Undo == nil {
			return nil, &InputError{File: path, Line: line, Field: "undo", Msg: "an apply entry needs its undo"}
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, &InputError{File: path, Line: line + 1, Msg: err.Error()}
	}
	return out, nil
}

// Pending returns the apply entries without a later revert, in the order
// they were applied: the faults that may still be in force.
func Pending(entries []Entry) []Entry {
	last := map[string]int{}
	for i, e := range entries {
		last[e.ID] = i
	}
	var out []Entry
	for i, e := range entries {
		if e.Op == OpApply && last[e.ID] == i {
			out = append(out, e)
		}
	}
	return out
}

// RevertResult is what RevertPending did.
type RevertResult struct {
	// Reverted are the faults reverted now; Failed those whose undo
	// failed (they stay pending, with the error).
	Reverted []Entry
	Failed   []FailedRevert
}

// FailedRevert is a fault whose undo failed.
type FailedRevert struct {
	Entry
	Err error
}

// RevertPending reverts every fault dir's ledger shows pending, newest
// first, and records each revert in the ledger as by. It is idempotent:
// run again, it finds nothing pending (or retries what failed). Every
// undo is bounded by ctx.
func RevertPending(ctx context.Context, dir rundir.Dir, by string) (RevertResult, error) {
	var res RevertResult
	entries, err := ReadLedger(dir)
	if err != nil {
		return res, err
	}
	pending := Pending(entries)
	if len(pending) == 0 {
		return res, nil
	}
	l, err := OpenLedger(dir)
	if err != nil {
		return res, err
	}
	defer l.Close()
	for i := len(pending) - 1; i >= 0; i-- {
		e := pending[i]
		if err := e.Undo.Do(ctx); err != nil {
			res.Failed = append(res.Failed, FailedRevert{e, err})
			continue
		}
		if err := l.Reverted(e.ID, by); err != nil {
			return res, err
		}
		res.Reverted = append(res.Reverted, e)
	}
	return res, nil
}
