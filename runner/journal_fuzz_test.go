package runner

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/rundir"
)

// journalEvents reads the journal of dir with analyze.ReadEvents, as the
// reports do: every line written must pass its checks.
func journalEvents(t *testing.T, dir rundir.Dir) []gonogo.Event {
	t.Helper()
	f, err := os.Open(dir.Path(rundir.Events))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events, err := analyze.ReadEvents(f)
	if err != nil {
		t.Fatalf("the journal does not read back: %v", err)
	}
	return events
}

// fuzzAttrs builds attributes from "k=v" pairs separated by ';'.
func fuzzAttrs(s string) map[string]string {
	if s == "" {
		return nil
	}
	attrs := map[string]string{}
	for _, kv := range strings.Split(s, ";") {
		k, v, _ := strings.Cut(kv, "=")
		attrs[k] = v
	}
	return attrs
}

// validUTF8 reports whether every string survives JSON unchanged (JSON
// replaces invalid UTF-8).
func validUTF8(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// FuzzJournal writes arbitrary events to a journal with Emit, a marker with
// Mark (gonogo mark) and one through the HTTP endpoint (POST /events):
// Emit and Mark refuse only what they document (no kind, an end before the
// start, no message), the endpoint answers 204 or 400, and every line they
// write is one analyze.ReadEvents accepts, holding what was written.
func FuzzJournal(f *testing.F) {
	f.Add("fault", "gpu", "chaos", "slow GPU", "factor=3;node=a", int64(0), int64(time.Second), true, "deploy v2", `{"message":"m","attrs":{"a":"b"}}`)
	f.Add("", "", "", "", "", int64(-1), int64(-1), true, "", "")
	f.Add("k", "", "", "", "=;=", int64(1), int64(0), false, "\xff\n\"", "  note  ")
	f.Add("flip", "t\x00", "s", "m\u2028", "a=\xfe", int64(-9e18), int64(9e18), true, " ", `{"message":"","schema":9,"kind":"x","end":"2000-01-01T00:00:00Z"}`)
	f.Add("run", "", "run", "x", "", int64(0), int64(0), false, "m", `{"message":1}`)
	f.Add("step", "", "", "", "", int64(0), int64(0), false, "m", `{"message":"x","time":"bad"} `+strings.Repeat("y", maxMarkerBytes))
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, kind, target, source, message, attrs string, atNanos, spanNanos int64, span bool, mark, body string) {
		dir := rundir.Dir(t.TempDir())
		if err := os.WriteFile(dir.Path(rundir.Run), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		j, err := OpenJournal(dir)
		if err != nil {
			t.Fatal(err)
		}
		e := gonogo.Event{Time: start.Add(time.Duration(atNanos)), Kind: kind, Target: target, Source: source, Message: message, Attrs: fuzzAttrs(attrs)}
		if atNanos == 0 {
			e.Time = time.Time{} // Emit stamps it
		}
		if span {
			end := e.Time.Add(time.Duration(spanNanos))
			e.End = &end
		}
		want := 0
		err = j.Emit(e)
		// A span of an event Emit stamps ends near year 1, before now.
		refuse := kind == "" || (span && (e.Time.IsZero() || spanNanos < 0))
		if (err != nil) != refuse {
			t.Fatalf("Emit(%+v) = %v", e, err)
		}
		if err == nil {
			want++
		}

		// The endpoint, as a loopback client posts to it.
		r := &Run{journal: j}
		req := httptest.NewRequest(http.MethodPost, "/events", strings.NewReader(body))
		req.RemoteAddr = "127.0.0.1:40000"
		rec := httptest.NewRecorder()
		r.postMarker(rec, req)
		switch rec.Code {
		case http.StatusNoContent:
			want++
		case http.StatusBadRequest:
		default:
			t.Fatalf("POST /events %q: status %d: %s", body, rec.Code, rec.Body)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}

		err = Mark(dir, mark, fuzzAttrs(attrs))
		if (err != nil) != (mark == "") {
			t.Fatalf("Mark(%q) = %v", mark, err)
		}
		if err == nil {
			want++
		}

		events := journalEvents(t, dir)
		if len(events) != want {
			t.Fatalf("journal holds %d events, want %d", len(events), want)
		}
		i := 0
		if refuse {
			i = -1
		} else {
			got := events[0]
			wantSource := source
			if wantSource == "" {
				wantSource = SourceRun
			}
			if !e.Time.IsZero() && !got.Time.Equal(e.Time) || span && (got.End == nil || !got.End.Equal(*e.End)) || !span && got.End != nil {
				t.Fatalf("Emit wrote times %v–%v for %+v", got.Time, got.End, e)
			}
			if validUTF8(kind, target, source, message, attrs) && (got.Kind != kind || got.Source != wantSource ||
				got.Target != target || got.Message != message || !maps.Equal(got.Attrs, e.Attrs)) {
				t.Fatalf("Emit wrote %+v for %+v", got, e)
			}
		}
		if rec.Code == http.StatusNoContent {
			i++
			if got := events[i]; got.Kind != gonogo.EventMarker || got.Source != SourceMarker || got.Message == "" || got.End != nil {
				t.Fatalf("POST /events %q wrote %+v", body, got)
			}
		}
		if mark != "" {
			got := events[len(events)-1]
			if got.Kind != gonogo.EventMarker || got.Source != SourceMarker {
				t.Fatalf("Mark wrote %+v", got)
			}
			if validUTF8(mark, attrs) && (got.Message != mark || !maps.Equal(got.Attrs, fuzzAttrs(attrs))) {
				t.Fatalf("Mark(%q, %q) wrote %+v", mark, attrs, got)
			}
		}
	})
}
