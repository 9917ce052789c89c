package store

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv, when set to a database path, makes the test binary run
// crashChild instead of the tests: the subprocess that TestCrashSIGKILL
// kills.
const crashChildEnv = "GONOGO_STORE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		if err := crashChild(path); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild saves transitions of rollout "crash" in a tight loop and
// prints "seq revision" of each to stdout once Save has returned, that is
// once it is committed. It stops by itself after 200 000 saves or 30 s,
// whichever comes first; the test kills it long before.
func crashChild(path string) error {
	db, err := Open(path)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	st := &State{Rollout: "crash", Spec: []byte("kind: canary\n"), Salt: "s4lt", Phase: "progressing"}
	deadline := time.Now().Add(30 * time.Second)
	for i := 1; i <= 200_000 && time.Now().Before(deadline); i++ {
		st.Step = i
		st.Weights = map[string]int{"stable": 100_000 - i%100_000, "canary": i % 100_000}
		ev, err := db.Save(ctx, st, Event{Kind: "step", Actor: "controller", Step: i, Weights: st.Weights,
			Attrs: map[string]string{"i": strconv.Itoa(i)}})
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(os.Stdout, "%d %d\n", ev.Seq, ev.Revision); err != nil {
			return err
		}
	}
	return nil
}

var ctx = context.Background()

// openTemp opens a new store in a temporary directory, closed at the end
// of the test.
func openTemp(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "dir", "rollouts.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db, path
}

