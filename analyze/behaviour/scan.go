package behaviour

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// The fast path for OpenAI bodies and stream chunks. An SSE stream is
// one small JSON object per token, and encoding/json spends most of its
// time on fields nobody reads (id, object, created, model). fastChunk
// reads a chunk in one pass without reflection. It gives up (false) on
// anything unusual — an escaped key, a key that matches one of oaBody's
// only case-insensitively, a duplicate key, a null where an object or
// index is read, a number that is not a plain integer where one is read,
// an escaped finish reason — and then the chunk goes through
// encoding/json, which decides. When it does not give up, its result is
// the one encoding/json would give (FuzzFastChunk checks this).

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

type scanner struct {
	b     []byte
	i     int
	depth int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// consume reads byte c after white space.
func (s *scanner) consume(c byte) bool {
	if s.peek() != c {
		return false
	}
	s.i++
	return true
}

// literal reads true, false or null.
func (s *scanner) literal(lit string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return false
	}
	s.i += len(lit)
	return true
}

// str reads a string and returns its raw contents and whether it has
// escapes; it checks the escapes and rejects control characters.
func (s *scanner) str() (raw []byte, escaped, ok bool) {
	if !s.consume('"') {
		return nil, false, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], escaped, true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.b) {
				return nil, false, false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return nil, false, false
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return nil, false, false
					}
				}
				s.i += 6
			default:
				return nil, false, false
			}
		default:
			s.i++
		}
	}
	return nil, false, false
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// num reads a number in JSON's grammar and returns its text.
func (s *scanner) num() ([]byte, bool) {
	s.ws()
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return nil, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return nil, false
		}
		i = j
	}
	tok := b[s.i:i]
	s.i = i
	return tok, true
}

// skip reads any value.
func (s *scanner) skip() bool {
	switch s.peek() {
	case '{':
		return s.object(func([]byte) bool { return s.skip() })
	case '[':
		return s.array(s.skip)
	case '"':
		_, _, ok := s.str()
		return ok
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	_, ok := s.num()
	return ok
}

// null reads null if it comes next.
func (s *scanner) null() bool { return s.peek() == 'n' && s.literal("null") }

// object reads an object, calling member for each key (unescaped keys
// only) with the scanner at its value.
func (s *scanner) object(member func(key []byte) bool) bool {
	return s.seq('{', '}', func() bool {
		key, esc, ok := s.str()
		return ok && !esc && s.consume(':') && member(key)
	})
}

// array reads an array, calling elem at each element.
func (s *scanner) array(elem func() bool) bool { return s.seq('[', ']', elem) }

// seq reads open, items separated by commas, and close, calling item at
// each one, within maxDepth of nesting.
func (s *scanner) seq(open, close byte, item func() bool) bool {
	if !s.consume(open) {
		return false
	}
	if s.depth++; s.depth > maxDepth {
		return false
	}
	defer func() { s.depth-- }()
	if s.consume(close) {
		return true
	}
	for {
		if !item() {
			return false
		}
		if s.consume(close) {
			return true
		}
		if !s.consume(',') {
			return false
		}
	}
}

// keys tells known keys apart: the index of key in names, -1 for
// another key, and false for a key that matches one only
// case-insensitively (encoding/json would take it) or comes twice.
type keys struct {
	names []string
	seen  uint32
}

func (k *keys) match(key []byte) (int, bool) {
	for i, n := range k.names {
		if string(key) == n {
			if k.seen&(1<<i) != 0 {
				return 0, false
			}
			k.seen |= 1 << i
			return i, true
		}
		if bytes.EqualFold(key, []byte(n)) {
			return 0, false
		}
	}
	return -1, true
}

// raw reads any value and returns its bytes.
func (s *scanner) raw() ([]byte, bool) {
	s.ws()
	start := s.i
	ok := s.skip()
	return s.b[start:s.i], ok
}

// int reads a plain integer.
func (s *scanner) int() (int, bool) {
	tok, ok := s.num()
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(string(tok))
	return n, err == nil
}

// text reads a string or null and folds it into st.
func (s *scanner) text(st *textState) bool {
	if s.null() {
		return true
	}
	raw, esc, ok := s.str()
	if !ok {
		return false
	}
	if esc || !utf8.Valid(raw) {
		var t string
		if json.Unmarshal(s.b[s.i-len(raw)-2:s.i], &t) != nil {
			return false
		}
		st.text(&t)
		return true
	}
	st.f.Chars += utf8.RuneCount(raw)
	if len(bytes.TrimSpace(raw)) > 0 {
		st.content = true
	}
	return true
}

// logprob reads a number or null and folds it into st.
func (s *scanner) logprob(st *textState) bool {
	if s.null() {
		return true
	}
	tok, ok := s.num()
	if !ok {
		return false
	}
	v, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return false
	}
	st.logprob(&v)
	return true
}

