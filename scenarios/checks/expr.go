package checks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// statusRange is a status code (lo == hi) or a class (200–299).
type statusRange struct{ lo, hi int }

func (r statusRange) String() string {
	if r.lo == r.hi {
		return strconv.Itoa(r.lo)
	}
	return strconv.Itoa(r.lo/100) + "xx"
}

// parseStatus reads a list of codes and classes: "200", "2xx", "2xx,304".
func (c *Check) parseStatus(expr string) error {
	c.op = opStatus
	items := strings.FieldsFunc(expr, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(items) == 0 {
		return errors.New("missing: a status code (200) or class (2xx), or a comma-separated list of them")
	}
	for _, it := range items {
		if len(it) == 3 && it[0] >= '1' && it[0] <= '5' && strings.EqualFold(it[1:], "xx") {
			lo := int(it[0]-'0') * 100
			c.status = append(c.status, statusRange{lo, lo + 99})
			continue
		}
		n, err := strconv.Atoi(it)
		if err != nil || n < 100 || n > 599 || len(it) != 3 {
			return fmt.Errorf("%q is not a status code (100 to 599) or class (1xx to 5xx)", it)
		}
		c.status = append(c.status, statusRange{n, n})
	}
	return nil
}

// operators in the order they are tried (longest first).
var symbols = []struct {
	text string
	op   op
}{
	{"==", opEq}, {"!=", opNe}, {"<=", opLe}, {">=", opGe}, {"!~", opNoMatch}, {"<", opLt}, {">", opGt}, {"~", opMatch},
}

// readOp reads the operator at the start of s (white space skipped) and
// returns it with the rest of s, white space around it trimmed.
func readOp(s string) (op, string, error) {
	s = strings.TrimLeft(s, " \t")
	for _, w := range []struct {
		text string
		op   op
	}{{"exists", opExists}, {"missing", opMissing}} {
		if rest, ok := strings.CutPrefix(s, w.text); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			if rest = strings.TrimSpace(rest); rest != "" {
				return 0, "", fmt.Errorf("unexpected %q after %s", clip(rest), w.text)
			}
			return w.op, "", nil
		}
	}
	for _, sy := range symbols {
		if rest, ok := strings.CutPrefix(s, sy.text); ok {
			return sy.op, strings.TrimSpace(rest), nil
		}
	}
	if s == "" {
		return 0, "", errors.New("missing operator: exists, missing, ==, !=, <, <=, >, >=, ~ or !~")
	}
	if strings.HasPrefix(s, "=") {
		return 0, "", errors.New("unknown operator =: say ==")
	}
	return 0, "", fmt.Errorf("unknown operator at %q: want exists, missing, ==, !=, <, <=, >, >=, ~ or !~", clip(s))
}

