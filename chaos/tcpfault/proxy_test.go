package tcpfault

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// ioTimeout bounds every read and write of a test.
const ioTimeout = 5 * time.Second

// serve starts a loopback TCP server that runs handle on every
// connection (and closes it after) until the test ends.
func serve(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				handle(c)
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// echoServer sends back whatever it reads.
func echoServer(t *testing.T) string {
	return serve(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// greeting is what greetServer sends before it closes the connection.
const greeting = "hello\n"

// greetServer sends greeting and closes the connection.
func greetServer(t *testing.T) string {
	return serve(t, func(c net.Conn) { _, _ = c.Write([]byte(greeting)) })
}

func newProxy(t *testing.T, upstream string) *Proxy {
	t.Helper()
	p, err := NewProxy("api", "", upstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// apply prepares and applies the fault id with spec s on p and returns its
// revert.
func apply(t *testing.T, p *Proxy, id string, s *Spec) chaos.Revert {
	t.Helper()
	s.Proxy = p.Name()
	f := &chaos.Fault{ID: id, Kind: s.Kind(), Target: p.Name(), Spec: s}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	u, err := p.Prepare(ctx, f)
	if err != nil {
		t.Fatalf("Prepare %s: %v", id, err)
	}
	if u.Kind != chaos.UndoNone {
		t.Fatalf("Prepare %s: undo kind %q, want %q", id, u.Kind, chaos.UndoNone)
	}
	rv, err := p.Apply(ctx, f)
	if err != nil {
		t.Fatalf("Apply %s: %v", id, err)
	}
	return rv
}

// revert reverts twice: the second must be a no-op.
func revert(t *testing.T, rv chaos.Revert) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	for i := range 2 {
		if err := rv(ctx); err != nil {
			t.Fatalf("revert #%d: %v", i+1, err)
		}
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrips times n round trips of a short message on c.
func roundTrips(t *testing.T, c net.Conn, n int) []time.Duration {
	t.Helper()
	msg := []byte("ping-0123456789\n")
	buf := make([]byte, len(msg))
	out := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		out = append(out, time.Since(start))
		if !bytes.Equal(buf, msg) {
			t.Fatalf("echo %q, want %q", buf, msg)
		}
	}
	return out
}

// echoes checks that a new connection to addr echoes.
func echoes(t *testing.T, addr string) {
	t.Helper()
	c := dial(t, addr)
	roundTrips(t, c, 1)
	c.Close()
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) *chaos.Duration { v := chaos.Duration(d); return &v }
func num(v int64) *int64                 { return &v }
func share(v float64) *float64           { return &v }

func TestNewProxy(t *testing.T) {
	up := echoServer(t)
	for _, tc := range []struct {
		name, listen, upstream string
		opts                   []Option
		field                  string // of the InputError; "" when it must start
	}{
		{name: "default listen", listen: "", upstream: up},
		{name: "ipv4 loopback", listen: "127.0.0.1:0", upstream: up},
		{name: "localhost", listen: "localhost:0", upstream: up},
		{name: "all interfaces", listen: "0.0.0.0:0", upstream: up, field: "listen"},
		{name: "empty host", listen: ":0", upstream: up, field: "listen"},
		{name: "lan address", listen: "192.0.2.1:0", upstream: up, field: "listen"},
		{name: "no port", listen: "127.0.0.1", upstream: up, field: "listen"},
		{name: "bad upstream", listen: "", upstream: "nowhere", field: "upstream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewProxy("api", tc.listen, tc.upstream, tc.opts...)
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				host, _, _ := net.SplitHostPort(p.Addr())
				if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
					t.Errorf("Addr() = %s, want a loopback address", p.Addr())
				}
				echoes(t, p.Addr())
				return
			}
			var ie *chaos.InputError
			if !errors.As(err, &ie) || ie.Field != tc.field || !errors.Is(err, chaos.ErrInput) {
				t.Fatalf("err = %v, want an InputError on field %s", err, tc.field)
			}
		})
	}
	t.Run("no name", func(t *testing.T) {
		_, err := NewProxy(" ", "", up)
		var ie *chaos.InputError
		if !errors.As(err, &ie) || ie.Field != "name" {
			t.Fatalf("err = %v, want an InputError on field name", err)
		}
	})
	t.Run("AllowNonLoopback skips the check", func(t *testing.T) {
		// 192.0.2.1 (TEST-NET-1) is on no interface of this machine: the
		// listen itself fails, so nothing is exposed, but the check is
		// passed.
		_, err := NewProxy("api", "192.0.2.1:0", up, AllowNonLoopback())
		var ie *chaos.InputError
		if err == nil || errors.As(err, &ie) {
			t.Fatalf("err = %v, want the listen's own error", err)
		}
	})
	t.Run("address in use", func(t *testing.T) {
		p := newProxy(t, up)
		if _, err := NewProxy("api2", p.Addr(), up); err == nil {
			t.Fatal("a second proxy on the same address started")
		}
	})
}

func TestLatency(t *testing.T) {
	const latency = 30 * time.Millisecond
	for _, stream := range []string{Downstream, Upstream} {
		t.Run(stream, func(t *testing.T) {
			p := newProxy(t, echoServer(t))
			open := dial(t, p.Addr()) // open before the toxic, through it all
			base := median(roundTrips(t, open, 15))
			rv := apply(t, p, "slow", &Spec{Toxic: Latency, Stream: stream, Latency: ms(latency)})
			fresh := dial(t, p.Addr())
			for name, c := range map[string]net.Conn{"open": open, "new": fresh} {
				got := median(roundTrips(t, c, 15))
				added := got - base
				t.Logf("%s connection: median round trip %v, with latency %v: %v (added %v)", name, base, latency, got, added)
				if added < latency-2*time.Millisecond || added > latency+6*time.Millisecond {
					t.Errorf("%s connection: latency added %v to the median round trip, want %v (−2ms, +6ms)", name, added, latency)
				}
			}
			if m, a := p.Counts("slow"); m != 2 || a != 2 {
				t.Errorf("Counts = %d, %d; want 2, 2 (the open connection and the new one)", m, a)
			}
			revert(t, rv)
			for name, c := range map[string]net.Conn{"open": open, "new": dial(t, p.Addr())} {
				if after := median(roundTrips(t, c, 15)); after > base+5*time.Millisecond {
					t.Errorf("%s connection: after revert the median round trip is %v, want about %v", name, after, base)
				}
			}
		})
	}
}

func TestLatencyJitter(t *testing.T) {
	const latency, jitter = 20 * time.Millisecond, 10 * time.Millisecond
	p := newProxy(t, echoServer(t))
	rv := apply(t, p, "jitter", &Spec{Toxic: Latency, Latency: ms(latency), Jitter: ms(jitter)})
	defer revert(t, rv)
	rtts := roundTrips(t, dial(t, p.Addr()), 30)
	slices.Sort(rtts)
	lo, p10, p80, p90 := rtts[0], rtts[3], rtts[24], rtts[27]
	t.Logf("30 round trips with latency %v ± %v: min %v, p10 %v, median %v, p90 %v, max %v",
		latency, jitter, lo, p10, rtts[15], p90, rtts[29])
	// toxiproxy never delivers a chunk early: every round trip takes at
	// least latency − jitter. A loaded machine can only add to it, so the
	// upper bound is asked of 80 % of them.
	if lo < latency-jitter {
		t.Errorf("fastest round trip %v, want at least %v", lo, latency-jitter)
	}
	if p80 > latency+jitter+3*time.Millisecond {
		t.Errorf("80th percentile round trip %v, want at most %v", p80, latency+jitter)
	}
	// Uniform draws over 20ms: p10 ≈ 12ms and p90 ≈ 28ms.
	if p90-p10 < 8*time.Millisecond {
		t.Errorf("p10 … p90 span only %v: the jitter is not applied", p90-p10)
	}
}

// transfer sends n bytes through the echo server behind addr and returns
// the time until all came back.
func transfer(t *testing.T, addr string, n int) time.Duration {
	t.Helper()
	c := dial(t, addr)
	data := bytes.Repeat([]byte("0123456789abcdef"), n/16)
	start := time.Now()
	errc := make(chan error, 1)
	go func() { _, err := c.Write(data); errc <- err }()
	got, err := io.ReadAll(io.LimitReader(c, int64(len(data))))
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes back, want the %d sent", len(got), len(data))
	}
	return elapsed
}

func TestBandwidth(t *testing.T) {
	const rateKBPerSec, n = 400, 240_000 // 0.6 s at 400 KB/s
	p := newProxy(t, echoServer(t))
	rv := apply(t, p, "narrow", &Spec{Toxic: Bandwidth, RateKBPerSec: num(rateKBPerSec)})
	elapsed := transfer(t, p.Addr(), n)
	bytesPerSec := float64(n) / elapsed.Seconds()
	t.Logf("%d bytes in %v: %.0f B/s (rate %d KB/s)", n, elapsed, bytesPerSec, rateKBPerSec)
	if want := float64(rateKBPerSec * 1000); bytesPerSec < 0.85*want || bytesPerSec > 1.15*want {
		t.Errorf("throughput %.0f B/s, want %.0f ± 15%%", bytesPerSec, want)
	}
	revert(t, rv)
	if elapsed := transfer(t, p.Addr(), n); elapsed > 200*time.Millisecond {
		t.Errorf("after revert %d bytes took %v, want far less than the limited %v", n, elapsed, time.Duration(n)*time.Second/(rateKBPerSec*1000))
	}
}

func TestResetPeer(t *testing.T) {
	const timeout = 50 * time.Millisecond
	p := newProxy(t, echoServer(t))
	rv := apply(t, p, "reset", &Spec{Toxic: ResetPeer, Timeout: ms(timeout)})
	c := dial(t, p.Addr())
	start := time.Now()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, c)
	elapsed := time.Since(start)
	t.Logf("read %d bytes, then %v after %v", n, err, elapsed)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read ended with %v, want a connection reset", err)
	}
	if n != 0 {
		t.Errorf("read %d bytes before the reset, want 0", n)
	}
	if elapsed < timeout-2*time.Millisecond || elapsed > timeout+200*time.Millisecond {
		t.Errorf("reset after %v, want about %v", elapsed, timeout)
	}
	if m, a := p.Counts("reset"); m != 0 || a != 0 {
		t.Errorf("Counts = %d, %d; reset_peer is not counted, want 0, 0", m, a)
	}
	revert(t, rv)
	echoes(t, p.Addr())
}

