package rollout

import (
	"maps"
	"sync/atomic"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
)

// A window holds the requests that completed in it. A backend that hangs
// completes none: its window would look empty — too few requests, a hold
// until maxHold — while its users wait. So at every judgement the
// requests whose response has not begun (no body byte yet) after
// analysis.stallAfter count in the window as failures of their backend
// (class timeout: their stall deadline passed), and a hanging canary is
// rolled back by its error gates like one that answers 504s. A stream
// that is sending its tokens is not stalled however long it runs.

// stallSlots is how many seconds of arrivals the in-flight ages tell
// apart (a power of two). A request in flight for longer shares the slot
// of a younger second and counts as that young: a stall can be missed
// that way, never invented. stallAfter is at most stallSlots − 4 s.
const stallSlots = 64

// MaxStallAfter bounds analysis.stallAfter (see stallSlots).
const MaxStallAfter = (stallSlots - 4) * time.Second

// inflightAges counts a backend's requests waiting for their response,
// by arrival second, in a ring of stallSlots: two atomic adds a request.
type inflightAges struct{ n [stallSlots]atomic.Int64 }

// flightAge is a request's place in its backend's in-flight ages.
type flightAge struct {
	be      *backend
	slot    int
	waiting bool // no body byte yet
}

// begin counts a request in flight, and waiting, from arrival.
func (b *backend) begin(arrival time.Time) flightAge {
	b.inflight.Add(1)
	s := int(arrival.Unix() & (stallSlots - 1))
	b.ages.n[s].Add(1)
	return flightAge{b, s, true}
}

// responded notes the first body byte of the response: the request no
// longer waits.
func (a *flightAge) responded() {
	if a.waiting {
		a.waiting = false
		a.be.ages.n[a.slot].Add(-1)
	}
}

// end counts the request out of flight.
func (a *flightAge) end() {
	a.responded()
	a.be.inflight.Add(-1)
}

// stalled counts the requests still waiting that arrived more than d
// before now: those of every whole second that ended at least d ago,
// within the ring.
func (a *inflightAges) stalled(now time.Time, d time.Duration) int64 {
	sec := now.Unix()
	last := now.Add(-d).Unix() - 1 // its second ended by now − d
	var n int64
	for s := sec - stallSlots + 2; s <= last; s++ {
		n += a.n[s&(stallSlots-1)].Load()
	}
	return n
}

// stall is a backend's requests in flight past the stall deadline.
type stall struct {
	backend, role string
	n             int64
}

// stalls are the backends' requests in flight longer than d at now; nil
// when none is.
func stalls(backends []*backend, now time.Time, d time.Duration) []stall {
	var out []stall
	for _, b := range backends {
		if n := b.ages.stalled(now, d); n > 0 {
			out = append(out, stall{b.name, b.role, n})
		}
	}
	return out
}

// addStalled counts the stalled requests in s as failures of class
// timeout of their backend's and role's groups and of the whole.
func addStalled(s *analyze.Summary, stalled []stall) {
	add := func(st *analyze.Stats, n int64) {
		st.Requests.Total += n
		st.Requests.Failed = maps.Clone(st.Requests.Failed)
		if st.Requests.Failed == nil {
			st.Requests.Failed = map[string]int64{}
		}
		st.Requests.Failed[string(gonogo.ErrTimeout)] += n
	}
	if s.Tags == nil {
		s.Tags = map[string]analyze.Stats{}
	}
	for _, x := range stalled {
		add(&s.Overall, x.n)
		for _, key := range []string{"backend=" + x.backend, "role=" + x.role} {
			st := s.Tags[key]
			add(&st, x.n)
			s.Tags[key] = st
		}
	}
}
