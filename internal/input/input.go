package input

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInput is matched by every Error: the CLI exits 2 on it.
var ErrInput = errors.New("bad input")

// Error is bad input with its place: file, line and field when known.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

// Error reads "file:line: field: message", leaving out what is unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns ErrInput.
func (e *Error) Unwrap() error { return ErrInput }

// Errorf is a new Error without a place.
func Errorf(format string, a ...any) error { return &Error{Msg: fmt.Sprintf(format, a...)} }

// Duration is a time.Duration written as a Go duration string ("200ms",
// "1m30s") in YAML and JSON alike.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalText writes d as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a Go duration string; a bare 0 is zero.
func (d *Duration) UnmarshalText(b []byte) error {
	if string(b) == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration (want 200ms, 5s, 1m): %q", b)
	}
	*d = Duration(v)
	return nil
}
