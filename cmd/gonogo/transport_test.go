package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestTransportFlagsBadInput(t *testing.T) {
	var hits atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer ts.Close()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name  string
		extra []string
		want  []string // in stderr
	}{
		{"missing CA", []string{"--tls-ca", missing}, []string{"--tls-ca", missing}},
		{"CA not PEM", []string{"--tls-ca", notPEM}, []string{"--tls-ca", notPEM, "no PEM certificate"}},
		{"missing client cert", []string{"--tls-cert", missing, "--tls-key", notPEM}, []string{"--tls-cert", missing}},
		{"missing client key", []string{"--tls-cert", notPEM, "--tls-key", missing}, []string{"--tls-key", missing}},
		{"cert without key", []string{"--tls-cert", notPEM}, []string{"--tls-key"}},
		{"resolve without address", []string{"--resolve", "h.test:80"}, []string{"--resolve", "h.test:80"}},
		{"proxy not http", []string{"--proxy", "socks5://127.0.0.1:1"}, []string{"--proxy"}},
		{"max idle conns", []string{"--max-idle-conns", "-1"}, []string{"--max-idle-conns"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := quiet()
			args := append([]string{"load", "--target", ts.URL, "--rate", "5", "--duration", "1s", "-q", "--history", "", "--out", filepath.Join(dir, "r")}, tc.extra...)
			if code := run(context.Background(), o, args); code != 2 {
				t.Fatalf("exit %d, want 2\n%s", code, o.Err)
			}
			msg := o.Err.(interface{ String() string }).String()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr %q does not name %q", msg, w)
				}
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("bad flags sent %d requests", n)
	}
}

// TestLoadTransportFlags runs `gonogo load` against a loopback TLS server
// reached by a made-up host name, with --insecure-skip-verify and --http2.
func TestLoadTransportFlags(t *testing.T) {
	var mu sync.Mutex
	hosts := map[string]int{}
	protos := map[int]int{}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts[r.Host]++
		protos[r.ProtoMajor]++
		mu.Unlock()
	}))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	defer ts.Close()
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	fake := net.JoinHostPort("gonogo-test.invalid", port)
	o := quiet()
	args := []string{"load", "--target", "https://" + fake, "--resolve", fake + ":127.0.0.1",
		"--insecure-skip-verify", "--http2", "--rate", "20", "--duration", "1s", "-q", "--history", "", "--out", t.TempDir()}
	if code := run(context.Background(), o, args); code != 0 {
		t.Fatalf("exit %d\n%s", code, o.Err)
	}
	if msg := o.Err.(interface{ String() string }).String(); !strings.Contains(msg, "warning: --insecure-skip-verify") {
		t.Errorf("no warning on stderr: %q", msg)
	}
	mu.Lock()
	defer mu.Unlock()
	if hosts[fake] < 10 || len(hosts) != 1 {
		t.Errorf("server saw hosts %v, want ≥10 requests all for %s", hosts, fake)
	}
	if protos[2] == 0 || protos[1] != 0 {
		t.Errorf("server saw protocol majors %v, want only 2", protos)
	}
}

// TestDryRun checks that --dry-run sends nothing, redacts secrets, and
// that the same --seed prints the same requests at the same offsets.
func TestDryRun(t *testing.T) {
	var hits atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer ts.Close()
	dry := func(seed string) string {
		t.Helper()
		o := quiet()
		args := []string{"load", "--target", ts.URL, "--protocol", "openai", "--rate", "20", "--arrival", "poisson", "--duration", "2s",
			"--dataset-format", "random", "--dataset", "input=20-200,output=5-50", "--seed", seed,
			"-H", "Authorization: Bearer sk-very-secret", "--dry-run", "--dry-run-requests", "6", "-q", "--history", ""}
		if code := run(context.Background(), o, args); code != 0 {
			t.Fatalf("seed %s: exit %d\n%s", seed, code, o.Err)
		}
		return o.Out.(interface{ String() string }).String()
	}
	a, b, c := dry("7"), dry("7"), dry("8")
	if strings.Contains(a, "sk-very-secret") || !strings.Contains(a, "Authorization: <redacted>") {
		t.Errorf("secret not redacted:\n%s", a)
	}
	if got := strings.Count(a, "POST "+ts.URL+"/v1/completions"); got != 6 {
		t.Errorf("%d requests printed, want 6:\n%s", got, a)
	}
	if a != b {
		t.Errorf("same seed, different plans:\n%s\n---\n%s", a, b)
	}
	offsets := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "#") {
				out = append(out, l)
			}
		}
		return out
	}
	if strings.Join(offsets(a), "\n") == strings.Join(offsets(c), "\n") {
		t.Errorf("seeds 7 and 8 gave the same offsets:\n%s", offsets(a))
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("--dry-run sent %d requests", n)
	}
}