// mustSave saves st with an event of this kind by the controller.
func mustSave(t *testing.T, db *DB, st *State, kind string) Event {
	t.Helper()
	ev, err := db.Save(ctx, st, Event{Kind: kind, Actor: "controller", Step: st.Step, Weights: st.Weights})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestRoundTrip(t *testing.T) {
	db, path := openTemp(t)
	started := time.Date(2026, 5, 4, 3, 2, 1, 123456789, time.FixedZone("CEST", 2*3600))
	st := &State{
		Rollout:     "chat",
		Spec:        []byte("backends:\n  - name: stable\n"),
		Salt:        "9f2c",
		Phase:       "progressing",
		Step:        3,
		StepStarted: started,
		Weights:     map[string]int{"stable": 95_000, "canary": 5_000},
		Paused:      true,
		Message:     "paused until promoted",
	}
	before := time.Now()
	ev, err := db.Save(ctx, st, Event{Kind: "pause", Actor: "admin:ops", Step: 3,
		Weights: map[string]int{"stable": 95_000, "canary": 5_000}, Reason: "manual pause",
		Attrs: map[string]string{"ticket": "OPS-7"}})
	if err != nil {
		t.Fatal(err)
	}
	// The SHA-256 of the spec above, by sha256sum.
	if want := "60d7c45a36344722de67d8b85616182b66370a894b004cfc01745ce5f5d69f58"; st.SpecHash != want {
		t.Errorf("SpecHash = %s, want %s", st.SpecHash, want)
	}
	if st.Revision != 1 || ev.Revision != 1 || ev.Seq != 1 || ev.Rollout != "chat" {
		t.Errorf("after the first save: state revision %d, event %+v; want revision 1, seq 1, rollout chat", st.Revision, ev)
	}
	if ev.Time.Before(before.Add(-time.Second)) || ev.Time.After(time.Now().Add(time.Second)) {
		t.Errorf("event time %v, want about now", ev.Time)
	}
	if !st.Updated.Equal(ev.Time) {
		t.Errorf("Updated %v, event time %v: want the same", st.Updated, ev.Time)
	}
	if !st.StepStarted.Equal(started) {
		t.Errorf("StepStarted %v, want %v", st.StepStarted, started)
	}

	// The state and event come back as Save left them, from this handle
	// and from a new one.
	check := func(db *DB) {
		t.Helper()
		got, err := db.Load(ctx, "chat")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, st) {
			t.Errorf("Load:\n got %+v\nwant %+v", got, st)
		}
		evs, err := db.Events(ctx, "chat", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || !reflect.DeepEqual(evs[0], ev) {
			t.Errorf("Events:\n got %+v\nwant [%+v]", evs, ev)
		}
		all, err := db.Rollouts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 || !reflect.DeepEqual(all[0], *st) {
			t.Errorf("Rollouts:\n got %+v\nwant [%+v]", all, *st)
		}
	}
	check(db)
	db2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	check(db2)
	if err := db2.Close(); err != nil {
		t.Fatal(err)
	}

	// A second save updates in place: zero StepStarted, nil weights and
	// spec survive as such.
	st.StepStarted = time.Time{}
	st.Weights = nil
	st.Spec = nil
	st.SpecHash = ""
	st.Paused = false
	mustSave(t, db, st, "resume")
	got, err := db.Load(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision != 2 || !got.StepStarted.IsZero() || got.Weights != nil || len(got.Spec) != 0 || got.Paused {
		t.Errorf("after the second save: %+v", got)
	}
	if got.SpecHash != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("SpecHash of an empty spec = %s, want the SHA-256 of nothing", got.SpecHash)
	}

	if _, err := db.Load(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load of an unknown rollout: %v, want ErrNotFound", err)
	}
}

func TestSaveRefusesBadInput(t *testing.T) {
	db, _ := openTemp(t)
	good := func() *State {
		return &State{Rollout: "r", Spec: []byte("x"), Weights: map[string]int{"stable": 100_000}}
	}
	goodEv := Event{Kind: "start", Actor: "cli"}
	cases := []struct {
		name string
		st   func() *State
		ev   Event
		want string
	}{
		{"no rollout", func() *State { st := good(); st.Rollout = ""; return st }, goodEv, "no rollout name"},
		{"rollout not UTF-8", func() *State { st := good(); st.Rollout = "r\xff"; return st }, goodEv, "not valid UTF-8"},
		{"wrong spec hash", func() *State { st := good(); st.SpecHash = strings.Repeat("0", 64); return st }, goodEv, "not the SHA-256"},
		{"backend not UTF-8", func() *State { st := good(); st.Weights["b\xfe"] = 0; return st }, goodEv, "backend name"},
		{"negative revision", func() *State { st := good(); st.Revision = -1; return st }, goodEv, "negative revision"},
		{"step start out of range", func() *State { st := good(); st.StepStarted = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC); return st }, goodEv, "out of range"},
		{"no kind", good, Event{Actor: "cli"}, "no kind"},
		{"no actor", good, Event{Kind: "start"}, "no actor"},
		{"actor not UTF-8", good, Event{Kind: "start", Actor: "\xc3"}, "not valid UTF-8"},
		{"attribute name not UTF-8", good, Event{Kind: "start", Actor: "cli", Attrs: map[string]string{"\xff": "v"}}, "attribute name"},
		{"event of another rollout", good, Event{Kind: "start", Actor: "cli", Rollout: "other"}, "rollout \"other\""},
		{"event time out of range", good, Event{Kind: "start", Actor: "cli", Time: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)}, "out of range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := c.st()
			before := *st
			_, err := db.Save(ctx, st, c.ev)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Save: %v, want an error containing %q", err, c.want)
			}
			if !reflect.DeepEqual(*st, before) {
				t.Errorf("a failed Save changed the state:\n got %+v\nwant %+v", *st, before)
			}
		})
	}
	if evs, err := db.Events(ctx, "", 0, 0); err != nil || len(evs) != 0 {
		t.Errorf("after refused saves: events %+v, %v; want none", evs, err)
	}
	if all, err := db.Rollouts(ctx); err != nil || len(all) != 0 {
		t.Errorf("after refused saves: rollouts %+v, %v; want none", all, err)
	}
}

