package outcome

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/internal/input"
)

var (
	now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	t1  = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
)

// readAll reads every event of src.
func readAll(f Format, src string) ([]Event, error) {
	var evs []Event
	err := Read(strings.NewReader(src), "f", f, now, func(ev Event) error {
		evs = append(evs, ev)
		return nil
	})
	return evs, err
}

func TestReadGood(t *testing.T) {
	want := []Event{
		{ID: "e1", User: "u1", Metric: "purchase", Value: 1, Time: t1},
		{User: "u 2", Metric: "revenue", Value: -12.5, Time: now},
		{ID: "e3", User: "u3", Metric: "rating", Value: 4e3, Time: time.Date(2026, 12, 1, 11, 30, 0, 500_000_000, time.FixedZone("", 3600))},
	}
	for _, c := range []struct {
		name   string
		format Format
		lines  []int
		src    string
	}{
		{"ndjson", NDJSON, []int{1, 2, 4}, "\uFEFF" + `{"id":"e1","user":"u1","metric":"purchase","value":1,"time":"2026-12-01T10:00:00Z"}
{"user":"u 2","metric":"revenue","value":-12.5,"time":null,"id":null}
   ` + "\r" + `
{"time":"2026-12-01T11:30:00.5+01:00","value":4E3,"metric":"rating","user":"u3","id":"e3"}` + "\r\n"},
		{"csv", CSV, []int{2, 3, 5}, "\uFEFFID, User ,metric,value,time\r\n" +
			"e1,u1,purchase,1,2026-12-01T10:00:00Z\n" +
			`,"u 2",revenue, -12.5 ,` + "\n\n" +
			"e3,u3,rating,4e3,2026-12-01T11:30:00.5+01:00\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := readAll(c.format, c.src)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
			}
			for i := range got {
				g, w := got[i], want[i]
				if !g.Time.Equal(w.Time) {
					t.Errorf("event %d: time %s, want %s", i, g.Time, w.Time)
				}
				g.Time, w.Time = time.Time{}, time.Time{}
				w.Line = c.lines[i]
				if g != w {
					t.Errorf("event %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
	// Columns in another order, without the optional ones.
	got, err := readAll(CSV, "value,metric,user\n3,m,u\n")
	if err != nil || len(got) != 1 || got[0] != (Event{User: "u", Metric: "m", Value: 3, Time: now, Line: 2}) {
		t.Errorf("value,metric,user: %+v, %v", got, err)
	}
	// Empty input: no events.
	if got, err := readAll(NDJSON, "\n  \n"); err != nil || len(got) != 0 {
		t.Errorf("blank NDJSON: %+v, %v", got, err)
	}
	if got, err := readAll(CSV, "user,metric,value\n"); err != nil || len(got) != 0 {
		t.Errorf("header-only CSV: %+v, %v", got, err)
	}
}

func TestReadBad(t *testing.T) {
	good := `{"user":"u","metric":"m","value":1}` + "\n"
	for _, c := range []struct {
		name   string
		format Format
		src    string
		want   string
	}{
		{"not JSON", NDJSON, good + "{user: 1}\n", "f:2: not JSON: invalid character 'u' looking for beginning of object key string"},
		{"an array", NDJSON, "[1]\n", "f:1: want a JSON object"},
		{"null", NDJSON, good + good + "null\n", "f:3: want a JSON object"},
		{"trailing data", NDJSON, `{"user":"u","metric":"m","value":1} {}`, "f:1: not JSON: invalid character '{' after top-level value"},
		{"unknown field", NDJSON, `{"user":"u","metric":"m","value":1,"valeu":2}`, "f:1: valeu: unknown field (want id, user, metric, value, time)"},
		{"no user", NDJSON, `{"metric":"m","value":1}`, "f:1: user: missing"},
		{"empty user", NDJSON, `{"user":"","metric":"m","value":1}`, "f:1: user: missing"},
		{"numeric user", NDJSON, `{"user":12,"metric":"m","value":1}`, "f:1: user: want a string (got 12)"},
		{"no metric", NDJSON, `{"user":"u","value":1}`, "f:1: metric: missing"},
		{"no value", NDJSON, `{"user":"u","metric":"m"}`, "f:1: value: missing"},
		{"null value", NDJSON, `{"user":"u","metric":"m","value":null}`, "f:1: value: missing"},
		{"quoted value", NDJSON, `{"user":"u","metric":"m","value":"1"}`, `f:1: value: want a number (got "1")`},
		{"boolean value", NDJSON, `{"user":"u","metric":"m","value":true}`, "f:1: value: want a number (got true)"},
		{"huge value", NDJSON, `{"user":"u","metric":"m","value":1e400}`, "f:1: value: out of range (got 1e400)"},
		{"numeric id", NDJSON, `{"id":7,"user":"u","metric":"m","value":1}`, "f:1: id: want a string (got 7)"},
		{"bad time", NDJSON, `{"user":"u","metric":"m","value":1,"time":"yesterday"}`, `f:1: time: want an RFC 3339 time such as 2026-12-01T10:00:00Z (got "yesterday")`},
		{"empty time", NDJSON, `{"user":"u","metric":"m","value":1,"time":""}`, `f:1: time: want an RFC 3339 time such as 2026-12-01T10:00:00Z (got "")`},
		{"numeric time", NDJSON, `{"user":"u","metric":"m","value":1,"time":1764583200}`, "f:1: time: want an RFC 3339 time string (got 1764583200)"},
		{"time out of range", NDJSON, `{"user":"u","metric":"m","value":1,"time":"2300-01-01T00:00:00Z"}`, `f:1: time: out of range (years 1678 to 2262) (got "2300-01-01T00:00:00Z")`},
		{"line too long", NDJSON, good + `{"user":"` + strings.Repeat("x", MaxLineBytes) + `"}`, "f:2: line longer than 1048576 bytes"},

		{"empty CSV", CSV, "", "f: empty: want a header row of user, metric, value and optional id, time"},
		{"unknown column", CSV, "user,metric,value,price\n", "f:1: price: unknown column (want id, user, metric, value, time)"},
		{"column twice", CSV, "user,metric,value,User\n", "f:1: user: column given twice"},
		{"missing column", CSV, "user,value,time\n", "f:1: metric: missing column"},
		{"NaN", CSV, "user,metric,value\nu,m,1\nu,m,NaN\n", `f:3: value: want a finite number (got NaN)`},
		{"infinity", CSV, "user,metric,value\nu,m,-Inf\n", `f:2: value: want a finite number (got -Inf)`},
		{"not a number", CSV, "user,metric,value\nu,m,1,5\n", "f:2: want 3 fields, as the header (user,metric,value)"},
		{"words", CSV, "user,metric,value\nu,m,one\n", `f:2: value: want a number (got "one")`},
		{"overflow", CSV, "user,metric,value\nu,m,2e308\n", `f:2: value: out of range (got 2e308)`},
		{"empty value", CSV, "user,metric,value\nu,m, \n", "f:2: value: missing"},
		{"empty user", CSV, "user,metric,value\n,m,1\n", "f:2: user: missing"},
		{"metric not UTF-8", CSV, "user,metric,value\nu,m\xff,1\n", "f:2: metric: not valid UTF-8"},
		{"bad time", CSV, "user,metric,value,time\nu,m,1,2026-13-01T00:00:00Z\n", `f:2: time: want an RFC 3339 time such as 2026-12-01T10:00:00Z (got "2026-13-01T00:00:00Z")`},
		{"bare quote", CSV, "user,metric,value\nu,m\"x,1\n", `f:2: bare " in non-quoted-field`},
		{"line break in a user", CSV, "user,metric,value\n\"u\nv\",m,x\n", `f:2: user: contains a control character`},
		{"control character in a metric", NDJSON, `{"user":"u","metric":"m\u0007","value":1}` + "\n", `f:1: metric: contains a control character`},
		{"carriage return in an id", CSV, "id,user,metric,value\n\"e\r1\",u,m,1\n", `f:2: id: contains a control character`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := readAll(c.format, c.src)
			if err == nil || err.Error() != c.want || !errors.Is(err, input.ErrInput) {
				t.Errorf("got %v\nwant %s (an input error)", err, c.want)
			}
		})
	}
}

func TestReadStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := ReadNDJSON(strings.NewReader(strings.Repeat(`{"user":"u","metric":"m","value":1}`+"\n", 5)), "f", now, func(Event) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Errorf("%d events, %v; want 2, the callback's error as is", n, err)
	}
}

func TestDefaultTimeIsNow(t *testing.T) {
	before := time.Now()
	var got []Event
	err := ReadCSV(strings.NewReader("user,metric,value\nu,m,1\nv,m,2\n"), "f", time.Time{}, func(ev Event) error {
		got = append(got, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Time.Before(before) || got[0].Time.After(time.Now()) || !got[0].Time.Equal(got[1].Time) {
		t.Errorf("events without time: %+v, want one instant of the read", got)
	}
}

func TestFormatOf(t *testing.T) {
	for file, want := range map[string]Format{"a.csv": CSV, "A.CSV": CSV, "x.ndjson": NDJSON, "x.jsonl": NDJSON, "dir.d/x.json": NDJSON} {
		if got, err := FormatOf(file); err != nil || got != want {
			t.Errorf("FormatOf(%q) = %v, %v; want %v", file, got, err, want)
		}
	}
	for _, file := range []string{"x.txt", "x", "csv"} {
		if _, err := FormatOf(file); !errors.Is(err, input.ErrInput) {
			t.Errorf("FormatOf(%q): %v, want an input error", file, err)
		}
	}
}

// onlyReader hides a reader's Seek: a stream.
type onlyReader struct{ io.Reader }

// lines returns n NDJSON events, the one on line bad (1-based) broken.
func lines(n, bad int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i == bad {
			b.WriteString(`{"user":"u","metric":"m","value":"x"}` + "\n")
			continue
		}
		b.WriteString(`{"user":"u","metric":"m","value":1}` + "\n")
	}
	return b.String()
}

func TestImport(t *testing.T) {
	type call struct{ first, n int }
	record := func(calls *[]call) func(context.Context, []Event) error {
		return func(_ context.Context, b []Event) error {
			*calls = append(*calls, call{b[0].Line, len(b)})
			return nil
		}
	}
	opts := ImportOptions{BatchSize: 3, Now: now}
	for _, c := range []struct {
		name      string
		r         io.Reader
		wantN     int
		wantCalls []call
		wantErr   string
	}{
		{"good file", strings.NewReader(lines(10, 0)), 10, []call{{1, 3}, {4, 3}, {7, 3}, {10, 1}}, ""},
		{"good stream", onlyReader{strings.NewReader(lines(10, 0))}, 10, []call{{1, 3}, {4, 3}, {7, 3}, {10, 1}}, ""},
		{"bad file: nothing stored", bytes.NewReader([]byte(lines(10, 8))), 0, nil,
			`o.ndjson:8: value: want a number (got "x")`},
		{"bad stream: what came before stored", onlyReader{strings.NewReader(lines(10, 8))}, 7, []call{{1, 3}, {4, 3}, {7, 1}},
			`o.ndjson:8: value: want a number (got "x"); the 7 events before it were stored`},
		{"bad first line of a stream", onlyReader{strings.NewReader(lines(3, 1))}, 0, nil,
			`o.ndjson:1: value: want a number (got "x"); the 0 events before it were stored`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var calls []call
			n, err := Import(context.Background(), c.r, "o.ndjson", opts, record(&calls))
			if n != c.wantN || !reflect.DeepEqual(calls, c.wantCalls) {
				t.Errorf("stored %d in %v, want %d in %v", n, calls, c.wantN, c.wantCalls)
			}
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("error %v", err)
			case c.wantErr != "" && (err == nil || err.Error() != c.wantErr || !errors.Is(err, input.ErrInput)):
				t.Errorf("error %v, want the input error %s", err, c.wantErr)
			}
		})
	}

	// A store that fails stops the import and says where.
	failing := errors.New("disk full")
	calls := 0
	n, err := Import(context.Background(), strings.NewReader(lines(10, 0)), "o.ndjson", opts, func(context.Context, []Event) error {
		if calls++; calls == 2 {
			return failing
		}
		return nil
	})
	if n != 3 || !errors.Is(err, failing) || !strings.Contains(err.Error(), "lines 4 to 6") || errors.Is(err, input.ErrInput) {
		t.Errorf("a failing store: %d stored, %v", n, err)
	}
	// A CSV by its name, and a name of no known format.
	n, err = Import(context.Background(), strings.NewReader("user,metric,value\nu,m,1\n"), "o.csv", ImportOptions{}, func(context.Context, []Event) error { return nil })
	if n != 1 || err != nil {
		t.Errorf("a CSV file: %d, %v", n, err)
	}
	if _, err := Import(context.Background(), strings.NewReader(""), "o.txt", ImportOptions{}, nil); !errors.Is(err, input.ErrInput) {
		t.Errorf("a .txt file: %v, want an input error", err)
	}
}

func TestValueFinite(t *testing.T) {
	for _, s := range []string{"NaN", "nan", "Inf", "+Inf", "-infinity", "1e999"} {
		if v, msg := parseValue(s); msg == "" {
			t.Errorf("parseValue(%q) = %v, want refused", s, v)
		}
	}
	if v, msg := parseValue("1e-400"); msg != "" || v != 0 {
		t.Errorf("an underflow: %v %q, want 0", v, msg)
	}
	if v, msg := parseValue("-0.25"); msg != "" || v != -0.25 || math.Signbit(v) != true {
		t.Errorf("parseValue(-0.25) = %v %q", v, msg)
	}
}

// An event without an id gets one from its content and its occurrence:
// the same file read twice gives the same ids, identical events in one
// file differ, and an event with an id keeps it.
func TestContentIDs(t *testing.T) {
	src := `{"user":"u1","metric":"m","value":1,"time":"2026-12-01T10:00:00Z"}
{"user":"u1","metric":"m","value":1,"time":"2026-12-01T10:00:00Z"}
{"user":"u1","metric":"m","value":2,"time":"2026-12-01T10:00:00Z"}
{"user":"u1","metric":"m","value":1,"time":"2026-12-01T10:00:01Z"}
{"user":"u1m","metric":"m","value":1,"time":"2026-12-01T10:00:00Z"}
{"user":"u1","metric":"mm","value":1,"time":"2026-12-01T10:00:00Z"}
{"id":"kept","user":"u1","metric":"m","value":1,"time":"2026-12-01T10:00:00Z"}
{"user":"u2","metric":"m","value":-0,"time":"2026-12-01T10:00:00Z"}
{"user":"u2","metric":"m","value":0,"time":"2026-12-01T10:00:00Z"}
`
	read := func() []string {
		var ids []string
		_, err := Import(context.Background(), strings.NewReader(src), "o.ndjson", ImportOptions{Now: now}, func(_ context.Context, b []Event) error {
			for _, e := range b {
				ids = append(ids, e.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	first, second := read(), read()
	if !reflect.DeepEqual(first, second) {
		t.Errorf("ids differ between two reads:\n%q\n%q", first, second)
	}
	if first[6] != "kept" {
		t.Errorf("an event's own id became %q", first[6])
	}
	seen := map[string]int{}
	for i, id := range first[:6] {
		if j, ok := seen[id]; ok {
			t.Errorf("events %d and %d share the id %q", j+1, i+1, id)
		}
		seen[id] = i
	}
	if first[7][:len(first[7])-2] != first[8][:len(first[8])-2] || first[7] == first[8] {
		t.Errorf("-0 and 0: ids %q and %q, want the same content, two occurrences", first[7], first[8])
	}
}