func TestTimeout(t *testing.T) {
	t.Run("closes after the timeout", func(t *testing.T) {
		const timeout = 100 * time.Millisecond
		p := newProxy(t, echoServer(t))
		rv := apply(t, p, "stall", &Spec{Toxic: Timeout, Timeout: ms(timeout)})
		start := time.Now()
		c := dial(t, p.Addr())
		if _, err := c.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, c) // nil at EOF
		elapsed := time.Since(start)
		t.Logf("read %d bytes, then %v after %v", n, err, elapsed)
		if err != nil || n != 0 {
			t.Errorf("read %d bytes and %v, want 0 bytes and a close", n, err)
		}
		if elapsed < timeout-2*time.Millisecond || elapsed > timeout+200*time.Millisecond {
			t.Errorf("closed after %v, want about %v", elapsed, timeout)
		}
		revert(t, rv)
		echoes(t, p.Addr())
	})
	t.Run("0 stalls until reverted", func(t *testing.T) {
		p := newProxy(t, echoServer(t))
		rv := apply(t, p, "stall", &Spec{Toxic: Timeout, Timeout: ms(0)})
		c := dial(t, p.Addr())
		if _, err := c.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, err := c.Read(make([]byte, 16)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read %d bytes and %v, want nothing until the deadline", n, err)
		}
		revert(t, rv)
		// toxiproxy closes the connections a timeout toxic stalled when
		// it is removed; new ones pass.
		_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
		if n, err := io.Copy(io.Discard, c); err != nil || n != 0 {
			t.Errorf("stalled connection after revert: read %d bytes and %v, want a close", n, err)
		}
		echoes(t, p.Addr())
	})
}

