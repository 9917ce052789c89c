package scenarios

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/extensions/dataset"
)

func TestRequestDataset(t *testing.T) {
	const yaml = `request:
  tokenizer: o200k_base
  dataset:
    random: {input: 100-400, output: 64, count: 20}
    seed: 3
scenarios:
  a:
    executor: constant-arrival-rate
    rate: 5
    duration: 1s
  b:
    executor: constant-arrival-rate
    rate: 5
    duration: 1s
    request:
      tokenizer: vocab/llama.tiktoken
      dataset: {file: data/p.jsonl, limit: 4}
`
	dir := t.TempDir()
	var vocab strings.Builder
	for c := range 256 {
		fmt.Fprintf(&vocab, "%s %d\n", base64.StdEncoding.EncodeToString([]byte{byte(c)}), c)
	}
	if err := os.MkdirAll(filepath.Join(dir, "vocab"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vocab", "llama.tiktoken"), []byte(vocab.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(filepath.Join(dir, "s.yaml"), []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	d := f.Request.Dataset
	if f.Request.Tokenizer != "o200k_base" || d.Format != dataset.FormatRandom || d.Seed != 3 ||
		d.Random.Input != (dataset.Range{Min: 100, Max: 400}) || d.Random.Output != (dataset.Range{Min: 64, Max: 64}) || d.Random.Count != 20 {
		t.Fatalf("file request %+v, dataset %+v", f.Request, d)
	}
	if f.Scenarios["a"].Request != f.Request {
		t.Fatalf("scenario a does not inherit the file's request")
	}
	b := f.Scenarios["b"].Request
	if b.Dataset.File != filepath.Join(dir, "data", "p.jsonl") || b.Dataset.Format != dataset.FormatJSONL || b.Dataset.Limit != 4 || b.Dataset.Seed != 1 {
		t.Fatalf("scenario b dataset %+v", b.Dataset)
	}
	if b.Tokenizer != filepath.Join(dir, "vocab", "llama.tiktoken") {
		t.Fatalf("tokenizer path %q not made relative to the scenario file", b.Tokenizer)
	}
}

func TestRequestDatasetErrors(t *testing.T) {
	vocab := filepath.Join(t.TempDir(), "v.tiktoken")
	if err := os.WriteFile(vocab, []byte("QQ== 0\nQg== zero\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	scenario := "scenarios:\n  a:\n    executor: constant-vus\n    vus: 1\n    duration: 1s\n"
	cases := []struct {
		name, yaml string
		line       int
		field, msg string
	}{
		{"format", "request:\n  dataset:\n    file: p.jsonl\n    format: parquet\n" + scenario, 4, "request.dataset.format", `unknown dataset format "parquet"`},
		{"range", "request:\n  dataset:\n    random:\n      input: 400-100\n      output: 5\n" + scenario, 4, "request.dataset.random.input", "want 1 ≤ MIN ≤ MAX"},
		// A list where a range belongs: named, but go-yaml gives no line
		// for what an UnmarshalYAML refuses unless the message quotes a
		// token of the file.
		{"range type", "request:\n  dataset:\n    random: {input: [1], output: 5}\n" + scenario, 0, "", "want MIN-MAX"},
		{"missing output", "request:\n  dataset:\n    random: {input: 5}\n" + scenario, 3, "request.dataset.random.output", "missing"},
		{"unknown field", "request:\n  dataset:\n    fiel: p.jsonl\n" + scenario, 3, "request.dataset", `unknown field "fiel"`},
		{"tokenizer name", "request:\n  tokenizer: gpt-9\n" + scenario, 2, "request.tokenizer", "unknown tokenizer"},
		{"tokenizer file", "request:\n  tokenizer: " + vocab + "\n" + scenario, 2, "request.tokenizer", "v.tiktoken:2: rank"},
		{"scenario's", scenario + "    request:\n      dataset: {file: x.csv}\n", 7, "scenarios.a.request.dataset.format", "cannot tell the format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(tc.yaml))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			if ve.File != "s.yaml" || ve.Line != tc.line || (tc.field != "" && ve.Field != tc.field) || !strings.Contains(ve.Msg, tc.msg) {
				t.Fatalf("err = %v (line %d field %q); want line %d field %q and %q", err, ve.Line, ve.Field, tc.line, tc.field, tc.msg)
			}
		})
	}
}
