package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/rundir"
)

// The chaos end-to-end tests run against the Docker engine: the
// simulated server's FROM-scratch image, and the gonogo binary as a
// process of its own (so that it can be SIGKILLed).

const chaosImage = "gonogo-fixture:chaos-e2e"

var (
	chaosBuild    sync.Once
	chaosBuildErr error
	chaosBin      string
)

// chaosSetup builds the fixture image and a static gonogo once per test
// binary; it skips without a Docker engine or under -short.
func chaosSetup(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a Docker image and gonogo")
	}
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		t.Skip("no Docker engine on this machine (/var/run/docker.sock)")
	}
	chaosBuild.Do(func() {
		dir, err := os.MkdirTemp("", "gonogo-chaos-e2e-")
		if err != nil {
			chaosBuildErr = err
			return
		}
		root := filepath.Join("..", "..")
		for _, b := range []struct{ out, pkg string }{{"fixture-server", "./cmd/fixture-server"}, {"gonogo", "./cmd/gonogo"}} {
			build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, b.out), b.pkg)
			build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				chaosBuildErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
		df, err := os.ReadFile(filepath.Join(root, "fixtures", "Dockerfile"))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "Dockerfile"), df, 0o644)
		}
		if err != nil {
			chaosBuildErr = err
			return
		}
		if out, err := exec.Command("docker", "build", "-q", "-t", chaosImage, dir).CombinedOutput(); err != nil {
			chaosBuildErr = fmt.Errorf("docker build: %v\n%s", err, out)
			return
		}
		chaosBin = filepath.Join(dir, "gonogo")
	})
	if chaosBuildErr != nil {
		t.Fatal(chaosBuildErr)
	}
	return chaosBin
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// startFixture runs the fixture image under a restart policy, its port
// published on loopback, and returns its name and base URL.
func startFixture(t *testing.T) (name, url string) {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name = "gonogo-chaos-e2e-" + hex.EncodeToString(b)
	// A fixed host port: a restarted container gets a new random one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	docker(t, "run", "-d", "--name", name, "--label", "gonogo.test=chaos-e2e", "--restart", "always", "-p", addr+":8000", chaosImage)
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
	url = "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(url + "/healthz")
		if err == nil {
			res.Body.Close()
			return name, url
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fixture container never answered: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestChaosKillRecovery: a container killed under a restart policy
// during load — the errors fall inside the fault's span in the journal,
// and the measured recovery is within one interval of the container's
// restart.
func TestChaosKillRecovery(t *testing.T) {
	bin := chaosSetup(t)
	name, url := startFixture(t)
	exp := filepath.Join(t.TempDir(), "kill.yaml")
	os.WriteFile(exp, []byte(fmt.Sprintf(`title: kill under a restart policy
target: %s
load: {protocol: kserve, model: resnet, rate: 100}
steady-state-hypothesis:
  window: 2s
  recovery: 4s
  hold: [before, after]
  gates:
    - {name: errors, metric: errors, expr: rate<0.05}
method:
  - name: crash
    at: 3s
    duration: 4s
    container: {target: %s, action: kill}
`, url, name)), 0o644)
	dir := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(bin, "chaos", "run", exp, "--out", dir)
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d (%v), want 0 (held after the restart)\n%s", code, err, out)
	}
	j, err := chaos.ReadJournal(rundir.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	a := j.Activities[0]
	if a.Start == nil || a.End == nil || a.RecoveredAt == nil || a.DetectedAt == nil {
		t.Fatalf("activity %+v: want a span, a detection and a recovery\n%s", a, out)
	}
	var inspect []struct {
		State        struct{ StartedAt time.Time }
		RestartCount int
	}
	if err := json.Unmarshal([]byte(docker(t, "inspect", name)), &inspect); err != nil || len(inspect) != 1 {
		t.Fatal(err)
	}
	restarted := inspect[0].State.StartedAt
	if inspect[0].RestartCount != 1 {
		t.Errorf("restart count %d, want 1", inspect[0].RestartCount)
	}
	if d := a.End.Sub(restarted); d < -50*time.Millisecond || d > 50*time.Millisecond {
		t.Errorf("the fault's span ends at %v, the container restarted at %v", a.End, restarted)
	}
	if d := a.RecoveredAt.Sub(restarted); d < 0 || d > time.Second {
		t.Errorf("recovered at %v, %v after the restart at %v: want within one interval", a.RecoveredAt, d, restarted)
	}
	failed := int64(0)
	for _, iv := range j.Intervals {
		if iv.Failed == 0 {
			continue
		}
		failed += iv.Failed
		from := iv.End.Add(-time.Second)
		if iv.End.Before(*a.Start) || from.After(*a.End) {
			t.Errorf("%d failures in the interval ending %v, outside the fault's span %v..%v", iv.Failed, iv.End, a.Start, a.End)
		}
	}
	if failed == 0 {
		t.Errorf("no request failed while the container was down\n%s", out)
	}
	t.Logf("span %v, restart after %v, recovered %v after the restart, %d failures",
		a.End.Sub(*a.Start), restarted.Sub(*a.Start), a.RecoveredAt.Sub(restarted), failed)
}

// TestChaosSIGKILL: a runner SIGKILLed mid-fault leaves nothing behind:
// its guard unpauses the container and the external proxy drops its
// fault within two lease periods; gonogo chaos revert then finds nothing
// to do, twice.
func TestChaosSIGKILL(t *testing.T) {
	bin := chaosSetup(t)
	name, url := startFixture(t)
	tmp := t.TempDir()
	token := filepath.Join(tmp, "token")
	os.WriteFile(token, []byte("s3cret-token\n"), 0o600)
	proxy := exec.Command(bin, "chaos", "proxy", "--listen", "127.0.0.1:0", "--upstream", url, "--admin", "127.0.0.1:0", "--token-file", token)
	var proxyOut syncBuffer
	proxy.Stdout, proxy.Stderr = &proxyOut, &proxyOut
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Process.Kill(); proxy.Wait() })
	var listen, admin string
	for deadline := time.Now().Add(10 * time.Second); admin == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, l := range strings.Split(proxyOut.String(), "\n") {
			if a, ok := strings.CutPrefix(l, "fault proxy: "); ok {
				listen, _, _ = strings.Cut(a, " ")
			}
			if a, ok := strings.CutPrefix(l, "admin API: "); ok {
				a, _, _ = strings.Cut(a, " ")
				admin = strings.TrimSuffix(a, "/v1/faults")
			}
		}
	}
	if admin == "" {
		t.Fatalf("the proxy did not start:\n%s", proxyOut.String())
	}
	const ttl = 2 * time.Second
	exp := filepath.Join(tmp, "exp.yaml")
	os.WriteFile(exp, []byte(fmt.Sprintf(`title: killed mid-fault
target: %s
load: {protocol: kserve, model: resnet, rate: 50}
proxies:
  - {name: shared, admin: %s, tokenFile: token}
steady-state-hypothesis:
  window: 2s
  hold: [after]
  gates:
    - {name: errors, metric: errors, expr: rate<0.05}
lease: {ttl: %v, renew: 500ms}
method:
  - name: freeze
    at: 2s
    duration: 30s
    container: {target: %s, action: pause}
  - name: refuse
    at: 2s
    duration: 30s
    http: {proxy: shared, match: {percent: 10}, error: {status: 503}}
`, listen, admin, ttl, name)), 0o644)
	dir := rundir.Dir(filepath.Join(tmp, "run"))
	runner := exec.Command(bin, "chaos", "run", exp, "--out", string(dir))
	var runOut syncBuffer
	runner.Stdout, runner.Stderr = &runOut, &runOut
	if err := runner.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runner.Process.Kill(); runner.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		entries, _ := chaos.ReadLedger(dir)
		if len(chaos.Pending(entries)) == 2 && paused(t, name) && len(proxyFaults(t, admin, token)) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the faults never were in force:\n%s", runOut.String())
		}
	}
	runner.Process.Signal(syscall.SIGKILL)
	runner.Wait()
	killed := time.Now()
	for !(!paused(t, name) && len(proxyFaults(t, admin, token)) == 0) {
		if time.Since(killed) > 2*ttl+time.Second {
			t.Fatalf("faults still in force %v after the SIGKILL (paused %v, proxy faults %v); guard log:\n%s",
				time.Since(killed), paused(t, name), proxyFaults(t, admin, token), readFile(dir.Path(rundir.GuardLog)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	gone := time.Since(killed)
	if gone > 2*ttl {
		t.Errorf("faults gone %v after the SIGKILL, want within two lease periods (%v)", gone, 2*ttl)
	}
	entries, _ := chaos.ReadLedger(dir)
	if p := chaos.Pending(entries); len(p) != 0 {
		t.Errorf("the ledger still shows %+v pending", p)
	}
	for range 2 {
		var out bytes.Buffer
		o := &options{Out: &out, Err: &out}
		if code := run(context.Background(), o, []string{"chaos", "revert", "--ledger", string(dir)}); code != 0 || !strings.Contains(out.String(), "nothing to revert") {
			t.Errorf("chaos revert: exit %d, %s", code, out.String())
		}
	}
	if strings.Contains(readFile(dir.Path(rundir.Ledger)), "s3cret") || strings.Contains(proxyOut.String(), "s3cret") {
		t.Error("the token was written out")
	}
	t.Logf("faults gone %v after the SIGKILL (lease %v)", gone, ttl)
}

func paused(t *testing.T, name string) bool {
	return docker(t, "inspect", "-f", "{{.State.Paused}}", name) == "true"
}

func proxyFaults(t *testing.T, admin, tokenFile string) []json.RawMessage {
	t.Helper()
	tok, _ := os.ReadFile(tokenFile)
	req, _ := http.NewRequest("GET", admin+"/v1/faults", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list []json.RawMessage
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("admin list: %s", b)
	}
	return list
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// syncBuffer is a bytes.Buffer safe for a process's output and a test
// reading it at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestChaosExitCodes asserts the exit codes of the chaos commands as
// numbers: 0 held, 3 deviated, 4 aborted, 2 bad input.
func TestChaosExitCodes(t *testing.T) {
	_, url := modelservertest.Start(t, modelserver.DefaultConfig())
	dir := t.TempDir()
	exp := func(name, target, fault, extra string) string {
		p := filepath.Join(dir, name+".yaml")
		os.WriteFile(p, []byte(fmt.Sprintf(`title: %s
target: %s
load: {protocol: kserve, model: resnet, rate: 100, through: edge}
proxies:
  - {name: edge, upstream: "%s"}
steady-state-hypothesis:
  window: 2s
  gates:
    - {name: errors, metric: errors, expr: rate<0.05}
method:
  - name: fault
    at: 2s
    duration: 2s
    http: {proxy: edge, %s}
%s`, name, target, target, fault, extra)), 0o644)
		return p
	}
	held := exp("held", url, "delay: {mean: 5ms}", "")
	deviated := exp("deviated", url, "error: {status: 503}", "")
	aborted := exp("aborted", url, "error: {status: 503}", "abort:\n  - {name: radius, metric: errors, expr: rate<0.5, window: 1s}\n")
	far := exp("far", "http://10.11.12.13:8000", "delay: {mean: 5ms}", "")
	lease := exp("lease", url, "delay: {mean: 5ms}", "lease: {ttl: 1s, renew: 1s}\n")
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"held", []string{"chaos", "run", held, "--out", filepath.Join(dir, "held")}, 0},
		{"deviated", []string{"chaos", "run", deviated, "--out", filepath.Join(dir, "deviated")}, 3},
		{"aborted", []string{"chaos", "run", aborted, "--out", filepath.Join(dir, "aborted")}, 4},
	}
	if testing.Short() { // the runs take seconds each; the race step keeps the rest
		cases = cases[3:]
	}
	cases = append(cases, []struct {
		name string
		args []string
		want int
	}{
		{"dry run", []string{"chaos", "run", held, "--dry-run"}, 0},
		{"not loopback", []string{"chaos", "run", far, "--out", filepath.Join(dir, "far")}, 2},
		{"lease not longer than its renewal", []string{"chaos", "run", lease, "--dry-run"}, 2},
		{"missing experiment", []string{"chaos", "run", filepath.Join(dir, "none.yaml")}, 2},
		{"revert without a ledger", []string{"chaos", "revert", "--ledger", filepath.Join(dir, "none")}, 2},
		{"proxy without upstream", []string{"chaos", "proxy"}, 2},
		{"proxy admin without token", []string{"chaos", "proxy", "--upstream", url, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, 2},
		{"proxy to another host", []string{"chaos", "proxy", "--upstream", "http://10.11.12.13:80", "--admin", ""}, 2},
	}...)
	t.Run("commands", func(t *testing.T) { // the runs in parallel, all over before the revert below
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				o := quiet()
				if got := run(context.Background(), o, tc.args); got != tc.want {
					t.Errorf("gonogo %s: exit %d, want %d\n%s", strings.Join(tc.args, " "), got, tc.want, o.Err)
				}
			})
		}
	})
	if testing.Short() {
		return
	}
	// After a run, the ledger has nothing to revert.
	o := quiet()
	if got := run(context.Background(), o, []string{"chaos", "revert", "--ledger", filepath.Join(dir, "held")}); got != 0 || !strings.Contains(o.Out.(*bytes.Buffer).String(), "nothing to revert") {
		t.Errorf("chaos revert after a run: exit %d, %s", got, o.Out)
	}
}