var (
	topKeys     = []string{"choices", "usage", "error"}
	choiceKeys  = []string{"index", "text", "message", "delta", "logprobs", "finish_reason"}
	messageKeys = []string{"content", "tool_calls"}
	lpKeys      = []string{"token_logprobs", "content"}
	lpItemKeys  = []string{"logprob"}
	usageKeys   = []string{"completion_tokens"}
)

// fastChunk folds chunk into st as textState.add would and reports
// whether it could; on false st is unchanged. isErr is true for a chunk
// carrying an error.
func fastChunk(chunk []byte, st *textState) (isErr, ok bool) {
	s := &scanner{b: chunk}
	work := *st
	top := keys{names: topKeys}
	ok = s.object(func(key []byte) bool {
		k, ok := top.match(key)
		switch {
		case !ok:
			return false
		case k == 0:
			return s.null() || s.array(func() bool { return s.choice(&work) })
		case k == 1:
			return s.null() || s.usage(&work)
		case k == 2:
			raw, ok := s.raw()
			isErr = hasError(raw)
			return ok
		}
		return s.skip()
	})
	if s.ws(); !ok || s.i != len(s.b) {
		return false, false
	}
	if !isErr {
		*st = work
	}
	return isErr, true
}

func (s *scanner) usage(st *textState) bool {
	ks := keys{names: usageKeys}
	return s.object(func(key []byte) bool {
		k, ok := ks.match(key)
		switch {
		case !ok:
			return false
		case k == 0:
			if s.null() {
				return true
			}
			n, ok := s.int()
			if ok && n >= 0 {
				st.f.Tokens = n
			}
			return ok
		}
		return s.skip()
	})
}

// choice reads one choice into a copy of st, kept when its index is 0.
func (s *scanner) choice(st *textState) bool {
	ks := keys{names: choiceKeys}
	work := *st
	index := 0
	ok := s.object(func(key []byte) bool {
		k, ok := ks.match(key)
		switch {
		case !ok:
			return false
		case k == 0:
			index, ok = s.int()
			return ok
		case k == 1:
			return s.text(&work)
		case k == 2, k == 3:
			return s.null() || s.message(&work)
		case k == 4:
			return s.null() || s.logprobs(&work)
		case k == 5:
			if s.null() {
				return true
			}
			raw, esc, ok := s.str()
			if !ok || esc || !utf8.Valid(raw) {
				return false
			}
			work.f.FinishReason = string(raw)
			return true
		}
		return s.skip()
	})
	if ok && index == 0 {
		work.choice = true
		*st = work
	}
	return ok
}

func (s *scanner) message(st *textState) bool {
	ks := keys{names: messageKeys}
	return s.object(func(key []byte) bool {
		k, ok := ks.match(key)
		switch {
		case !ok:
			return false
		case k == 0:
			return s.text(st)
		case k == 1:
			raw, ok := s.raw()
			if ok && toolCalls(raw) {
				st.content = true
			}
			return ok
		}
		return s.skip()
	})
}

func (s *scanner) logprobs(st *textState) bool {
	ks := keys{names: lpKeys}
	return s.object(func(key []byte) bool {
		k, ok := ks.match(key)
		switch {
		case !ok:
			return false
		case k == 0:
			if ks.seen&2 != 0 { // textState.add sums token_logprobs first
				return false
			}
			return s.null() || s.array(func() bool { return s.logprob(st) })
		case k == 1:
			return s.null() || s.array(func() bool {
				if s.null() {
					return true
				}
				iks := keys{names: lpItemKeys}
				return s.object(func(key []byte) bool {
					k, ok := iks.match(key)
					switch {
					case !ok:
						return false
					case k == 0:
						return s.logprob(st)
					}
					return s.skip()
				})
			})
		}
		return s.skip()
	})
}
