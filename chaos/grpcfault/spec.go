package grpcfault

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/internal/yamlpos"
)

// Kinds of the family's faults (chaos.Fault.Kind).
const (
	KindStatus = "grpc.status" // answer a status without contacting the upstream
	KindDelay  = "grpc.delay"  // hold the call before forwarding it
	KindAbort  = "grpc.abort"  // fail the call abruptly, with no status
)

// Abort modes (AbortFault.Mode).
const (
	// AbortReset resets the call's HTTP/2 stream (RST_STREAM
	// INTERNAL_ERROR); other calls on the connection go on.
	AbortReset = "reset"
	// AbortClose closes the client's connection: every call in flight on it
	// fails, and the client reconnects.
	AbortClose = "close"
)

// MaxDelay bounds a delay's mean, so that a typo (50m for 50ms) cannot
// hold calls for an hour.
const MaxDelay = 10 * time.Minute

// DefaultStatusMessage is the message of a status fault that gives none.
const DefaultStatusMessage = "injected fault (gonogo grpc.status)"

// Spec is a grpc fault: the grpc block of an experiment's method entry,
// which calls it acts on (Match) and exactly one of what it does to them
// (Status, Delay or Abort). In YAML:
//
//	match:
//	  method: /inference.GRPCInferenceService/ModelInfer
//	  headers: {x-tenant: blue}
//	  percent: 5
//	status: {code: UNAVAILABLE, message: "upstream overloaded"}
type Spec struct {
	Match  Match        `yaml:"match,omitempty" json:"match,omitempty"`
	Status *StatusFault `yaml:"status,omitempty" json:"status,omitempty"`
	Delay  *DelayFault  `yaml:"delay,omitempty" json:"delay,omitempty"`
	Abort  *AbortFault  `yaml:"abort,omitempty" json:"abort,omitempty"`
}

// Match selects the calls a fault acts on. An empty Match selects every
// call.
type Match struct {
	// Method is a glob of the call's full method name,
	// /package.Service/Method, with path.Match syntax: * does not cross a
	// slash, so /inference.GRPCInferenceService/* is every method of the
	// service and /*/* every method. Empty: every method.
	Method string `yaml:"method,omitempty" json:"method,omitempty"`
	// Headers must all be present in the call's metadata with these
	// values (names in lower case; text metadata only).
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// Percent (0 < percent ≤ 100) of the matching calls are acted on,
	// each decided by the proxy's seeded PRNG; absent: 100.
	Percent *float64 `yaml:"percent,omitempty" json:"percent,omitempty"`
}

// StatusFault answers the call with a status, without contacting the
// upstream.
type StatusFault struct {
	// Code is the status code by name (UNAVAILABLE, RESOURCE_EXHAUSTED,
	// case does not matter) or number (14); OK is not a fault.
	Code string `yaml:"code" json:"code"`
	// Message is the status message; empty: DefaultStatusMessage.
	Message string `yaml:"message,omitempty" json:"message,omitempty"`
}

// DelayFault holds the call for a drawn time before forwarding it.
type DelayFault = chaos.Delay

// AbortFault fails the call abruptly: the client gets no status, as when
// a connection breaks.
type AbortFault struct {
	// Mode is reset (the default: the call's stream is reset) or close
	// (the client's connection is closed).
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
}

// Kind is grpc.status, grpc.delay or grpc.abort by what s does; "" when it
// does not say exactly one thing (Check reports it).
func (s *Spec) Kind() string {
	switch {
	case s.count() != 1:
		return ""
	case s.Status != nil:
		return KindStatus
	case s.Delay != nil:
		return KindDelay
	default:
		return KindAbort
	}
}

func (s *Spec) count() int {
	n := 0
	for _, set := range []bool{s.Status != nil, s.Delay != nil, s.Abort != nil} {
		if set {
			n++
		}
	}
	return n
}

// Check says what is wrong with s: the key path of the field inside the
// grpc block ("delay.mean", "match.percent") and a message; "" msg when
// s is valid.
func (s *Spec) Check() (field, msg string) {
	if f, m := s.Match.check(); m != "" {
		return "match." + f, m
	}
	if s.count() != 1 {
		return "", "exactly one of status, delay and abort is required"
	}
	switch {
	case s.Status != nil:
		if _, m := s.Status.code(); m != "" {
			return "status.code", m
		}
	case s.Delay != nil:
		if f, m := s.Delay.Check(MaxDelay); m != "" {
			return "delay." + f, m
		}
	default:
		if mode := s.Abort.Mode; mode != "" && mode != AbortReset && mode != AbortClose {
			return "abort.mode", fmt.Sprintf("%q: want %s or %s", mode, AbortReset, AbortClose)
		}
	}
	return "", ""
}

