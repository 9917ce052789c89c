package csv_test

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/replay/csv"
	"github.com/gonogo-dev/gonogo/replay/internal/tracetest"
)

// readAll reads every row of a fresh reader over data.
func readAll(t *testing.T, data string, o replay.Options) ([]replay.Row, replay.Skips, error) {
	t.Helper()
	return tracetest.ReadAll(func() (replay.Reader, error) {
		return csv.NewReader("trace.csv", strings.NewReader(data), o)
	})
}

func TestAzurePresetDetected(t *testing.T) {
	data := "TIMESTAMP,ContextTokens,GeneratedTokens\r\n" +
		"2023-11-16 18:17:03.9799600,4808,10\r\n" +
		"2023-11-16 18:17:04.0319600,3180,8\r\n" +
		"2023-11-16 18:17:04.0319600,110,27\r\n"
	r, err := csv.NewReader("code.csv", strings.NewReader(data), replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Preset() != "azure-llm" {
		t.Errorf("preset = %q, want azure-llm", r.Preset())
	}
	rows, skips, err := readAll(t, data, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []replay.Row{
		{Line: 2, Offset: 0, InputTokens: 4808, OutputTokens: 10},
		{Line: 3, Offset: 52 * time.Millisecond, InputTokens: 3180, OutputTokens: 8},
		{Line: 4, Offset: 52 * time.Millisecond, InputTokens: 110, OutputTokens: 27}, // equal timestamps are fine
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("rows = %+v\nwant %+v", rows, want)
	}
	if skips.Count != 0 {
		t.Errorf("skips = %+v", skips)
	}
}

func TestMappingAndFormats(t *testing.T) {
	tests := []struct {
		name    string
		o       replay.Options
		data    string
		offsets []time.Duration
		in      []int
		tags    []string
	}{
		{
			name:    "explicit mapping with tag",
			o:       replay.Options{Columns: map[string]string{"timestamp": "when", "input_tokens": "p", "tag:user": "u"}},
			data:    "u,when,p\nalice,2024-01-01T00:00:00Z,5\n,2024-01-01T00:00:01.5Z,6\n",
			offsets: []time.Duration{0, 1500 * time.Millisecond}, in: []int{5, 6}, tags: []string{"map[user:alice]", "map[]"},
		},
		{
			name:    "conventional names",
			data:    "Timestamp,Prompt_Tokens,completion_tokens\n1700000000000,5,1\n1700000000250,6,2\n",
			offsets: []time.Duration{0, 250 * time.Millisecond}, in: []int{5, 6}, tags: []string{"map[]", "map[]"},
		},
		{
			name:    "epoch us decimal",
			o:       replay.Options{Columns: map[string]string{"timestamp": "t"}, TimeFormat: "epoch-us"},
			data:    "t\n1700000000000000.5\n1700000000000001\n",
			offsets: []time.Duration{0, 500}, in: []int{0, 0}, tags: []string{"map[]", "map[]"},
		},
		{
			name:    "offset-ms",
			o:       replay.Options{Columns: map[string]string{"timestamp": "t"}, TimeFormat: "offset-ms"},
			data:    "t\n100\n350\n",
			offsets: []time.Duration{0, 250 * time.Millisecond}, in: []int{0, 0}, tags: []string{"map[]", "map[]"},
		},
		{
			name:    "burstgpt preset",
			data:    "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n5,ChatGPT,472,18,490,Conversation log\n45,GPT-4,1087,0,1087,API log\n",
			offsets: []time.Duration{0, 40 * time.Second}, in: []int{472, 1087},
			tags: []string{"map[log_type:Conversation log model:ChatGPT]", "map[log_type:API log model:GPT-4]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, _, err := readAll(t, tt.data, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(tt.offsets) {
				t.Fatalf("got %d rows, want %d", len(rows), len(tt.offsets))
			}
			for i, r := range rows {
				if r.Offset != tt.offsets[i] || r.InputTokens != tt.in[i] || fmt.Sprint(r.Tags) != tt.tags[i] {
					t.Errorf("row %d = %+v, want offset %v input %d tags %s", i, r, tt.offsets[i], tt.in[i], tt.tags[i])
				}
			}
		})
	}
}

func TestFormatErrors(t *testing.T) {
	tests := []struct {
		name string
		o    replay.Options
		data string
		want []string
	}{
		{"empty file", replay.Options{}, "", []string{"trace.csv", "empty file"}},
		{"header only", replay.Options{}, "TIMESTAMP,ContextTokens,GeneratedTokens\n", []string{"trace.csv", "no rows"}},
		{"unknown column", replay.Options{Columns: map[string]string{"timestamp": "TIMESTAMP", "input_tokens": "Context"}},
			"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03,1,2\n",
			[]string{`column "Context" (for input_tokens)`, "TIMESTAMP, ContextTokens, GeneratedTokens"}},
		{"no timestamp", replay.Options{}, "a,b\n1,2\n", []string{"no timestamp column", "a, b"}},
		{"unknown preset", replay.Options{Preset: "nope"}, "a,b\n1,2\n", []string{`unknown preset "nope"`, "azure-llm"}},
		{"bad time format", replay.Options{TimeFormat: "epoch-minutes"}, "a\n1\n", []string{"unknown time format"}},
		{"every row bad", replay.Options{}, "ts,input_tokens\nx,1\ny,2\n", []string{"no valid row (2 malformed", "trace.csv:2: ts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readAll(t, tt.data, tt.o)
			if !errors.Is(err, replay.ErrFormat) {
				t.Fatalf("err = %v, want one wrapping ErrFormat", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

const malformed = "timestamp,input_tokens,output_tokens\n" +
	"2023-11-16 18:00:00,10,1\n" + // 2
	"2023-11-16 18:00:01,abc,1\n" + // 3 tokens not a number
	"2023-11-16 18:00:02,10\n" + // 4 column count
	"not a time,10,1\n" + // 5 bad timestamp
	"2023-11-16 18:00:03,-4,1\n" + // 6 negative
	"2023-11-16 17:59:59,10,1\n" + // 7 earlier than line 2
	"\"2023-11-16 18:00:04\",10,2\n" // 8 fine (quoted)

func TestMalformedRowsSkipped(t *testing.T) {
	rows, skips, err := readAll(t, malformed, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Line != 2 || rows[1].Line != 8 || rows[1].Offset != 4*time.Second {
		t.Errorf("rows = %+v", rows)
	}
	if skips.Count != 5 || len(skips.First) != 5 {
		t.Fatalf("skips = %+v", skips)
	}
	want := []struct {
		line  int64
		field string
		msg   string
	}{
		{3, "input_tokens", "not a whole number"},
		{4, "", "has 2 columns, the header has 3"},
		{5, "timestamp", "bad timestamp"},
		{6, "input_tokens", "negative"},
		{7, "timestamp", "earlier than line 2's"},
	}
	for i, w := range want {
		e := skips.First[i]
		if e.Line != w.line || e.Field != w.field || !strings.Contains(e.Error(), w.msg) || e.File != "trace.csv" {
			t.Errorf("skip %d = %v (line %d field %q), want line %d field %q containing %q", i, e, e.Line, e.Field, w.line, w.field, w.msg)
		}
	}
}

func TestStrictReturnsFirstMalformedRow(t *testing.T) {
	rows, _, err := readAll(t, malformed, replay.Options{Strict: true})
	var re *replay.RowError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want *RowError", err)
	}
	if re.Line != 3 || re.Field != "input_tokens" || len(rows) != 1 {
		t.Errorf("err = %v (line %d), rows %d", re, re.Line, len(rows))
	}
}

func TestSkipsKeepFirstFew(t *testing.T) {
	var b strings.Builder
	b.WriteString("ts\n1\n")
	for range replay.MaxKeptSkips + 5 {
		b.WriteString("x\n")
	}
	_, skips, err := readAll(t, b.String(), replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if skips.Count != replay.MaxKeptSkips+5 || len(skips.First) != replay.MaxKeptSkips {
		t.Errorf("skips: count %d, kept %d", skips.Count, len(skips.First))
	}
}

// synthetic produces a CSV trace of n rows lazily, as it is read.
type synthetic struct {
	n, i int
	buf  []byte // the current row
	pos  int    // how much of it was read
	t    time.Time
}

func (s *synthetic) Read(p []byte) (int, error) {
	for s.pos == len(s.buf) {
		if s.i > s.n {
			return 0, io.EOF
		}
		s.buf, s.pos = s.buf[:0], 0
		if s.i == 0 {
			s.buf = append(s.buf, "TIMESTAMP,ContextTokens,GeneratedTokens\n"...)
		} else {
			s.buf = s.t.AppendFormat(s.buf, "2006-01-02 15:04:05.0000000")
			s.buf = fmt.Appendf(s.buf, ",%d,%d\n", 100+s.i%4000, 1+s.i%500)
			s.t = s.t.Add(time.Duration(s.i%7) * 100 * time.Microsecond)
		}
		s.i++
	}
	n := copy(p, s.buf[s.pos:])
	s.pos += n
	return n, nil
}

// TestStreamsInConstantMemory reads a million-row trace generated on the fly
// and checks the heap does not grow with it.
func TestStreamsInConstantMemory(t *testing.T) {
	const n = 1_000_000
	src := &synthetic{n: n, t: time.Date(2023, 11, 16, 18, 0, 0, 0, time.UTC), buf: make([]byte, 0, 128)}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapInuse
	r, err := csv.NewReader("synthetic.csv", src, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var (
		row  replay.Row
		rows int
		peak uint64
		last time.Duration
	)
	for {
		err := r.Next(&row)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if row.Offset < last {
			t.Fatalf("row %d goes back in time", row.Line)
		}
		last = row.Offset
		rows++
		if rows%100_000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	after := ms.HeapInuse
	if rows != n || r.Skipped().Count != 0 {
		t.Fatalf("read %d rows, %d skipped; want %d, 0", rows, r.Skipped().Count, n)
	}
	const slack = 4 << 20
	t.Logf("heap in use: before %d KiB, peak while reading %d KiB, after %d KiB", before>>10, peak>>10, after>>10)
	if after > before+slack {
		t.Errorf("heap grew from %d KiB to %d KiB after reading %d rows", before>>10, after>>10, n)
	}
	if peak > before+2*slack {
		t.Errorf("heap peaked at %d KiB (from %d KiB) while reading %d rows", peak>>10, before>>10, n)
	}
	runtime.KeepAlive(r)
}

func FuzzReader(f *testing.F) {
	f.Add(malformed, "", "", false)
	f.Add("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n", "", "", true)
	f.Add("t,a\n1,2\n\"3,4\n", "timestamp=t,input_tokens=a", "epoch-ms", false)
	f.Add("t\n1e3\n-1\n1.5\n", "timestamp=t", "offset-s", false)
	f.Fuzz(func(t *testing.T, data, columns, timeFormat string, strict bool) {
		cols, err := replay.ParseColumns(columns)
		if err != nil {
			if !errors.Is(err, replay.ErrFormat) {
				t.Fatalf("ParseColumns error %v does not wrap ErrFormat", err)
			}
			cols = nil
		}
		o := replay.Options{Columns: cols, TimeFormat: timeFormat, Strict: strict}
		r, err := csv.NewReader("fuzz.csv", strings.NewReader(data), o)
		if err != nil {
			if !errors.Is(err, replay.ErrFormat) {
				t.Fatalf("NewReader error %v does not wrap ErrFormat", err)
			}
			return
		}
		tracetest.Fuzzed(t, r, len(data))
	})
}
