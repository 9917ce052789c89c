package tcpfault

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

// Counting: toxiproxy draws a toxic's toxicity in ToxicStub.Run and calls
// the toxic's Pipe only when the draw says it acts, and it asks a
// StatefulToxic for a new state once per connection (per link, the
// direction the toxic is on). A counted toxic wraps toxiproxy's own:
// NewState counts the connections it is on (matched), the first Pipe of a
// connection counts one it acted on (affected). It is registered in
// toxiproxy's toxic registry under "gonogo_" + the toxic's name and is
// handed its inner toxic and counters through a key in its JSON
// attributes, since toxiproxy builds toxics from JSON only.
//
// reset_peer is not wrapped: toxiproxy sets SO_LINGER 0 (so that closing
// sends a reset) only for its own *toxics.ResetToxic, so a wrapper would
// close gracefully.

// counts are one fault's counters.
type counts struct {
	matched, affected atomic.Int64
}

// binding is what a counted toxic picks up by its key when toxiproxy
// decodes its attributes.
type binding struct {
	inner toxics.Toxic
	c     *counts
}

var (
	bindMu   sync.Mutex
	bindings = map[string]binding{}
	bindSeq  uint64
)

// bind makes b available under a new key until unbind.
func bind(b binding) string {
	bindMu.Lock()
	defer bindMu.Unlock()
	bindSeq++
	key := strconv.FormatUint(bindSeq, 10)
	bindings[key] = b
	return key
}

func unbind(key string) {
	bindMu.Lock()
	defer bindMu.Unlock()
	delete(bindings, key)
}

// countedType is the registry name of the counted form of toxic.
func countedType(toxic string) string { return "gonogo_" + toxic }

func init() {
	toxics.Register(countedType(Latency), new(counted[toxics.LatencyToxic, *toxics.LatencyToxic]))
	toxics.Register(countedType(Bandwidth), new(counted[toxics.BandwidthToxic, *toxics.BandwidthToxic]))
	toxics.Register(countedType(SlowClose), new(counted[toxics.SlowCloseToxic, *toxics.SlowCloseToxic]))
	toxics.Register(countedType(Timeout), new(counted[toxics.TimeoutToxic, *toxics.TimeoutToxic]))
	toxics.Register(countedType(Slicer), new(counted[toxics.SlicerToxic, *toxics.SlicerToxic]))
	toxics.Register(countedType(LimitData), new(counted[toxics.LimitDataToxic, *toxics.LimitDataToxic]))
}

// counted wraps toxiproxy's toxic PT and counts what it does.
type counted[T any, PT interface {
	*T
	toxics.Toxic
}] struct {
	inner PT
	c     *counts
}

var (
	_ toxics.Toxic         = (*counted[toxics.LatencyToxic, *toxics.LatencyToxic])(nil)
	_ toxics.BufferedToxic = (*counted[toxics.LatencyToxic, *toxics.LatencyToxic])(nil)
	_ toxics.StatefulToxic = (*counted[toxics.LatencyToxic, *toxics.LatencyToxic])(nil)
	_ toxics.CleanupToxic  = (*counted[toxics.LatencyToxic, *toxics.LatencyToxic])(nil)
)

// countedAttrs are a counted toxic's JSON attributes.
type countedAttrs struct {
	Key string `json:"key"`
}

// UnmarshalJSON picks up the inner toxic and the counters bound to the
// key.
func (t *counted[T, PT]) UnmarshalJSON(b []byte) error {
	var a countedAttrs
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	bindMu.Lock()
	bd, ok := bindings[a.Key]
	bindMu.Unlock()
	if !ok {
		return fmt.Errorf("tcpfault: no toxic bound to key %q", a.Key)
	}
	inner, ok := bd.inner.(PT)
	if !ok {
		return fmt.Errorf("tcpfault: toxic bound to key %q is a %T, want %T", a.Key, bd.inner, PT(nil))
	}
	t.inner, t.c = inner, bd.c
	return nil
}

// GetBufferSize is the inner toxic's buffer (latency queues chunks).
func (t *counted[T, PT]) GetBufferSize() int {
	if b, ok := any(PT(new(T))).(toxics.BufferedToxic); ok {
		return b.GetBufferSize()
	}
	return 0
}

// stubState is a counted toxic's state on one connection: whether it has
// acted there yet, and the inner toxic's own state.
type stubState struct {
	acted bool
	inner any
}

// NewState counts a connection the toxic is on.
func (t *counted[T, PT]) NewState() any {
	t.c.matched.Add(1)
	st := &stubState{}
	if s, ok := any(t.inner).(toxics.StatefulToxic); ok {
		st.inner = s.NewState()
	}
	return st
}

// Pipe counts the connection as affected the first time the toxic acts
// on it and runs the inner toxic with its own state.
func (t *counted[T, PT]) Pipe(stub *toxics.ToxicStub) {
	st, ok := stub.State.(*stubState)
	if !ok { // not set up by NewState: act without counting
		t.inner.Pipe(stub)
		return
	}
	if !st.acted {
		st.acted = true
		t.c.affected.Add(1)
	}
	stub.State = st.inner
	defer func() { stub.State = st }()
	t.inner.Pipe(stub)
}

// Cleanup runs the inner toxic's cleanup, if it has one, when the toxic
// is removed (timeout closes the connections it stalled).
func (t *counted[T, PT]) Cleanup(stub *toxics.ToxicStub) {
	c, ok := any(t.inner).(toxics.CleanupToxic)
	if !ok {
		return
	}
	if st, ok := stub.State.(*stubState); ok {
		stub.State = st.inner
		defer func() { stub.State = st }()
	}
	c.Cleanup(stub)
}
