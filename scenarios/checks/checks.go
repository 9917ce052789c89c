// Package checks holds k6-style checks: assertions on every response of a
// scenario — its status, a header, a value at a JSON path, a regular
// expression on its content, a stream that ended with [DONE], its length
// in bytes or tokens — compiled once when the scenario file is read and
// evaluated on each response. A failed check is counted as a check
// failure (run.json's checks, the checks metric of thresholds and gates);
// it never changes the request's own success or error.
//
// A check is one expression per assertion kind (see docs/scenarios.md,
// "Checks"):
//
//	status: 2xx,304                         the status is one of these codes or classes
//	header: Content-Type ~ ^application/json  a header exists, is missing, equals, matches
//	json: choices[0].finish_reason == "length"  a JSON path exists, is missing, equals, compares, matches
//	body: ~ (?i)hello                       the content matches (~) or does not match (!~)
//	sse: done                               the event stream ended with [DONE]
//	length: tokens >= 1                     the output length in bytes or tokens
//
// Compile turns a Spec into a Check; NewSet compiles a scenario's checks.
// A Set's State follows one response: a protocol client that can show
// what it reads (extensions.ObservingClient) calls its Header, Event and
// Document methods as the response comes, without the client buffering
// anything for it; Finish then judges what the finished gonogo.Result
// holds (status, content, length) and returns the checks that failed.
package checks

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/gonogo-dev/gonogo"
)

// Kinds of assertion, the YAML field that holds each.
const (
	KindStatus = "status"
	KindHeader = "header"
	KindJSON   = "json"
	KindBody   = "body"
	KindSSE    = "sse"
	KindLength = "length"
)

// Kinds lists the assertion kinds in the order of the documentation.
var Kinds = []string{KindStatus, KindHeader, KindJSON, KindBody, KindSSE, KindLength}

// Bounds of a check.
const (
	// MaxChecks bounds the checks of a run: their outcomes travel as the
	// bits of a uint64.
	MaxChecks = 64
	// MaxNameBytes bounds a check's name.
	MaxNameBytes = 128
	// MaxExprBytes bounds one expression.
	MaxExprBytes = 4096
)

// ErrCheck is wrapped by every error of this package.
var ErrCheck = errors.New("checks")

// Error is a check that does not compile. Field is the spec's field at
// fault (name, or the assertion's kind); Index the check's position in its
// list, from 0.
type Error struct {
	Index int
	Field string
	Msg   string
}

func (e *Error) Error() string { return fmt.Sprintf("checks[%d].%s: %s", e.Index, e.Field, e.Msg) }

// Unwrap returns ErrCheck.
func (e *Error) Unwrap() error { return ErrCheck }

// Spec is one check as a scenario file declares it: a name and exactly
// one assertion.
type Spec struct {
	// Name says what the check is about; run.json, thresholds and gates
	// (checks{check:NAME}) refer to the check by it.
	Name string `yaml:"name"`
	// Status is a comma-separated list of status codes (200) and classes
	// (2xx).
	Status string `yaml:"status"`
	// Header is NAME exists | missing | == VALUE | != VALUE | ~ REGEX |
	// !~ REGEX.
	Header string `yaml:"header"`
	// JSON is PATH exists | missing | == JSON | != JSON | < N | <= N |
	// > N | >= N | ~ REGEX | !~ REGEX.
	JSON string `yaml:"json"`
	// Body is ~ REGEX or !~ REGEX, on the response's content.
	Body string `yaml:"body"`
	// SSE is done: the event stream ended with [DONE].
	SSE string `yaml:"sse"`
	// Length is bytes|tokens OP N.
	Length string `yaml:"length"`
}

// assertion returns the kind and expression of the one assertion s makes;
// kind is "" when it makes none, and more lists a second one.
func (s *Spec) assertion() (kind, expr, more string) {
	for _, k := range Kinds {
		v := s.field(k)
		if v == "" {
			continue
		}
		if kind != "" {
			return kind, expr, k
		}
		kind, expr = k, v
	}
	return kind, expr, ""
}

func (s *Spec) field(kind string) string {
	switch kind {
	case KindStatus:
		return s.Status
	case KindHeader:
		return s.Header
	case KindJSON:
		return s.JSON
	case KindBody:
		return s.Body
	case KindSSE:
		return s.SSE
	case KindLength:
		return s.Length
	}
	return ""
}

