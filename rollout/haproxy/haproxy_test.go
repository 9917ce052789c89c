package haproxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/internal/input"
	"github.com/gonogo-dev/gonogo/rollout/route"
)

// haproxyBinary finds HAProxy, skipping the test without it unless
// GONOGO_REQUIRE_HAPROXY=1 (make test), where its absence fails.
func haproxyBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy"
	}
	if os.Getenv("GONOGO_REQUIRE_HAPROXY") == "1" {
		t.Fatal("haproxy not found and GONOGO_REQUIRE_HAPROXY=1: apt-get install haproxy")
	}
	t.Skip("haproxy not found (apt-get install haproxy)")
	return ""
}

// lab is a real HAProxy in front of two loopback servers, a and b, that
// answer their own name; GET /slow holds its answer until release.
type lab struct {
	adminSock string // unix socket, level admin
	operator  string // 127.0.0.1:port, level operator
	front     string // http://127.0.0.1:port/
	release   func()
	slowIn    chan string // a server's name when /slow reaches it
}

const labConfig = `global
    nbthread 1
    stats socket %[1]s mode 600 level admin
    stats socket ipv4@%[2]s level operator
    stats timeout 10s
defaults
    mode http
    timeout connect 2s
    timeout client 20s
    timeout server 20s
frontend fe
    bind %[3]s
    default_backend inference
backend inference
    balance roundrobin
    option http-server-close
    server a %[4]s weight 1
    server b %[5]s weight 1
backend fixed
    balance static-rr
    server a %[4]s
`

func startLab(t *testing.T) *lab {
	t.Helper()
	bin := haproxyBinary(t)
	gate := make(chan struct{})
	var once sync.Once
	l := &lab{release: func() { once.Do(func() { close(gate) }) }, slowIn: make(chan string, 4)}
	t.Cleanup(l.release)
	var addrs []string
	for _, name := range []string{"a", "b"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path == "/slow" {
				l.slowIn <- name
				select {
				case <-gate:
				case <-time.After(10 * time.Second):
				}
			}
			io.WriteString(w, name)
		}))
		t.Cleanup(srv.Close)
		addrs = append(addrs, srv.Listener.Addr().String())
	}
	dir := t.TempDir()
	l.adminSock = filepath.Join(dir, "admin.sock")
	var lastErr error
	for range 3 { // a free port can be taken between finding and binding it
		l.operator, l.front = freeAddr(t), freeAddr(t)
		cfg := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(cfg, fmt.Appendf(nil, labConfig, l.adminSock, l.operator, l.front, addrs[0], addrs[1]), 0o600); err != nil {
			t.Fatal(err)
		}
		if lastErr = runHAProxy(t, bin, cfg, l.adminSock); lastErr == nil {
			l.front = "http://" + l.front + "/"
			return l
		}
	}
	t.Fatal(lastErr)
	return nil
}

