package openai

import "sync"

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

// corpusWords is the length of the precomputed word sequence. Prompts wrap
// around it, so any length works.
const corpusWords = 1 << 15

var (
	corpusOnce sync.Once
	corpus     []byte  // words, each followed by one space
	wordStart  []int32 // wordStart[i] is where word i begins; wordStart[corpusWords] = len(corpus)
)

func buildCorpus() {
	wordStart = make([]int32, corpusWords+1)
	corpus = make([]byte, 0, corpusWords*6)
	x := uint64(0x9e3779b97f4a7c15)
	for i := 0; i < corpusWords; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		wordStart[i] = int32(len(corpus))
		corpus = append(corpus, vocabulary[x%uint64(len(vocabulary))]...)
		corpus = append(corpus, ' ')
	}
	wordStart[corpusWords] = int32(len(corpus))
}

// appendPrompt appends a prompt of n words (≈ n tokens) to b. The words are
// a window of the corpus starting at an offset derived from id, so prompts
// of different requests differ while staying reproducible.
func appendPrompt(b []byte, id uint64, n int) []byte {
	corpusOnce.Do(buildCorpus)
	if n <= 0 {
		return b
	}
	off := int((id * 0x9e3779b1) % corpusWords)
	for n > 0 {
		k := min(n, corpusWords-off)
		b = append(b, corpus[wordStart[off]:wordStart[off+k]]...)
		n -= k
		off = 0
	}
	return b[:len(b)-1] // drop the trailing space
}
