package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	dcontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/rundir"
)

// The tests run against this machine's Docker engine, on containers of
// the simulated inference server's FROM-scratch image built once here.
const (
	fixtureImage = "gonogo-fixture:chaostest"
	testLabel    = "gonogo.test"
	testLabelVal = "chaos"
	fixturePort  = "8000/tcp"
)

var (
	buildOnce  sync.Once
	buildTmp   string // the test binary's temporary directory
	dockerErr  error  // why the Docker tests cannot run
	dockerSkip string // set when there is no engine
	fillerBin  string // the static test filler (testdata/filler)
	runPrefix  string // names every container and network of this test binary
)

func TestMain(m *testing.M) {
	flag.Parse()
	var nonce [4]byte
	rand.Read(nonce[:])
	runPrefix = "gonogo-chaostest-" + hex.EncodeToString(nonce[:]) + "-"
	tmp, err := os.MkdirTemp("", "gonogo-chaos-container-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildTmp = tmp
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// buildImages builds the fixture image and the static test filler, and
// removes what earlier, killed, runs of these tests left behind.
func buildImages(tmp string) error {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	ctxDir := filepath.Join(tmp, "image")
	if err := os.Mkdir(ctxDir, 0o755); err != nil {
		return err
	}
	fillerBin = filepath.Join(tmp, "filler")
	for _, b := range []struct{ out, pkg string }{
		{filepath.Join(ctxDir, "fixture-server"), "./cmd/fixture-server"},
		{fillerBin, "./chaos/container/testdata/filler"},
	} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", b.out, b.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	df, err := os.ReadFile(filepath.Join(root, "fixtures", "Dockerfile"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), df, 0o644); err != nil {
		return err
	}
	if out, err := exec.Command("docker", "build", "-q", "-t", fixtureImage, ctxDir).CombinedOutput(); err != nil {
		return fmt.Errorf("docker build: %v\n%s", err, out)
	}
	removeStale()
	return nil
}

// removeStale removes containers and networks of these tests older than
// ten minutes: what a killed run could not clean up.
func removeStale() {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := make(client.Filters).Add("label", testLabel+"="+testLabelVal)
	old := time.Now().Add(-10 * time.Minute)
	if list, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f}); err == nil {
		for _, it := range list.Items {
			if time.Unix(it.Created, 0).Before(old) {
				c.ContainerRemove(ctx, it.ID, client.ContainerRemoveOptions{Force: true})
			}
		}
	}
	if list, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: f}); err == nil {
		for _, it := range list.Items {
			if it.Created.Before(old) {
				c.NetworkRemove(ctx, it.ID, client.NetworkRemoveOptions{})
			}
		}
	}
}

