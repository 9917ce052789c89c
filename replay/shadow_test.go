package replay_test

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
	"github.com/gonogo-dev/gonogo/replay"
)

// echoClient answers with a fixed prefix and the request's recorded body
// (or its ID) as output, after an optional gate.
type echoClient struct {
	prefix string
	gate   chan struct{} // when not nil, each Do waits for a token or ctx
	calls  atomic.Int64
	fail   bool
	mu     sync.Mutex
	seen   []gonogo.Request
}

func (c *echoClient) Do(ctx context.Context, req *gonogo.Request, res *gonogo.Result) {
	c.calls.Add(1)
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			res.Done, res.Class, res.Err = time.Now(), gonogo.ErrCanceled, ctx.Err().Error()
			return
		}
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

func (m *memPairs) byID() map[uint64]*gonogo.Pair {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[uint64]*gonogo.Pair{}
	for _, p := range m.pairs {
		out[p.ID] = p
	}
	return out
}

func doN(f *replay.Fanout, n int, mk func(i int) *gonogo.Request) []*gonogo.Result {
	out := make([]*gonogo.Result, n)
	for i := range n {
		req := mk(i)
		res := &gonogo.Result{Request: req, Sent: time.Now()}
		f.Do(context.Background(), req, res)
		out[i] = res
	}
	return out
}

func TestFanoutPairs(t *testing.T) {
	primary, sec, cand := &echoClient{prefix: "p:"}, &echoClient{prefix: "s:"}, &echoClient{prefix: "c:", fail: true}
	sink := &memPairs{}
	f := replay.NewFanout(primary, []replay.Mirror{{"secondary", sec}, {"candidate", cand}}, sink, replay.FanoutOptions{Workers: 4})
	const n = 50
	results := doN(f, n, func(i int) *gonogo.Request {
		return &gonogo.Request{ID: uint64(i + 1), Row: int64(i + 10), InputTokens: 7, Tags: map[string]string{"k": "v"}}
	})
	for i, res := range results {
		if string(res.Output) != fmt.Sprintf("p:%d", i+1) || res.Status != 200 {
			t.Fatalf("request %d: primary result %q %d: Do must fill res from the primary", i+1, res.Output, res.Status)
		}
	}
	if err := f.Close(context.Background()); err != nil {
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
			if ex.Output != fmt.Sprint(prefix, id) || ex.Dropped || ex.LatencyMicros < 0 {
				t.Errorf("pair %d %s: %+v", id, ex.Target, ex)
			}
		}
		if c := p.Exchanges[2]; c.Class != gonogo.ErrHTTP5xx || c.Status != 503 {
			t.Errorf("pair %d: candidate failure not recorded: %+v", id, c)
		}
	}
	want := map[string]replay.MirrorStats{"secondary": {Sent: n}, "candidate": {Sent: n, Failed: n}}
	if got := f.Stats(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Stats = %v, want %v", got, want)
	}
	if f.Pending() != 0 {
		t.Errorf("%d pairs still pending after Close", f.Pending())
	}
}

