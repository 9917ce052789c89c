//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package h1

// exchangeRaw cannot reach the socket here: the request is written and
// its answer read through the connection, and a stale idle connection
// shows when it is used (see Server's retry).
func (r *upReader) exchangeRaw(req, _ []byte, _ bool) (int, []byte, error) {
	return 0, req, nil
}

// rawStep is not used here.
func (r *upReader) rawStep(uintptr) bool { return true }
