//go:build !(linux && (amd64 || arm64))

package openai

import (
	"context"
	"errors"
	"time"
)

// haveWire reports whether the plain-HTTP fast path is built here: it is
// not, and http:// targets use net/http as https:// ones do.
const haveWire = false

// sock is empty where there is no wire.
type sock struct{}

func (w *wire) dial(context.Context, time.Time) (*wireConn, error) { return nil, errors.ErrUnsupported }

func (conn *wireConn) exchange(context.Context, time.Time, []byte) error {
	return errors.ErrUnsupported
}

func (conn *wireConn) dead() bool { return true }
func (conn *wireConn) release()   {}
func (conn *wireConn) close()     {}
