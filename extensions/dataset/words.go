package dataset

import (
	"sync"

	"github.com/gonogo-dev/gonogo/extensions/tokenize"
)

// vocabulary holds common short English words, each one token in the
// tokenizers of the popular model families when preceded by a space.
var vocabulary = [...]string{
	"the", "of", "and", "to", "in", "is", "you", "that", "it", "he",
	"was", "for", "on", "are", "as", "with", "his", "they", "at", "be",
	"this", "have", "from", "or", "one", "had", "by", "word", "but", "not",
	"what", "all", "were", "we", "when", "your", "can", "said", "there", "use",
	"an", "each", "which", "she", "do", "how", "their", "if", "will", "up",
	"other", "about", "out", "many", "then", "them", "these", "so", "some", "her",
	"would", "make", "like", "him", "into", "time", "has", "look", "two", "more",
	"write", "go", "see", "number", "no", "way", "could", "people", "my", "than",
	"first", "water", "been", "call", "who", "oil", "its", "now", "find", "long",
	"down", "day", "did", "get", "come", "made", "may", "part", "over", "new",
	"sound", "take", "only", "little", "work", "know", "place", "year", "live", "me",
	"back", "give", "most", "very", "after", "thing", "our", "just", "name", "good",
	"sentence", "man", "think", "say", "great", "where", "help", "through", "much", "before",
	"line", "right", "too", "mean", "old", "any", "same", "tell", "boy", "follow",
	"came", "want", "show", "also", "around", "form", "three", "small", "set", "put",
	"end", "does", "another", "well", "large", "must", "big", "even", "such", "because",
	"turn", "here", "why", "ask", "went", "men", "read", "need", "land", "different",
	"home", "us", "move", "try", "kind", "hand", "picture", "again", "change", "off",
	"play", "spell", "air", "away", "animal", "house", "point", "page", "letter", "mother",
	"answer", "found", "study", "still", "learn", "should", "world", "high", "every", "near",
}

// corpusWords is the length of a Words corpus. Texts wrap around it, so
// any length works.
const corpusWords = 1 << 15

// minExactWords is the fewest single-token words a tokenizer must leave
// for Words to be exact under it.
const minExactWords = 32

// Words makes texts of a given number of words out of a fixed
// pseudo-random sequence of common English words, each followed by one
// space. Under a tokenizer (NewWords) only the words that are one token
// both alone and after a space are used, so that a text of n words is
// exactly n tokens (Exact): every word is one piece of the pre-tokenizer
// split and one token. Texts are windows of the sequence at an offset
// derived from an id, so different ids give different texts and a run is
// reproducible. A Words is read-only and safe for concurrent use.
type Words struct {
	corpus []byte  // words, each followed by one space
	start  []int32 // start[i] is where word i begins; start[corpusWords] = len(corpus)
	exact  bool
}

var (
	defaultOnce  sync.Once
	defaultWords *Words
	wordsMu      sync.Mutex
	wordsByTok   = map[tokenize.Tokenizer]*Words{}
)

// DefaultWords is the generator of gonogo's prompts without a tokenizer:
// all of the vocabulary, about one token a word in the popular
// tokenizers.
func DefaultWords() *Words {
	defaultOnce.Do(func() { defaultWords = newWords(vocabulary[:]) })
	return defaultWords
}

// NewWords returns the generator for tok (DefaultWords when tok is nil),
// built once per tokenizer.
func NewWords(tok tokenize.Tokenizer) *Words {
	if tok == nil {
		return DefaultWords()
	}
	wordsMu.Lock()
	defer wordsMu.Unlock()
	if w, ok := wordsByTok[tok]; ok {
		return w
	}
	var keep []string
	for _, w := range vocabulary {
		if tok.Count(w) == 1 && tok.Count(" "+w) == 1 {
			keep = append(keep, w)
		}
	}
	w := DefaultWords()
	if len(keep) >= minExactWords {
		w = newWords(keep)
		// Check the claim on a long window: the split might join words.
		text := string(w.Append(nil, 1, 2000))
		w.exact = tok.Count(text) == 2000
		if !w.exact {
			w = DefaultWords()
		}
	}
	wordsByTok[tok] = w
	return w
}

func newWords(words []string) *Words {
	w := &Words{start: make([]int32, corpusWords+1), corpus: make([]byte, 0, corpusWords*6)}
	x := uint64(0x9e3779b97f4a7c15)
	for i := range corpusWords {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		w.start[i] = int32(len(w.corpus))
		w.corpus = append(w.corpus, words[x%uint64(len(words))]...)
		w.corpus = append(w.corpus, ' ')
	}
	w.start[corpusWords] = int32(len(w.corpus))
	return w
}

// Exact reports whether a text of n words is exactly n tokens under the
// tokenizer the generator was made for (false for DefaultWords, and for
// a tokenizer that splits too many of the words).
func (w *Words) Exact() bool { return w.exact }

// Append appends a text of n words to b: a window of the corpus starting
// at an offset derived from id, words separated by single spaces, with no
// space before the first or after the last.
func (w *Words) Append(b []byte, id uint64, n int) []byte {
	if n <= 0 {
		return b
	}
	off := int((id * 0x9e3779b1) % corpusWords)
	for n > 0 {
		k := min(n, corpusWords-off)
		b = append(b, w.corpus[w.start[off]:w.start[off+k]]...)
		n -= k
		off = 0
	}
	return b[:len(b)-1] // drop the trailing space
}

// Text returns Append(nil, id, n) as a string.
func (w *Words) Text(id uint64, n int) string { return string(w.Append(nil, id, n)) }
