package openai

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// scan is the streaming hot path's reading of one chunk: what the events
// reader needs of it, found by one pass over the bytes, without
// allocating. encoding/json takes about five times as long and nine
// allocations per chunk, a large share of what a streamed token costs the
// client, and a load generator's CPU is the ceiling of the streams it can
// hold (BenchmarkChunk compares the two).
//
// It answers only for the ordinary chunk, and reports ok = false for
// anything else, which the events reader then hands to encoding/json (the
// reference, so that results and error messages stay exactly its own):
// JSON that is not valid, a value of an unexpected type, a member name
// that matches a field only without regard to case or through escapes, a
// field given twice, an error member or an "object" of "error", strings
// with escapes or invalid UTF-8 where their text is needed (the object
// type, and with keep the kept text), a choice that is null, and nesting
// deeper than maxScanDepth. FuzzScanChunk holds it to encoding/json's
// answers.
type scan struct {
	b     []byte
	i     int
	depth int
	keep  bool

	content bool     // some choice has non-empty text: see chunk.hasContent
	tokens  int      // usage.completion_tokens; 0 when absent
	prompt  int      // usage.prompt_tokens; 0 when absent
	cached  int      // usage.prompt_tokens_details.cached_tokens: see usage.cachedTokens
	texts   [][]byte // with keep: the text to append to Result.Output, in order
}

// maxScanDepth bounds the nesting scan follows; deeper is encoding/json's.
const maxScanDepth = 64

// Member names, by the struct they belong to (see chunk, choice, message
// and usage).
var (
	chunkFields   = newFields("object", "message", "error", "choices", "usage")
	choiceFields  = newFields("text", "delta", "message")
	messageFields = newFields("content", "reasoning_content", "reasoning")
	usageFields   = newFields("prompt_tokens", "completion_tokens", "prompt_tokens_details")
	detailFields  = newFields("cached_tokens")
	noFields      = newFields()
)

// fields are the member names of one struct.
type fields struct {
	names []string
	lens  uint64 // bit n is set when a name is n bytes long
}

func newFields(names ...string) *fields {
	f := &fields{names: names}
	for _, n := range names {
		f.lens |= 1 << len(n)
	}
	return f
}

// scanChunk reads b, a chunk's JSON, into s (reset first); keep asks for
// the text as well. It reports whether it could.
func (s *scan) scanChunk(b []byte, keep bool) bool {
	*s = scan{b: b, keep: keep, texts: s.texts[:0]}
	s.space()
	if !s.object(chunkFields, s.chunkMember) {
		return false
	}
	s.space()
	return s.i == len(s.b)
}

func (s *scan) chunkMember(field int) bool {
	switch chunkFields.names[field] {
	case "object":
		v, ok := s.stringValue()
		return ok && plain(v) && string(v) != "error"
	case "message":
		_, ok := s.stringValue()
		return ok
	case "error":
		return s.literal("null")
	case "choices":
		if s.peek() == 'n' {
			return s.literal("null")
		}
		return s.array(s.choice)
	default: // usage
		if s.peek() == 'n' {
			return s.literal("null")
		}
		return s.object(usageFields, s.usageMember)
	}
}

// choice reads one choice. With keep, its texts wait in three slots at the
// end of s.texts (text, delta.content, message.content: the order in which
// chunk.keepText appends them) until it ends.
func (s *scan) choice() bool {
	if s.keep {
		s.texts = append(s.texts, nil, nil, nil)
	}
	if !s.object(choiceFields, s.choiceMember) {
		return false
	}
	if s.keep {
		slots := s.texts[len(s.texts)-3:]
		s.texts = s.texts[:len(s.texts)-3]
		for _, v := range slots {
			if len(v) > 0 {
				s.texts = append(s.texts, v)
			}
		}
	}
	return true
}

// choiceMember reads one member of a choice.
func (s *scan) choiceMember(field int) bool {
	switch choiceFields.names[field] {
	case "text":
		return s.text(0)
	case "delta":
		return s.message(1, true)
	default: // message
		return s.message(2, false)
	}
}

// message reads a delta or message object: its content is kept in slot;
// its reasoning content is content too, and so is its reasoning when
// reasoning is true (chunk.hasContent ignores message.reasoning).
func (s *scan) message(slot int, reasoning bool) bool {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	return s.object(messageFields, func(field int) bool {
		switch messageFields.names[field] {
		case "content":
			return s.text(slot)
		case "reasoning_content":
			return s.text(-1)
		default: // reasoning
			if !reasoning {
				_, ok := s.stringValue()
				return ok
			}
			return s.text(-1)
		}
	})
}

// text reads a string that is content and, with keep, keeps it in slot of
// the current choice's three (none when slot is -1).
func (s *scan) text(slot int) bool {
	v, ok := s.stringValue()
	if !ok {
		return false
	}
	s.content = s.content || len(v) > 0
	if !s.keep || slot < 0 || len(v) == 0 {
		return true
	}
	if !plain(v) {
		return false
	}
	s.texts[len(s.texts)-3+slot] = v
	return true
}

