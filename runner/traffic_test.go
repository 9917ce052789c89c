package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/replay"
)

// Bad trace input is an input error (exit 2) with its one line unchanged; a failure to read
// is a runtime error.
func TestTraceError(t *testing.T) {
	_, _, missing := replay.Open(filepath.Join(t.TempDir(), "missing.csv"), replay.Options{})
	tests := []struct {
		name  string
		err   error
		input bool
	}{
		{"malformed row", &replay.RowError{File: "t.csv", Line: 3, Field: "ContextTokens", Err: errors.New("bad token count")}, true},
		{"bad trace", fmt.Errorf("%w: t.csv: empty file", replay.ErrFormat), true},
		{"missing file", missing, true},
		{"window past the end", &replay.WindowError{From: 2 * time.Hour, PastEnd: true, Before: 3, Last: time.Minute}, true},
		{"unreadable", &os.PathError{Op: "read", Path: "t.csv", Err: errors.New("input/output error")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TraceError(tt.err)
			if errors.Is(got, ErrInput) != tt.input {
				t.Errorf("input error: %v, want %v (%v)", errors.Is(got, ErrInput), tt.input, got)
			}
			if tt.input && got.Error() != tt.err.Error() {
				t.Errorf("message %q, want %q", got, tt.err)
			}
		})
	}
}
