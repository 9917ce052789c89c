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
			if got := typeName(replay.FormatReader(r)); got != tt.wantType {
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
		{"words.txt", "hello world\n", replay.Options{}, "words.txt: cannot tell the trace format; name one with --trace-format (csv, har, jsonl, requestlog)"},
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

// Bad input gets one line that names the file and says what is wrong,
// never a dump of its bytes.
func TestOpenMessages(t *testing.T) {
	noNUL := make([]byte, 2000)
	for i := range noNUL {
		noNUL[i] = byte(0x80 + i%0x40) // continuation bytes: never UTF-8
	}
	tests := []struct {
		name, file, content string
		o                   replay.Options
		want                string
		wantIs              error
	}{
		{"binary with NUL", "bin.csv", "\x7fELF\x02\x01\x01\x00\x00\x00,\x00\x00", replay.Options{},
			"replay: bad trace: FILE: not a text trace (binary data at byte 7); traces are CSV, JSON lines or HAR, optionally gzip-compressed", replay.ErrFormat},
		{"binary without NUL", "bin.dat", string(noNUL), replay.Options{},
			"replay: bad trace: FILE: not a text trace (binary data at byte 0); traces are CSV, JSON lines or HAR, optionally gzip-compressed", replay.ErrFormat},
		{"gzip of binary", "bin.csv.gz", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", replay.Options{},
			"replay: bad trace: FILE: not a text trace (binary data at byte 8); traces are CSV, JSON lines or HAR, optionally gzip-compressed", replay.ErrFormat},
		{"format not told", "words.txt", "hello world\n", replay.Options{},
			"replay: bad trace: FILE: cannot tell the trace format; name one with --trace-format (csv, har, jsonl, requestlog)", replay.ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTraceFile(t, tt.file, tt.content)
			_, _, err := replay.Open(path, tt.o)
			if err == nil || strings.ReplaceAll(err.Error(), path, "FILE") != tt.want || !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v\nwant  %s", err, tt.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing.csv")
		_, _, err := replay.Open(path, replay.Options{})
		if want := "trace " + path + ": file does not exist"; err == nil || err.Error() != want || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v, want %s (fs.ErrNotExist)", err, want)
		}
	})
	t.Run("a latin-1 CSV is text", func(t *testing.T) {
		r, c, err := replay.Open(writeTraceFile(t, "l1.csv", "timestamp,input_tokens,region\n0,1,M\xfcnchen\n1,2,Z\xfcrich\n"), replay.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var row replay.Row
		if err := r.Next(&row); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzOpen checks that Open, with its format detection, binary check and
// timestamp-unit sampling, never panics, that its errors and warnings are
// one line each, and that what it opens reads to an end.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{traceCSV, traceJSONL, requestLog, harDoc,
		"timestamp,input_tokens\n0,1\n500,2\n1000,3\n", `{"timestamp":0}` + "\n" + `{"timestamp":1e9}` + "\n" + `{"timestamp":2e9}`,
		"\x00\x01", "ts\n1\n1\n1\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(t.TempDir(), "trace")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		r, c, err := replay.Open(path, replay.Options{})
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		defer c.Close()
		for _, w := range replay.Warnings(r) {
			if strings.Contains(w, "\n") || !strings.HasPrefix(w, path+": ") {
				t.Fatalf("warning %q: want one line naming the file", w)
			}
		}
		var row replay.Row
		for i := 0; ; i++ {
			if err := r.Next(&row); err != nil {
				break
			}
			if i > len(content) {
				t.Fatalf("more rows than bytes")
			}
		}
	})
}