func TestSaveKeepsBytes(t *testing.T) {
	db, _ := openTemp(t)
	// The salt and spec are stored byte for byte, NULs and invalid UTF-8
	// included; free text is made valid UTF-8.
	st := &State{Rollout: "r", Spec: []byte{0, 0xff, '\n', 0}, Salt: "a\x00b\xff", Message: "bad \xff byte"}
	ev, err := db.Save(ctx, st, Event{Kind: "start", Actor: "cli", Reason: "upstream said \xfe\x00",
		Attrs: map[string]string{"body": "\xc3("}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Message != "bad \uFFFD byte" || ev.Reason != "upstream said \uFFFD\x00" || ev.Attrs["body"] != "\uFFFD(" {
		t.Errorf("free text as stored: message %q, reason %q, attrs %q", st.Message, ev.Reason, ev.Attrs)
	}
	got, err := db.Load(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if got.Salt != "a\x00b\xff" || string(got.Spec) != "\x00\xff\n\x00" || got.Message != st.Message {
		t.Errorf("loaded salt %q, spec %q, message %q", got.Salt, got.Spec, got.Message)
	}
	evs, err := db.Events(ctx, "r", 0, 0)
	if err != nil || len(evs) != 1 || !reflect.DeepEqual(evs[0], ev) {
		t.Errorf("Events: %+v, %v; want [%+v]", evs, err, ev)
	}
}

func TestRevisionConflict(t *testing.T) {
	db1, path := openTemp(t)
	db2, err := Open(path) // a second controller on the same file
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()

	// Two controllers creating the same rollout: the second is refused.
	a := &State{Rollout: "r", Step: 0, Weights: map[string]int{"stable": 100_000}}
	mustSave(t, db1, a, "start")
	b := &State{Rollout: "r", Step: 0}
	if _, err := db2.Save(ctx, b, Event{Kind: "start", Actor: "controller"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("creating an existing rollout: %v, want ErrConflict", err)
	}
	if b.Revision != 0 {
		t.Errorf("a refused Save changed the revision to %d", b.Revision)
	}

	// Both read revision 1; the first to save wins.
	s1, err := db1.Load(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := db2.Load(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	s1.Step = 1
	mustSave(t, db1, s1, "step")
	s2.Step = 7
	if _, err := db2.Save(ctx, s2, Event{Kind: "step", Actor: "controller", Step: 7}); !errors.Is(err, ErrConflict) {
		t.Fatalf("saving a stale revision: %v, want ErrConflict", err)
	}
	got, err := db2.Load(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if got.Step != 1 || got.Revision != 2 {
		t.Errorf("after the conflict: step %d revision %d, want step 1 revision 2", got.Step, got.Revision)
	}

	// Many writers on the same revision at once: exactly one wins, and the
	// audit log holds exactly its event.
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := db1
			if i%2 == 1 {
				db = db2
			}
			st := *got
			st.Step = 100 + i
			_, errs[i] = db.Save(ctx, &st, Event{Kind: "step", Actor: "controller", Step: 100 + i})
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("writers %d and %d both saved revision 3", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, ErrConflict):
			t.Errorf("writer %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no writer saved")
	}
	evs, err := db1.Events(ctx, "r", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[2].Step != 100+won || evs[2].Revision != 3 {
		t.Errorf("events after the race: %+v, want 3 with the last of step %d", evs, 100+won)
	}
	final, err := db1.Load(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if final.Step != 100+won || final.Revision != 3 {
		t.Errorf("state after the race: step %d revision %d, want step %d revision 3", final.Step, final.Revision, 100+won)
	}
}

func TestEventsOrderAndPaging(t *testing.T) {
	db, _ := openTemp(t)
	a := &State{Rollout: "a"}
	b := &State{Rollout: "b"}
	var wantA, wantAll []int64
	for i := range 25 {
		st := a
		if i%3 == 2 {
			st = b
		}
		st.Step = i
		ev := mustSave(t, db, st, "step")
		if st == a {
			wantA = append(wantA, ev.Seq)
		}
		wantAll = append(wantAll, ev.Seq)
	}
	seqs := func(evs []Event) []int64 {
		var s []int64
		for _, e := range evs {
			s = append(s, e.Seq)
		}
		return s
	}
	all, err := db.Events(ctx, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(all); !reflect.DeepEqual(got, wantAll) {
		t.Errorf("all events: seqs %v, want %v", got, wantAll)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Errorf("seq %d after %d: not increasing", all[i].Seq, all[i-1].Seq)
		}
	}
	onlyA, err := db.Events(ctx, "a", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(onlyA); !reflect.DeepEqual(got, wantA) {
		t.Errorf("events of a: seqs %v, want %v", got, wantA)
	}
	for i, ev := range onlyA {
		if ev.Rollout != "a" || ev.Revision != int64(i+1) {
			t.Errorf("event %d of a: rollout %q revision %d, want a, %d", i, ev.Rollout, ev.Revision, i+1)
		}
	}
	for _, limit := range []int{1, 4, 7, 100} {
		var paged []int64
		var after int64
		for range 100 {
			page, err := db.Events(ctx, "a", after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(page))
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, seqs(page)...)
			after = page[len(page)-1].Seq
		}
		if !reflect.DeepEqual(paged, wantA) {
			t.Errorf("limit %d: paged seqs %v, want %v", limit, paged, wantA)
		}
	}
	if evs, err := db.Events(ctx, "a", wantAll[len(wantAll)-1], 0); err != nil || len(evs) != 0 {
		t.Errorf("events after the last: %+v, %v; want none", evs, err)
	}
	if evs, err := db.Events(ctx, "zzz", 0, 0); err != nil || len(evs) != 0 {
		t.Errorf("events of an unknown rollout: %+v, %v; want none", evs, err)
	}
}

func TestAnalyses(t *testing.T) {
	db, _ := openTemp(t)
	if err := db.SaveAnalysis(ctx, Analysis{Rollout: "r", Status: StatusPass}); !errors.Is(err, ErrNotFound) {
		t.Errorf("analysis of an unknown rollout: %v, want ErrNotFound", err)
	}
	mustSave(t, db, &State{Rollout: "r"}, "start")
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	statuses := []string{StatusHold, StatusInconclusive, StatusPass, StatusFail, StatusPass}
	for i, s := range statuses {
		a := Analysis{Rollout: "r", Step: i, Time: t0.Add(time.Duration(i) * time.Minute), Status: s,
			Detail: fmt.Appendf(nil, `{"requests":%d}`, i*100)}
		if err := db.SaveAnalysis(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	all, err := db.Analyses(ctx, "r", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(statuses) {
		t.Fatalf("got %d analyses, want %d", len(all), len(statuses))
	}
	for i, a := range all {
		want := Analysis{Rollout: "r", Step: i, Time: t0.Add(time.Duration(i) * time.Minute), Status: statuses[i],
			Detail: fmt.Appendf(nil, `{"requests":%d}`, i*100)}
		if !reflect.DeepEqual(a, want) {
			t.Errorf("analysis %d:\n got %+v\nwant %+v", i, a, want)
		}
	}
	last2, err := db.Analyses(ctx, "r", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(last2) != 2 || last2[0].Step != 3 || last2[1].Step != 4 {
		t.Errorf("the latest 2 analyses: %+v, want steps 3 and 4, newest last", last2)
	}
	for _, bad := range []Analysis{
		{Status: StatusPass},
		{Rollout: "r", Status: "ok"},
		{Rollout: "r", Status: StatusFail, Detail: []byte(`{"gates":`)},
		{Rollout: "r", Status: StatusFail, Time: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if err := db.SaveAnalysis(ctx, bad); err == nil {
			t.Errorf("SaveAnalysis(%+v) succeeded, want an error", bad)
		}
	}
	if n, _ := db.Analyses(ctx, "r", 0); len(n) != len(statuses) {
		t.Errorf("refused analyses were stored: %d analyses", len(n))
	}
}

func TestOpenSettings(t *testing.T) {
	db, path := openTemp(t)
	var mode string
	var sync, busy int
	if err := db.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := db.db.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if err := db.db.QueryRow(`PRAGMA busy_timeout`).Scan(&busy); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 || busy != busyTimeoutMs {
		t.Errorf("journal_mode %s, synchronous %d, busy_timeout %d; want wal, 2 (FULL), %d", mode, sync, busy, busyTimeoutMs)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database file: %v", err)
	}
	for _, bad := range []string{"", "a?b"} {
		if _, err := Open(bad); err == nil {
			t.Errorf("Open(%q) succeeded, want an error", bad)
		}
	}
}

// rawExec runs statements on the database file directly.
func rawExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, s := range stmts {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestSchemaMismatch(t *testing.T) {
	dir := t.TempDir()

	newer := filepath.Join(dir, "newer.db")
	db, err := Open(newer)
	if err != nil {
		t.Fatal(err)
	}
	mustSave(t, db, &State{Rollout: "r"}, "start")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	rawExec(t, newer, fmt.Sprintf(`UPDATE schema_version SET version = %d`, SchemaVersion+1))

	// A SQLite file of another program, shaped like the run history: a
	// schema_version table of version 1, but no application id.
	foreign := filepath.Join(dir, "history.db")
	rawExec(t, foreign, `CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version (version) VALUES (1)`, `CREATE TABLE runs (id TEXT PRIMARY KEY)`)

	for _, c := range []struct{ name, path, want string }{
		{"newer schema", newer, fmt.Sprintf("has schema %d", SchemaVersion+1)},
		{"another program's database", foreign, "not a gonogo rollout store"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, err := Open(c.path)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded, want ErrSchema")
			}
			if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open: %v, want ErrSchema saying %q", err, c.want)
			}
		})
	}
	// Refusing changed nothing: the history-shaped file is still as it was.
	raw, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'rollouts'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("a refused Open created tables: %d rollouts tables, %v", n, err)
	}

	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(garbage); err == nil {
		db.Close()
		t.Error("Open of a file that is not SQLite succeeded")
	}
}

// TestCrashSIGKILL kills a process in the middle of a loop of Saves and
// checks that every transition it reported committed survived, that the
// state agrees with the audit log, and that the database is sound.
func TestCrashSIGKILL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A watchdog, so that a stuck child cannot hang the test.
	watchdog := time.AfterFunc(20*time.Second, func() { _ = cmd.Process.Kill() })
	defer watchdog.Stop()

	const killAfter = 150 // committed saves seen before the kill
	committed := map[int64]int64{}
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		var seq, rev int64
		if _, err := fmt.Sscanf(sc.Text(), "%d %d", &seq, &rev); err != nil {
			t.Fatalf("child printed %q: %v", sc.Text(), err)
		}
		committed[seq] = rev
		// Lines still in the pipe after the kill were committed too: keep
		// reading to the end.
		if len(committed) == killAfter && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("child ended with %v (stderr %q), want killed by a signal mid-loop", err, stderr.String())
	}
	if !killed || len(committed) < killAfter {
		t.Fatalf("child reported %d committed saves, want at least %d", len(committed), killAfter)
	}

	// The kill left a write-ahead log that the next Open recovers.
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Errorf("no write-ahead log left by the killed process: %v", err)
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q, %v", check, err)
	}
	st, err := db.Load(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := db.Events(ctx, "crash", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int64]int64{}
	for i, ev := range evs {
		stored[ev.Seq] = ev.Revision
		if ev.Revision != int64(i+1) || ev.Step != i+1 || ev.Attrs["i"] != strconv.Itoa(i+1) {
			t.Errorf("event %d: revision %d step %d attrs %v, want all %d", i, ev.Revision, ev.Step, ev.Attrs, i+1)
		}
	}
	for seq, rev := range committed {
		if got, ok := stored[seq]; !ok || got != rev {
			t.Errorf("committed event %d (revision %d) lost after the kill", seq, rev)
		}
	}
	// The state and its last event were written together.
	if st.Revision != int64(len(evs)) {
		t.Errorf("state revision %d, but %d events", st.Revision, len(evs))
	}
	last := evs[len(evs)-1]
	if st.Step != last.Step || !reflect.DeepEqual(st.Weights, last.Weights) || st.Salt != "s4lt" {
		t.Errorf("state step %d weights %v salt %q; last event step %d weights %v", st.Step, st.Weights, st.Salt, last.Step, last.Weights)
	}
	t.Logf("%d saves reported committed before the kill, %d stored", len(committed), len(evs))

	// A restarted controller resumes from the loaded state.
	st.Step++
	ev, err := db.Save(ctx, st, Event{Kind: "resume-after-restart", Actor: "controller", Step: st.Step})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Revision != int64(len(evs))+1 {
		t.Errorf("resumed at revision %d, want %d", ev.Revision, len(evs)+1)
	}
}
