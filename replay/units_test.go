package replay_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/replay"
)

// rowsEvery writes n rows whose timestamps are k·step (as line formats
// them), from 0.
func rowsEvery(n int, header string, line func(ts string, i int) string, ts func(i int) string) string {
	var b strings.Builder
	if header != "" {
		b.WriteString(header + "\n")
	}
	for i := range n {
		b.WriteString(line(ts(i), i) + "\n")
	}
	return b.String()
}

func jsonlRow(ts string, i int) string {
	return fmt.Sprintf(`{"timestamp":%s,"input_tokens":%d,"output_tokens":5}`, ts, 10+i)
}

func csvRow(ts string, i int) string { return fmt.Sprintf("%s,%d,5", ts, 10+i) }

func mooncakeRow(ts string, i int) string {
	return fmt.Sprintf(`{"timestamp":%s,"input_length":%d,"output_length":5,"hash_ids":[%d]}`, ts, 10+i, i)
}

func every(step float64) func(int) string {
	return func(i int) string { return fmt.Sprint(float64(i) * step) }
}

// The timestamp unit of a trace is inferred from its data where that is
// clear, and questioned where the unit taken gives an implausible rate;
// either way Inspect says which format it took.
func TestTimeUnit(t *testing.T) {
	const csvHeader = "timestamp,input_tokens,output_tokens"
	msJSONL := rowsEvery(20, "", jsonlRow, every(500))
	tests := []struct {
		name, file, content string
		o                   replay.Options
		wantFormat          string
		wantDetected        bool
		wantGap             time.Duration
		wantWarnings        []string
	}{
		{"jsonl, whole milliseconds", "ms.jsonl", msJSONL, replay.Options{}, replay.TimeOffsetMS, true, 500 * time.Millisecond,
			[]string{"FILE: timestamps read as milliseconds from the start (offset-ms): the first 20 are whole numbers 500 apart at the median, which in seconds would make 0.002 req/s; pass --time-format offset-s if they are seconds"}},
		{"csv, whole milliseconds", "ms.csv", rowsEvery(20, csvHeader, csvRow, every(500)), replay.Options{}, replay.TimeOffsetMS, true, 500 * time.Millisecond,
			[]string{"FILE: timestamps read as milliseconds from the start (offset-ms): the first 20 are whole numbers 500 apart at the median, which in seconds would make 0.002 req/s; pass --time-format offset-s if they are seconds"}},
		{"jsonl, decimal seconds", "s.jsonl", rowsEvery(20, "", jsonlRow, every(0.5)), replay.Options{}, replay.TimeOffsetS, true, 500 * time.Millisecond, nil},
		{"csv, whole seconds of busy traffic", "s.csv", rowsEvery(20, csvHeader, csvRow, func(i int) string { return fmt.Sprint(i / 3) }),
			replay.Options{}, replay.TimeOffsetS, true, 0, nil},
		{"csv, whole seconds 5 apart", "s5.csv", rowsEvery(20, csvHeader, csvRow, every(5)), replay.Options{}, replay.TimeOffsetS, true, 5 * time.Second, nil},
		{"too few rows to tell", "two.jsonl", rowsEvery(2, "", jsonlRow, every(500)), replay.Options{}, replay.TimeOffsetS, true, 500 * time.Second, nil},
		{"mooncake, detected", "mooncake.jsonl", rowsEvery(20, "", mooncakeRow, every(300)), replay.Options{}, replay.TimeOffsetMS, false, 300 * time.Millisecond, nil},
		{"mooncake mapped by hand", "mooncake.jsonl", rowsEvery(20, "", mooncakeRow, every(300)),
			replay.Options{Columns: map[string]string{"timestamp": "timestamp", "input_tokens": "input_length", "output_tokens": "output_length"}},
			replay.TimeOffsetMS, false, 300 * time.Millisecond, nil},
		{"milliseconds given as seconds", "ms.jsonl", msJSONL, replay.Options{TimeFormat: replay.TimeOffsetS}, replay.TimeOffsetS, false, 500 * time.Second,
			[]string{"FILE: the first 20 rows span 9,500.0 s at 0.002 req/s, read as offset-s: unusually slow for recorded traffic; if the timestamps are in a finer unit, pass --time-format offset-ms"}},
		{"seconds given as milliseconds", "s.jsonl", rowsEvery(20, "", jsonlRow, every(0.000_5)), replay.Options{TimeFormat: replay.TimeOffsetMS}, replay.TimeOffsetMS, false, 500 * time.Nanosecond,
			[]string{"FILE: the first 20 rows span 9.5µs at 2e+06 req/s, read as offset-ms: unusually fast for recorded traffic; if the timestamps are in a coarser unit, pass --time-format offset-s"}},
		{"epoch milliseconds given as microseconds", "e.csv", rowsEvery(20, csvHeader, csvRow, func(i int) string { return fmt.Sprint(1_700_000_000_000 + 5*i) }),
			replay.Options{TimeFormat: replay.TimeEpochUS}, replay.TimeEpochUS, false, 5 * time.Microsecond,
			[]string{"FILE: the first 20 rows span 95µs at 2e+05 req/s, read as epoch-us: unusually fast for recorded traffic; if the timestamps are in a coarser unit, pass --time-format epoch-ms"}},
		{"date-times are never questioned", "slow.csv", rowsEvery(5, csvHeader, csvRow, func(i int) string { return fmt.Sprintf("2024-05-01 1%d:00:00", i) }),
			replay.Options{}, replay.TimeDateTime, true, time.Hour, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTraceFile(t, tt.file, tt.content)
			r, c, err := replay.Open(path, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var warnings []string
			for _, w := range replay.Warnings(r) {
				warnings = append(warnings, strings.ReplaceAll(w, path, "FILE"))
			}
			if fmt.Sprint(warnings) != fmt.Sprint(tt.wantWarnings) {
				t.Errorf("warnings\n%q\nwant\n%q", warnings, tt.wantWarnings)
			}
			var first, second replay.Row
			if err := r.Next(&first); err != nil {
				t.Fatal(err)
			}
			if err := r.Next(&second); err != nil {
				t.Fatal(err)
			}
			if gap := second.Offset - first.Offset; gap != tt.wantGap {
				t.Errorf("second row %s after the first, want %s", gap, tt.wantGap)
			}
			s, err := replay.Inspect(r)
			if err != nil {
				t.Fatal(err)
			}
			if s.TimeFormat != tt.wantFormat || s.TimeDetected != tt.wantDetected || len(s.Warnings) != len(tt.wantWarnings) {
				t.Errorf("Inspect: format %q detected %v, %d warnings; want %q %v %d", s.TimeFormat, s.TimeDetected, len(s.Warnings),
					tt.wantFormat, tt.wantDetected, len(tt.wantWarnings))
			}
			var b strings.Builder
			s.WriteText(&b)
			if !strings.Contains(b.String(), "timestamps   "+tt.wantFormat) {
				t.Errorf("text lacks the timestamp format:\n%s", b.String())
			}
		})
	}
}

// A trace read at the default is inferred; its rate is then that of the
// recording: 500 ms apart is 2 req/s.
func TestTimeUnitRate(t *testing.T) {
	r, c, err := replay.Open(writeTraceFile(t, "ms.jsonl", rowsEvery(21, "", jsonlRow, every(500))), replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := replay.Inspect(r)
	if err != nil {
		t.Fatal(err)
	}
	if s.SpanSec != 10 || s.MeanRatePerSec != 2.1 {
		t.Errorf("span %v s, rate %v/s; want 10 s, 2.1/s", s.SpanSec, s.MeanRatePerSec)
	}
}