// op is an operator of an expression.
type op int

const (
	opExists op = iota + 1
	opMissing
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opMatch
	opNoMatch
	opDone
	opStatus
)

var opText = map[op]string{
	opExists: "exists", opMissing: "missing", opEq: "==", opNe: "!=", opLt: "<", opLe: "<=",
	opGt: ">", opGe: ">=", opMatch: "~", opNoMatch: "!~", opDone: "done",
}

// Check is one compiled check.
type Check struct {
	// Name is the check's name.
	Name string
	// Kind is the assertion's kind (KindStatus, …).
	Kind string

	op     op
	status []statusRange // KindStatus
	header string        // KindHeader: the name, canonical (http.CanonicalHeaderKey)
	path   path          // KindJSON
	// The operand: a string (header ==), a JSON scalar (json ==), a
	// number (comparisons, length) or a regular expression (~, !~).
	str    string
	scalar scalar
	num    float64
	re     *regexp.Regexp
	tokens bool // KindLength: tokens rather than bytes
}

// String returns the check's expression in canonical form, which Compile
// reads back to the same check.
func (c *Check) String() string {
	switch c.Kind {
	case KindStatus:
		parts := make([]string, len(c.status))
		for i, r := range c.status {
			parts[i] = r.String()
		}
		return strings.Join(parts, ",")
	case KindSSE:
		return "done"
	case KindBody:
		return opText[c.op] + " " + c.re.String()
	case KindLength:
		what := "bytes"
		if c.tokens {
			what = "tokens"
		}
		return what + " " + opText[c.op] + " " + formatNum(c.num)
	}
	subject := c.header
	if c.Kind == KindJSON {
		subject = c.path.String()
	}
	switch c.op {
	case opExists, opMissing:
		return subject + " " + opText[c.op]
	case opMatch, opNoMatch:
		return subject + " " + opText[c.op] + " " + c.re.String()
	case opEq, opNe:
		if c.Kind == KindHeader {
			return subject + " " + opText[c.op] + " " + strconv.Quote(c.str)
		}
		return subject + " " + opText[c.op] + " " + c.scalar.String()
	}
	return subject + " " + opText[c.op] + " " + formatNum(c.num)
}

func formatNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Compile compiles one check. The error is an *Error (with Index 0)
// naming the field at fault.
func Compile(s Spec) (*Check, error) {
	c, field, msg := compile(s)
	if msg != "" {
		return nil, &Error{Field: field, Msg: msg}
	}
	return c, nil
}

func compile(s Spec) (c *Check, field, msg string) {
	if f, m := checkName(s.Name); m != "" {
		return nil, f, m
	}
	kind, expr, more := s.assertion()
	switch {
	case kind == "":
		return nil, "name", "no assertion: give one of " + strings.Join(Kinds, ", ")
	case more != "":
		return nil, more, fmt.Sprintf("a check makes one assertion (it has %s already): make another check", kind)
	case len(expr) > MaxExprBytes:
		return nil, kind, fmt.Sprintf("expression longer than %d bytes", MaxExprBytes)
	case !utf8.ValidString(expr):
		return nil, kind, "expression is not valid UTF-8"
	}
	c = &Check{Name: s.Name, Kind: kind}
	var err error
	switch kind {
	case KindStatus:
		err = c.parseStatus(expr)
	case KindHeader:
		err = c.parseHeader(expr)
	case KindJSON:
		err = c.parseJSON(expr)
	case KindBody:
		err = c.parseBody(expr)
	case KindSSE:
		if strings.TrimSpace(expr) != "done" {
			err = fmt.Errorf("%q: want done (the stream ended with [DONE])", expr)
		}
		c.op = opDone
	case KindLength:
		err = c.parseLength(expr)
	}
	if err != nil {
		return nil, kind, err.Error()
	}
	return c, "", ""
}