// dockerClient returns a client of the engine, or skips the test. The
// first call builds the images, once per test binary (not in TestMain, so
// that fuzzing and -run of the unit tests do not wait for it).
func dockerClient(t *testing.T) *client.Client {
	t.Helper()
	buildOnce.Do(func() {
		if _, err := os.Stat("/var/run/docker.sock"); err != nil {
			dockerSkip = "no Docker engine on this machine (/var/run/docker.sock)"
			return
		}
		dockerErr = buildImages(buildTmp)
	})
	if dockerSkip != "" {
		t.Skip(dockerSkip)
	}
	if dockerErr != nil {
		t.Fatalf("building the test images: %v", dockerErr)
	}
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	c, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type fixtureOpts struct {
	restart   dcontainer.RestartPolicyMode
	resources dcontainer.Resources
	network   string // a network of the test's, joined with alias
	alias     string
	labels    map[string]string
}

// fixture is a running simulated inference server in a container.
type fixture struct {
	t    *testing.T
	c    *client.Client
	id   string
	name string
}

// startFixture starts the fixture image in a container named with the
// test binary's prefix, labelled gonogo.test=chaos, its port published on
// 127.0.0.1 only, and removed when the test ends; it returns once the
// server answers.
func startFixture(t *testing.T, c *client.Client, suffix string, o fixtureOpts) *fixture {
	t.Helper()
	ctx := context.Background()
	name := runPrefix + suffix
	labels := map[string]string{testLabel: testLabelVal}
	for k, v := range o.labels {
		labels[k] = v
	}
	port := network.MustParsePort(fixturePort)
	hc := &dcontainer.HostConfig{
		PortBindings:  network.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1")}}},
		RestartPolicy: dcontainer.RestartPolicy{Name: o.restart},
		Resources:     o.resources,
	}
	var nc *network.NetworkingConfig
	if o.network != "" {
		hc.NetworkMode = dcontainer.NetworkMode(o.network)
		es := &network.EndpointSettings{}
		if o.alias != "" {
			es.Aliases = []string{o.alias}
		}
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{o.network: es}}
	}
	res, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:             name,
		Config:           &dcontainer.Config{Image: fixtureImage, Labels: labels, ExposedPorts: network.PortSet{port: {}}},
		HostConfig:       hc,
		NetworkingConfig: nc,
	})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c.ContainerUnpause(ctx, res.ID, client.ContainerUnpauseOptions{})
		if _, err := c.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("remove %s: %v", name, err)
		}
	})
	if _, err := c.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	f := &fixture{t: t, c: c, id: res.ID, name: name}
	f.waitAnswers(10 * time.Second)
	return f
}

// newNetwork creates a bridge network removed when the test ends (after
// its containers, cleanups running last first).
func newNetwork(t *testing.T, c *client.Client, suffix string) string {
	t.Helper()
	name := runPrefix + suffix
	res, err := c.NetworkCreate(context.Background(), name, client.NetworkCreateOptions{Driver: "bridge",
		Labels: map[string]string{testLabel: testLabelVal}})
	if err != nil {
		t.Fatalf("create network %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.NetworkRemove(ctx, res.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("remove network %s: %v", name, err)
		}
	})
	return name
}

func (f *fixture) inspect() dcontainer.InspectResponse {
	f.t.Helper()
	res, err := f.c.ContainerInspect(context.Background(), f.id, client.ContainerInspectOptions{})
	if err != nil {
		f.t.Fatalf("inspect %s: %v", f.name, err)
	}
	return res.Container
}

// url is the fixture's address on 127.0.0.1, read anew: a restart may
// publish the port elsewhere.
func (f *fixture) url() string {
	c := f.inspect()
	if c.NetworkSettings == nil {
		return ""
	}
	for _, b := range c.NetworkSettings.Ports[network.MustParsePort(fixturePort)] {
		if b.HostPort != "" {
			return "http://127.0.0.1:" + b.HostPort
		}
	}
	return ""
}

