//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package h1

import "syscall"

// peek reports whether the socket fd, idle, has reached its end or holds
// bytes nobody asked for, without blocking and without consuming them.
// The fast path owns the connection while it peeks, so the socket cannot
// be closed under it.
func peek(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	if err != nil {
		return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
	}
	return true // 0 bytes: the peer closed; more: bytes nobody asked for
}