// checkName checks a check's name: it appears in selectors
// (checks{check:NAME}) and in run.json's keys.
func checkName(name string) (field, msg string) {
	switch {
	case name == "":
		return "name", "missing: every check needs a name, by which run.json, thresholds and gates refer to it"
	case len(name) > MaxNameBytes:
		return "name", fmt.Sprintf("longer than %d bytes", MaxNameBytes)
	case !utf8.ValidString(name):
		return "name", "not valid UTF-8"
	case strings.TrimSpace(name) != name:
		return "name", fmt.Sprintf("%q starts or ends with white space", name)
	case strings.ContainsAny(name, "{},:\"'"):
		return "name", fmt.Sprintf("%q holds one of { } , : \" ' which selectors such as checks{check:NAME} use", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "name", fmt.Sprintf("%q holds a control character", name)
		}
	}
	return "", ""
}

// Set is the compiled checks of one scenario, in the order given. It is
// safe for concurrent use; each response gets its own State.
type Set struct {
	checks  []*Check
	names   []string
	headers []int // indices of header checks
	jsons   []int // indices of JSON checks
	content bool  // a check reads Result.Output
	observe bool  // a check reads what only an observing client shows
	pool    sync.Pool
}

// NewSet compiles specs. Names must be unique; there may be at most
// MaxChecks. Errors are *Error values naming the check's index and field.
func NewSet(specs []Spec) (*Set, error) {
	if len(specs) > MaxChecks {
		return nil, &Error{Index: MaxChecks, Field: "name", Msg: fmt.Sprintf("more than %d checks", MaxChecks)}
	}
	s := &Set{}
	seen := map[string]bool{}
	for i, sp := range specs {
		c, err := Compile(sp)
		if err != nil {
			e := err.(*Error)
			e.Index = i
			return nil, e
		}
		if seen[c.Name] {
			return nil, &Error{Index: i, Field: "name", Msg: fmt.Sprintf("%q: two checks have this name", c.Name)}
		}
		seen[c.Name] = true
		s.add(c)
	}
	return s, nil
}

func (s *Set) add(c *Check) {
	i := len(s.checks)
	s.checks = append(s.checks, c)
	s.names = append(s.names, c.Name)
	switch c.Kind {
	case KindHeader:
		s.headers = append(s.headers, i)
		s.observe = true
	case KindJSON:
		s.jsons = append(s.jsons, i)
		s.observe = true
	case KindSSE:
		s.observe = true
	case KindBody:
		s.content = true
	}
}

// Len is the number of checks.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.checks)
}

// Names returns the checks' names in order. The slice is shared.
func (s *Set) Names() []string { return s.names }

// Check returns check i.
func (s *Set) Check(i int) *Check { return s.checks[i] }

// NeedsContent reports whether a check reads the response's content
// (Result.Output), which the client must then keep
// (extensions.Options.KeepOutput): body checks do, and JSON checks do
// when the client shows no JSON documents (documents false; see
// State.Document).
func (s *Set) NeedsContent(documents bool) bool {
	return s.content || (len(s.jsons) > 0 && !documents)
}

// NeedsObserver reports whether a check reads what only a client that
// shows its reading (extensions.ObservingClient) can give: headers, JSON
// documents, server-sent events.
func (s *Set) NeedsObserver() bool { return s.observe }

