package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/mirror"
	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/scenarios"
)

var (
	_ mirror.PairSink  = (*replay.PairWriter)(nil)
	_ scenarios.Warmer = (*mirror.Client)(nil)
	_ mirror.PairSink  = (*memPairs)(nil)
)

// echoClient answers with a fixed prefix and the request's recorded body
// (or its ID) as output, after an optional gate and delay.
type echoClient struct {
	prefix string
	gate   chan struct{} // when not nil, each Do waits for a token or ctx
	delay  time.Duration
	called chan struct{} // when not nil, closed by the first Do
	once   sync.Once
	calls  atomic.Int64
	fail   bool
	mu     sync.Mutex
	seen   []gonogo.Request
}

func (c *echoClient) Do(ctx context.Context, req *gonogo.Request, res *gonogo.Result) {
	c.calls.Add(1)
	if c.called != nil {
		c.once.Do(func() { close(c.called) })
	}
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			res.Done, res.Class, res.Err = time.Now(), gonogo.ErrCanceled, ctx.Err().Error()
			return
		}
	}
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	c.mu.Lock()
	c.seen = append(c.seen, *req)
	c.mu.Unlock()
	out := fmt.Sprint(req.ID)
	if req.Recorded != nil {
		out = string(req.Recorded.Body)
	}
	res.Output = append(res.Output[:0], c.prefix+out...)
	res.Status, res.OutputTokens, res.BytesIn = 200, 1, int64(len(out))
	if c.fail {
		res.Status, res.Class, res.Err = 503, gonogo.ErrHTTP5xx, "HTTP 503: busy"
	}
	res.Done = time.Now()
}

// memPairs keeps every pair written.
type memPairs struct {
	mu    sync.Mutex
	pairs []*gonogo.Pair
	err   error
}

func (m *memPairs) WritePair(p *gonogo.Pair) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := *p
	cp.Exchanges = slices.Clone(p.Exchanges)
	m.pairs = append(m.pairs, &cp)
	return m.err
}

func (m *memPairs) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pairs)
}

func (m *memPairs) byID() map[uint64]*gonogo.Pair {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[uint64]*gonogo.Pair{}
	for _, p := range m.pairs {
		out[p.ID] = p
	}
	return out
}

func newClient(t testing.TB, primary gonogo.Client, targets []mirror.Target, sink mirror.PairSink, o mirror.Options) *mirror.Client {
	t.Helper()
	c, err := mirror.NewClient(primary, targets, sink, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func doN(c gonogo.Client, n int, mk func(i int) *gonogo.Request) []*gonogo.Result {
	out := make([]*gonogo.Result, n)
	for i := range n {
		req := mk(i)
		res := &gonogo.Result{Request: req, Sent: time.Now()}
		c.Do(context.Background(), req, res)
		out[i] = res
	}
	return out
}

// waitFor polls cond for up to 2 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 2s: %s", what)
		}
	}
}

