package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// interactive reports whether live progress should be drawn on w: only on a
// terminal, and never under CI.
func interactive(w io.Writer) bool {
	if os.Getenv("CI") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress draws one live status line, rewritten in place.
type progress struct {
	w  io.Writer
	on bool
}

// update replaces the line with s.
func (p *progress) update(s string) {
	if p.on {
		fmt.Fprintf(p.w, "\r\033[K%s", s)
	}
}

// done clears the line so the summary starts clean.
func (p *progress) done() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
