package jsonl_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/replay/internal/tracetest"
	"github.com/gonogo-dev/gonogo/replay/jsonl"
)

func readAll(t *testing.T, data string, o replay.Options) ([]replay.Row, replay.Skips, error) {
	t.Helper()
	return tracetest.ReadAll(func() (replay.Reader, error) {
		return jsonl.NewReader("trace.jsonl", strings.NewReader(data), o)
	})
}

func TestRows(t *testing.T) {
	data := `{"t": "2024-05-01T10:00:00.25Z", "in": 12, "out": "7", "u": "alice", "extra": [1,2]}

{"t": "2024-05-01T10:00:01Z", "in": 30.0, "out": 9, "u": null}
`
	o := replay.Options{Columns: map[string]string{"timestamp": "t", "input_tokens": "in", "output_tokens": "out", "tag:user": "u"}}
	rows, skips, err := readAll(t, data, o)
	if err != nil {
		t.Fatal(err)
	}
	want := []replay.Row{
		{Line: 1, InputTokens: 12, OutputTokens: 7, Tags: map[string]string{"user": "alice"}},
		{Line: 3, Offset: 750 * time.Millisecond, InputTokens: 30, OutputTokens: 9},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) || skips.Count != 0 {
		t.Errorf("rows = %+v, skips %+v\nwant %+v", rows, skips, want)
	}
}

func TestMooncakePresetDetected(t *testing.T) {
	data := `{"timestamp": 0, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47]}
{"timestamp": 27482, "input_length": 6472, "output_length": 26, "hash_ids": [46, 47]}
`
	r, err := jsonl.NewReader("m.jsonl", strings.NewReader(data), replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var row replay.Row
	for range 2 {
		if err := r.Next(&row); err != nil {
			t.Fatal(err)
		}
	}
	if r.Preset() != "mooncake" || row.Offset != 27482*time.Millisecond || row.InputTokens != 6472 || row.OutputTokens != 26 {
		t.Errorf("preset %q row %+v", r.Preset(), row)
	}
}

func TestMalformed(t *testing.T) {
	data := `{"ts": 100, "input_tokens": 1}
{"ts": 101, "input_tokens": "x"}
not json
{"ts": {"a": 1}, "input_tokens": 1}
{"ts": 99, "input_tokens": 1}
{"input_tokens": 1}
[1, 2]
null
{"ts": 101, "input_tokens": 2}
`
	rows, skips, err := readAll(t, data, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1].Line != 9 || rows[1].Offset != time.Second {
		t.Errorf("rows = %+v", rows)
	}
	wantLines := []int64{2, 3, 4, 5, 6, 7, 8}
	if skips.Count != int64(len(wantLines)) {
		t.Fatalf("skips = %v", skips.First)
	}
	for i, l := range wantLines {
		if skips.First[i].Line != l {
			t.Errorf("skip %d at line %d, want %d: %v", i, skips.First[i].Line, l, skips.First[i])
		}
	}
	if !strings.Contains(skips.First[3].Error(), "earlier than line 1") {
		t.Errorf("skip %v does not say why", skips.First[3])
	}
	_, _, err = readAll(t, data, replay.Options{Strict: true})
	var re *replay.RowError
	if !errors.As(err, &re) || re.Line != 2 || re.Field != "input_tokens" {
		t.Errorf("strict: err = %v", err)
	}
}

func TestFormatErrors(t *testing.T) {
	for _, tt := range []struct{ name, data, want string }{
		{"empty", "", "trace.jsonl: no rows"},
		{"blank lines", "\n\n", "trace.jsonl: no rows"},
		{"unknown field", `{"ts": 1, "prompt": 5}`, `column "tokens" (for input_tokens) is not in the first object; fields: prompt, ts`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := replay.Options{}
			if tt.name == "unknown field" {
				o.Columns = map[string]string{"timestamp": "ts", "input_tokens": "tokens"}
			}
			_, _, err := readAll(t, tt.data, o)
			if !errors.Is(err, replay.ErrFormat) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrFormat containing %q", err, tt.want)
			}
		})
	}
}

func FuzzReader(f *testing.F) {
	f.Add("{\"ts\": 100, \"input_tokens\": 1}\n{\"ts\": \"101\"}\nnull\n", "", "", false)
	f.Add(`{"timestamp": 0, "input_length": 6955, "output_length": 52}`, "", "", true)
	f.Add(`{"t": "2024-05-01T10:00:00Z", "u": [1]}`, "timestamp=t,tag:u=u", "", false)
	f.Fuzz(func(t *testing.T, data, columns, timeFormat string, strict bool) {
		cols, err := replay.ParseColumns(columns)
		if err != nil {
			cols = nil
		}
		r, err := jsonl.NewReader("fuzz.jsonl", strings.NewReader(data), replay.Options{Columns: cols, TimeFormat: timeFormat, Strict: strict})
		if err != nil {
			if !errors.Is(err, replay.ErrFormat) {
				t.Fatalf("NewReader error %v does not wrap ErrFormat", err)
			}
			return
		}
		tracetest.Fuzzed(t, r, len(data))
	})
}
