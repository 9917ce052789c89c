// Package fuzz is gonogo's malformed-input mode (gonogo chaos fuzz): it
// sends an inference endpoint deterministic mutations of normal requests,
// class by class, and reports per class what the endpoint did.
//
// Seeds are the protocol's normal request (an OpenAI completion and chat
// request, a KServe v2 infer request: DefaultSeeds) or requests recorded
// in a request log (ReadSeeds). Each mutation is a function of its class,
// its index and the run's seed (Mutator.Mutate), so a run can be repeated
// exactly.
//
// # Classes
//
// invalid-json (truncated, trailing garbage, single quotes), wrong-types
// (a string where a number belongs, an object for an array), empty-prompt
// (an empty or blank prompt, an empty tensor), huge-prompt (OpenAI: 1 MiB
// of one-letter words, far beyond any context), invalid-utf8 (invalid
// byte sequences in the prompt or tensor name), nan-inf (the bare tokens
// NaN, Infinity, -Infinity and the number 1e999, which JSON cannot carry,
// in sampling parameters or tensor data), wrong-shape (KServe: a shape
// that disagrees with the data), unknown-model, missing-fields (a required
// field removed) and max-tokens (OpenAI: negative, zero, fractional, or
// huge max_tokens). Classes that do not apply to a protocol are not sent
// (Applies).
//
// # Outcomes
//
// Each response is one Outcome:
//
//   - validation-error: a 4xx — the endpoint refused the request (good);
//   - server-error: a 5xx, a 2xx whose answer is malformed, or another
//     failure that left the endpoint up (bad);
//   - crash: the connection was refused, reset or closed without an
//     answer, or the endpoint's health check failed right after a bad
//     answer (bad; the run stops and records it);
//   - hang: no whole answer within Options.Timeout (bad);
//   - accepted-nonsense: a 2xx with a well-formed answer (OpenAI: at
//     least one choice; KServe: outputs with data) to a request that is
//     nonsense (bad);
//   - accepted: the same to a mutation that is still a valid request
//     (neutral).
//
// Which 2xx is nonsense: every mutation of every class is nonsense except
// the max-tokens variants max-int32, max-int64 and overflow, a huge
// max_tokens that a server may legitimately clip to what the context
// leaves (Mutation.Legal). In particular a 2xx to an empty prompt (an
// answer made up from nothing), to a huge prompt (the prompt was silently
// truncated), to a string where a number belongs (coerced), and to
// non-finite tensor values (a confident answer computed from NaN) counts
// as accepted-nonsense.
//
// The result document is Report, written to a results directory as
// rundir.Fuzz (fuzz.json). It keeps per-class counts by outcome, a few
// examples (request excerpt, status, response excerpt — never header
// values) and the findings: every bad outcome, grouped by class and
// variant.
package fuzz

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gonogo-dev/gonogo/chaos"
)

// Protocols the fuzzer speaks.
const (
	ProtocolOpenAI = "openai"
	ProtocolKServe = "kserve"
)

// Class is a kind of malformed input.
type Class string

// The mutation classes.
const (
	InvalidJSON   Class = "invalid-json"
	WrongTypes    Class = "wrong-types"
	EmptyPrompt   Class = "empty-prompt"
	HugePrompt    Class = "huge-prompt"
	InvalidUTF8   Class = "invalid-utf8"
	NaNInf        Class = "nan-inf"
	WrongShape    Class = "wrong-shape"
	UnknownModel  Class = "unknown-model"
	MissingFields Class = "missing-fields"
	MaxTokens     Class = "max-tokens"
)

// AllClasses lists every class, in the order reports show them.
var AllClasses = []Class{
	InvalidJSON, WrongTypes, EmptyPrompt, HugePrompt, InvalidUTF8, NaNInf,
	WrongShape, UnknownModel, MissingFields, MaxTokens,
}

// ClassesFor returns the classes that apply to protocol, in AllClasses
// order.
func ClassesFor(protocol string) []Class {
	var out []Class
	for _, c := range AllClasses {
		if Applies(protocol, c) {
			out = append(out, c)
		}
	}
	return out
}

// ParseClasses reads a comma-separated list of class names for protocol;
// an empty list is every class that applies. An unknown class, or one that
// does not apply to protocol, is a chaos.InputError on the field
// "classes".
func ParseClasses(list, protocol string) ([]Class, error) {
	if strings.TrimSpace(list) == "" {
		return ClassesFor(protocol), nil
	}
	var out []Class
	seen := map[Class]bool{}
	for _, name := range strings.Split(list, ",") {
		c := Class(strings.TrimSpace(name))
		known := false
		for _, k := range AllClasses {
			known = known || k == c
		}
		switch {
		case c == "":
			continue
		case !known:
			return nil, &chaos.InputError{Field: "classes", Msg: fmt.Sprintf("unknown class %q (classes: %s)", c, joinClasses(AllClasses))}
		case !Applies(protocol, c):
			return nil, &chaos.InputError{Field: "classes", Msg: fmt.Sprintf("class %q does not apply to %s (its classes: %s)", c, protocol, joinClasses(ClassesFor(protocol)))}
		case seen[c]:
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, &chaos.InputError{Field: "classes", Msg: "no class named"}
	}
	return out, nil
}

func joinClasses(cs []Class) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// Outcome is what the endpoint did with one mutated request.
type Outcome string

// The outcomes (see the package documentation).
const (
	ValidationError  Outcome = "validation-error"
	ServerError      Outcome = "server-error"
	Crash            Outcome = "crash"
	Hang             Outcome = "hang"
	AcceptedNonsense Outcome = "accepted-nonsense"
	Accepted         Outcome = "accepted"
)

// Outcomes lists every outcome, in the order tables show them.
var Outcomes = []Outcome{ValidationError, Accepted, ServerError, Crash, Hang, AcceptedNonsense}

// Bad reports whether o is a finding: server-error, crash, hang or
// accepted-nonsense.
func (o Outcome) Bad() bool {
	switch o {
	case ServerError, Crash, Hang, AcceptedNonsense:
		return true
	}
	return false
}

// ErrUnreachable is returned by Run when the target does not answer its
// health check before the first request.
var ErrUnreachable = errors.New("fuzz: target unreachable")