// runHAProxy starts HAProxy in the foreground and waits (5 s at most) for
// its runtime API; a cleanup stops it (SIGTERM, then SIGKILL after 3 s).
func runHAProxy(t *testing.T, bin, cfg, sock string) error {
	var out strings.Builder
	cmd := exec.Command(bin, "-f", cfg, "-db")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	r := New("unix:"+sock, "inference")
	r.Timeout = time.Second
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("haproxy exited: %s", out.String())
		default:
		}
		if _, err := r.exec(context.Background(), "show cli level"); err == nil {
			t.Cleanup(stop)
			return nil
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("haproxy runtime API not up after 5 s: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// send makes n requests through HAProxy, each on a new connection, four at
// a time, and counts the answers by server name.
func (l *lab) send(t *testing.T, n int) map[string]int {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		errs   []error
		wg     sync.WaitGroup
		next   = make(chan struct{}, n)
	)
	for range n {
		next <- struct{}{}
	}
	close(next)
	for range 4 {
		wg.Go(func() {
			for range next {
				name, err := get(client, l.front)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					counts[name]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d requests failed, first: %v", len(errs), n, errs[0])
	}
	return counts
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), err
}

func servers(t *testing.T, r *Router) map[string]Server {
	t.Helper()
	list, err := r.Servers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]Server{}
	for _, s := range list {
		m[s.Name] = s
	}
	return m
}

func TestRouterAgainstHAProxy(t *testing.T) {
	l := startLab(t)
	ctx := context.Background()
	r := New("unix:"+l.adminSock, "inference")
	if err := r.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}

	setWeights := func(b map[string]int) {
		t.Helper()
		if err := r.SetWeights(ctx, b); err != nil {
			t.Fatalf("SetWeights(%v): %v", b, err)
		}
	}

	t.Run("90/10", func(t *testing.T) {
		setWeights(map[string]int{"a": 90_000, "b": 10_000})
		want, _ := Weights(map[string]int{"a": 90_000, "b": 10_000})
		for name, s := range servers(t, r) {
			if s.Weight != want[name] || s.State != StateReady || s.Status != "no check" {
				t.Errorf("server %s = %+v, want weight %d, ready, no check", name, s, want[name])
			}
		}
		before, err := r.Requests(ctx)
		if err != nil {
			t.Fatal(err)
		}
		const n = 2000
		got := l.send(t, n)
		t.Logf("2000 requests at 90/10 (weights %v): %v", want, got)
		if share := float64(got["a"]) / n; share < 0.87 || share > 0.93 || got["a"]+got["b"] != n {
			t.Errorf("answers %v: a's share %.3f, want 0.90 ± 0.03", got, share)
		}
		// HAProxy's own counts are the split the servers answered.
		after, err := r.Requests(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"a", "b"} {
			if d := after[name] - before[name]; d != int64(got[name]) {
				t.Errorf("req_tot of %s rose by %d (%d → %d), the server answered %d", name, d, before[name], after[name], got[name])
			}
		}
	})

	t.Run("all to b", func(t *testing.T) {
		setWeights(map[string]int{"a": 0, "b": route.Buckets})
		if got := l.send(t, 300); got["b"] != 300 {
			t.Errorf("answers %v, want all 300 from b", got)
		}
		if s := servers(t, r); s["a"].Weight != 0 || s["b"].Weight == 0 {
			t.Errorf("servers %+v, want a at weight 0, b above", s)
		}
	})

	t.Run("unknown server changes nothing", func(t *testing.T) {
		before := servers(t, r)
		err := r.SetWeights(ctx, map[string]int{"a": 50_000, "nope": 50_000})
		if !errors.Is(err, ErrUnknownServer) || !strings.Contains(err.Error(), "nope") {
			t.Errorf("SetWeights with server nope: %v, want ErrUnknownServer naming nope", err)
		}
		if after := servers(t, r); after["a"].Weight != before["a"].Weight || after["b"].Weight != before["b"].Weight {
			t.Errorf("weights moved from %+v to %+v", before, after)
		}
		var re *ReplyError
		if err := r.Drain(ctx, "nope"); !errors.As(err, &re) || !errors.Is(err, ErrUnknownServer) || !strings.Contains(err.Error(), "inference/nope") {
			t.Errorf("Drain(nope) = %v, want a ReplyError naming the command, matching ErrUnknownServer", err)
		}
		if err := r.Drain(ctx, "a;set server inference/b state maint"); err == nil {
			t.Error("Drain accepted a name holding a second command")
		}
	})

	t.Run("drain lets in-flight finish", func(t *testing.T) {
		setWeights(map[string]int{"a": route.Buckets, "b": 0})
		slow := make(chan string, 1)
		go func() {
			name, err := get(&http.Client{Timeout: 15 * time.Second}, l.front+"slow")
			if err != nil {
				name = err.Error()
			}
			slow <- name
		}()
		select {
		case name := <-l.slowIn:
			if name != "a" {
				t.Fatalf("/slow reached %s, want a", name)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("/slow reached no server in 5 s")
		}
		setWeights(map[string]int{"a": 50_000, "b": 50_000})
		if err := r.Drain(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if s := servers(t, r)["a"]; s.State != StateDrain || s.Status != "DRAIN" || s.Sessions < 1 || s.Weight == 0 {
			t.Errorf("drained a = %+v, want state drain, status DRAIN, the held request's session, its weight kept", s)
		}
		if got := l.send(t, 300); got["b"] != 300 {
			t.Errorf("answers while a drains %v, want all 300 from b", got)
		}
		err := r.SetWeights(ctx, map[string]int{"a": 50_000, "b": 50_000})
		if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "a (drain)") {
			t.Errorf("SetWeights giving drained a weight: %v, want ErrNotReady naming a", err)
		}
		l.release()
		select {
		case name := <-slow:
			if name != "a" {
				t.Errorf("in-flight request on drained a answered %q, want a", name)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("in-flight request did not finish in 10 s")
		}
		deadline := time.Now().Add(5 * time.Second)
		for servers(t, r)["a"].Sessions != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("a still has sessions 5 s after its last request: %+v", servers(t, r)["a"])
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := r.Ready(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		got := l.send(t, 400)
		if share := float64(got["a"]) / 400; share < 0.45 || share > 0.55 {
			t.Errorf("answers after Ready(a) %v, want a 0.50 ± 0.05", got)
		}
	})

	t.Run("maintenance", func(t *testing.T) {
		if err := r.Maintenance(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if s := servers(t, r)["b"]; s.State != StateMaint || s.Status != "MAINT" {
			t.Errorf("b = %+v, want maint", s)
		}
		if got := l.send(t, 200); got["a"] != 200 {
			t.Errorf("answers with b in maintenance %v, want all 200 from a", got)
		}
		if err := r.Ready(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if s := servers(t, r)["b"]; s.State != StateReady {
			t.Errorf("b = %+v after Ready, want ready", s)
		}
	})

	t.Run("flips under load fail no request", func(t *testing.T) {
		// With the lowering first, each flip would leave the backend with
		// no weight between two commands, and HAProxy would answer 503.
		stop := make(chan struct{})
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			ok, fail int
			first    error
		)
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
		for range 4 {
			wg.Go(func() {
				for n := 0; n < 100_000; n++ {
					select {
					case <-stop:
						return
					default:
					}
					_, err := get(client, l.front)
					mu.Lock()
					if err != nil {
						fail++
						first = cmp.Or(first, err)
					} else {
						ok++
					}
					mu.Unlock()
				}
			})
		}
		for i := range 60 {
			to := []string{"a", "b"}[i%2]
			setWeights(map[string]int{to: route.Buckets, map[string]string{"a": "b", "b": "a"}[to]: 0})
			time.Sleep(5 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		if s := servers(t, r); s["a"].Weight != 0 || s["b"].Weight == 0 {
			t.Errorf("after the last flip to b: %+v", s)
		}
		if fail > 0 || ok < 60 {
			t.Errorf("60 flips under load: %d requests answered, %d failed (first: %v); want none failed", ok, fail, first)
		}
	})

	t.Run("operator level over TCP", func(t *testing.T) {
		op := New(l.operator, "inference")
		got, err := op.Servers(ctx)
		if err != nil || len(got) != 2 || got[0].Name != "a" || got[1].Name != "b" {
			t.Fatalf("Servers over TCP = %+v, %v; want a and b", got, err)
		}
		err = op.Check(ctx)
		if !errors.Is(err, input.ErrInput) || !strings.Contains(err.Error(), "level") {
			t.Errorf("Check at operator level: %v, want bad input about the level", err)
		}
		var re *ReplyError
		if err := op.SetWeights(ctx, map[string]int{"a": 50_000, "b": 50_000}); !errors.As(err, &re) || re.Reply != "Permission denied" {
			t.Errorf("SetWeights at operator level: %v, want HAProxy's Permission denied", err)
		}
	})

	t.Run("check refuses", func(t *testing.T) {
		for _, tc := range []struct {
			name, addr, backend, field, says string
		}{
			{"unknown backend", "unix:" + l.adminSock, "nope", "haproxy-backend", "nope"},
			{"static algorithm", "unix:" + l.adminSock, "fixed", "haproxy-backend", "static-rr"},
			{"bad backend name", "unix:" + l.adminSock, "a b", "haproxy-backend", "a b"},
			{"no socket", "unix:" + filepath.Join(t.TempDir(), "none.sock"), "inference", "haproxy-socket", "none.sock"},
			{"no listener", freeAddr(t), "inference", "haproxy-socket", "refused"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := New(tc.addr, tc.backend).Check(ctx)
				var ie *input.Error
				if !errors.As(err, &ie) || ie.Field != tc.field || !strings.Contains(ie.Msg, tc.says) {
					t.Errorf("Check = %v, want an input error on %s saying %q", err, tc.field, tc.says)
				}
			})
		}
	})
}

// TestTimeout: a runtime API that accepts and never answers costs one
// Timeout, and a cancelled context ends the wait at once.
func TestTimeout(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "mute.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	r := New(sock, "inference")
	r.Timeout = 200 * time.Millisecond
	start := time.Now()
	if _, err := r.Servers(context.Background()); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Servers on a mute socket: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Servers on a mute socket took %v, want about its 200 ms timeout", d)
	}
	r.Timeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	if err := r.Drain(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("Drain with a cancelled context: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Drain with a context cancelled at 100 ms took %v", d)
	}
}

// TestBadNamesSendNothing: names that could smuggle a command are refused
// before any connection (the address here does not exist).
func TestBadNamesSendNothing(t *testing.T) {
	r := New("unix:/nonexistent/admin.sock", "inference")
	ctx := context.Background()
	for _, name := range []string{"", "a b", "a;b", "a\nshow info", "a/b"} {
		if err := r.SetWeights(ctx, map[string]int{name: route.Buckets}); err == nil || strings.Contains(err.Error(), "nonexistent") {
			t.Errorf("SetWeights(%q) = %v, want a name error", name, err)
		}
		if err := r.Maintenance(ctx, name); err == nil || strings.Contains(err.Error(), "nonexistent") {
			t.Errorf("Maintenance(%q) = %v, want a name error", name, err)
		}
	}
	if _, err := New("unix:/nonexistent/admin.sock", "in ference").Servers(ctx); err == nil || strings.Contains(err.Error(), "nonexistent") {
		t.Errorf("Servers of backend %q = %v, want a name error", "in ference", err)
	}
}
