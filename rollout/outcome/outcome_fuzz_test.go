package outcome

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// checkRead reads src and checks what any input must give: events that
// are valid, in line order, or one input error naming the file and a
// line; it returns the events.
func checkRead(t *testing.T, f Format, src []byte) ([]Event, bool) {
	t.Helper()
	var evs []Event
	err := Read(bytes.NewReader(src), "fz", f, now, func(ev Event) error {
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		var e *input.Error
		if !errors.As(err, &e) || e.File != "fz" || !strings.HasPrefix(err.Error(), "fz:") || e.Msg == "" {
			t.Fatalf("error %v (%T), want an *input.Error of file fz", err, err)
		}
		if e.Line < 0 || e.Line > bytes.Count(src, []byte("\n"))+1 {
			t.Fatalf("error on line %d of a %d-line input: %v", e.Line, bytes.Count(src, []byte("\n"))+1, err)
		}
		return nil, false
	}
	last := 0
	for _, ev := range evs {
		if ev.User == "" || ev.Metric == "" || !utf8.ValidString(ev.Metric) || math.IsNaN(ev.Value) || math.IsInf(ev.Value, 0) ||
			ev.Time.IsZero() || ev.Line <= last {
			t.Fatalf("invalid event %+v after line %d", ev, last)
		}
		last = ev.Line
	}
	return evs, true
}

// sameEvents compares events but their lines.
func sameEvents(t *testing.T, got, want []Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d events after the round trip, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) || g.ID != w.ID || g.User != w.User || g.Metric != w.Metric || g.Value != w.Value {
			t.Fatalf("event %d: %+v after the round trip, want %+v", i, g, w)
		}
	}
}

// FuzzNDJSON reads arbitrary input as NDJSON and writes what it read back
// as NDJSON, which must read the same.
func FuzzNDJSON(f *testing.F) {
	f.Add([]byte(`{"id":"e1","user":"u1","metric":"purchase","value":1,"time":"2026-12-01T10:00:00Z"}` + "\n"))
	f.Add([]byte(`{"user":"u","metric":"m","value":-1.5e-3,"time":null,"id":null}` + "\r\n\n" + `{"user":"v","metric":"m","value":0}`))
	f.Add([]byte(`{"user":"u","metric":"m","value":"1"}`))
	f.Add([]byte(`{"user":"\u00e9\ud800","metric":"m\u0000","value":1e308,"time":"2262-04-11T23:47:16.854775807Z"}`))
	f.Add([]byte(`{"user":"u","metric":"m","value":1,"time":"1677-09-21T00:12:43.145224192-00:01"}`))
	f.Add([]byte("\uFEFF[]\nnull\n{}"))
	f.Add([]byte(`{"user":"u","metric":"m","value":1,"extra":{}}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		evs, ok := checkRead(t, NDJSON, src)
		if !ok {
			return
		}
		var b bytes.Buffer
		for _, ev := range evs {
			line, err := json.Marshal(map[string]any{"id": ev.ID, "user": ev.User, "metric": ev.Metric,
				"value": ev.Value, "time": ev.Time.Format(time.RFC3339Nano)})
			if err != nil {
				t.Fatal(err)
			}
			b.Write(line)
			b.WriteByte('\n')
		}
		again, ok := checkRead(t, NDJSON, b.Bytes())
		if !ok {
			t.Fatalf("the events read do not read back:\n%s", b.Bytes())
		}
		sameEvents(t, again, evs)
	})
}

// FuzzCSV reads arbitrary input as CSV and writes what it read back as
// CSV, which must read the same.
func FuzzCSV(f *testing.F) {
	f.Add([]byte("id,user,metric,value,time\ne1,u1,purchase,1,2026-12-01T10:00:00Z\n,u2,revenue,-2.5,\n"))
	f.Add([]byte("value,metric,user\r\n3,m,\"u,1\"\r\n"))
	f.Add([]byte("user,metric,value\n\"a\nb\",m,1e-400\n"))
	f.Add([]byte("\uFEFFUSER , metric,VALUE,id\n u , m , 0x1p-2 , x \n"))
	f.Add([]byte("user,metric,value\nu,m,NaN\n"))
	f.Add([]byte("user,metric\nu,m\n"))
	f.Add([]byte("user,metric,value,time\nu,m,1,2026-12-01T10:00:00.123456789+05:30\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		evs, ok := checkRead(t, CSV, src)
		if !ok {
			return
		}
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		rows := [][]string{{"id", "user", "metric", "value", "time"}}
		for _, ev := range evs {
			rows = append(rows, []string{ev.ID, ev.User, ev.Metric, strconv.FormatFloat(ev.Value, 'g', -1, 64), ev.Time.Format(time.RFC3339Nano)})
		}
		if err := w.WriteAll(rows); err != nil {
			t.Fatal(err)
		}
		again, ok := checkRead(t, CSV, b.Bytes())
		if !ok {
			t.Fatalf("the events read do not read back:\n%q", b.Bytes())
		}
		sameEvents(t, again, evs)
	})
}