// get sends GET /healthz with timeout; nil when it answered 200.
func get(url string, timeout time.Duration) error {
	if url == "" {
		return errors.New("no published port")
	}
	cl := &http.Client{Timeout: timeout}
	resp, err := cl.Get(url + "/healthz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// waitAnswers waits until the fixture answers and returns when it first
// did.
func (f *fixture) waitAnswers(limit time.Duration) time.Time {
	f.t.Helper()
	deadline := time.Now().Add(limit)
	var err error
	for time.Now().Before(deadline) {
		if err = get(f.url(), 200*time.Millisecond); err == nil {
			return time.Now()
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.t.Fatalf("%s does not answer within %v: %v", f.name, limit, err)
	return time.Time{}
}

// waitState waits until inspect's state satisfies ok.
func (f *fixture) waitState(what string, limit time.Duration, ok func(*dcontainer.State) bool) *dcontainer.State {
	f.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		st := f.inspect().State
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s: not %s within %v (state %+v)", f.name, what, limit, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var faultSeq int

// fault builds the Fault an experiment would from spec.
func fault(s *Spec) *chaos.Fault {
	faultSeq++
	return &chaos.Fault{ID: fmt.Sprintf("f%d-%s", faultSeq, s.Action), Kind: s.Kind(), Target: s.Selector(), Spec: s}
}

// apply prepares and applies s.
func apply(t *testing.T, in *Injector, s *Spec) (*chaos.Fault, chaos.Undo, chaos.Revert) {
	t.Helper()
	f := fault(s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := in.Prepare(ctx, f)
	if err != nil {
		t.Fatalf("Prepare %s: %v", f.Kind, err)
	}
	rev, err := in.Apply(ctx, f)
	if err != nil {
		t.Fatalf("Apply %s: %v", f.Kind, err)
	}
	return f, u, rev
}

func revert(t *testing.T, rev chaos.Revert) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rev(ctx); err != nil {
		t.Fatalf("Revert: %v", err)
	}
}

func TestKillWithoutRestartPolicy(t *testing.T) {
	c := dockerClient(t)
	f := startFixture(t, c, "kill", fixtureOpts{})
	url := f.url()
	in := New(c)
	fl, u, rev := apply(t, in, &Spec{Target: f.name, Action: Kill})
	if u.Kind != UndoStart {
		t.Errorf("undo kind %q, want %q", u.Kind, UndoStart)
	}
	st := f.waitState("exited", 10*time.Second, func(s *dcontainer.State) bool { return !s.Running })
	if st.Status != dcontainer.StateExited || st.ExitCode != 137 {
		t.Errorf("after SIGKILL: status %s, exit code %d; want exited, 137", st.Status, st.ExitCode)
	}
	if err := get(url, 300*time.Millisecond); err == nil {
		t.Error("the killed fixture still answers")
	}
	at, err := in.Settled(context.Background(), fl)
	if err != nil || !at.IsZero() {
		t.Errorf("Settled of a kill without restart policy = %v, %v; want the zero time at once", at, err)
	}
	revert(t, rev)
	f.waitAnswers(10 * time.Second)
	revert(t, rev) // idempotent
	if st := f.inspect().State; !st.Running {
		t.Errorf("after the second revert: %+v", st)
	}
}

func TestKillSignal(t *testing.T) {
	c := dockerClient(t)
	f := startFixture(t, c, "term", fixtureOpts{})
	in := New(c)
	_, _, rev := apply(t, in, &Spec{Target: f.name, Action: Kill, Signal: "TERM"})
	st := f.waitState("exited", 10*time.Second, func(s *dcontainer.State) bool { return !s.Running })
	// fixture-server exits 0 after SIGTERM, 137 after SIGKILL.
	if st.ExitCode != 0 {
		t.Errorf("after SIGTERM: exit code %d, want 0 (the fixture's graceful exit)", st.ExitCode)
	}
	revert(t, rev)
	f.waitAnswers(10 * time.Second)
}

func TestKillUnderRestartPolicy(t *testing.T) {
	c := dockerClient(t)
	f := startFixture(t, c, "crash", fixtureOpts{restart: dcontainer.RestartPolicyAlways})
	before := f.inspect()
	url := f.url()
	in := New(c)
	fl, _, rev := apply(t, in, &Spec{Target: f.name, Action: Kill})
	killed := time.Now()

	// Poll until the fixture stopped answering, then until it answers
	// again; its published port may move with the new run.
	var down bool
	var back time.Time
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		err := get(url, 100*time.Millisecond)
		if err != nil {
			down = true
		} else if down {
			back = time.Now()
			break
		}
		time.Sleep(5 * time.Millisecond)
		if u := f.url(); u != "" {
			url = u
		}
	}
	if !down {
		t.Fatal("the fixture never stopped answering after the kill")
	}
	if back.IsZero() {
		t.Fatal("the restart policy did not bring the fixture back within 15s")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	started, err := in.Settled(ctx, fl)
	if err != nil {
		t.Fatalf("Settled: %v", err)
	}
	t.Logf("killed %s, started again %s (engine), answered %s",
		killed.Format(time.StampMicro), started.Format(time.StampMicro), back.Format(time.StampMicro))
	if d := back.Sub(started); d < -time.Second || d > time.Second {
		t.Errorf("Settled says the new run started at %s, the fixture answered again at %s: %v apart, want within 1s",
			started.Format(time.StampMicro), back.Format(time.StampMicro), d)
	}
	after := f.inspect()
	if after.RestartCount != before.RestartCount+1 {
		t.Errorf("restart count %d → %d, want one restart by the policy", before.RestartCount, after.RestartCount)
	}
	if !started.After(killed.Add(-time.Second)) {
		t.Errorf("Settled's StartedAt %v is before the kill %v", started, killed)
	}
	revert(t, rev) // nothing to do: it runs
	if st := f.inspect().State; !st.Running || st.StartedAt != after.State.StartedAt {
		t.Errorf("the revert of a restarted kill touched the container: %+v", st)
	}
}

func TestRestart(t *testing.T) {
	c := dockerClient(t)
	f := startFixture(t, c, "restart", fixtureOpts{})
	before := f.inspect().State.StartedAt
	in := New(c)
	zero := chaos.Duration(0)
	fl, _, rev := apply(t, in, &Spec{Target: f.name, Action: Restart, Timeout: &zero})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	started, err := in.Settled(ctx, fl)
	if err != nil {
		t.Fatalf("Settled: %v", err)
	}
	st := f.inspect().State
	if st.StartedAt == before || !st.Running {
		t.Fatalf("after restart: %+v (StartedAt before %s)", st, before)
	}
	if got := started.Format(time.RFC3339Nano); got != st.StartedAt {
		t.Errorf("Settled = %s, inspect says StartedAt %s", got, st.StartedAt)
	}
	answered := f.waitAnswers(10 * time.Second)
	if d := answered.Sub(started); d > time.Second {
		t.Errorf("the fixture answered %v after Settled's StartedAt", d)
	}
	revert(t, rev)
}

func TestPause(t *testing.T) {
	c := dockerClient(t)
	f := startFixture(t, c, "pause", fixtureOpts{})
	url := f.url()
	in := New(c)
	fl, u, rev := apply(t, in, &Spec{Target: f.name, Action: Pause})
	if u.Kind != UndoUnpause {
		t.Errorf("undo kind %q", u.Kind)
	}
	if st := f.inspect().State; !st.Paused {
		t.Fatalf("not paused: %+v", st)
	}
	if err := get(url, 500*time.Millisecond); err == nil {
		t.Fatal("a paused fixture answered")
	}
	// A request sent while paused hangs, and completes once reverted.
	done := make(chan error, 1)
	sent := time.Now()
	go func() { done <- get(url, 20*time.Second) }()
	select {
	case err := <-done:
		t.Fatalf("a request to the paused fixture returned: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	at, err := in.Settled(context.Background(), fl)
	if err != nil || !at.IsZero() {
		t.Errorf("Settled of a pause = %v, %v; want the zero time at once", at, err)
	}
	revert(t, rev)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the request sent while paused: %v, want 200 once unpaused", err)
		}
		t.Logf("request held %v by the pause", time.Since(sent))
	case <-time.After(10 * time.Second):
		t.Fatal("the request sent while paused did not complete within 10s of the revert")
	}
	revert(t, rev)
}

func TestDisconnect(t *testing.T) {
	c := dockerClient(t)
	net := newNetwork(t, c, "net")
	f := startFixture(t, c, "disc", fixtureOpts{network: net, alias: "model-server"})
	before := f.inspect().NetworkSettings.Networks[net]
	if before == nil || !slices.Contains(before.Aliases, "model-server") {
		t.Fatalf("the fixture is not on %s with its alias: %+v", net, before)
	}
	url := f.url()
	in := New(c)
	_, u, rev := apply(t, in, &Spec{Target: f.name, Action: Disconnect, Network: net})
	var data undoData
	if err := json.Unmarshal(u.Data, &data); err != nil || len(data.Containers) != 1 {
		t.Fatalf("undo data %s: %v", u.Data, err)
	}
	if got := data.Containers[0].Endpoint; got == nil || !slices.Equal(got.Aliases, []string{"model-server"}) {
		t.Errorf("recorded endpoint %+v, want the alias model-server (without the short ID)", got)
	}
	if _, on := f.inspect().NetworkSettings.Networks[net]; on {
		t.Fatal("still on the network after disconnect")
	}
	if err := get(url, 500*time.Millisecond); err == nil {
		t.Error("the disconnected fixture answered through its published port")
	}
	revert(t, rev)
	after := f.inspect().NetworkSettings.Networks[net]
	if after == nil {
		t.Fatal("not back on the network after revert")
	}
	if !slices.Contains(after.Aliases, "model-server") {
		t.Errorf("back on the network without its alias: %v", after.Aliases)
	}
	revert(t, rev) // idempotent: connected already
	f.waitAnswers(10 * time.Second)
}

func TestLimit(t *testing.T) {
	c := dockerClient(t)
	limited := startFixture(t, c, "limited", fixtureOpts{resources: dcontainer.Resources{NanoCPUs: 1.5e9, Memory: 256 << 20}})
	free := startFixture(t, c, "free", fixtureOpts{labels: map[string]string{"limit-test": "free"}})
	in := New(c)

	old := limited.inspect().HostConfig.Resources
	_, u, rev := apply(t, in, &Spec{Target: limited.name, Action: Limit, CPUs: 0.5, Memory: 64 << 20})
	if u.Kind != UndoUpdate {
		t.Errorf("undo kind %q", u.Kind)
	}
	r := limited.inspect().HostConfig.Resources
	if r.NanoCPUs != 5e8 || r.Memory != 64<<20 || r.MemorySwap != 64<<20 {
		t.Errorf("lowered: NanoCpus %d, Memory %d, MemorySwap %d; want 5e8, 64MiB, 64MiB", r.NanoCPUs, r.Memory, r.MemorySwap)
	}
	limited.waitAnswers(5 * time.Second)
	revert(t, rev)
	r = limited.inspect().HostConfig.Resources
	if r.NanoCPUs != old.NanoCPUs || r.Memory != old.Memory || r.MemorySwap != old.MemorySwap {
		t.Errorf("restored: NanoCpus %d, Memory %d, MemorySwap %d; want %d, %d, %d",
			r.NanoCPUs, r.Memory, r.MemorySwap, old.NanoCPUs, old.Memory, old.MemorySwap)
	}

	// A container without limits: lowered with a CFS quota, restored as
	// unlimited (quota -1, the largest memory limit).
	_, _, rev = apply(t, in, &Spec{Label: "limit-test=free", Action: Limit, CPUs: 0.25, Memory: 32 << 20})
	r = free.inspect().HostConfig.Resources
	if r.CPUQuota != 25000 || r.CPUPeriod != 100000 || r.Memory != 32<<20 {
		t.Errorf("lowered: CpuQuota %d, CpuPeriod %d, Memory %d; want 25000, 100000, 32MiB", r.CPUQuota, r.CPUPeriod, r.Memory)
	}
	revert(t, rev)
	revert(t, rev)
	r = free.inspect().HostConfig.Resources
	if r.CPUQuota != -1 || r.Memory != unlimitedMemory || r.NanoCPUs != 0 {
		t.Errorf("restored: CpuQuota %d, Memory %d, NanoCpus %d; want -1 (unlimited), %d, 0", r.CPUQuota, r.Memory, r.NanoCPUs, int64(unlimitedMemory))
	}
	// Once more on the container a limit fault left unlimited its own way.
	_, _, rev = apply(t, in, &Spec{Target: free.name, Action: Limit, CPUs: 1})
	if r := free.inspect().HostConfig.Resources; r.CPUQuota != 100000 || r.CPUPeriod != 100000 {
		t.Errorf("lowered again: CpuQuota %d, CpuPeriod %d; want 100000, 100000", r.CPUQuota, r.CPUPeriod)
	}
	revert(t, rev)
	if r := free.inspect().HostConfig.Resources; r.CPUQuota != -1 {
		t.Errorf("restored again: CpuQuota %d, want -1", r.CPUQuota)
	}
	free.waitAnswers(5 * time.Second)
}

func TestSelectors(t *testing.T) {
	c := dockerClient(t)
	in := New(c)
	ctx := context.Background()
	sel := "gonogo.test.run=" + strings.TrimSuffix(runPrefix, "-")
	for _, s := range []*Spec{
		{Label: sel + "-nothing", Action: Pause},
		{Target: runPrefix + "nobody", Action: Kill},
	} {
		_, err := in.Prepare(ctx, fault(s))
		var ie *chaos.InputError
		if !errors.As(err, &ie) {
			t.Errorf("Prepare on %s: %v, want a *chaos.InputError", s.Selector(), err)
			continue
		}
		want := map[bool]string{true: "label", false: "target"}[s.Label != ""]
		if ie.Field != want || !strings.Contains(ie.Msg, strings.TrimPrefix(s.Selector(), "label=")) {
			t.Errorf("Prepare on %s: field %q, msg %q; want field %s naming the selector", s.Selector(), ie.Field, ie.Msg, want)
		}
	}

	// A label matching two containers pauses both, and Revert both.
	k, v, _ := strings.Cut(sel, "=")
	a := startFixture(t, c, "sel-a", fixtureOpts{labels: map[string]string{k: v}})
	b := startFixture(t, c, "sel-b", fixtureOpts{labels: map[string]string{k: v}})
	_, u, rev := apply(t, in, &Spec{Label: sel, Action: Pause})
	var data undoData
	json.Unmarshal(u.Data, &data)
	if len(data.Containers) != 2 {
		t.Errorf("undo data covers %d containers, want 2: %s", len(data.Containers), u.Data)
	}
	for _, f := range []*fixture{a, b} {
		if !f.inspect().State.Paused {
			t.Errorf("%s not paused", f.name)
		}
	}
	revert(t, rev)
	for _, f := range []*fixture{a, b} {
		if f.inspect().State.Paused {
			t.Errorf("%s still paused", f.name)
		}
	}

	// A fill needs a filler binary.
	if _, err := in.Prepare(ctx, fault(&Spec{Target: a.name, Action: FillMemory, Bytes: 1 << 20})); !errors.Is(err, ErrNoFiller) {
		t.Errorf("Prepare of a fill without a filler: %v, want ErrNoFiller", err)
	}

	// A stopped container cannot be paused.
	stopped := startFixture(t, c, "stopped", fixtureOpts{})
	c.ContainerStop(ctx, stopped.id, client.ContainerStopOptions{})
	if _, err := in.Prepare(ctx, fault(&Spec{Target: stopped.name, Action: Pause})); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Prepare pause of a stopped container: %v, want ErrNotRunning", err)
	}
}

// TestRevertPendingAfterCrash applies faults the way an experiment does —
// Prepare, the ledger, Apply — and never reverts them in process, as when
// the run is SIGKILLed; RevertPending, as the guard or gonogo chaos revert
// would run it, puts everything back, and running it (and each undo)
// again changes nothing.
func TestRevertPendingAfterCrash(t *testing.T) {
	c := dockerClient(t)
	net := newNetwork(t, c, "lnet")
	paused := startFixture(t, c, "l-pause", fixtureOpts{})
	stopped := startFixture(t, c, "l-stop", fixtureOpts{})
	disc := startFixture(t, c, "l-disc", fixtureOpts{network: net, alias: "backend"})
	lim := startFixture(t, c, "l-limit", fixtureOpts{resources: dcontainer.Resources{NanoCPUs: 1e9, Memory: 128 << 20}})
	filled := startFixture(t, c, "l-fill", fixtureOpts{})
	killed := startFixture(t, c, "l-kill", fixtureOpts{})
	oldRes := lim.inspect().HostConfig.Resources

	dir := rundir.Dir(t.TempDir())
	ledger, err := chaos.OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	in := New(c, WithFiller(fillerBin))
	one := chaos.Duration(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, s := range []*Spec{
		{Target: paused.name, Action: Pause},
		{Target: stopped.name, Action: Stop, Timeout: &one},
		{Target: disc.name, Action: Disconnect},
		{Target: lim.name, Action: Limit, CPUs: 0.5, Memory: 32 << 20},
		{Target: filled.name, Action: FillDisk, Path: "/fill.bin", Bytes: 4 << 20},
		{Target: killed.name, Action: Kill},
	} {
		f := fault(s)
		u, err := in.Prepare(ctx, f)
		if err != nil {
			t.Fatalf("Prepare %s: %v", f.Kind, err)
		}
		if err := ledger.Applying(f, u); err != nil {
			t.Fatal(err)
		}
		if _, err := in.Apply(ctx, f); err != nil {
			t.Fatalf("Apply %s: %v", f.Kind, err)
		}
	}
	ledger.Close()
	if st := paused.inspect().State; !st.Paused {
		t.Fatal("not paused")
	}
	if st := stopped.inspect().State; st.Running {
		t.Fatal("not stopped")
	}
	killed.waitState("exited", 10*time.Second, func(s *dcontainer.State) bool { return !s.Running })
	if _, err := c.ContainerStatPath(ctx, filled.id, client.ContainerStatPathOptions{Path: "/fill.bin"}); err != nil {
		t.Fatalf("no fill file: %v", err)
	}

	res, err := chaos.RevertPending(ctx, dir, chaos.ByRevert)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Reverted) != 6 || len(res.Failed) != 0 {
		t.Fatalf("RevertPending: %d reverted, failed %v; want 6, none", len(res.Reverted), res.Failed)
	}
	check := func(when string) {
		t.Helper()
		if st := paused.inspect().State; st.Paused {
			t.Errorf("%s: still paused", when)
		}
		if st := stopped.inspect().State; !st.Running {
			t.Errorf("%s: still stopped", when)
		}
		if st := killed.inspect().State; !st.Running {
			t.Errorf("%s: still killed", when)
		}
		if es := disc.inspect().NetworkSettings.Networks[net]; es == nil || !slices.Contains(es.Aliases, "backend") {
			t.Errorf("%s: not back on %s with alias backend: %+v", when, net, es)
		}
		r := lim.inspect().HostConfig.Resources
		if r.NanoCPUs != oldRes.NanoCPUs || r.Memory != oldRes.Memory || r.MemorySwap != oldRes.MemorySwap {
			t.Errorf("%s: limits %d/%d/%d, want %d/%d/%d", when, r.NanoCPUs, r.Memory, r.MemorySwap, oldRes.NanoCPUs, oldRes.Memory, oldRes.MemorySwap)
		}
	}
	check("after RevertPending")
	// The filler ends within its poll interval of the stop file, and
	// takes its file and its directory with it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := c.ContainerStatPath(ctx, filled.id, client.ContainerStatPathOptions{Path: "/fill.bin"})
		if cerrdefs.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fill file is still there 10s after the revert: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	again, err := chaos.RevertPending(ctx, dir, chaos.ByRevert)
	if err != nil || len(again.Reverted) != 0 || len(again.Failed) != 0 {
		t.Errorf("second RevertPending: %+v, %v; want nothing pending", again, err)
	}
	// Each undo once more, as a guard racing gonogo chaos revert would.
	for _, e := range res.Reverted {
		if err := e.Undo.Do(ctx); err != nil {
			t.Errorf("undo %s again: %v", e.Kind, err)
		}
	}
	check("after every undo ran twice")
	for _, f := range []*fixture{paused, stopped, disc, lim, killed} {
		f.waitAnswers(10 * time.Second)
	}
}

func TestFillMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("copies a filler binary into a container")
	}
	c := dockerClient(t)
	f := startFixture(t, c, "fillmem", fixtureOpts{})
	in := New(c, WithFiller(fillerBin))
	before := anonMemory(t, c, f.id)
	const size = 96 << 20
	fl, u, rev := apply(t, in, &Spec{Target: f.name, Action: FillMemory, Bytes: size})
	if u.Kind != UndoStopFill {
		t.Errorf("undo kind %q", u.Kind)
	}
	during := anonMemory(t, c, f.id)
	t.Logf("container memory: %d MiB before, %d MiB while filled", before>>20, during>>20)
	if grew := during - before; grew < size*9/10 {
		t.Errorf("the container's memory grew %d bytes while filled with %d, want at least 90%%", grew, size)
	}
	f.waitAnswers(5 * time.Second)
	revert(t, rev)
	after := anonMemory(t, c, f.id)
	if after-before > size/4 {
		t.Errorf("the container still holds %d MiB more than before after the revert", (after-before)>>20)
	}
	var data undoData
	json.Unmarshal(u.Data, &data)
	if _, err := c.ContainerStatPath(context.Background(), f.id, client.ContainerStatPathOptions{Path: data.Containers[0].FillDir}); !cerrdefs.IsNotFound(err) {
		t.Errorf("the filler's directory is left in the container: %v", err)
	}
	ended, err := in.Settled(context.Background(), fl)
	if err != nil || ended.IsZero() {
		t.Errorf("Settled of a reverted fill = %v, %v; want when the filler ended", ended, err)
	}
	revert(t, rev) // idempotent: the filler is gone
}

func TestFillDiskEndsByItself(t *testing.T) {
	if testing.Short() {
		t.Skip("copies a filler binary into a container")
	}
	c := dockerClient(t)
	f := startFixture(t, c, "filldisk", fixtureOpts{})
	in := New(c, WithFiller(fillerBin))
	const size = 8 << 20
	const hold = 1500 * time.Millisecond
	fl, _, _ := apply(t, in, &Spec{Target: f.name, Action: FillDisk, Path: "/fill.bin", Bytes: size, For: chaos.Duration(hold)})
	applied := time.Now()
	st, err := c.ContainerStatPath(context.Background(), f.id, client.ContainerStatPathOptions{Path: "/fill.bin"})
	if err != nil || st.Stat.Size != size {
		t.Fatalf("fill file: %+v, %v; want %d bytes", st.Stat, err, size)
	}
	// A second fill of the same path is bad input: a fill never overwrites.
	if _, err := in.Prepare(context.Background(), fault(&Spec{Target: f.name, Action: FillDisk, Path: "/fill.bin", Bytes: 1 << 20})); err == nil {
		t.Error("Prepare of a fill over an existing file succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ended, err := in.Settled(ctx, fl)
	if err != nil {
		t.Fatalf("Settled: %v", err)
	}
	if d := ended.Sub(applied); d < hold-200*time.Millisecond || d > hold+3*time.Second {
		t.Errorf("the filler ended %v after Apply, want about %v", d, hold)
	}
	if _, err := c.ContainerStatPath(ctx, f.id, client.ContainerStatPathOptions{Path: "/fill.bin"}); !cerrdefs.IsNotFound(err) {
		t.Errorf("the fill file is left after the filler ended: %v", err)
	}
}

// anonMemory is the container's anonymous (process) memory per the
// engine's stats: rss (cgroup v1) or anon (v2), else all its usage.
func anonMemory(t *testing.T, c *client.Client, id string) int64 {
	t.Helper()
	res, err := c.ContainerStats(context.Background(), id, client.ContainerStatsOptions{})
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	defer res.Body.Close()
	var s dcontainer.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		t.Fatalf("stats: %v", err)
	}
	for _, k := range []string{"rss", "anon"} {
		if v, ok := s.MemoryStats.Stats[k]; ok {
			return int64(v)
		}
	}
	return int64(s.MemoryStats.Usage)
}