func (m *Match) check() (field, msg string) {
	if m.Method != "" {
		if !strings.HasPrefix(m.Method, "/") {
			return "method", fmt.Sprintf("%q: a full method name starts with a slash, as in /inference.GRPCInferenceService/ModelInfer", m.Method)
		}
		if _, err := path.Match(m.Method, ""); err != nil {
			return "method", fmt.Sprintf("%q: not a valid glob: %v", m.Method, err)
		}
	}
	for name := range m.Headers {
		if !validName(name) {
			return "headers." + name, "a metadata name holds only a-z, 0-9, -, _ and . (lower case)"
		}
	}
	if p := m.Percent; p != nil && !(*p > 0 && *p <= 100) {
		return "percent", fmt.Sprintf("%v: want more than 0 and at most 100", *p)
	}
	return "", ""
}

// validName reports whether name is a gRPC metadata name in lower case.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// percent is the share of matching calls acted on, 0..1.
func (m *Match) percent() float64 {
	if m.Percent == nil {
		return 1
	}
	return *m.Percent / 100
}

// statusCodes are the codes by canonical name, and CANCELED too.
var statusCodes = map[string]codes.Code{
	"OK": codes.OK, "CANCELLED": codes.Canceled, "CANCELED": codes.Canceled, "UNKNOWN": codes.Unknown,
	"INVALID_ARGUMENT": codes.InvalidArgument, "DEADLINE_EXCEEDED": codes.DeadlineExceeded,
	"NOT_FOUND": codes.NotFound, "ALREADY_EXISTS": codes.AlreadyExists, "PERMISSION_DENIED": codes.PermissionDenied,
	"RESOURCE_EXHAUSTED": codes.ResourceExhausted, "FAILED_PRECONDITION": codes.FailedPrecondition,
	"ABORTED": codes.Aborted, "OUT_OF_RANGE": codes.OutOfRange, "UNIMPLEMENTED": codes.Unimplemented,
	"INTERNAL": codes.Internal, "UNAVAILABLE": codes.Unavailable, "DATA_LOSS": codes.DataLoss,
	"UNAUTHENTICATED": codes.Unauthenticated,
}

// code is the status code of f, or what is wrong with it.
func (f *StatusFault) code() (codes.Code, string) {
	name := strings.ToUpper(strings.TrimSpace(f.Code))
	c, ok := statusCodes[name]
	if !ok {
		n, err := strconv.ParseUint(name, 10, 32)
		if err != nil || n > uint64(codes.Unauthenticated) {
			return 0, fmt.Sprintf("%q: not a gRPC status code; want a name such as UNAVAILABLE, INTERNAL, RESOURCE_EXHAUSTED, or a number 1–16", f.Code)
		}
		c = codes.Code(n)
	}
	if c == codes.OK {
		return 0, "OK is not a fault: want an error code such as UNAVAILABLE"
	}
	return c, ""
}

// message is the status message of f.
func (f *StatusFault) message() string {
	if f.Message == "" {
		return DefaultStatusMessage
	}
	return f.Message
}

// ParseSpec decodes a grpc block from YAML (unknown fields are errors) and
// checks it. Errors are *chaos.InputError values naming file (may be ""),
// line and field.
func ParseSpec(file string, src []byte) (*Spec, error) {
	var s Spec
	if err := chaos.ParseBlock(file, src, &s); err != nil {
		return nil, err
	}
	return &s, checked(&s, file, yamlpos.Parse(src))
}

// ParseSpecJSON decodes a grpc block from JSON (unknown fields are errors)
// and checks it. Errors are *chaos.InputError values.
func ParseSpecJSON(src []byte) (*Spec, error) {
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, &chaos.InputError{Msg: err.Error()}
	}
	if dec.More() {
		return nil, &chaos.InputError{Msg: "more than one JSON value"}
	}
	return &s, checked(&s, "", yamlpos.Source{})
}

// checked normalizes s (no headers is a nil map), runs s.Check and places
// its finding in src.
func checked(s *Spec, file string, src yamlpos.Source) error {
	if len(s.Match.Headers) == 0 {
		s.Match.Headers = nil
	}
	field, msg := s.Check()
	if msg == "" {
		return nil
	}
	line, _ := src.Find("$." + field)
	return &chaos.InputError{File: file, Line: line, Field: field, Msg: msg}
}