func TestClientPairs(t *testing.T) {
	primary, sec, cand := &echoClient{prefix: "p:"}, &echoClient{prefix: "s:"}, &echoClient{prefix: "c:", fail: true}
	sink := &memPairs{}
	c := newClient(t, primary, []mirror.Target{{"secondary", sec}, {"candidate", cand}}, sink, mirror.Options{})
	const n = 50
	results := doN(c, n, func(i int) *gonogo.Request {
		return &gonogo.Request{ID: uint64(i + 1), Row: int64(i + 10), InputTokens: 7, Tags: map[string]string{"k": "v"}}
	})
	for i, res := range results {
		if string(res.Output) != fmt.Sprintf("p:%d", i+1) || res.Status != 200 {
			t.Fatalf("request %d: primary result %q %d: Do must fill res from the primary", i+1, res.Output, res.Status)
		}
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	pairs := sink.byID()
	if len(pairs) != n || len(sink.pairs) != n {
		t.Fatalf("%d pairs (%d distinct), want %d", len(sink.pairs), len(pairs), n)
	}
	for id := uint64(1); id <= n; id++ {
		p := pairs[id]
		if p.Row != int64(id+9) || p.InputTokens != 7 || p.Tags["k"] != "v" || p.Request != "input_tokens=7" {
			t.Errorf("pair %d: row %d tokens %d tags %v request %q", id, p.Row, p.InputTokens, p.Tags, p.Request)
		}
		var targets []string
		for _, ex := range p.Exchanges {
			targets = append(targets, ex.Target)
		}
		if !slices.Equal(targets, []string{"primary", "secondary", "candidate"}) {
			t.Fatalf("pair %d: targets %v", id, targets)
		}
		for i, prefix := range []string{"p:", "s:", "c:"} {
			ex := p.Exchanges[i]
			if ex.Output != fmt.Sprint(prefix, id) || ex.Dropped || !ex.FromIntended || ex.LatencyMicros < ex.ServiceMicros || ex.ServiceMicros < 0 {
				t.Errorf("pair %d %s: %+v", id, ex.Target, ex)
			}
		}
		if c := p.Exchanges[2]; c.Class != gonogo.ErrHTTP5xx || c.Status != 503 {
			t.Errorf("pair %d: candidate failure not recorded: %+v", id, c)
		}
	}
	want := map[string]mirror.Stats{"secondary": {Sent: n}, "candidate": {Sent: n, Failed: n}}
	if got := c.Stats(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Stats = %v, want %v", got, want)
	}
	if c.Pending() != 0 {
		t.Errorf("%d pairs still pending after Close", c.Pending())
	}
}

// The copy leaves when the primary's request does, not after the primary
// answered: a primary that answers only once the candidate has its copy
// must not wait.
func TestMirrorLeavesWithPrimary(t *testing.T) {
	cand := &echoClient{called: make(chan struct{})}
	primary := gonogo.Client(clientFunc(func(ctx context.Context, req *gonogo.Request, res *gonogo.Result) {
		select {
		case <-cand.called:
			res.Status = 200
		case <-time.After(2 * time.Second):
			res.Class, res.Err = gonogo.ErrTimeout, "the candidate had no copy while the primary was in flight"
		}
		res.Done = time.Now()
	}))
	sink := &memPairs{}
	c := newClient(t, primary, []mirror.Target{{"candidate", cand}}, sink, mirror.Options{})
	res := doN(c, 1, func(int) *gonogo.Request { return &gonogo.Request{ID: 1} })[0]
	if res.Failed() {
		t.Fatal(res.Err)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

type clientFunc func(ctx context.Context, req *gonogo.Request, res *gonogo.Result)

func (f clientFunc) Do(ctx context.Context, req *gonogo.Request, res *gonogo.Result) {
	f(ctx, req, res)
}

// Every target's latency is timed from the request's intended send time;
// its service time from its own send.
func TestLatencyFromIntended(t *testing.T) {
	const lag, candDelay = 100 * time.Millisecond, 30 * time.Millisecond
	sink := &memPairs{}
	c := newClient(t, &echoClient{}, []mirror.Target{{"candidate", &echoClient{delay: candDelay}}}, sink, mirror.Options{})
	doN(c, 1, func(int) *gonogo.Request { return &gonogo.Request{ID: 1, Intended: time.Now().Add(-lag)} })
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := sink.pairs[0]
	prim, cand := p.Exchanges[0], p.Exchanges[1]
	us := func(d time.Duration) int64 { return d.Microseconds() }
	if !prim.FromIntended || prim.LatencyMicros < us(lag) || prim.LatencyMicros > us(lag+20*time.Millisecond) || prim.ServiceMicros > us(20*time.Millisecond) {
		t.Errorf("primary %+v: want latency ≈ %v from the intended time, service ≈ 0", prim, lag)
	}
	if !cand.FromIntended || cand.LatencyMicros < us(lag+candDelay) || cand.ServiceMicros < us(candDelay) || cand.LatencyMicros-cand.ServiceMicros > us(lag+20*time.Millisecond) {
		t.Errorf("candidate %+v: want latency ≈ %v from the intended time, service ≈ %v", cand, lag+candDelay, candDelay)
	}
}

// The core without a Client, as a live proxy uses it: the pair is written
// when the primary's answer and every mirror's are in, in either order.
func TestFanoutStartFinish(t *testing.T) {
	gate := make(chan struct{})
	sink := &memPairs{}
	f, err := mirror.NewFanout([]mirror.Target{{"candidate", &echoClient{gate: gate}}}, sink, mirror.Options{})
	if err != nil {
		t.Fatal(err)
	}
	intended := time.Now()
	// 1: the primary answers first, then the candidate.
	fl := f.Start(&gonogo.Request{ID: 1, Intended: intended, Recorded: &gonogo.Recorded{Method: "POST", Path: "/v1/completions", Body: []byte("b1")}})
	fl.Finish(&gonogo.Result{Sent: intended, Done: intended.Add(5 * time.Millisecond), Status: 200, Output: []byte("p")})
	fl.Finish(&gonogo.Result{Status: 500}) // ignored
	if sink.len() != 0 || f.Pending() != 1 {
		t.Fatalf("%d pairs, %d pending before the candidate answered; want 0, 1", sink.len(), f.Pending())
	}
	gate <- struct{}{}
	waitFor(t, "pair 1 written", func() bool { return sink.len() == 1 })
	// 2: the candidate answers first.
	fl = f.Start(&gonogo.Request{ID: 2, Intended: intended})
	gate <- struct{}{}
	cand := f.Stats()
	waitFor(t, "candidate answered", func() bool { cand = f.Stats(); return cand["candidate"].Sent == 2 })
	time.Sleep(10 * time.Millisecond) // the candidate's answer is in
	if sink.len() != 1 || f.Pending() != 1 {
		t.Fatalf("%d pairs, %d pending: pair 2 must wait for the primary's answer", sink.len(), f.Pending())
	}
	fl.Finish(&gonogo.Result{Sent: intended, Status: 200})
	waitFor(t, "pair 2 written", func() bool { return sink.len() == 2 && f.Pending() == 0 })
	// 3: the primary never answers: Close writes the pair and says so.
	f.Start(&gonogo.Request{ID: 3, Intended: intended})
	gate <- struct{}{}
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	pairs := sink.byID()
	if p := pairs[1].Exchanges; p[0].Status != 200 || p[0].LatencyMicros != 5000 || p[0].Output != "p" || p[1].Output != "b1" || pairs[1].Request != "b1" {
		t.Errorf("pair 1: %+v request %q", p, pairs[1].Request)
	}
	if p := pairs[3].Exchanges; p[0].Err != mirror.NoAnswerBeforeClose || p[0].Class != gonogo.ErrCanceled || p[0].FromIntended || p[0].Target != mirror.PrimaryTarget || p[1].Status != 200 {
		t.Errorf("pair 3: %+v, want the primary marked unanswered", p)
	}
}

// A mirror at its in-flight cap drops the copy without blocking the
// primary; its drops are counted and recorded in pairs.
func TestClientDropsAtInFlightCap(t *testing.T) {
	slow := &echoClient{gate: make(chan struct{})}
	sink := &memPairs{}
	c := newClient(t, &echoClient{}, []mirror.Target{{"candidate", slow}}, sink, mirror.Options{MaxInFlight: 3})
	start := time.Now()
	doN(c, 10, func(i int) *gonogo.Request { return &gonogo.Request{ID: uint64(i + 1)} })
	if el := time.Since(start); el > time.Second {
		t.Fatalf("10 Do calls took %v with a stalled mirror", el)
	}
	waitFor(t, "3 requests at the stalled mirror", func() bool { return slow.calls.Load() == 3 })
	st := c.Stats()["candidate"]
	if st.Dropped != 7 || st.Sent != 3 {
		t.Fatalf("stats while stalled: %+v, want 3 sent (in flight), 7 dropped", st)
	}
	if c.Pending() != 3 || sink.len() != 7 {
		t.Errorf("Pending = %d, %d pairs written; want 3 waiting, 7 written", c.Pending(), sink.len())
	}
	close(slow.gate)
	waitFor(t, "stalled answers in", func() bool { return sink.len() == 10 })
	doN(c, 1, func(int) *gonogo.Request { return &gonogo.Request{ID: 11} }) // the cap is free again
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats()["candidate"]; st.Dropped != 7 || st.Sent != 4 {
		t.Errorf("final stats %+v, want 4 sent, 7 dropped", st)
	}
	dropped := 0
	for _, p := range sink.byID() {
		if ex := p.Exchanges[1]; ex.Dropped {
			dropped++
			if ex.Err != mirror.NotMirroredBusy || ex.Target != "candidate" || ex.FromIntended || p.ID < 4 {
				t.Errorf("pair %d: %+v", p.ID, ex)
			}
		}
	}
	if sink.len() != 11 || dropped != 7 {
		t.Errorf("%d pairs, %d with the mirror dropped; want 11, 7", sink.len(), dropped)
	}
}

func TestSafeToMirror(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         bool
	}{
		{"GET", "/orders", true},
		{"HEAD", "/", true},
		{"POST", "/v1/completions", true},
		{"post", "/v1/chat/completions?x=1", true},
		{"POST", "/v1/embeddings", true},
		{"POST", "/v2/models/resnet/infer", true},
		{"POST", "/v2/models/resnet/versions/3/infer", true},
		{"POST", "/v1/models/resnet:predict", true},
		{"POST", "/orders", false},
		{"PUT", "/v1/completions/x", false},
		{"PATCH", "/users/1", false},
		{"DELETE", "/v2/models/resnet", false},
		{"POST", "/v2/models/a/b/infer", false},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			if got := mirror.SafeToMirror(&gonogo.Recorded{Method: tc.method, Path: tc.path}); got != tc.want {
				t.Errorf("SafeToMirror = %v, want %v", got, tc.want)
			}
		})
	}
	if !mirror.SafeToMirror(nil) {
		t.Error("a request without recording must be mirrored")
	}
}

