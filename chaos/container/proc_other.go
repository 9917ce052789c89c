//go:build !linux

package container

import "errors"

var errNoProcess = errors.New("container processes are visible only on Linux")

func processOf(int, string) error { return errNoProcess }

func signalProcess(int, int) error { return errNoProcess }
