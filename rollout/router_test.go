package rollout

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/rollout/haproxy"
	"github.com/gonogo-dev/gonogo/store"
)

// startHAProxy runs a real HAProxy whose backend "inference" has the
// servers stable and canary at the given URLs, and returns its runtime
// API's address and its frontend's.
func startHAProxy(t *testing.T, stableURL, canaryURL string) (sock, front string) {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		bin = "/usr/sbin/haproxy"
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("GONOGO_REQUIRE_HAPROXY") == "1" {
				t.Fatal("haproxy not found and GONOGO_REQUIRE_HAPROXY=1")
			}
			t.Skip("haproxy not found (apt-get install haproxy)")
		}
	}
	dir := t.TempDir()
	sock = filepath.Join(dir, "admin.sock")
	host := func(u string) string { p, _ := url.Parse(u); return p.Host }
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	front = l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf(`global
    stats socket %s mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind %s
    default_backend inference
backend inference
    balance roundrobin
    server stable %s weight 256
    server canary %s weight 0
`, sock, front, host(stableURL), host(canaryURL))
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", path, "-db")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	r := haproxy.New("unix:"+sock, "inference")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r.Check(context.Background()) == nil {
			return "unix:" + sock, front
		}
		if time.Now().After(deadline) {
			t.Fatal("haproxy's runtime API not up in 5 s")
		}
	}
}

// haRollout writes a rollout of steps from stable to canary, judged by a
// critical verdict-file provider saying verdict (as a CI job would write
// it; an external router needs providers), and opens its store.
func haRollout(t *testing.T, name, verdict, stable, canary, steps string) (*Config, *store.DB) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "verdict.json"), fmt.Appendf(nil, `{"schema":1,"verdict":%q,"score":100,"gates":[],"reasons":[],"run":"ci"}`, verdict), 0o600); err != nil {
		t.Fatal(err)
	}
	src := e2eConfig(name, stable, canary, steps)
	src = strings.Replace(src, "  gates:\n", "  providers:\n    - {name: ci verdict, critical: true, verdict: {file: verdict.json}}\n  gates:\n", 1)
	cfgPath := filepath.Join(dir, "rollout.yaml")
	if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return cfg, db
}

// The controller drives a real HAProxy's weights through the steps and
// rolls it back when its analysis (here a verdict file, as a CI job would
// write it) says no-go.
func TestControllerDrivesHAProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs HAProxy and a rollout")
	}
	stable, canary := fixture(t, "v1"), fixture(t, "v2")
	sock, _ := startHAProxy(t, stable, canary)
	for _, tc := range []struct {
		verdict, phase string
		serving        string // the only server with a weight at the end
	}{{"go", PhasePromoted, "canary"}, {"no-go", PhaseRolledBack, "stable"}} {
		t.Run(tc.verdict, func(t *testing.T) {
			cfg, db := haRollout(t, "ha-"+tc.verdict, tc.verdict, stable, canary, "      - setWeight: 25\n      - pause: {duration: 2s}\n")
			router := haproxy.New(sock, "inference")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			st, err := Serve(ctx, ServeOptions{Config: cfg, Store: db, Token: "t", Router: router, ExitOnEnd: true, Log: testLog{t}})
			if err != nil || st.Phase != tc.phase {
				t.Fatalf("ended %s (%v), want %s: %s", st.Phase, err, tc.phase, st.Message)
			}
			servers, err := router.Servers(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range servers {
				if (s.Name == tc.serving) != (s.Weight > 0) {
					t.Errorf("%s's HAProxy weight is %d at the end; only %s should have one", s.Name, s.Weight, tc.serving)
				}
			}
			// The next subtest starts from stable again.
			if err := router.Ready(context.Background(), "stable"); err != nil {
				t.Fatal(err)
			}
			if err := router.SetWeights(context.Background(), map[string]int{"stable": 100_000, "canary": 0}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The split HAProxy produces is checked against the weights the
// controller set: at 50/50 it passes; when HAProxy is made to split 90/10
// (an operator's hand on its runtime API, a reload with old weights), the
// sample-ratio check on its own request counts rolls the rollout back.
func TestHAProxySplitChecked(t *testing.T) {
	if testing.Short() {
		t.Skip("runs HAProxy and a rollout")
	}
	stable, canary := fixture(t, "v1"), fixture(t, "v1")
	sock, front := startHAProxy(t, stable, canary)
	cfg, db := haRollout(t, "ha-split", "go", stable, canary, "      - setWeight: 50\n      - pause: {duration: 40s}\n")
	router := haproxy.New(sock, "inference")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	type ended struct {
		st  store.State
		err error
	}
	done := make(chan ended, 1)
	go func() {
		st, err := Serve(ctx, ServeOptions{Config: cfg, Store: db, Token: "t", Router: router, ExitOnEnd: true, Log: testLog{t}})
		done <- ended{st, err}
	}()
	// send sends n requests through HAProxy, 8 at a time.
	send := func(n int) {
		var wg sync.WaitGroup
		client := &http.Client{Timeout: 10 * time.Second}
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 8 {
					resp, err := client.Get("http://" + front + "/v1/models")
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
	}
	weight := func(name string) int {
		servers, err := router.Servers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range servers {
			if s.Name == name {
				return s.Weight
			}
		}
		return 0
	}
	for deadline := time.Now().Add(20 * time.Second); weight("canary") == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the controller never gave the canary a weight")
		}
	}
	time.Sleep(1500 * time.Millisecond) // the step's first judgement takes HAProxy's counts as its base
	send(600)
	time.Sleep(2500 * time.Millisecond) // judged at 50/50: no mismatch
	select {
	case e := <-done:
		t.Fatalf("the rollout ended at 50/50: %s (%v): %s", e.st.Phase, e.err, e.st.Message)
	default:
	}
	if err := router.SetWeights(context.Background(), map[string]int{"stable": 90_000, "canary": 10_000}); err != nil {
		t.Fatal(err)
	}
	send(1500)
	select {
	case e := <-done:
		if e.st.Phase != PhaseRolledBack || !strings.Contains(e.st.Message, "sample ratio mismatch") || !strings.Contains(e.st.Message, "router") {
			t.Fatalf("ended %s (%v): %q; want rolled back by the sample-ratio check on HAProxy's counts", e.st.Phase, e.err, e.st.Message)
		}
	case <-ctx.Done():
		t.Fatal("the rollout did not end")
	}
}