func TestClientUnsafeMethods(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("AllowUnsafe=%v", allow), func(t *testing.T) {
			m, sink := &echoClient{}, &memPairs{}
			c := newClient(t, &echoClient{}, []mirror.Target{{"candidate", m}}, sink, mirror.Options{AllowUnsafe: allow})
			reqs := []*gonogo.Recorded{
				{Method: "POST", Path: "/v1/completions", Body: []byte(`{"prompt":"hi"}`)},
				{Method: "DELETE", Path: "/users/7"},
				{Method: "GET", Path: "/users/7"},
			}
			doN(c, len(reqs), func(i int) *gonogo.Request { return &gonogo.Request{ID: uint64(i + 1), Recorded: reqs[i]} })
			if err := c.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			st := c.Stats()["candidate"]
			pairs := sink.byID()
			del := pairs[2].Exchanges[1]
			if allow {
				if st.Sent != 3 || st.Skipped != 0 || del.Dropped {
					t.Errorf("stats %+v, DELETE exchange %+v", st, del)
				}
				return
			}
			if st.Sent != 2 || st.Skipped != 1 || m.calls.Load() != 2 {
				t.Errorf("stats %+v, %d calls; want 2 sent, 1 skipped", st, m.calls.Load())
			}
			if !del.Dropped || del.Err != mirror.NotMirroredUnsafe {
				t.Errorf("DELETE exchange %+v, want dropped %q", del, mirror.NotMirroredUnsafe)
			}
			if pairs[1].Request != `{"prompt":"hi"}` || pairs[2].Request != "DELETE /users/7" {
				t.Errorf("Pair.Request: %q, %q", pairs[1].Request, pairs[2].Request)
			}
		})
	}
}