func TestLimitData(t *testing.T) {
	for _, limit := range []int64{1, 100, 5000} {
		t.Run("", func(t *testing.T) {
			p := newProxy(t, echoServer(t))
			rv := apply(t, p, "limit", &Spec{Toxic: LimitData, Bytes: num(limit)})
			c := dial(t, p.Addr())
			data := bytes.Repeat([]byte("abcdefghij"), 1000)
			if _, err := c.Write(data); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read %d bytes, then %v; want a close", len(got), err)
			}
			if int64(len(got)) != limit || !bytes.Equal(got, data[:limit]) {
				t.Errorf("got %d bytes before the close, want the first %d sent", len(got), limit)
			}
			if m, a := p.Counts("limit"); m != 1 || a != 1 {
				t.Errorf("Counts = %d, %d; want 1, 1", m, a)
			}
			revert(t, rv)
			if elapsed := transfer(t, p.Addr(), 10_000); elapsed <= 0 {
				t.Error("no transfer after revert")
			}
		})
	}
}

// reads sends n bytes through the echo server behind addr and counts the
// reads that take them back.
func reads(t *testing.T, addr string, n int) int {
	t.Helper()
	c := dial(t, addr)
	data := bytes.Repeat([]byte("0123456789"), n/10)
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 64<<10)
	count := 0
	for len(got) < len(data) {
		k, err := c.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", len(got), len(data), err)
		}
		got = append(got, buf[:k]...)
		count++
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("the data came back changed")
	}
	return count
}

