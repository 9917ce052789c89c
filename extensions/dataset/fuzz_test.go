package dataset

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// FuzzJSONL feeds the JSONL reader arbitrary files: it must not panic, an
// error must name a line of the file, and every row it accepts must be
// one of the kinds it documents.
func FuzzJSONL(f *testing.F) {
	if b, err := os.ReadFile(promptsSample); err == nil {
		f.Add(b)
	}
	if b, err := os.ReadFile(mooncakeSample); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"{\"prompt\": \"a\", \"max_tokens\": 3}\n",
		"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"hi\"}]}]}",
		"{\"input_length\": 700, \"hash_ids\": [1, 2]}\n\n{\"input_tokens\": 5}",
		"{\"hash_ids\": [9223372036854775807, -1]}",
		"[1]\n{",
		"{\"prompt\": null, \"messages\": null}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := parseJSONL("f.jsonl", data, DefaultBlockTokens)
		lines := bytes.Count(data, []byte("\n")) + 1
		if err != nil {
			fe, ok := err.(*FileError)
			if !ok || fe.File != "f.jsonl" || fe.Line < 1 || fe.Line > lines || fe.Msg == "" {
				t.Fatalf("error %#v: want a *FileError on a line of the file (1..%d)", err, lines)
			}
			return
		}
		for _, r := range rows {
			kinds := 0
			if r.prompt != "" {
				kinds++
			}
			if len(r.messages) > 0 {
				kinds++
			}
			if r.inputLen > 0 {
				kinds++
			}
			if kinds != 1 || r.line < 1 || r.line > lines || r.output < 0 || r.inputLen > MaxTokens {
				t.Fatalf("row %+v", r)
			}
		}
	})
}

// FuzzShareGPT feeds the ShareGPT reader arbitrary files, as FuzzJSONL.
func FuzzShareGPT(f *testing.F) {
	if b, err := os.ReadFile(shareGPTSample); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"[]",
		"[{\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", \"value\": \"a\"}]}]",
		"[\n{\"conversations\": [{\"from\": \"human\"}]},\n{\"id\": 1}\n]",
		"[{\"conversations\": 3}]",
		"{}",
		"[{\"conversations\": []}, ",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, skipped, err := parseShareGPT("f.json", data)
		lines := bytes.Count(data, []byte("\n")) + 1
		if err != nil {
			fe, ok := err.(*FileError)
			if !ok || fe.File != "f.json" || fe.Line < 0 || fe.Line > lines || fe.Msg == "" {
				t.Fatalf("error %#v: want a *FileError within the file (≤ %d lines)", err, lines)
			}
			return
		}
		if skipped < 0 {
			t.Fatalf("skipped %d", skipped)
		}
		for _, r := range rows {
			if strings.TrimSpace(r.prompt) == "" || strings.TrimSpace(r.answer) == "" || r.line < 1 || r.line > lines {
				t.Fatalf("row %+v", r)
			}
		}
	})
}