// The mirrors read their own copy of the request: the engine reusing its
// request (and a source reusing its buffers) right after Do changes
// nothing they send. Run with -race.
func TestClientCopiesRequest(t *testing.T) {
	m := &echoClient{gate: make(chan struct{})}
	sink := &memPairs{}
	c := newClient(t, &echoClient{}, []mirror.Target{{"candidate", m}}, sink, mirror.Options{})
	body := []byte(`{"prompt":"original"}`)
	tags := map[string]string{"user": "alice"}
	req := &gonogo.Request{ID: 1, Tags: tags, Recorded: &gonogo.Recorded{Method: "POST", Path: "/v1/completions", Body: body, Header: http.Header{"X": {"1", "2"}}}}
	c.Do(context.Background(), req, &gonogo.Result{Request: req, Sent: time.Now()})
	copy(body, `{"prompt":"CHANGED!"}`)
	tags["user"] = "mallory"
	req.Recorded.Header["X"][0] = "3"
	*req = gonogo.Request{ID: 99}
	close(m.gate)
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := m.seen[0]
	if got.ID != 1 || string(got.Recorded.Body) != `{"prompt":"original"}` || got.Tags["user"] != "alice" || !slices.Equal(got.Recorded.Header["X"], []string{"1", "2"}) {
		t.Errorf("mirror saw %+v body %s", got, got.Recorded.Body)
	}
	p := sink.pairs[0]
	if p.Tags["user"] != "alice" || p.Request != `{"prompt":"original"}` || p.Exchanges[1].Output != `{"prompt":"original"}` {
		t.Errorf("pair %+v", p)
	}
}

