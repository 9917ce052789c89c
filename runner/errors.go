package runner

import (
	"errors"
	"fmt"
)

// ErrInput is matched (errors.Is) by every error about a run's input:
// its workload, flags, files or target. The CLI exits 2 on them. Its
// message is the cause's alone.
var ErrInput = errors.New("bad input")

// inputError marks err as bad input.
type inputError struct{ err error }

func (e *inputError) Error() string   { return e.err.Error() }
func (e *inputError) Unwrap() []error { return []error{ErrInput, e.err} }

// asInput marks err as bad input; nil stays nil.
func asInput(err error) error {
	if err == nil || errors.Is(err, ErrInput) {
		return err
	}
	return &inputError{err}
}

// inputf is a new input error.
func inputf(format string, a ...any) error { return &inputError{fmt.Errorf(format, a...)} }
