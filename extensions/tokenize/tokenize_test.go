package tokenize

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// samples are texts whose encodings the tests compare: prose, code,
// numbers, white-space runs, accents, CJK, emoji (tokens that split a
// character), and a long piece that takes the merge's heap path.
var samples = []string{
	"tiktoken is great!",
	"hello world",
	"The quick brown fox jumps over the lazy dog.",
	"  leading and trailing   \n\n\tspaces  ",
	"func main() {\n\tfmt.Println(\"héllo, wörld\") // 12345678\n}\n",
	"I'm sure they'll say it's what we've done; you'd agree.",
	"naïve café façade — résumé",
	"日本語のテキストと中文文本",
	"emoji 🤖🚀👩‍💻 and symbols ∑∫√",
	strings.Repeat("a", 300) + " " + strings.Repeat("xyz", 120),
	"3.14159265358979 + 2.71828 = 5.85987",
	"",
}

// TestBuiltinKnownIDs checks a built-in against ids published by OpenAI
// (the cookbook "How to count tokens with tiktoken", cl100k_base).
func TestBuiltinKnownIDs(t *testing.T) {
	tok, err := Load(CL100kBase)
	if err != nil {
		t.Fatal(err)
	}
	got := tok.Encode("tiktoken is great!")
	want := []int{83, 1609, 5963, 374, 2294, 0}
	if !slices.Equal(got, want) {
		t.Fatalf("Encode = %v, want %v", got, want)
	}
	if s := tok.Decode(want); s != "tiktoken is great!" {
		t.Fatalf("Decode = %q", s)
	}
	if n := tok.Count("tiktoken is great!"); n != 6 {
		t.Fatalf("Count = %d, want 6", n)
	}
	if Name(tok) != CL100kBase {
		t.Fatalf("Name = %q", Name(tok))
	}
}

func TestBuiltinsRoundTrip(t *testing.T) {
	for _, name := range Builtins {
		t.Run(name, func(t *testing.T) {
			tok, err := Load(name)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range samples {
				ids := tok.Encode(s)
				if got := tok.Decode(ids); got != s {
					t.Errorf("Decode(Encode(%q)) = %q", s, got)
				}
				if n := tok.Count(s); n != len(ids) {
					t.Errorf("Count(%q) = %d, Encode gives %d", s, n, len(ids))
				}
			}
		})
	}
}

func TestLoadUnknown(t *testing.T) {
	for _, spec := range []string{"", "gpt-17", filepath.Join(t.TempDir(), "missing.tiktoken")} {
		if _, err := Load(spec); !errors.Is(err, ErrUnknown) {
			t.Errorf("Load(%q) = %v, want ErrUnknown", spec, err)
		}
	}
}

// writeVocab writes the ranks of a built-in as a tiktoken file: each id's
// bytes (Decode of the id alone), base64, a space, the id.
func writeVocab(t testing.TB, name string) string {
	t.Helper()
	tok, err := Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".tiktoken")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	n := 0
	for id := 0; id < 1<<20; id++ {
		s := tok.Decode([]int{id})
		if s == "" {
			if id > 100000 {
				break // past the last id (the ranks are dense)
			}
			continue
		}
		fmt.Fprintf(w, "%s %d\n", base64.StdEncoding.EncodeToString([]byte(s)), id)
		n++
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if n < 50000 {
		t.Fatalf("wrote only %d tokens", n)
	}
	return path
}

var (
	cl100kFileOnce sync.Once
	cl100kFile     *BPE
	cl100kFileErr  error
)

// cl100kFromFile is cl100k_base loaded through the tiktoken file path.
func cl100kFromFile(t testing.TB) *BPE {
	cl100kFileOnce.Do(func() {
		path := writeVocab(t, CL100kBase)
		cl100kFile, cl100kFileErr = LoadFile(path)
	})
	if cl100kFileErr != nil {
		t.Fatal(cl100kFileErr)
	}
	return cl100kFile
}

// TestFileMatchesLibrary holds the package's own BPE merge over a
// tiktoken file to the library's encoder, on cl100k_base.
func TestFileMatchesLibrary(t *testing.T) {
	ref, err := Load(CL100kBase)
	if err != nil {
		t.Fatal(err)
	}
	bpe := cl100kFromFile(t)
	texts := append(slices.Clone(samples), sampleProse())
	for _, s := range texts {
		want, got := ref.Encode(s), bpe.Encode(s)
		if !slices.Equal(got, want) {
			t.Errorf("%.40q: file BPE %v\nlibrary %v", s, got, want)
		}
		if n := bpe.Count(s); n != len(want) {
			t.Errorf("%.40q: Count %d, want %d", s, n, len(want))
		}
		if d := bpe.Decode(got); d != s {
			t.Errorf("%.40q: Decode = %.40q", s, d)
		}
	}
}

// sampleProse is a few kilobytes of mixed text.
func sampleProse() string {
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "Line %d: the model's answer was %q, wasn't it? ", i, strings.Repeat("ab", i%7))
		if i%13 == 0 {
			b.WriteString("\n\n    indented code(); // ünïcödé 数据 🙂\n")
		}
	}
	return b.String()
}

