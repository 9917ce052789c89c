package store

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzSaveLoad saves arbitrary states and events and checks that what
// Load and Events return is exactly what Save reported storing, or that
// Save refused input it documents as refused.
func FuzzSaveLoad(f *testing.F) {
	f.Add("chat", "s4lt", []byte("kind: canary\n"), "canary", 5000, "progressing", "ok", "step", "controller", "k", "v", 3, false)
	f.Add("", "", []byte(nil), "", 0, "", "", "", "", "", "", 0, true)
	f.Add("r\xff", "\x00\xff", []byte{0, 1, 2}, "b\xfe", -1, "\xc3(", "\xff", "kind", "admin:ops", "\xff", "\x00", -7, true)
	f.Add("über", "salt", []byte("{}"), "ünïcode", 100000, "rolled-back", "timeout: \xe2\x82", "rollback", "analysis", "gate", "p(99)<500", 1<<40, false)
	f.Add("x", "y", []byte("z"), "stable", 1, "p", "m", "undo", "cli", "", "", 0, false)

	db, err := Open(filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })

	f.Fuzz(func(t *testing.T, rollout, salt string, spec []byte, backend string, weight int,
		phase, text, kind, actor, attrKey, attrVal string, step int, paused bool) {
		var rev int64
		switch prev, err := db.Load(ctx, rollout); {
		case err == nil:
			rev = prev.Revision
		case !errors.Is(err, ErrNotFound):
			t.Fatal(err)
		}
		st := &State{Rollout: rollout, Spec: spec, Salt: salt, Phase: phase, Step: step,
			Weights: map[string]int{backend: weight}, Paused: paused, Message: text, Revision: rev}
		ev, err := db.Save(ctx, st, Event{Kind: kind, Actor: actor, Step: step, Weights: st.Weights,
			Reason: text, Attrs: map[string]string{attrKey: attrVal}})
		refusable := rollout == "" || kind == "" || actor == "" ||
			!utf8.ValidString(rollout+kind+actor+backend+attrKey)
		switch {
		case err != nil && !refusable:
			t.Fatalf("Save refused valid input: %v", err)
		case err != nil:
			return
		case refusable:
			t.Fatalf("Save accepted invalid input: rollout %q kind %q actor %q backend %q attr %q", rollout, kind, actor, backend, attrKey)
		}
		if st.Salt != salt || string(st.Spec) != string(spec) || st.Revision != rev+1 || st.Phase != phase {
			t.Errorf("Save changed what it must keep: %+v", st)
		}
		if want := strings.ToValidUTF8(text, "\uFFFD"); st.Message != want || ev.Reason != want || ev.Attrs[attrKey] != strings.ToValidUTF8(attrVal, "\uFFFD") {
			t.Errorf("free text as stored: message %q reason %q attrs %q", st.Message, ev.Reason, ev.Attrs)
		}
		got, err := db.Load(ctx, rollout)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Spec) == 0 && len(st.Spec) == 0 {
			got.Spec = st.Spec // nil and empty are the same spec
		}
		if !reflect.DeepEqual(got, st) {
			t.Errorf("Load:\n got %+v\nwant %+v", got, st)
		}
		evs, err := db.Events(ctx, rollout, ev.Seq-1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || !reflect.DeepEqual(evs[0], ev) {
			t.Errorf("Events:\n got %+v\nwant [%+v]", evs, ev)
		}
	})
}
