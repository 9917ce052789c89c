// Package tokenize counts, encodes and decodes text with byte-pair-encoding
// (BPE) vocabularies that work offline, so that gonogo can build prompts of
// an exact number of tokens and compare them with what a server reports.
//
// Built-in vocabularies (embedded by github.com/tiktoken-go/tokenizer, MIT):
//
//	cl100k_base  GPT-4, GPT-3.5-turbo, text-embedding-ada-002
//	o200k_base   GPT-4o, GPT-4.1, o1, o3, o4-mini, GPT-5
//	p50k_base    text-davinci-002/003, code-davinci (Codex)
//	r50k_base    GPT-2, GPT-3 (davinci, curie, babbage, ada)
//
// Other vocabularies load from a local tiktoken file (LoadFile): one token a
// line, its bytes in standard base64, a space, its rank — the format of
// OpenAI's *.tiktoken files and of Llama 3's tokenizer.model. Such a file
// is encoded with this package's own BPE merge over the ranks and the
// cl100k_base pre-tokenizer split (SplitCL100k, which is also Llama 3's);
// LoadFileSplit takes another. Special tokens (<|endoftext|>, Llama's
// <|begin_of_text|>, …) are not part of a file and are never produced:
// text that spells one is encoded as ordinary text, as the built-ins do.
package tokenize

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer"
)

// Tokenizer encodes text into token ids and back. Implementations are safe
// for concurrent use.
type Tokenizer interface {
	// Encode returns the token ids of text.
	Encode(text string) []int
	// Decode returns the text of ids. Ids the vocabulary lacks are left
	// out. A cut inside a multi-byte character gives bytes that are not
	// valid UTF-8; ValidPrefix trims them.
	Decode(ids []int) string
	// Count returns len(Encode(text)), possibly faster.
	Count(text string) int
}

// Names of the built-in vocabularies.
const (
	CL100kBase = "cl100k_base"
	O200kBase  = "o200k_base"
	P50kBase   = "p50k_base"
	R50kBase   = "r50k_base"
)

// Builtins lists the built-in vocabularies, most used first.
var Builtins = []string{CL100kBase, O200kBase, P50kBase, R50kBase}

// Models says which models each built-in vocabulary matches, for help
// texts and documentation.
var Models = map[string]string{
	CL100kBase: "GPT-4, GPT-3.5-turbo, text-embedding-ada-002",
	O200kBase:  "GPT-4o, GPT-4.1, o1, o3, o4-mini, GPT-5",
	P50kBase:   "text-davinci-002/003, Codex",
	R50kBase:   "GPT-2, GPT-3 (davinci, curie, babbage, ada)",
}

// Errors of Load.
var (
	// ErrUnknown is wrapped when a name is neither a built-in vocabulary
	// nor a file.
	ErrUnknown = errors.New("tokenize: unknown tokenizer")
	// ErrInexact is wrapped by Fit when no cut of the text encodes to the
	// wanted number of tokens.
	ErrInexact = errors.New("tokenize: cannot fit")
)

// FileError is a tokenizer file that does not parse. Line is 0 when the
// problem is the file as a whole.
type FileError struct {
	File string
	Line int
	Msg  string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Named is implemented by every tokenizer of this package: the name it
// was loaded by (a built-in's name, or a file's path).
type Named interface{ Name() string }

// Name returns t's name when it has one (Named), else "".
func Name(t Tokenizer) string {
	if n, ok := t.(Named); ok {
		return n.Name()
	}
	return ""
}

// Builtin returns the built-in vocabulary called name.
func Builtin(name string) (Tokenizer, error) {
	if !slices.Contains(Builtins, name) {
		return nil, fmt.Errorf("%w %q: built-ins are %s", ErrUnknown, name, strings.Join(Builtins, ", "))
	}
	c, err := tokenizer.Get(tokenizer.Encoding(name))
	if err != nil {
		return nil, fmt.Errorf("tokenize: %s: %w", name, err)
	}
	return &builtin{name: name, c: c}, nil
}

var (
	loadMu sync.Mutex
	loaded = map[string]Tokenizer{}
)

// Load returns the tokenizer spec names: a built-in vocabulary
// (Builtins) or the path of a tiktoken file (LoadFile). Tokenizers are
// loaded once per process and shared, since large vocabularies take a
// while to read.
func Load(spec string) (Tokenizer, error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	if t, ok := loaded[spec]; ok {
		return t, nil
	}
	var (
		t   Tokenizer
		err error
	)
	switch {
	case slices.Contains(Builtins, spec):
		t, err = Builtin(spec)
	case spec == "":
		err = fmt.Errorf("%w: empty name", ErrUnknown)
	default:
		if _, serr := os.Stat(spec); serr != nil {
			return nil, fmt.Errorf("%w %q: not a built-in (%s) and not a file (%v)", ErrUnknown, spec, strings.Join(Builtins, ", "), serr)
		}
		t, err = LoadFile(spec)
	}
	if err != nil {
		return nil, err
	}
	loaded[spec] = t
	return t, nil
}

// builtin wraps a codec of github.com/tiktoken-go/tokenizer.
type builtin struct {
	name string
	c    tokenizer.Codec
}

var _ Tokenizer = (*builtin)(nil)

func (b *builtin) Name() string { return b.name }

// Encode returns the ids of text. The codec fails only when its split
// pattern does (regexp2 with no timeout set does not).
func (b *builtin) Encode(text string) []int {
	ids, _, err := b.c.Encode(text)
	if err != nil {
		return nil
	}
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return out
}

func (b *builtin) Decode(ids []int) string {
	var sb strings.Builder
	one := make([]uint, 1)
	for _, id := range ids {
		if id < 0 {
			continue
		}
		one[0] = uint(id)
		s, err := b.c.Decode(one)
		if err != nil {
			continue
		}
		sb.WriteString(s)
	}
	return sb.String()
}

func (b *builtin) Count(text string) int {
	n, err := b.c.Count(text)
	if err != nil {
		return 0
	}
	return n
}

// ValidPrefix returns s without the bytes at its end that do not form a
// whole UTF-8 character (what a cut between the tokens of one character
// leaves), and with any other invalid byte replaced by U+FFFD.
func ValidPrefix(s string) string {
	for i := 0; i < utf8.UTFMax && len(s) > 0; i++ {
		r, size := utf8.DecodeLastRuneInString(s)
		if r != utf8.RuneError || size != 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