func TestSlicer(t *testing.T) {
	p := newProxy(t, echoServer(t))
	base := reads(t, p.Addr(), 1000)
	rv := apply(t, p, "slices", &Spec{Toxic: Slicer, AverageSizeBytes: num(100), SizeVariationBytes: num(20), Delay: ms(2 * time.Millisecond)})
	sliced := reads(t, p.Addr(), 1000)
	t.Logf("1000 bytes came back in %d reads, %d sliced", base, sliced)
	// Halving 1000 bytes until a piece is within 100 ± 20 gives 8 to 16
	// pieces, 2ms apart: each is a read of its own.
	if sliced < 6 {
		t.Errorf("sliced data came in %d reads, want at least 6", sliced)
	}
	revert(t, rv)
	if after := reads(t, p.Addr(), 1000); after > 2 {
		t.Errorf("after revert 1000 bytes came in %d reads, want 1 or 2", after)
	}
}

// untilClose returns what the server behind addr sent and when the
// connection closed, from the dial.
func untilClose(t *testing.T, addr string) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	c := dial(t, addr)
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(got), time.Since(start)
}

func TestSlowClose(t *testing.T) {
	const delay = 200 * time.Millisecond
	p := newProxy(t, greetServer(t))
	_, base := untilClose(t, p.Addr())
	rv := apply(t, p, "linger", &Spec{Toxic: SlowClose, Delay: ms(delay)})
	got, slow := untilClose(t, p.Addr())
	t.Logf("closed after %v, with slow_close %v: %v", base, delay, slow)
	if got != greeting {
		t.Errorf("got %q, want %q", got, greeting)
	}
	if slow < delay || slow > delay+base+100*time.Millisecond {
		t.Errorf("closed after %v, want %v later than %v", slow, delay, base)
	}
	revert(t, rv)
	if _, after := untilClose(t, p.Addr()); after > base+50*time.Millisecond {
		t.Errorf("after revert closed after %v, want about %v", after, base)
	}
}

