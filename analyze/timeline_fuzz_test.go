package analyze

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// lineRE finds the line an NDJSON reader error names.
var lineRE = regexp.MustCompile(`: line (\d+): `)

// checkLineError checks that err wraps ErrTimeline and names a line of src
// at or after the points read: the first line that was not read.
func checkLineError(t *testing.T, src string, read int, err error) {
	t.Helper()
	if !errors.Is(err, ErrTimeline) {
		t.Fatalf("error %v does not wrap ErrTimeline", err)
	}
	m := lineRE.FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("error %q does not name the line", err)
	}
	n, _ := strconv.Atoi(m[1])
	if lines := strings.Count(src, "\n") + 1; n < 1 || n > lines || n <= read {
		t.Fatalf("error %q names line %d; the input has %d lines and %d records were read", err, n, lines, read)
	}
}

// recordedTimeline records a short run of two intervals with a scenario and
// a tag, returning its timeline and the latency lines of its interval log.
// The fuzzing engine minimizes every input that finds new code, running it
// again for every byte it tries to remove: keep these seeds small.
func recordedTimeline(f *testing.F) (timeline, hlog string) {
	f.Helper()
	var tl, log bytes.Buffer
	r, err := NewRecorder(Config{Start: t0, IntervalLog: &log, Timeline: &tl})
	if err != nil {
		f.Fatal(err)
	}
	for sec := range 2 {
		for i := range 4 {
			res := result("chat", t0.Add(time.Duration(sec)*time.Second+time.Duration(i)*time.Millisecond), 0, time.Duration(i+1)*time.Millisecond)
			res.Request.Tags = map[string]string{"version": "v" + strconv.Itoa(1+i%2)}
			if i == 3 {
				res.Class = gonogo.ErrHTTP5xx
			}
			r.Record(res)
		}
		if err := r.Flush(t0.Add(time.Duration(sec+1) * time.Second)); err != nil {
			f.Fatal(err)
		}
	}
	if err := r.Close(t0.Add(2 * time.Second)); err != nil {
		f.Fatal(err)
	}
	var lines []string
	for _, l := range strings.SplitAfter(log.String(), "\n") {
		if strings.HasPrefix(l, "#[StartTime") || strings.HasPrefix(l, "#[BaseTime") ||
			strings.HasPrefix(l, "Tag=latency,") || strings.HasPrefix(l, "Tag=tag:version=v2/latency,") {
			lines = append(lines, l)
		}
	}
	return tl.String(), strings.Join(lines, "")
}

// FuzzReadTimeline feeds arbitrary timelines: ReadTimeline must never
// panic, its errors name the line, and the points it reads encode back to
// lines it reads the same.
func FuzzReadTimeline(f *testing.F) {
	tl, _ := recordedTimeline(f)
	f.Add(tl)
	for _, s := range []string{
		`{"start_s":0,"end_s":1,"requests":3,"failed":1,"by_class":{"timeout":1},"groups":{"scenario:a":{"requests":3,"goodput":{"k":2}}}}` + "\n\n" + `{"start_s":1,"end_s":2}`,
		`{"start_s":1e300,"end_s":-1e300,"requests":-1,"groups":{}}`,
		`{"start_s":0}` + "\n" + `{"start_s":"x"}` + "\n",
		"[]\n",
		`{"groups":{"overall":null}}` + "\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, timeline string) {
		points, err := ReadTimeline(strings.NewReader(timeline))
		if err != nil {
			checkLineError(t, timeline, len(points), err)
		}
		var enc bytes.Buffer
		for _, p := range points {
			if err := json.NewEncoder(&enc).Encode(p); err != nil {
				t.Fatalf("point %+v does not encode: %v", p, err)
			}
		}
		back, err := ReadTimeline(bytes.NewReader(enc.Bytes()))
		if err != nil || len(back) != len(points) {
			t.Fatalf("read back %d of %d points: %v", len(back), len(points), err)
		}
		for i := range back {
			a, _ := json.Marshal(points[i])
			b, _ := json.Marshal(back[i])
			if !bytes.Equal(a, b) {
				t.Fatalf("point %d: %s read back as %s", i, a, b)
			}
		}
	})
}