// Kinds returns the distinct kinds of the set's checks, in Kinds order.
func (s *Set) Kinds() []string {
	var out []string
	for _, k := range Kinds {
		for _, c := range s.checks {
			if c.Kind == k {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// Mask returns the mask of all the set's checks.
func (s *Set) Mask() uint64 {
	if len(s.checks) == MaxChecks {
		return ^uint64(0)
	}
	return 1<<len(s.checks) - 1
}

// State follows one response for a Set. Get one with Set.State, show it
// the response (Header, Event, Document) and call Finish; then Release
// it, or Reset it for the next response. A State is not safe for
// concurrent use, but may be handed from one goroutine to another
// between calls.
type State struct {
	set *Set
	// Per header and JSON check: whether its subject was seen, and whether
	// the positive form of its operator (==, ~, a comparison) held on the
	// last value seen (JSON: in the last document that had the path) or
	// on some value (headers).
	seen, hit uint64
	docs      int  // JSON documents shown
	done      bool // [DONE] came
}

// State returns a State for one response, from a pool.
func (s *Set) State() *State {
	if st, ok := s.pool.Get().(*State); ok {
		return st
	}
	return &State{set: s}
}

// Release returns st to its Set's pool.
func (st *State) Release() {
	st.Reset()
	st.set.pool.Put(st)
}

// Reset readies st for the next response.
func (st *State) Reset() {
	*st = State{set: st.set}
}

// Header shows st one header of the response: its name as sent and its
// value (white space around it trimmed). The slices are not kept.
func (st *State) Header(name, value []byte) {
	for _, i := range st.set.headers {
		c := st.set.checks[i]
		if !headerNameIs(name, c.header) {
			continue
		}
		bit := uint64(1) << i
		st.seen |= bit
		if st.hit&bit == 0 && c.headerHolds(value) {
			st.hit |= bit
		}
	}
}

// headerNameIs compares a header name as sent with a canonical one,
// without regard to case.
func headerNameIs(name []byte, canonical string) bool {
	if len(name) != len(canonical) {
		return false
	}
	for i := range len(name) {
		a, b := name[i], canonical[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// headerHolds reports whether the positive form of the check's operator
// (== for ==/!=, ~ for ~/!~) holds on a value.
func (c *Check) headerHolds(value []byte) bool {
	switch c.op {
	case opEq, opNe:
		return string(value) == c.str
	case opMatch, opNoMatch:
		return c.re.Match(value)
	}
	return false
}

// Event shows st the data of one server-sent event; [DONE] ends the
// stream, and every other event is a JSON document (Document).
func (st *State) Event(data []byte) {
	if isDone(data) {
		st.done = true
		return
	}
	st.Document(data)
}

func isDone(data []byte) bool {
	for len(data) > 0 && isSpace(data[0]) {
		data = data[1:]
	}
	for len(data) > 0 && isSpace(data[len(data)-1]) {
		data = data[:len(data)-1]
	}
	return string(data) == "[DONE]"
}

// Document shows st one JSON document of the response: a JSON answer read
// whole, or a streamed event's data, which the client has read as JSON (a
// document that is not JSON is read as far as each path needs). A JSON
// check is judged on the last document that has its path; a response
// shown no document at all is judged on its content (Result.Output)
// instead, when that is valid JSON.
func (st *State) Document(doc []byte) {
	st.docs++
	if len(st.set.jsons) == 0 {
		return
	}
	for _, i := range st.set.jsons {
		c := st.set.checks[i]
		v, ok := lookup(doc, c.path)
		if !ok {
			continue
		}
		bit := uint64(1) << i
		st.seen |= bit
		if c.valueHolds(v) {
			st.hit |= bit
		} else {
			st.hit &^= bit
		}
	}
}

// Finish judges every check on what st was shown and on res, the finished
// result, and returns the mask of the checks that failed (bit i: check i
// of the Set). It does not change res.
func (st *State) Finish(res *gonogo.Result) (failed uint64) {
	if st.docs == 0 && len(st.set.jsons) > 0 && validJSON(res.Output) {
		st.Document(res.Output)
	}
	for i, c := range st.set.checks {
		if !c.holds(st, res, uint64(1)<<i) {
			failed |= 1 << i
		}
	}
	return failed
}

// holds judges one check.
func (c *Check) holds(st *State, res *gonogo.Result, bit uint64) bool {
	switch c.Kind {
	case KindStatus:
		for _, r := range c.status {
			if r.lo <= res.Status && res.Status <= r.hi {
				return true
			}
		}
		return false
	case KindSSE:
		return st.done
	case KindBody:
		return c.re.Match(res.Output) == (c.op == opMatch)
	case KindLength:
		n := float64(res.BytesIn)
		if c.tokens {
			n = float64(res.OutputTokens)
		}
		return compare(n, c.op, c.num)
	}
	seen, hit := st.seen&bit != 0, st.hit&bit != 0
	switch c.op {
	case opExists:
		return seen
	case opMissing:
		return !seen
	case opNe, opNoMatch:
		return seen && !hit
	}
	return seen && hit
}

func compare(v float64, o op, n float64) bool {
	switch o {
	case opEq:
		return v == n
	case opNe:
		return v != n
	case opLt:
		return v < n
	case opLe:
		return v <= n
	case opGt:
		return v > n
	case opGe:
		return v >= n
	}
	return false
}
