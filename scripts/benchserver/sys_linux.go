//go:build linux

package main

import (
	"syscall"
	"time"
)

// prSetTimerSlack is prctl's PR_SET_TIMERSLACK.
const prSetTimerSlack = 29

// preciseTimers sets the calling thread's timer slack to 1 ns (the
// default, 50 µs, lets the kernel wake a sleeper that much late).
func preciseTimers() {
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0)
}

// sseSupported reports whether --mode sse works here.
const sseSupported = true

// writeNow writes b to the socket fd once, without waiting.
func writeNow(fd uintptr, b []byte) (int, error) { return syscall.Write(int(fd), b) }

// sleep blocks the calling thread for d in nanosleep(2), which wakes
// within microseconds (a Go timer on an idle process waits in epoll with a
// millisecond timeout).
func sleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	syscall.Nanosleep(&ts, nil)
}