// bodyClient is a primary that can say what body it sends.
type bodyClient struct{ echoClient }

func (*bodyClient) Body(req *gonogo.Request) []byte {
	return []byte(strings.Repeat("é", 3000) + fmt.Sprint(req.ID)) // 6000+ bytes
}

func TestClientPairRequest(t *testing.T) {
	sink := &memPairs{}
	c := newClient(t, &bodyClient{}, nil, sink, mirror.Options{})
	doN(c, 1, func(int) *gonogo.Request { return &gonogo.Request{ID: 5} })
	long := strings.Repeat("x", 10000)
	c2 := newClient(t, &echoClient{}, nil, sink, mirror.Options{})
	doN(c2, 1, func(int) *gonogo.Request {
		return &gonogo.Request{ID: 6, Recorded: &gonogo.Recorded{Method: "POST", Path: "/v1/completions", Body: []byte(long)}}
	})
	c.Close(context.Background())
	c2.Close(context.Background())
	for _, p := range sink.pairs {
		if len(p.Request) > mirror.MaxPairRequestBytes || !strings.HasSuffix(p.Request, "…") || strings.ToValidUTF8(p.Request, "?") != p.Request {
			t.Errorf("pair %d: request of %d bytes, want ≤ %d, valid UTF-8, marked cut", p.ID, len(p.Request), mirror.MaxPairRequestBytes)
		}
		if len(p.Exchanges) != 1 || p.Exchanges[0].Target != mirror.PrimaryTarget {
			t.Errorf("pair %d: exchanges %+v, want the primary only", p.ID, p.Exchanges)
		}
	}
	if len(sink.pairs) != 2 || !strings.HasPrefix(sink.pairs[0].Request, "ééé") {
		t.Errorf("pairs %d, first request %.20q", len(sink.pairs), sink.pairs[0].Request)
	}
}