// A mirror whose queue is full drops without blocking the primary, and
// its drops are counted and recorded in pairs.
func TestFanoutDropsWhenQueueFull(t *testing.T) {
	slow := &echoClient{gate: make(chan struct{})}
	sink := &memPairs{}
	f := replay.NewFanout(&echoClient{}, []replay.Mirror{{"candidate", slow}}, sink, replay.FanoutOptions{QueueSize: 2, Workers: 1})
	start := time.Now()
	doN(f, 1, func(i int) *gonogo.Request { return &gonogo.Request{ID: 1} })
	for slow.calls.Load() == 0 && time.Since(start) < 2*time.Second { // the worker takes #1
		time.Sleep(time.Millisecond)
	}
	doN(f, 9, func(i int) *gonogo.Request { return &gonogo.Request{ID: uint64(i + 2)} })
	if el := time.Since(start); el > time.Second {
		t.Fatalf("10 Do calls took %v with a stalled mirror", el)
	}
	st := f.Stats()["candidate"]
	if st.Dropped != 7 || st.Sent != 0 {
		t.Fatalf("stats while stalled: %+v, want 7 dropped (1 in flight, 2 queued)", st)
	}
	if f.Pending() != 3 {
		t.Errorf("Pending = %d, want 3", f.Pending())
	}
	close(slow.gate) // let everything through
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st = f.Stats()["candidate"]
	if st.Dropped != 7 || st.Sent != 3 {
		t.Errorf("final stats %+v, want 3 sent, 7 dropped", st)
	}
	dropped := 0
	for _, p := range sink.byID() {
		if ex := p.Exchanges[1]; ex.Dropped {
			dropped++
			if ex.Err != replay.NotMirroredQueueFull || ex.Target != "candidate" {
				t.Errorf("pair %d: %+v", p.ID, ex)
			}
		}
	}
	if len(sink.pairs) != 10 || dropped != 7 {
		t.Errorf("%d pairs, %d with the mirror dropped; want 10, 7", len(sink.pairs), dropped)
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
		got := replay.SafeToMirror(&gonogo.Recorded{Method: tc.method, Path: tc.path})
		if got != tc.want {
			t.Errorf("%s %s: SafeToMirror = %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
	if !replay.SafeToMirror(nil) {
		t.Error("a request without recording must be mirrored")
	}
}

func TestFanoutUnsafeMethods(t *testing.T) {
	for _, allow := range []bool{false, true} {
		mirror, sink := &echoClient{}, &memPairs{}
		f := replay.NewFanout(&echoClient{}, []replay.Mirror{{"candidate", mirror}}, sink, replay.FanoutOptions{AllowUnsafe: allow})
		reqs := []*gonogo.Recorded{
			{Method: "POST", Path: "/v1/completions", Body: []byte(`{"prompt":"hi"}`)},
			{Method: "DELETE", Path: "/users/7"},
			{Method: "GET", Path: "/users/7"},
		}
		doN(f, len(reqs), func(i int) *gonogo.Request { return &gonogo.Request{ID: uint64(i + 1), Recorded: reqs[i]} })
		if err := f.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		st := f.Stats()["candidate"]
		pairs := sink.byID()
		del := pairs[2].Exchanges[1]
		if allow {
			if st.Sent != 3 || st.Skipped != 0 || del.Dropped {
				t.Errorf("AllowUnsafe: stats %+v, DELETE exchange %+v", st, del)
			}
			continue
		}
		if st.Sent != 2 || st.Skipped != 1 || mirror.calls.Load() != 2 {
			t.Errorf("stats %+v, %d calls; want 2 sent, 1 skipped", st, mirror.calls.Load())
		}
		if !del.Dropped || del.Err != replay.NotMirroredUnsafe {
			t.Errorf("DELETE exchange %+v, want dropped %q", del, replay.NotMirroredUnsafe)
		}
		if pairs[1].Request != `{"prompt":"hi"}` || pairs[2].Request != "DELETE /users/7" {
			t.Errorf("Pair.Request: %q, %q", pairs[1].Request, pairs[2].Request)
		}
	}
}

// The mirrors read their own copy of the request: the engine reusing its
// request (and a source reusing its buffers) right after Do changes
// nothing they send. Run with -race.
func TestFanoutCopiesRequest(t *testing.T) {
	mirror := &echoClient{gate: make(chan struct{})}
	sink := &memPairs{}
	f := replay.NewFanout(&echoClient{}, []replay.Mirror{{"candidate", mirror}}, sink, replay.FanoutOptions{})
	body := []byte(`{"prompt":"original"}`)
	tags := map[string]string{"user": "alice"}
	req := &gonogo.Request{ID: 1, Tags: tags, Recorded: &gonogo.Recorded{Method: "POST", Path: "/v1/completions", Body: body, Header: http.Header{"X": {"1"}}}}
	f.Do(context.Background(), req, &gonogo.Result{Request: req, Sent: time.Now()})
	copy(body, `{"prompt":"CHANGED!"}`)
	tags["user"] = "mallory"
	req.Recorded.Header["X"][0] = "2"
	*req = gonogo.Request{ID: 99}
	close(mirror.gate)
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := mirror.seen[0]
	if got.ID != 1 || string(got.Recorded.Body) != `{"prompt":"original"}` || got.Tags["user"] != "alice" || got.Recorded.Header.Get("X") != "1" {
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

func TestFanoutPairRequest(t *testing.T) {
	sink := &memPairs{}
	f := replay.NewFanout(&bodyClient{}, nil, sink, replay.FanoutOptions{})
	doN(f, 1, func(int) *gonogo.Request { return &gonogo.Request{ID: 5} })
	long := strings.Repeat("x", 10000)
	f2 := replay.NewFanout(&echoClient{}, nil, sink, replay.FanoutOptions{})
	doN(f2, 1, func(int) *gonogo.Request {
		return &gonogo.Request{ID: 6, Recorded: &gonogo.Recorded{Method: "POST", Path: "/v1/completions", Body: []byte(long)}}
	})
	f.Close(context.Background())
	f2.Close(context.Background())
	for _, p := range sink.pairs {
		if len(p.Request) > replay.MaxPairRequestBytes || !strings.HasSuffix(p.Request, "…") || strings.ToValidUTF8(p.Request, "?") != p.Request {
			t.Errorf("pair %d: request of %d bytes, want ≤ %d, valid UTF-8, marked cut", p.ID, len(p.Request), replay.MaxPairRequestBytes)
		}
		if len(p.Exchanges) != 1 || p.Exchanges[0].Target != replay.PrimaryTarget {
			t.Errorf("pair %d: exchanges %+v, want the primary only", p.ID, p.Exchanges)
		}
	}
	if len(sink.pairs) != 2 || !strings.HasPrefix(sink.pairs[0].Request, "ééé") {
		t.Errorf("pairs %d, first request %.20q", len(sink.pairs), sink.pairs[0].Request)
	}
}

// When Close's context ends before the mirrors have drained, requests in
// flight are cancelled, queued ones recorded as dropped, every pair still
// written, and Close says so.
func TestFanoutCloseDeadline(t *testing.T) {
	stuck := &echoClient{gate: make(chan struct{})} // never opened
	sink := &memPairs{}
	f := replay.NewFanout(&echoClient{}, []replay.Mirror{{"candidate", stuck}}, sink, replay.FanoutOptions{QueueSize: 10, Workers: 2})
	doN(f, 6, func(i int) *gonogo.Request { return &gonogo.Request{ID: uint64(i + 1)} })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := f.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want a deadline error", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("Close took %v", el)
	}
	var canceled, dropped int
	for _, p := range sink.byID() {
		switch ex := p.Exchanges[1]; {
		case ex.Class == gonogo.ErrCanceled && !ex.Dropped:
			canceled++
		case ex.Dropped && ex.Err == replay.NotMirroredClosed:
			dropped++
		default:
			t.Errorf("pair %d: %+v", p.ID, ex)
		}
	}
	st := f.Stats()["candidate"]
	if len(sink.pairs) != 6 || canceled != 2 || dropped != 4 || st.Sent != 2 || st.Failed != 2 || st.Dropped != 4 {
		t.Errorf("%d pairs: %d canceled, %d dropped; stats %+v; want 6: 2 canceled (in flight), 4 dropped", len(sink.pairs), canceled, dropped, st)
	}
	// Do after Close still serves the primary.
	res := doN(f, 1, func(int) *gonogo.Request { return &gonogo.Request{ID: 7} })[0]
	if res.Status != 200 || f.Stats()["candidate"].Dropped != 5 {
		t.Errorf("Do after Close: status %d, stats %+v", res.Status, f.Stats()["candidate"])
	}
}

func TestFanoutSinkError(t *testing.T) {
	sink := &memPairs{err: errors.New("disk full")}
	f := replay.NewFanout(&echoClient{}, []replay.Mirror{{"candidate", &echoClient{}}}, sink, replay.FanoutOptions{})
	doN(f, 3, func(i int) *gonogo.Request { return &gonogo.Request{ID: uint64(i + 1)} })
	if err := f.Close(context.Background()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Close = %v, want the sink's error", err)
	}
}
