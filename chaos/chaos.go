// Package chaos is gonogo's fault injection: the vocabulary every kind of
// fault shares, and what makes a fault impossible to leave behind.
//
// A fault belongs to a family (http, tcp, grpc, container), each in a
// subpackage that knows its targets: chaos/httpfault (a per-request HTTP
// and SSE fault proxy), chaos/tcpfault (toxiproxy's TCP toxics),
// chaos/grpcfault (a gRPC fault proxy) and chaos/container (faults on the
// machine's Docker engine). An Injector of a family puts one fault in
// force and hands back how to revert it.
//
// Safety (DESIGN.md, "Safety of faults and rollouts"): a fault is written
// to the results directory's ledger before it is applied (Ledger), with
// the Undo that reverts it from any process; the run holds a lease on the
// ledger that it renews (Holder); a guard process started beside the run
// (Guard) reverts every fault the ledger still shows when the lease lapses
// — the run was killed — and `gonogo chaos revert` does the same by hand,
// idempotently (RevertPending). Families whose faults cannot outlive the
// run's process (an in-process proxy) record an Undo of kind UndoNone.
package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// ErrInput is matched by errors about a fault's or an experiment's input:
// the CLI exits 2 on them. It is input.ErrInput, shared by every package
// that reads a user's file.
var ErrInput = input.ErrInput

// InputError is bad input with its place: file, line and field when known.
type InputError = input.Error

// Inputf is a new InputError without a place.
func Inputf(format string, a ...any) error { return input.Errorf(format, a...) }

// Fault is one fault on one target, as the ledger, the journal and the
// reports name it.
type Fault struct {
	// ID is unique within an experiment (or a proxy): the method entry's
	// name, or one the proxy gave.
	ID string `json:"id"`
	// Kind is "family.what": http.delay, tcp.latency, container.pause.
	Kind string `json:"kind"`
	// Target names what the fault acts on: a proxy, a container's name or
	// a label selector.
	Target string `json:"target"`
	// Spec holds the kind's parameters (never a secret), for the ledger
	// and the journal; the Injector reads its own typed copy.
	Spec any `json:"spec,omitempty"`
}

// Family is the part of the kind before its first dot: http, tcp, grpc,
// container.
func (f *Fault) Family() string {
	fam, _, _ := strings.Cut(f.Kind, ".")
	return fam
}

// Injector puts faults of one family in force. Prepare and Apply are
// called in that order, with the ledger written between them, so that a
// fault is on disk before it acts.
type Injector interface {
	// Prepare checks that f can be applied now (its target exists and
	// is in a state the fault can act on) and returns how to undo it from
	// any process: what a container's limits were, which network it was
	// on. It changes nothing.
	Prepare(ctx context.Context, f *Fault) (Undo, error)
	// Apply puts f in force and returns the function that reverts it in
	// this process. Reverting twice is not an error.
	Apply(ctx context.Context, f *Fault) (Revert, error)
}

// Revert undoes one applied fault; it is idempotent.
type Revert func(ctx context.Context) error

// Settler is implemented by injectors whose faults end by themselves
// (a container killed under a restart policy comes back): Settled waits,
// bounded by ctx, until f's effect is over and returns when that was.
type Settler interface {
	Settled(ctx context.Context, f *Fault) (time.Time, error)
}

// Counter is implemented by injectors that count what a fault did: the
// requests it matched and the requests it acted on.
type Counter interface {
	Counts(id string) (matched, affected int64)
}

// Undo says how to revert a fault from any process: Kind names a function
// registered with RegisterUndo, Data is its argument.
type Undo struct {
	Kind string          `json:"kind"`
	Data json.RawMessage `json:"data,omitempty"`
}

// UndoNone is the Undo of a fault that cannot outlive the process that
// applied it (a fault of an in-process proxy): nothing is left to revert
// once that process is gone.
const UndoNone = "none"

// NewUndo returns an Undo of kind with data encoded as JSON.
func NewUndo(kind string, data any) (Undo, error) {
	if data == nil {
		return Undo{Kind: kind}, nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return Undo{}, fmt.Errorf("chaos: undo %s: %w", kind, err)
	}
	return Undo{Kind: kind, Data: b}, nil
}

// UndoFunc reverts a fault from its Undo data; it must be idempotent:
// reverting what is already reverted succeeds.
type UndoFunc func(ctx context.Context, data json.RawMessage) error

var (
	undoMu sync.RWMutex
	undos  = map[string]UndoFunc{UndoNone: func(context.Context, json.RawMessage) error { return nil }}
)

// RegisterUndo registers fn under kind; a family's package calls it from
// init. Registering a kind twice panics.
func RegisterUndo(kind string, fn UndoFunc) {
	undoMu.Lock()
	defer undoMu.Unlock()
	if _, dup := undos[kind]; dup {
		panic("chaos: undo registered twice: " + kind)
	}
	undos[kind] = fn
}

// ErrUnknownUndo is returned when a ledger names an undo kind this program
// does not know (a family package not linked in).
var ErrUnknownUndo = errors.New("chaos: unknown undo kind")

// Do reverts a fault from u.
func (u Undo) Do(ctx context.Context) error {
	undoMu.RLock()
	fn, ok := undos[u.Kind]
	undoMu.RUnlock()
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownUndo, u.Kind)
	}
	return fn(ctx, u.Data)
}

// Duration is a time.Duration written as a Go duration string
// (input.Duration).
type Duration = input.Duration
