package k6

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/gonogo-dev/gonogo/analyze"
)

// FuzzImport feeds arbitrary input to Import: it must not panic, must fail
// only with input errors, and what it records must add up in the summary,
// the timeline and the interval log alike.
func FuzzImport(f *testing.F) {
	sample, err := os.ReadFile(sampleFile)
	if err != nil {
		f.Fatal(err)
	}
	lines := bytes.SplitAfter(sample, []byte("\n"))
	f.Add(bytes.Join(lines[:40], nil), false)
	f.Add(bytes.Join(lines[150:175], nil), true)
	f.Add([]byte(k6line(MetricReqFailed, 5, 1, map[string]string{"status": "0", "error_code": "1050"})+"\n"+
		k6line(MetricReqDuration, 5, 30000, map[string]string{"status": "0", "error_code": "1050"})+"\n"+
		k6line(MetricDroppedIterations, 2, 3, map[string]string{"scenario": "x"})+"\n"+
		k6line(MetricReqDuration, 9e6, 1, nil)+"\n"), false)
	f.Add([]byte(`{"type":"Point","metric":"vus","data":{"time":"2024-01-01T10:00:00Z","value":1,"tags":null}}`+"\n{oops\n"), true)
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00}, false)
	// Every empty interval costs an encoded histogram; keep gaps cheap.
	saved := maxEmptyIntervals
	maxEmptyIntervals = 20
	f.Cleanup(func() { maxEmptyIntervals = saved })
	f.Fuzz(func(t *testing.T, data []byte, skipBad bool) {
		var hlog, tl bytes.Buffer
		imp, err := Import(bytes.NewReader(data), Options{SkipBad: skipBad, IntervalLog: &hlog, Timeline: &tl})
		if err != nil {
			if !errors.Is(err, ErrInput) {
				t.Fatalf("error not about the input: %v", err)
			}
			return
		}
		st := imp.Stats
		s := imp.Summary()
		o := s.Overall.Requests
		if o.Total != st.Requests || o.Total-o.OK != st.Failed || o.Dropped != st.Dropped {
			t.Fatalf("summary %+v disagrees with stats %+v", o, st)
		}
		if st.Requests+st.Unpaired > st.Points || (!skipBad && st.Skipped > 0) {
			t.Fatalf("stats do not add up: %+v", st)
		}
		if imp.End.Before(imp.Start) {
			t.Fatalf("end %v before start %v", imp.End, imp.Start)
		}
		pts, err := analyze.ReadTimeline(&tl)
		if err != nil {
			t.Fatalf("timeline: %v", err)
		}
		var req, failed, dropped int64
		for _, p := range pts {
			req, failed, dropped = req+p.Requests, failed+p.Failed, dropped+p.Dropped
			if p.EndS < p.StartS {
				t.Fatalf("timeline interval ends before it starts: %+v", p)
			}
		}
		if req != st.Requests || failed != st.Failed || dropped != st.Dropped {
			t.Fatalf("timeline sums %d/%d/%d, stats %+v", req, failed, dropped, st)
		}
		cum, err := analyze.ReadCumulative(&hlog)
		if err != nil {
			t.Fatalf("interval log: %v", err)
		}
		var n int64
		if h := cum[analyze.HistKey(analyze.Overall, analyze.MetricLatency)]; h != nil {
			n = h.TotalCount()
		}
		if n != st.Requests-st.Failed {
			t.Fatalf("interval log holds %d latencies, want %d (the successful requests)", n, st.Requests-st.Failed)
		}
	})
}