// When Close's context ends before the mirrors have answered, their
// requests are cancelled, every pair is still written, and Close says so;
// Do after Close serves the primary and drops the copies.
func TestClientCloseDeadline(t *testing.T) {
	stuck := &echoClient{gate: make(chan struct{})} // never opened
	sink := &memPairs{}
	c := newClient(t, &echoClient{}, []mirror.Target{{"candidate", stuck}}, sink, mirror.Options{MaxInFlight: 4})
	doN(c, 6, func(i int) *gonogo.Request { return &gonogo.Request{ID: uint64(i + 1)} })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want a deadline error", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("Close took %v", el)
	}
	var canceled, dropped int
	for _, p := range sink.byID() {
		switch ex := p.Exchanges[1]; {
		case ex.Class == gonogo.ErrCanceled && !ex.Dropped && ex.FromIntended:
			canceled++
		case ex.Dropped && ex.Err == mirror.NotMirroredBusy:
			dropped++
		default:
			t.Errorf("pair %d: %+v", p.ID, ex)
		}
	}
	st := c.Stats()["candidate"]
	if sink.len() != 6 || canceled != 4 || dropped != 2 || st.Sent != 4 || st.Failed != 4 || st.Dropped != 2 {
		t.Errorf("%d pairs: %d canceled, %d dropped; stats %+v; want 6: 4 canceled (in flight), 2 dropped", sink.len(), canceled, dropped, st)
	}
	res := doN(c, 1, func(int) *gonogo.Request { return &gonogo.Request{ID: 7} })[0]
	p := sink.byID()[7]
	if res.Status != 200 || c.Stats()["candidate"].Dropped != 3 || p == nil || p.Exchanges[1].Err != mirror.NotMirroredClosed {
		t.Errorf("Do after Close: status %d, stats %+v, pair %+v", res.Status, c.Stats()["candidate"], p)
	}
}

func TestClientSinkError(t *testing.T) {
	sink := &memPairs{err: errors.New("disk full")}
	c := newClient(t, &echoClient{}, []mirror.Target{{"candidate", &echoClient{}}}, sink, mirror.Options{})
	doN(c, 3, func(i int) *gonogo.Request { return &gonogo.Request{ID: uint64(i + 1)} })
	if err := c.Close(context.Background()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Close = %v, want the sink's error", err)
	}
}

func TestNewFanoutConfig(t *testing.T) {
	ok := &echoClient{}
	for _, tc := range []struct {
		name    string
		targets []mirror.Target
		sink    mirror.PairSink
		opts    mirror.Options
		want    string
	}{
		{"no sink", nil, nil, mirror.Options{}, "no pair sink"},
		{"negative cap", nil, &memPairs{}, mirror.Options{MaxInFlight: -1}, "max in flight -1"},
		{"negative timeout", nil, &memPairs{}, mirror.Options{Timeout: -time.Second}, "timeout -1s"},
		{"no name", []mirror.Target{{"", ok}}, &memPairs{}, mirror.Options{}, "target 1 has no name"},
		{"primary's name", []mirror.Target{{"primary", ok}}, &memPairs{}, mirror.Options{}, `"primary" used twice`},
		{"repeated name", []mirror.Target{{"candidate", ok}, {"candidate", ok}}, &memPairs{}, mirror.Options{}, `"candidate" used twice`},
		{"no client", []mirror.Target{{"candidate", nil}}, &memPairs{}, mirror.Options{}, "candidate has no client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mirror.NewFanout(tc.targets, tc.sink, tc.opts)
			if !errors.Is(err, mirror.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewFanout = %v, want ErrConfig saying %q", err, tc.want)
			}
		})
	}
}

// warmClient records the connections it was asked to open.
type warmClient struct {
	echoClient
	conns atomic.Int64
}

func (w *warmClient) Warm(_ context.Context, conns int) error {
	w.conns.Add(int64(conns))
	return nil
}

// The engine warms the primary through the Client as in a load run, and
// the mirrors alike.
func TestClientWarm(t *testing.T) {
	primary, cand := &warmClient{}, &warmClient{}
	c := newClient(t, primary, []mirror.Target{{"secondary", &echoClient{}}, {"candidate", cand}}, &memPairs{}, mirror.Options{})
	if err := c.Warm(context.Background(), 7); err != nil {
		t.Fatal(err)
	}
	if primary.conns.Load() != 7 || cand.conns.Load() != 7 {
		t.Errorf("warmed %d primary and %d candidate connections, want 7 each", primary.conns.Load(), cand.conns.Load())
	}
}