// FuzzReadSlices feeds arbitrary timelines and interval logs to
// ReadSlices: it must never panic, and gives one slice per point, in the
// timeline's order, each with the overall group, whose counts are the
// point's (unless the point also names a group "", the overall key). Only latency histograms are decoded, to keep each input fast.
func FuzzReadSlices(f *testing.F) {
	tl, hlog := recordedTimeline(f)
	f.Add(tl, hlog)
	f.Add(`{"start_s":0,"end_s":1,"requests":2,"groups":{"overall":{"requests":5}}}`, hlog)
	f.Add(`{"start_s":1,"end_s":2}`+"\n"+`{"start_s":0,"end_s":1}`, hlog)
	f.Add(`{"start_s":-9.3e12,"end_s":9.3e12}`, hlog)
	f.Add(`{"start_s":0,"end_s":1}`, "#[StartTime: 1000.5 (seconds since epoch)]\nTag=latency,0.0,1.0,1.0,HISTFAAAAA\n")
	f.Add(`{"start_s":0,"end_s":1}`, "garbage,line\n")
	f.Fuzz(func(t *testing.T, timeline, hlog string) {
		points, _ := ReadTimeline(strings.NewReader(timeline))
		ordered := true
		for i := 1; i < len(points); i++ {
			ordered = ordered && points[i].StartS >= points[i-1].StartS
		}
		slices, err := ReadSlices(points, t0, strings.NewReader(hlog), func(_, metric string) bool { return metric == MetricLatency })
		if err != nil {
			if !errors.Is(err, ErrIntervalLog) {
				t.Fatalf("error %v does not wrap ErrIntervalLog", err)
			}
			return
		}
		if len(slices) != len(points) {
			t.Fatalf("%d slices of %d points", len(slices), len(points))
		}
		for i, sl := range slices {
			og := sl.Groups[Overall]
			if og == nil {
				t.Fatalf("slice %d has no overall group", i)
			}
			if _, named := points[i].Groups[Overall]; !named && !reflect.DeepEqual(og.Counts, points[i].Counts) {
				t.Fatalf("slice %d counts %+v, point %+v", i, og.Counts, points[i].Counts)
			}
			if ordered && i > 0 && sl.Start.Before(slices[i-1].Start) && inRange(points[i].StartS) && inRange(points[i-1].StartS) {
				t.Fatalf("slice %d starts at %v, before slice %d at %v (points at %v s, %v s)", i, sl.Start, i-1, slices[i-1].Start, points[i].StartS, points[i-1].StartS)
			}
		}
	})
}

// inRange reports whether an offset in seconds fits a time.Duration from
// the run's start (about ±292 years).
func inRange(s float64) bool { return s > -9e9 && s < 9e9 }

// FuzzReadEvents feeds arbitrary journals: ReadEvents must never panic, its
// errors name the line, every event it returns passes the checks it
// documents (schema, time, kind, a span's end not before its start), and
// the events it reads encode back to a journal it reads the same.
func FuzzReadEvents(f *testing.F) {
	end := t0.Add(time.Second)
	var seed bytes.Buffer
	for _, e := range []gonogo.Event{
		{Schema: gonogo.EventSchema, Time: t0, End: &end, Kind: gonogo.EventFault, Target: "gpu", Source: "chaos", Message: "slow GPU", Attrs: map[string]string{"factor": "3"}},
		{Schema: gonogo.EventSchema, Time: t0, Kind: gonogo.EventMarker, Source: "marker", Message: "deploy\n\"v2\""},
	} {
		b, _ := json.Marshal(e)
		seed.Write(append(b, '\n'))
	}
	f.Add(seed.String())
	for _, s := range []string{
		`{"schema":1,"time":"2026-03-01T12:00:00Z","kind":"x","end":"2026-03-01T11:59:59Z"}`,
		`{"schema":1,"time":"2026-03-01T12:00:00+02:00","kind":"x","end":"2026-03-01T10:00:00Z"}`,
		`{"schema":2,"time":"2026-03-01T12:00:00Z","kind":"x"}`,
		`{"schema":1,"time":"0001-01-01T00:00:00Z","kind":"x"}`,
		`{"schema":1,"time":"2026-03-01T12:00:00Z","kind":""}` + "\n\n",
		`{"schema":1,"time":"2026-03-01T12:00:00Z","kind":"k","end":null,"attrs":{"a":1}}`,
		"\n\n{oops\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		events, err := ReadEvents(strings.NewReader(src))
		if err != nil {
			checkLineError(t, src, len(events), err)
		}
		var enc bytes.Buffer
		for _, e := range events {
			switch {
			case e.Schema != gonogo.EventSchema, e.Time.IsZero(), e.Kind == "", e.End != nil && e.End.Before(e.Time):
				t.Fatalf("accepted invalid event %+v", e)
			}
			b, err := json.Marshal(e)
			if err != nil {
				// A time read with an offset may fall outside years
				// 0–9999 in UTC: it cannot be written again.
				if !strings.Contains(err.Error(), "year outside of range") {
					t.Fatalf("event %+v does not encode: %v", e, err)
				}
				return
			}
			enc.Write(append(b, '\n'))
		}
		back, err := ReadEvents(bytes.NewReader(enc.Bytes()))
		if err != nil || len(back) != len(events) {
			t.Fatalf("read back %d of %d events: %v", len(back), len(events), err)
		}
		for i := range back {
			a, _ := json.Marshal(events[i])
			b, _ := json.Marshal(back[i])
			if !bytes.Equal(a, b) {
				t.Fatalf("event %d: %s read back as %s", i, a, b)
			}
		}
	})
}

// TestReadNDJSONLongLine: a line over the reader's limit is an error that
// names it, as every other error of ReadTimeline and ReadEvents does (it
// named none).
func TestReadNDJSONLongLine(t *testing.T) {
	src := "\n\n" + strings.Repeat(" ", maxLogLine+1) + "\n"
	for name, read := range map[string]func() (int, error){
		"timeline": func() (int, error) { p, err := ReadTimeline(strings.NewReader(src)); return len(p), err },
		"events":   func() (int, error) { e, err := ReadEvents(strings.NewReader(src)); return len(e), err },
	} {
		t.Run(name, func(t *testing.T) {
			_, err := read()
			if err == nil || !strings.Contains(err.Error(), ": line 3: ") {
				t.Fatalf("err = %v, want one naming line 3", err)
			}
			checkLineError(t, src, 0, err)
		})
	}
}
