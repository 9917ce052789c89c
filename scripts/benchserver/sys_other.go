//go:build !linux

package main

import (
	"errors"
	"time"
)

// sseSupported reports whether --mode sse works here: it needs Linux.
const sseSupported = false

func writeNow(uintptr, []byte) (int, error) { return 0, errors.ErrUnsupported }

// preciseTimers does nothing outside Linux.
func preciseTimers() {}

// sleep is time.Sleep outside Linux.
func sleep(d time.Duration) { time.Sleep(d) }