func TestParseRanksErrors(t *testing.T) {
	good := allBytes()
	cases := []struct {
		name, text string
		line       int
		msg        string
	}{
		{"no space", good + "YWJj\n", 257, "no space"},
		{"bad base64", good + "!!! 300\n", 257, "base64"},
		{"bad rank", good + "YWJj x\n", 257, "rank"},
		{"negative rank", good + "YWJj -1\n", 257, "rank"},
		{"huge rank", good + "YWJj 99999999999\n", 257, "rank"},
		{"duplicate token", good + "YQ== 300\n", 257, "twice"},
		{"duplicate rank", good + "YWJj 5\n", 257, "given twice"},
		{"missing byte", strings.Join(strings.Split(good, "\n")[1:], "\n"), 0, "byte 0x00"},
		{"empty", "\n\n", 0, "no tokens"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRanks("v.tiktoken", strings.NewReader(tc.text))
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FileError", err)
			}
			if fe.Line != tc.line || !strings.Contains(fe.Msg, tc.msg) || fe.File != "v.tiktoken" {
				t.Fatalf("err = %v (line %d), want line %d and %q", err, fe.Line, tc.line, tc.msg)
			}
			if tc.line > 0 && !strings.HasPrefix(err.Error(), fmt.Sprintf("v.tiktoken:%d: ", tc.line)) {
				t.Fatalf("message %q does not start with file:line", err)
			}
		})
	}
}

// allBytes is a tiktoken file of the 256 single bytes, ranks 0..255, one
// per line.
func allBytes() string {
	var b strings.Builder
	for c := range 256 {
		fmt.Fprintf(&b, "%s %d\n", base64.StdEncoding.EncodeToString([]byte{byte(c)}), c)
	}
	return b.String()
}

// TestSmallVocabulary checks merge order on a vocabulary small enough to
// reason about: "ab" (256) merges before "bc" (257), so "abc" is
// ab+c.
func TestSmallVocabulary(t *testing.T) {
	text := allBytes() + "YWI= 256\nYmM= 257\nY2Q= 258\nYWJjZA== 259\n"
	ranks, err := ParseRanks("small", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	bpe, err := NewBPE("small", ranks, SplitCL100k)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		want []int
	}{
		{"abc", []int{256, 'c'}},
		{"bcd", []int{257, 'd'}},
		{"abcd", []int{259}},           // a whole piece is one token
		{"abcdx", []int{259, 'x'}},     // ab, then cd, then ab+cd: tiktoken joins any two parts that make a token
		{"bcdx", []int{257, 'd', 'x'}}, // bc first (257 < 258): cd can no longer form
		{"x y", []int{'x', 32, 'y'}},
	} {
		if got := bpe.Encode(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestFit(t *testing.T) {
	prose := sampleProse() + strings.Repeat(" 日本語のテキスト🙂", 50)
	for _, name := range []string{CL100kBase, O200kBase} {
		tok, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 2, 7, 64, 100, 333, 512, 1000, 1500} {
			s, err := Fit(tok, prose, n)
			if err != nil {
				t.Errorf("%s: Fit(%d): %v", name, n, err)
				continue
			}
			if c := tok.Count(s); c != n {
				t.Errorf("%s: Fit(%d) encodes to %d tokens", name, n, c)
			}
			if !strings.HasPrefix(prose, s) || !utf8.ValidString(s) {
				t.Errorf("%s: Fit(%d) is not a valid prefix of the text", name, n)
			}
		}
	}
	tok, _ := Load(CL100kBase)
	if _, err := Fit(tok, "two words", 10); !errors.Is(err, ErrInexact) {
		t.Fatalf("Fit of a short text: %v, want ErrInexact", err)
	}
}

// TestFitUnstableCut checks Fit where cutting the token sequence changes
// the tokens: CJK and emoji split into byte tokens, whose cut leaves half
// a character.
func TestFitUnstableCut(t *testing.T) {
	tok, _ := Load(CL100kBase)
	text := strings.Repeat("🤖👩‍💻龘", 40)
	misses := 0
	for n := 1; n <= 120; n++ {
		ids := tok.Encode(text)
		if tok.Count(ValidPrefix(tok.Decode(ids[:n]))) != n {
			misses++
		}
		s, err := Fit(tok, text, n)
		if err != nil {
			if !errors.Is(err, ErrInexact) {
				t.Fatalf("n=%d: %v", n, err)
			}
			continue
		}
		if c := tok.Count(s); c != n {
			t.Fatalf("n=%d: Fit gives %d tokens", n, c)
		}
	}
	if misses == 0 {
		t.Fatalf("no cut of the text was unstable: the test tests nothing")
	}
	t.Logf("%d of 120 plain cuts were unstable", misses)
}

func TestValidPrefix(t *testing.T) {
	e := "é"
	for _, tc := range []struct{ in, want string }{
		{"abc", "abc"},
		{"ab" + e[:1], "ab"},
		{"ab" + "🙂"[:3], "ab"},
		{"a\xffb", "a\uFFFDb"},
		{"", ""},
	} {
		if got := ValidPrefix(tc.in); got != tc.want {
			t.Errorf("ValidPrefix(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	text := sampleProse()
	ref, _ := Load(CL100kBase)
	b.Run("library", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			ref.Encode(text)
		}
	})
	bpe := cl100kFromFile(b)
	b.Run("file", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			bpe.Encode(text)
		}
	})
}