func TestDown(t *testing.T) {
	p := newProxy(t, echoServer(t))
	addr := p.Addr()
	open := dial(t, addr)
	roundTrips(t, open, 1)
	rv := apply(t, p, "outage", &Spec{Toxic: Down})
	if n, err := io.Copy(io.Discard, open); n != 0 {
		t.Errorf("open connection: read %d bytes and %v, want it closed", n, err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("a connection was accepted while the proxy is down")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial while down: %v, want connection refused", err)
	}
	second := &Spec{Proxy: p.Name(), Toxic: Down}
	if _, err := p.Apply(context.Background(), &chaos.Fault{ID: "again", Spec: second}); !errors.Is(err, ErrInForce) {
		t.Errorf("second down: %v, want ErrInForce", err)
	}
	revert(t, rv)
	if p.Addr() != addr {
		t.Errorf("Addr() = %s after revert, want %s", p.Addr(), addr)
	}
	echoes(t, addr)
	if m, a := p.Counts("outage"); m != 0 || a != 0 {
		t.Errorf("Counts = %d, %d; down is not counted, want 0, 0", m, a)
	}
	// Down again, then closed: the revert leaves it closed.
	rv = apply(t, p, "outage", &Spec{Toxic: Down})
	p.Close()
	revert(t, rv)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("a closed proxy came back up on revert")
	}
}

func TestToxicity(t *testing.T) {
	const latency = 100 * time.Millisecond
	for _, tc := range []struct {
		toxicity float64
		conns    int
		tol      float64 // on the share of connections slowed
	}{
		{0, 40, 0},
		{0.5, 200, 0.12}, // 3.4 standard deviations of a binomial share
		{1, 40, 0},
	} {
		t.Run("", func(t *testing.T) {
			p := newProxy(t, echoServer(t))
			rv := apply(t, p, "some", &Spec{Toxic: Latency, Latency: ms(latency), Toxicity: share(tc.toxicity)})
			defer revert(t, rv)
			// A connection the toxic acts on takes at least latency; one
			// it spares takes well under a millisecond, unless the machine
			// stalls the test that long.
			slow := countSlow(t, p.Addr(), tc.conns, latency)
			matched, affected := p.Counts("some")
			t.Logf("toxicity %v: %d of %d connections slow; Counts = %d, %d", tc.toxicity, slow, tc.conns, matched, affected)
			if matched != int64(tc.conns) {
				t.Errorf("Counts matched %d, want the %d connections", matched, tc.conns)
			}
			if got := float64(affected) / float64(tc.conns); got < tc.toxicity-tc.tol || got > tc.toxicity+tc.tol {
				t.Errorf("%.2f of the connections affected, want %v ± %v", got, tc.toxicity, tc.tol)
			}
			if int64(slow) < affected || int64(slow) > affected+int64(tc.conns)/20 {
				t.Errorf("%d connections slow, want the %d affected (and at most %d more stalled by the machine)", slow, affected, tc.conns/20)
			}
		})
	}
}

// countSlow opens conns connections to addr, 16 at a time, makes one
// round trip on each and counts those that took slow or longer.
func countSlow(t *testing.T, addr string, conns int, slow time.Duration) int {
	t.Helper()
	var (
		mu    sync.Mutex
		count int
		errs  []error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, 16)
	)
	for range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, ioTimeout)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(ioTimeout))
			start := time.Now()
			_, err = c.Write([]byte{'x'})
			if err == nil {
				_, err = io.ReadFull(c, make([]byte, 1))
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else if time.Since(start) >= slow {
				count++
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d connections failed: %v", len(errs), conns, errs[0])
	}
	return count
}