func (s *scan) usageMember(field int) bool {
	if usageFields.names[field] == "prompt_tokens_details" {
		if s.peek() != '{' { // not an object: no cached tokens (usage.cachedTokens)
			return s.skip()
		}
		return s.object(detailFields, func(int) bool {
			n, ok := s.intValue()
			s.cached = n
			return ok
		})
	}
	n, ok := s.intValue()
	if ok && usageFields.names[field] == "completion_tokens" {
		s.tokens = n
	} else if ok {
		s.prompt = n
	}
	return ok
}

// object reads an object, calling member for each member whose name is
// one of fields (by its index there), with s at the value; member must
// read it. Other members are skipped. A name that matches a field only
// when case is ignored, a name with escapes, or a field given twice fails.
func (s *scan) object(fs *fields, member func(field int) bool) bool {
	if !s.enter('{') {
		return false
	}
	var seen uint
	s.space()
	if s.peek() == '}' {
		s.i++
		s.depth--
		return true
	}
	for {
		s.space()
		name, ok := s.stringValue()
		if !ok || bytes.IndexByte(name, '\\') >= 0 {
			return false
		}
		s.space()
		if s.peek() != ':' {
			return false
		}
		s.i++
		s.space()
		f, exact := fs.of(name)
		switch {
		case f < 0:
			ok = s.skip()
		case !exact || seen&(1<<f) != 0:
			return false
		default:
			seen |= 1 << f
			ok = member(f)
		}
		if !ok {
			return false
		}
		s.space()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			s.depth--
			return true
		default:
			return false
		}
	}
}

// of returns the index of the field that name is (exact true) or that it
// matches without regard to case, as encoding/json matches names; -1 for
// none.
func (fs *fields) of(name []byte) (f int, exact bool) {
	for i, n := range fs.names {
		if string(name) == n {
			return i, true
		}
	}
	if len(name) < 64 && fs.lens&(1<<len(name)) == 0 && isASCII(name) {
		return -1, false // ASCII folds keep the length
	}
	for i, n := range fs.names {
		if bytes.EqualFold(name, []byte(n)) {
			return i, false
		}
	}
	return -1, false
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// array reads an array, calling elem with s at each element; elem must
// read it.
func (s *scan) array(elem func() bool) bool {
	if !s.enter('[') {
		return false
	}
	s.space()
	if s.peek() == ']' {
		s.i++
		s.depth--
		return true
	}
	for {
		s.space()
		if !elem() {
			return false
		}
		s.space()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			return true
		default:
			return false
		}
	}
}

// enter reads the opening byte c of an object or array.
func (s *scan) enter(c byte) bool {
	if s.peek() != c || s.depth == maxScanDepth {
		return false
	}
	s.i++
	s.depth++
	return true
}

// skip reads any value.
func (s *scan) skip() bool {
	switch c := s.peek(); {
	case c == '{':
		return s.object(noFields, nil)
	case c == '[':
		return s.array(s.skip)
	case c == '"':
		_, ok := s.stringValue()
		return ok
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	default:
		_, ok := s.number()
		return ok
	}
}

// stringValue reads a string or null (encoding/json leaves a string field
// as it is for null) and returns the bytes between the quotes, escapes
// not decoded.
func (s *scan) stringValue() ([]byte, bool) {
	if s.peek() == 'n' {
		return nil, s.literal("null")
	}
	b := s.b
	if s.i >= len(b) || b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	for i := start; i < len(b); i++ {
		for i < len(b) && !strSpecial[b[i]] {
			i++
		}
		if i == len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return b[start:i], true
		case c < 0x20:
			return nil, false
		case c == '\\':
			i++
			if i == len(b) {
				return nil, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return nil, false
				}
				i += 4
			default:
				return nil, false
			}
		}
	}
	return nil, false
}

// intValue reads an integer that fits an int, or null (0).
func (s *scan) intValue() (int, bool) {
	if s.peek() == 'n' {
		return 0, s.literal("null")
	}
	v, ok := s.number()
	if !ok || bytes.ContainsAny(v, ".eE") {
		return 0, false
	}
	n, err := strconv.Atoi(string(v))
	return n, err == nil
}

// number reads a number as JSON writes it.
func (s *scan) number() ([]byte, bool) {
	start, i := s.i, s.i
	digits := func() bool {
		j := i
		for i < len(s.b) && s.b[i] >= '0' && s.b[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(s.b) && s.b[i] == '-' {
		i++
	}
	switch {
	case i < len(s.b) && s.b[i] == '0':
		i++
	case !digits():
		return nil, false
	}
	if i < len(s.b) && s.b[i] == '.' {
		i++
		if !digits() {
			return nil, false
		}
	}
	if i < len(s.b) && (s.b[i] == 'e' || s.b[i] == 'E') {
		i++
		if i < len(s.b) && (s.b[i] == '+' || s.b[i] == '-') {
			i++
		}
		if !digits() {
			return nil, false
		}
	}
	s.i = i
	return s.b[start:i], true
}

// literal reads word.
func (s *scan) literal(word string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		return false
	}
	s.i += len(word)
	return true
}

// space skips JSON white space.
func (s *scan) space() {
	b, i := s.b, s.i
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	s.i = i
}

// peek returns the byte at s.i, or 0 at the end.
func (s *scan) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// strSpecial marks the bytes that end a string's plain run: the quote, the
// backslash and control bytes.
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// plain reports whether a string's bytes are its text: no escapes and
// valid UTF-8 (encoding/json replaces invalid bytes).
func plain(v []byte) bool {
	return bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v)
}
