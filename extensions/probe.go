package extensions

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxExcerptBytes bounds the body excerpt of a StatusError.
const MaxExcerptBytes = 200

// StatusError is a readiness check's answer with a status other than the
// one it wanted: what was asked, the status, the start of the body, and
// for 401 and 403 a hint about credentials. Checkers (Checker.Check)
// return it; Preflight wraps it in a *PreflightError.
type StatusError struct {
	// Method and Path are what was asked, e.g. GET /v1/models.
	Method, Path string
	// Status is the HTTP status of the answer.
	Status int
	// Excerpt is the start of the body (or the error message a protocol
	// found in it), on one line, at most MaxExcerptBytes; see Excerpt.
	Excerpt string
	// Note is what the status means for the protocol, e.g. "not an
	// OpenAI-compatible server"; may be empty.
	Note string
	// Sent names the headers sent with the check, never their values
	// (they may hold secrets); the hint of a 401 or 403 uses it.
	Sent []string
}

// Error reads, for example,
//
//	GET /v1/models answered 401 Unauthorized: "invalid api key"; the
//	server wants credentials: pass them with --header "Authorization: Bearer …"
func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s answered %d", e.Method, e.Path, e.Status)
	if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" " + t)
	}
	if e.Note != "" {
		b.WriteString(" (" + e.Note + ")")
	}
	if e.Excerpt != "" {
		fmt.Fprintf(&b, ": %q", e.Excerpt)
	} else {
		b.WriteString(" with an empty body")
	}
	if h := e.hint(); h != "" {
		b.WriteString("; " + h)
	}
	return b.String()
}

// hint says what to do about a refused check, naming headers but never
// their values.
func (e *StatusError) hint() string {
	if e.Status != http.StatusUnauthorized && e.Status != http.StatusForbidden {
		return ""
	}
	var creds []string
	for _, h := range e.Sent {
		switch http.CanonicalHeaderKey(h) {
		case "Authorization", "Proxy-Authorization", "Cookie", "Api-Key", "X-Api-Key":
			creds = append(creds, http.CanonicalHeaderKey(h))
		}
	}
	if len(creds) > 0 {
		slices.Sort(creds)
		return "the credentials sent (header " + strings.Join(creds, ", ") + ") were refused: check them"
	}
	return `the server wants credentials: pass them with --header "Authorization: Bearer …"`
}

// Excerpt returns the start of a body for an error message: on one line
// (runs of white space and control characters become one space), valid
// UTF-8, at most MaxExcerptBytes bytes, marked with … when cut.
func Excerpt(body []byte) string {
	var b strings.Builder
	space := false
	for len(body) > 0 {
		r, n := utf8.DecodeRune(body)
		body = body[n:]
		if r == utf8.RuneError && n <= 1 || unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		add := utf8.RuneLen(r)
		if space {
			add++
		}
		if b.Len()+add > MaxExcerptBytes {
			b.WriteString("…")
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// HeaderNames lists the names of h, sorted, for StatusError.Sent.
func HeaderNames(h http.Header) []string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
