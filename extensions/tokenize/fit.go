package tokenize

import (
	"fmt"
	"strings"
	"unicode"
)

// Bounds of Fit's search.
const (
	fitAdjust = 8  // cuts tried by moving the cut by the miss
	fitWords  = 64 // words tried after trimming to a word boundary
)

// Fit returns the longest prefix of text that, as Fit finds it, encodes to
// exactly n tokens under t: text is encoded, cut after n tokens and
// decoded, and the result encoded again to check it. BPE is not stable
// across such a cut (the last tokens may merge differently once their
// neighbours are gone, or the cut may fall inside a character), so on a
// miss Fit moves the cut by the miss and retries, then trims to the last
// word boundary and adds the following words of text one by one, each
// step checked; all of it bounded. The error wraps ErrInexact when no
// tried cut gives n tokens, or when text has fewer than n.
func Fit(t Tokenizer, text string, n int) (string, error) {
	if n <= 0 {
		return "", nil
	}
	ids := t.Encode(text)
	if len(ids) < n {
		return "", fmt.Errorf("%w %d tokens: the text has %d", ErrInexact, n, len(ids))
	}
	if len(ids) == n && t.Count(text) == n {
		return text, nil
	}
	k := n
	for range fitAdjust {
		s := ValidPrefix(t.Decode(ids[:k]))
		c := t.Count(s)
		if c == n {
			return s, nil
		}
		next := min(max(k+n-c, 1), len(ids))
		if next == k {
			break
		}
		k = next
	}
	// Trim to a word boundary below n tokens, then add words.
	s := ValidPrefix(t.Decode(ids[:n]))
	for range fitWords {
		i := strings.LastIndexFunc(s, unicode.IsSpace)
		if i <= 0 {
			break
		}
		s = s[:i]
		if t.Count(s) < n {
			break
		}
	}
	if !strings.HasPrefix(text, s) {
		return "", fmt.Errorf("%w %d tokens: the decoded text is not a prefix of the input", ErrInexact, n)
	}
	rest := text[len(s):]
	for range fitWords {
		w := nextWord(rest)
		if w == 0 {
			break
		}
		c := t.Count(s + rest[:w])
		if c > n {
			break
		}
		s, rest = s+rest[:w], rest[w:]
		if c == n {
			return s, nil
		}
	}
	return "", fmt.Errorf("%w %d tokens: no cut tried gives exactly that many (got %d)", ErrInexact, n, t.Count(s))
}

// nextWord returns the length of the leading white space of s plus the
// word after it; 0 at the end.
func nextWord(s string) int {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	for i < len(s) && !(s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}