func TestApplyRefuses(t *testing.T) {
	p := newProxy(t, echoServer(t))
	lat := func() *Spec { return &Spec{Proxy: "api", Toxic: Latency, Latency: ms(10 * time.Millisecond)} }
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		fault *chaos.Fault
		want  error
	}{
		{"nil fault", nil, ErrNotMine},
		{"other spec type", &chaos.Fault{ID: "x", Spec: map[string]any{"toxic": "latency"}}, ErrNotMine},
		{"other proxy", &chaos.Fault{ID: "x", Spec: &Spec{Proxy: "db", Toxic: Down}}, ErrNotMine},
		{"kind mismatch", &chaos.Fault{ID: "x", Kind: "tcp.bandwidth", Spec: lat()}, ErrNotMine},
		{"no id", &chaos.Fault{Spec: lat()}, chaos.ErrInput},
		{"invalid spec", &chaos.Fault{ID: "x", Spec: &Spec{Proxy: "api", Toxic: Bandwidth}}, chaos.ErrInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.Prepare(ctx, tc.fault); !errors.Is(err, tc.want) {
				t.Errorf("Prepare: %v, want %v", err, tc.want)
			}
			if _, err := p.Apply(ctx, tc.fault); !errors.Is(err, tc.want) {
				t.Errorf("Apply: %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("id in force", func(t *testing.T) {
		rv := apply(t, p, "dup", lat())
		f := &chaos.Fault{ID: "dup", Spec: lat()}
		if _, err := p.Prepare(ctx, f); !errors.Is(err, ErrInForce) {
			t.Errorf("Prepare: %v, want ErrInForce", err)
		}
		if _, err := p.Apply(ctx, f); !errors.Is(err, ErrInForce) {
			t.Errorf("Apply: %v, want ErrInForce", err)
		}
		revert(t, rv)
		rv = apply(t, p, "dup", lat()) // free again once reverted
		revert(t, rv)
	})
	t.Run("a Spec value", func(t *testing.T) {
		rv, err := p.Apply(ctx, &chaos.Fault{ID: "value", Spec: *lat()})
		if err != nil {
			t.Fatal(err)
		}
		revert(t, rv)
	})
	t.Run("closed", func(t *testing.T) {
		q := newProxy(t, echoServer(t))
		rv := apply(t, q, "before", lat())
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if err := q.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		revert(t, rv)
		if _, err := q.Apply(ctx, &chaos.Fault{ID: "after", Spec: lat()}); !errors.Is(err, ErrClosed) {
			t.Errorf("Apply after Close: %v, want ErrClosed", err)
		}
	})
	if m, a := p.Counts("never"); m != 0 || a != 0 {
		t.Errorf("Counts of an unknown id = %d, %d; want 0, 0", m, a)
	}
}

func TestUndoIsNone(t *testing.T) {
	p := newProxy(t, echoServer(t))
	u, err := p.Prepare(context.Background(), &chaos.Fault{ID: "x", Spec: &Spec{Proxy: "api", Toxic: Down}})
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Do(context.Background()); err != nil {
		t.Errorf("Undo.Do: %v", err)
	}
	// Prepare changed nothing: the proxy is up.
	echoes(t, p.Addr())
}

// TestModelServer puts the proxy in front of the simulated inference
// server: a latency toxic adds its latency to each HTTP request, down
// makes requests fail and its revert brings them back.
func TestModelServer(t *testing.T) {
	_, base := modelservertest.Start(t, modelserver.DefaultConfig())
	p := newProxy(t, base[len("http://"):])
	url := "http://" + p.Addr() + "/healthz"
	client := &http.Client{Timeout: ioTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func() (time.Duration, error) {
		start := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", url, resp.Status)
		}
		return time.Since(start), nil
	}
	times := func(n int) []time.Duration {
		out := make([]time.Duration, 0, n)
		for range n {
			d, err := get()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, d)
		}
		return out
	}
	const latency = 40 * time.Millisecond
	before := median(times(9))
	rv := apply(t, p, "slow", &Spec{Toxic: Latency, Latency: ms(latency)})
	during := median(times(9))
	revert(t, rv)
	t.Logf("median GET %v, with latency %v: %v", before, latency, during)
	if added := during - before; added < latency-2*time.Millisecond || added > latency+10*time.Millisecond {
		t.Errorf("latency added %v to a request, want %v", added, latency)
	}
	rv = apply(t, p, "outage", &Spec{Toxic: Down})
	if _, err := get(); err == nil {
		t.Error("a request passed while the proxy is down")
	}
	revert(t, rv)
	times(3)
}
