package replay_test

import (
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/replay"
	_ "github.com/gonogo-dev/gonogo/replay/all"
)

func TestFormatsRegistered(t *testing.T) {
	got := strings.Join(replay.Formats(), ",")
	if got != "csv,har,jsonl,requestlog" {
		t.Errorf("Formats() = %s", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering csv twice did not panic")
		}
	}()
	replay.Register("csv", func(string, io.Reader, replay.Options) (replay.Reader, error) { return nil, nil })
}

const (
	traceCSV   = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:04.0319600,3180,8\n"
	traceJSONL = `{"timestamp": 0, "input_length": 10, "output_length": 2}` + "\n" + `{"timestamp": 52, "input_length": 11, "output_length": 3}` + "\n"
	requestLog = `{"ts": 0, "method": "GET", "path": "/a"}` + "\n" + `{"ts": 0.052, "method": "GET", "path": "/b"}` + "\n"
	harDoc     = "{\n  \"log\": {\n    \"version\": \"1.2\",\n    \"entries\": [\n" +
		`{"startedDateTime": "2024-05-01T10:00:00Z", "request": {"method": "GET", "url": "/a"}},` + "\n" +
		`{"startedDateTime": "2024-05-01T10:00:00.052Z", "request": {"method": "GET", "url": "/b"}}` + "\n]}}\n"
)

func writeTraceFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if strings.HasSuffix(name, ".gz") {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		zw := gzip.NewWriter(f)
		zw.Write([]byte(content))
		zw.Close()
		f.Close()
		return p
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenDetectsFormat(t *testing.T) {
	tests := []struct {
		file, content string
		o             replay.Options
		wantType      string // the reader's package
	}{
		{"code.csv", traceCSV, replay.Options{}, "*csv.Reader"},
		{"code.csv.gz", traceCSV, replay.Options{}, "*csv.Reader"},
		{"code.txt", traceCSV, replay.Options{}, "*csv.Reader"},
		{"mooncake.jsonl", traceJSONL, replay.Options{}, "*jsonl.Reader"},
		{"mooncake.json", traceJSONL, replay.Options{}, "*jsonl.Reader"},
		{"requests.ndjson", requestLog, replay.Options{}, "*requestlog.Reader"},
		{"requests.log", requestLog, replay.Options{}, "*requestlog.Reader"},
		{"session.har", harDoc, replay.Options{}, "*har.Reader"},
		{"session.json", harDoc, replay.Options{}, "*har.Reader"},
		{"session.har.gz", harDoc, replay.Options{}, "*har.Reader"},
		{"session.dat", harDoc, replay.Options{}, "*har.Reader"},
		{"anything.dat", traceJSONL, replay.Options{Format: "jsonl"}, "*jsonl.Reader"},
		{"preset.dat", traceCSV, replay.Options{Preset: "azure-llm"}, "*csv.Reader"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r, c, err := replay.Open(writeTraceFile(t, tt.file, tt.content), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := typeName(r); got != tt.wantType {
				t.Errorf("reader is %s, want %s", got, tt.wantType)
			}
			var row replay.Row
			for _, want := range []int64{0, 52} {
				if err := r.Next(&row); err != nil {
					t.Fatal(err)
				}
				if got := row.Offset.Milliseconds(); got != want {
					t.Errorf("offset = %d ms, want %d", got, want)
				}
			}
			if err := r.Next(&row); err != io.EOF {
				t.Errorf("after the last row: %v, want io.EOF", err)
			}
		})
	}
}

func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return reflect.TypeOf(v).String()
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		file, content string
		o             replay.Options
		want          string
	}{
		{"empty.csv", "", replay.Options{}, "empty.csv: empty file"},
		{"blank.jsonl", "\n \n", replay.Options{}, "blank.jsonl: empty file"},
		{"header.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n", replay.Options{}, "header.csv: no rows"},
		{"words.txt", "hello world\n", replay.Options{}, "words.txt: cannot tell the trace format; name one with --format (csv, har, jsonl, requestlog)"},
		{"notjson.jsonl", "hello, world\n", replay.Options{}, "cannot tell"},
		{"x.csv", traceCSV, replay.Options{Format: "parquet"}, `unknown format "parquet"`},
		{"x.csv", traceCSV, replay.Options{Columns: map[string]string{"when": "TIMESTAMP"}}, `unknown field "when"`},
		{"x.csv", traceCSV, replay.Options{TimeFormat: "epoch"}, `unknown time format "epoch"`},
		{"x.dat", traceCSV, replay.Options{Preset: "splitwise"}, `unknown preset "splitwise"`},
		{"x.har", traceCSV, replay.Options{}, "x.har: not a HAR"},
		{"r.jsonl", requestLog, replay.Options{Format: "requestlog", Columns: map[string]string{"timestamp": "ts"}}, "fixed schema"},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.want, func(t *testing.T) {
			r, c, err := replay.Open(writeTraceFile(t, tt.file, tt.content), tt.o)
			if err == nil {
				var row replay.Row
				err = r.Next(&row)
				c.Close()
			}
			if !errors.Is(err, replay.ErrFormat) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrFormat containing %q", err, tt.want)
			}
		})
	}
	if _, _, err := replay.Open(filepath.Join(t.TempDir(), "missing.csv"), replay.Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