// clip shortens s for a message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// compileRegexp compiles the operand of ~ and !~.
func compileRegexp(src string) (*regexp.Regexp, error) {
	if src == "" {
		return nil, errors.New("missing regular expression after ~")
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("regular expression %q: %v", clip(src), strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return re, nil
}

// isTchar reports whether b may be part of a header name (RFC 9110
// tchar), leaving out ! and ~, which start operators here.
func isTchar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("#$%&'*+-.^_`|", b) >= 0
}

// parseHeader reads NAME OP [VALUE].
func (c *Check) parseHeader(expr string) error {
	s := strings.TrimSpace(expr)
	i := 0
	for i < len(s) && isTchar(s[i]) {
		i++
	}
	if i == 0 {
		return fmt.Errorf("%q: want a header name first, as in Content-Type ~ ^application/json", clip(s))
	}
	c.header = textproto.CanonicalMIMEHeaderKey(s[:i])
	o, rest, err := readOp(s[i:])
	if err != nil {
		return err
	}
	c.op = o
	switch o {
	case opExists, opMissing:
	case opEq, opNe:
		if strings.HasPrefix(rest, `"`) {
			v, err := strconv.Unquote(rest)
			if err != nil {
				return fmt.Errorf("value %s: not a quoted string", clip(rest))
			}
			rest = v
		}
		c.str = rest
	case opMatch, opNoMatch:
		if c.re, err = compileRegexp(rest); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s compares numbers: a header takes exists, missing, ==, !=, ~ or !~", opText[o])
	}
	return nil
}

// parseJSON reads PATH OP [VALUE].
func (c *Check) parseJSON(expr string) error {
	s := strings.TrimSpace(expr)
	p, n, err := parsePath(s)
	if err != nil {
		return err
	}
	c.path = p
	o, rest, err := readOp(s[n:])
	if err != nil {
		return err
	}
	c.op = o
	switch o {
	case opExists, opMissing:
	case opEq, opNe:
		if c.scalar, err = parseScalar(rest); err != nil {
			return err
		}
	case opMatch, opNoMatch:
		if c.re, err = compileRegexp(rest); err != nil {
			return err
		}
	default:
		if c.num, err = parseNum(rest); err != nil {
			return err
		}
	}
	return nil
}

// parseNum reads a finite number.
func parseNum(s string) (float64, error) {
	if s == "" {
		return 0, errors.New("missing number after the operator")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a number", clip(s))
	}
	return v, nil
}

// parseBody reads ~ REGEX or !~ REGEX.
func (c *Check) parseBody(expr string) error {
	s := strings.TrimSpace(expr)
	o, rest, err := readOp(s)
	if err != nil || (o != opMatch && o != opNoMatch) {
		return fmt.Errorf("%q: want ~ REGEX (the content matches) or !~ REGEX (it does not); quote an expression that starts with !, which YAML reads as a tag", clip(s))
	}
	c.op = o
	c.re, err = compileRegexp(rest)
	return err
}

// parseLength reads bytes|tokens OP N.
func (c *Check) parseLength(expr string) error {
	s := strings.TrimSpace(expr)
	what, rest, _ := strings.Cut(s, " ")
	for _, w := range []string{"bytes", "tokens"} {
		if r, ok := strings.CutPrefix(s, w); ok && (r == "" || strings.ContainsRune(" \t=!<>", rune(r[0]))) {
			what, rest = w, r
		}
	}
	switch what {
	case "bytes":
	case "tokens":
		c.tokens = true
	default:
		return fmt.Errorf("%q: want bytes or tokens, then a comparison, as in tokens >= 1", clip(s))
	}
	o, rest, err := readOp(rest)
	if err != nil {
		return err
	}
	switch o {
	case opEq, opNe, opLt, opLe, opGt, opGe:
	default:
		return fmt.Errorf("a length takes ==, !=, <, <=, > or >= (got %s)", opText[o])
	}
	c.op = o
	if c.num, err = parseNum(rest); err != nil {
		return err
	}
	if c.num < 0 {
		return fmt.Errorf("%s is negative: a length is not", rest)
	}
	return nil
}

// scalar is a JSON string, number, true, false or null.
type scalar struct {
	kind byte // 's', 'n', 't', 'f', '0' (null)
	str  string
	num  float64
}

func (v scalar) String() string {
	switch v.kind {
	case 's':
		b, _ := json.Marshal(v.str)
		return string(b)
	case 'n':
		return formatNum(v.num)
	case 't':
		return "true"
	case 'f':
		return "false"
	}
	return "null"
}

// parseScalar reads the operand of == and != on a JSON value.
func parseScalar(s string) (scalar, error) {
	if s == "" {
		return scalar{}, errors.New("missing value after the operator: a JSON string (\"stop\"), number, true, false or null")
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&v); err != nil || dec.More() || dec.InputOffset() != int64(len(s)) {
		return scalar{}, fmt.Errorf("%q is not a JSON value: quote strings (\"stop\"); numbers, true, false and null stand as they are", clip(s))
	}
	switch v := v.(type) {
	case string:
		return scalar{kind: 's', str: v}, nil
	case float64:
		return scalar{kind: 'n', num: v}, nil
	case bool:
		if v {
			return scalar{kind: 't'}, nil
		}
		return scalar{kind: 'f'}, nil
	case nil:
		return scalar{kind: '0'}, nil
	}
	return scalar{}, fmt.Errorf("%q: compare with a string, number, true, false or null; an object or array is tested with exists", clip(s))
}

// step is one step of a JSON path: a member name or an array index
// (negative from the end).
type step struct {
	key   string
	index int
	isKey bool
}

// path is a JSON path; empty is the whole document.
type path []step

// maxIndex bounds an array index of a path.
const maxIndex = 1 << 30

// isIdent reports whether a member name can be written bare in the
// canonical form of a path.
func isIdent(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		b := k[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// String writes the path in canonical form: $ alone for the document,
// bare names joined by dots, brackets for indices and other names.
func (p path) String() string {
	if len(p) == 0 {
		return "$"
	}
	var b strings.Builder
	for i, s := range p {
		switch {
		case !s.isKey:
			fmt.Fprintf(&b, "[%d]", s.index)
		case isIdent(s.key):
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		default:
			b.WriteString("[" + strconv.Quote(s.key) + "]")
		}
	}
	return b.String()
}

// pathEnd reports whether b ends a bare member name.
func pathEnd(b byte) bool { return strings.IndexByte(" \t.[]\"'=!<>~", b) >= 0 }

// parsePath reads a path at the start of s and returns it and its length:
// an optional $, then .name, [N] or ["name"] steps; the first step may be
// a bare name. The path ends at white space or an operator.
func parsePath(s string) (path, int, error) {
	var p path
	i := 0
	if strings.HasPrefix(s, "$") {
		i = 1
	}
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || strings.IndexByte("=!<>~", c) >= 0:
			if i == 0 {
				return nil, 0, fmt.Errorf("%q: want a JSON path first, as in choices[0].text exists ($ is the whole document)", clip(s))
			}
			return p, i, nil
		case c == '[':
			st, n, err := parseBracket(s[i:])
			if err != nil {
				return nil, 0, fmt.Errorf("path %q: %v", clip(s), err)
			}
			p = append(p, st)
			i += n
		case c == '.' || i == 0:
			if c == '.' {
				i++
			}
			j := i
			for j < len(s) && !pathEnd(s[j]) {
				j++
			}
			if j == i {
				return nil, 0, fmt.Errorf("path %q: want a name at byte %d", clip(s), i)
			}
			p = append(p, step{key: s[i:j], isKey: true})
			i = j
		default:
			return nil, 0, fmt.Errorf("path %q: unexpected %q at byte %d (want .name, [N] or [\"name\"])", clip(s), c, i)
		}
	}
	if i == 0 {
		return nil, 0, errors.New("missing: a JSON path and an operator, as in choices[0].text exists")
	}
	return p, i, nil
}

// parseBracket reads [N], ["name"] or ['name'] at the start of s.
func parseBracket(s string) (step, int, error) {
	end := -1
	switch {
	case len(s) > 1 && s[1] == '"':
		// A Go-quoted name: find its closing quote, escapes skipped.
		for j := 2; j < len(s); j++ {
			if s[j] == '\\' {
				j++
				continue
			}
			if s[j] == '"' {
				end = j + 1
				break
			}
		}
		if end < 0 || end >= len(s) || s[end] != ']' {
			return step{}, 0, errors.New(`a ["name"] is not closed`)
		}
		k, err := strconv.Unquote(s[1:end])
		if err != nil {
			return step{}, 0, fmt.Errorf("%s is not a quoted name", clip(s[1:end]))
		}
		return step{key: k, isKey: true}, end + 1, nil
	case len(s) > 1 && s[1] == '\'':
		j := strings.IndexByte(s[2:], '\'')
		if j < 0 || 2+j+1 >= len(s) || s[2+j+1] != ']' {
			return step{}, 0, errors.New("a ['name'] is not closed")
		}
		return step{key: s[2 : 2+j], isKey: true}, 2 + j + 2, nil
	}
	j := strings.IndexByte(s, ']')
	if j < 0 {
		return step{}, 0, errors.New("a [ is not closed")
	}
	n, err := strconv.Atoi(strings.TrimSpace(s[1:j]))
	if err != nil || n >= maxIndex || n <= -maxIndex {
		return step{}, 0, fmt.Errorf("[%s] is not an array index (an integer, negative from the end) or a quoted name", clip(s[1:j]))
	}
	return step{index: n}, j + 1, nil
}

// valueHolds reports whether the positive form of the check's operator
// (== for ==/!=, ~ for ~/!~, the comparison itself) holds on raw, a valid
// JSON value.
func (c *Check) valueHolds(raw []byte) bool {
	switch c.op {
	case opExists, opMissing:
		return true
	case opEq, opNe:
		return c.scalar.equals(raw)
	case opMatch, opNoMatch:
		if isString(raw) {
			if inner := raw[1 : len(raw)-1]; plainString(inner) {
				return c.re.Match(inner)
			}
			s, ok := decodeString(raw)
			return ok && c.re.MatchString(s)
		}
		return c.re.Match(raw)
	}
	if len(raw) == 0 || !(raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9') {
		return false
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	return err == nil && compare(v, c.op, c.num)
}

// equals compares a JSON value with the scalar.
func (v scalar) equals(raw []byte) bool {
	if len(raw) == 0 {
		return false
	}
	switch v.kind {
	case 's':
		if !isString(raw) {
			return false
		}
		if inner := raw[1 : len(raw)-1]; plainString(inner) {
			return string(inner) == v.str
		}
		s, ok := decodeString(raw)
		return ok && s == v.str
	case 'n':
		if !(raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9') {
			return false
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		return err == nil && f == v.num
	case 't':
		return string(raw) == "true"
	case 'f':
		return string(raw) == "false"
	}
	return string(raw) == "null"
}

// decodeString decodes a JSON string as encoding/json does.
func decodeString(raw []byte) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// plainString reports whether the bytes between a JSON string's quotes are
// its text.
func plainString(b []byte) bool {
	if bytes.IndexByte(b, '\\') >= 0 {
		return false
	}
	for _, c := range b {
		if c >= 0x80 {
			return utf8.Valid(b)
		}
	}
	return true
}
