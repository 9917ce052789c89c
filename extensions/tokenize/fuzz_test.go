package tokenize

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseRanks feeds tiktoken files to the parser: it must not panic,
// and a file it accepts must give a tokenizer that round-trips text.
func FuzzParseRanks(f *testing.F) {
	base := allBytes()
	f.Add([]byte(base), "hello world")
	f.Add([]byte(base+"aGk= 256\naGVsbG8= 257\n"), "hi hello")
	f.Add([]byte(base+"YWI= 256\nYmM= 257\n"), "abcabc")
	f.Add([]byte("YWJj 1\n"), "")
	f.Add([]byte("!!!! 1\n"), "x")
	f.Add([]byte(base+"YWJj\t5\n"), "ünï")
	f.Add([]byte(strings.Repeat("QQ== 1\n", 3)), "a")
	f.Fuzz(func(t *testing.T, file []byte, text string) {
		ranks, err := ParseRanks("fuzz", bytes.NewReader(file))
		if err != nil {
			if _, ok := err.(*FileError); !ok {
				t.Fatalf("error %v is a %T, want *FileError", err, err)
			}
			return
		}
		bpe, err := NewBPE("fuzz", ranks, SplitCL100k)
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(text) {
			return
		}
		ids := bpe.Encode(text)
		if got := bpe.Decode(ids); got != text {
			t.Fatalf("Decode(Encode(%q)) = %q", text, got)
		}
		if n := bpe.Count(text); n != len(ids) {
			t.Fatalf("Count = %d, Encode gives %d", n, len(ids))
		}
	})
}
