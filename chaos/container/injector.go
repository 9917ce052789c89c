// Package container is gonogo's container faults: kill, stop, start,
// restart, pause, disconnect from a network, lowered CPU and memory limits,
// and memory or disk filled — on containers of a Docker engine, for game
// days against a model server started from a locally built image.
//
// A fault's Spec (the container block of an experiment's method entry)
// names one container (target) or every container with a label (label:
// key=value) and an action with its fields. The Injector resolves the
// containers and records, at Prepare, what reverting needs — the Undo the
// ledger keeps: the network endpoint a container leaves, the limits it
// had. The Undo kinds this package registers (UndoStart, UndoUnpause,
// UndoConnect, UndoUpdate, UndoStopFill) revert from any process, so the
// guard of a run that was killed puts every container back.
//
// Two actions go beyond the engine's API:
//
//   - kill under a restart policy signals the container's main process
//     from this machine, as a crash would: the engine's own kill marks the
//     container stopped by hand, and its restart policy then never brings
//     it back. This needs the engine on this machine (the process must be
//     visible here). Settled waits for the restart and says when it came.
//   - fill-memory and fill-disk copy a static filler binary into the
//     container (FROM-scratch images have no shell) and exec it as
//     `chaos fill` (Fill): it takes the memory or writes the file, holds
//     it for the spec's For (or the Injector's FillFor) and ends by itself.
//     Revert, or the Undo, ends it early by writing a stop file through
//     the engine's archive API; the filler removes what it wrote, the stop
//     file, its binary and its directory as it ends.
package container

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	dcontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/gonogo-dev/gonogo/chaos"
)

// Defaults of an Injector.
const (
	// DefaultFillFor bounds a filler's life when its spec gives no For.
	DefaultFillFor = 15 * time.Minute
	// DefaultFillReady bounds how long Apply waits for a filler to hold
	// all it takes.
	DefaultFillReady = 2 * time.Minute
)

// pollInterval is how often waits inspect a container.
const pollInterval = 50 * time.Millisecond

// Errors of container faults.
var (
	// ErrNotRunning is returned when a fault needs a running container
	// and none of its targets runs.
	ErrNotRunning = errors.New("container: not running")
	// ErrNotRestarted is returned by Settled when a killed container's
	// restart policy did not bring it back.
	ErrNotRestarted = errors.New("container: not restarted by its restart policy")
	// ErrNoFiller is returned for a fill fault when the Injector has no
	// filler binary.
	ErrNoFiller = errors.New("container: fill faults need a static filler binary (gonogo itself)")
)

// Injector puts container faults (a Fault whose Spec is a *Spec) in force
// on a Docker engine. It implements chaos.Injector and chaos.Settler.
type Injector struct {
	client     client.APIClient
	fillerPath string
	fillFor    time.Duration
	fillReady  time.Duration

	mu    sync.Mutex
	plans map[string]*plan
}

var (
	_ chaos.Injector = (*Injector)(nil)
	_ chaos.Settler  = (*Injector)(nil)
)

// Option configures an Injector.
type Option func(*Injector)

// WithFiller sets the static binary that fill faults copy into a container
// and run as `chaos fill` (the gonogo CLI passes os.Executable()).
func WithFiller(path string) Option { return func(in *Injector) { in.fillerPath = path } }

// WithFillFor sets how long a filler holds what it took when its spec
// gives no For (DefaultFillFor).
func WithFillFor(d time.Duration) Option { return func(in *Injector) { in.fillFor = d } }

// WithFillReady bounds how long Apply waits for a filler to hold all it
// takes (DefaultFillReady).
func WithFillReady(d time.Duration) Option { return func(in *Injector) { in.fillReady = d } }

// New returns an Injector that talks to the engine through c.
func New(c client.APIClient, opts ...Option) *Injector {
	in := &Injector{client: c, fillFor: DefaultFillFor, fillReady: DefaultFillReady, plans: map[string]*plan{}}
	for _, o := range opts {
		o(in)
	}
	return in
}

// NewClient returns a client of the engine the environment names
// (DOCKER_HOST, or the local socket), its API version negotiated.
func NewClient() (*client.Client, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("container: docker client: %w", err)
	}
	return c, nil
}

// plan is a prepared fault: its containers and how to undo it.
type plan struct {
	spec    *Spec
	sig     Signal
	targets []*target
	undo    chaos.Undo
	kind    string

	mu      sync.Mutex
	applied bool
}

// target is one container of a fault.
type target struct {
	undoContainer
	// policy is the container's restart policy.
	policy dcontainer.RestartPolicyMode
	// crash: a kill signals the process from this machine (a restart
	// policy must see a crash, not a kill by hand).
	crash bool
	// pid is the container's main process at Prepare.
	pid int
	// startedBefore is the StartedAt of the run the fault ends.
	startedBefore string
	// lower is the update that puts a limit fault in force.
	lower *limits
	// fill is the running filler.
	fill *filler
}

func (in *Injector) spec(f *chaos.Fault) (*Spec, error) {
	s, ok := f.Spec.(*Spec)
	if !ok || s == nil {
		return nil, fmt.Errorf("container: fault %s: spec is %T, want *container.Spec", f.ID, f.Spec)
	}
	if s.Target == "" && s.Label == "" && f.Target != "" {
		c := *s
		if sel, ok := strings.CutPrefix(f.Target, "label="); ok {
			c.Label = sel
		} else {
			c.Target = f.Target
		}
		s = &c
	}
	if field, msg := s.Check(); msg != "" {
		return nil, &chaos.InputError{Field: field, Msg: msg}
	}
	return s, nil
}

// Prepare resolves f's containers, checks that the action can act on
// them, and returns the Undo that reverts it from any process. It changes
// nothing. A selector that matches no container is a *chaos.InputError.
func (in *Injector) Prepare(ctx context.Context, f *chaos.Fault) (chaos.Undo, error) {
	p, err := in.prepare(ctx, f)
	if err != nil {
		return chaos.Undo{}, err
	}
	return p.undo, nil
}

func (in *Injector) prepare(ctx context.Context, f *chaos.Fault) (*plan, error) {
	s, err := in.spec(f)
	if err != nil {
		return nil, err
	}
	p := &plan{spec: s}
	if s.Action == Kill {
		p.sig, _ = ParseSignal(s.Signal)
	}
	cs, err := in.resolve(ctx, s)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		t, err := in.prepareTarget(ctx, p, c)
		if err != nil {
			return nil, fmt.Errorf("container: %s %s: %w", s.Action, displayName(c), err)
		}
		if t != nil {
			p.targets = append(p.targets, t)
		}
	}
	if len(p.targets) == 0 && s.Action != Start {
		return nil, fmt.Errorf("%w: no container of %s runs", ErrNotRunning, s.Selector())
	}
	p.kind = undoKind(s.Action)
	if p.kind == chaos.UndoNone {
		p.undo = chaos.Undo{Kind: chaos.UndoNone}
	} else {
		d := undoData{Host: in.client.DaemonHost()}
		for _, t := range p.targets {
			d.Containers = append(d.Containers, t.undoContainer)
		}
		if p.undo, err = chaos.NewUndo(p.kind, d); err != nil {
			return nil, err
		}
	}
	in.mu.Lock()
	in.plans[f.ID] = p
	in.mu.Unlock()
	return p, nil
}

// undoKind is the Undo kind of an action.
func undoKind(action string) string {
	switch action {
	case Kill, Stop, Restart:
		return UndoStart
	case Pause:
		return UndoUnpause
	case Disconnect:
		return UndoConnect
	case Limit:
		return UndoUpdate
	case FillMemory, FillDisk:
		return UndoStopFill
	}
	return chaos.UndoNone // start: starting is what undos do
}

// resolve returns the containers s names.
func (in *Injector) resolve(ctx context.Context, s *Spec) ([]dcontainer.InspectResponse, error) {
	if s.Label == "" {
		res, err := in.client.ContainerInspect(ctx, s.Target, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			return nil, &chaos.InputError{Field: "target", Msg: fmt.Sprintf("no container is named %q or has that ID", s.Target)}
		}
		if err != nil {
			return nil, fmt.Errorf("container: inspect %s: %w", s.Target, err)
		}
		return []dcontainer.InspectResponse{res.Container}, nil
	}
	list, err := in.client.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", s.Label)})
	if err != nil {
		return nil, fmt.Errorf("container: list label=%s: %w", s.Label, err)
	}
	if len(list.Items) == 0 {
		return nil, &chaos.InputError{Field: "label", Msg: fmt.Sprintf("no container has the label %s", s.Label)}
	}
	var out []dcontainer.InspectResponse
	for _, it := range list.Items {
		res, err := in.client.ContainerInspect(ctx, it.ID, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("container: inspect %s: %w", shortID(it.ID), err)
		}
		out = append(out, res.Container)
	}
	return out, nil
}

func displayName(c dcontainer.InspectResponse) string {
	if n := strings.TrimPrefix(c.Name, "/"); n != "" {
		return n
	}
	return shortID(c.ID)
}

func running(c dcontainer.InspectResponse) bool {
	st := c.State
	return st != nil && st.Running && !st.Paused && !st.Restarting
}

// prepareTarget checks that the action can act on c and records what its
// undo needs; nil when c is to be left alone (a stopped container of a
// label selector, a running one to start).
func (in *Injector) prepareTarget(ctx context.Context, p *plan, c dcontainer.InspectResponse) (*target, error) {
	s := p.spec
	t := &target{undoContainer: undoContainer{ID: c.ID, Name: displayName(c)}}
	if c.State != nil {
		t.pid, t.startedBefore = c.State.Pid, c.State.StartedAt
	}
	if c.HostConfig != nil {
		t.policy = c.HostConfig.RestartPolicy.Name
	}
	switch s.Action {
	case Start:
		if c.State != nil && (c.State.Running || c.State.Restarting) {
			return nil, nil
		}
		return t, nil
	case Disconnect, Limit:
		// These act on stopped containers as well.
	default:
		if !running(c) {
			if s.Label != "" {
				return nil, nil
			}
			return nil, fmt.Errorf("%w (state %s)", ErrNotRunning, state(c))
		}
	}
	switch s.Action {
	case Kill:
		if t.policy != "" && t.policy != dcontainer.RestartPolicyDisabled {
			t.crash = true
			if err := processOf(t.pid, c.ID); err != nil {
				return nil, fmt.Errorf("its restart policy (%s) restarts it only after a crash, and its process cannot be signalled from here (%w): kill needs the Docker engine on this machine", t.policy, err)
			}
		}
	case Disconnect:
		if err := prepareDisconnect(t, s.Network, c); err != nil {
			return nil, err
		}
	case Limit:
		prepareLimit(t, s, c.HostConfig)
	case FillMemory, FillDisk:
		if err := in.prepareFill(ctx, t, s); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func state(c dcontainer.InspectResponse) string {
	if c.State == nil || c.State.Status == "" {
		return "unknown"
	}
	return string(c.State.Status)
}

// prepareDisconnect finds the network the container leaves and records
// its endpoint there.
func prepareDisconnect(t *target, want string, c dcontainer.InspectResponse) error {
	if c.NetworkSettings == nil || len(c.NetworkSettings.Networks) == 0 {
		return errors.New("it is on no network")
	}
	var names []string
	for name := range c.NetworkSettings.Networks {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		es := c.NetworkSettings.Networks[name]
		if es == nil {
			continue
		}
		match := want == name || want == es.NetworkID || (len(want) >= 12 && strings.HasPrefix(es.NetworkID, want))
		if want == "" {
			match = len(names) == 1
		}
		if !match {
			continue
		}
		if name == "host" || name == "none" {
			return fmt.Errorf("network mode %s: nothing to disconnect from", name)
		}
		t.Network, t.NetworkName, t.Endpoint = es.NetworkID, name, endpointOf(c.ID, es)
		return nil
	}
	if want == "" {
		return &chaos.InputError{Field: "network", Msg: fmt.Sprintf("the container is on %d networks (%s): name one", len(names), strings.Join(names, ", "))}
	}
	return &chaos.InputError{Field: "network", Msg: fmt.Sprintf("the container is not on network %q (it is on %s)", want, strings.Join(names, ", "))}
}

// Limits the engine cannot take back: an update leaves a zero field as it
// is, so "no limit" is restored as the largest limit the kernel takes
// (cgroup v1's "unlimited", 2^63 rounded down to a page) for memory, and
// a quota of -1 (unlimited) for CPU.
const (
	unlimitedMemory = 0x7FFFFFFFFFFFF000
	cfsPeriodMicros = 100000
)

// prepareLimit plans the update that lowers the limits and the one that
// restores them. CPU is limited the way the container already is (CPUs,
// or quota and period); an unlimited container gets a CFS quota, which
// can be set back to unlimited (CPUs cannot: the engine reads 0 as
// "unchanged"). Memory is limited with swap at the same value, so that the
// limit bites. An unlimited memory or swap (0 or -1) is restored as
// unlimitedMemory: the engine refuses -1 for memory, and the runtime
// cannot raise memory above a swap limit it then leaves in place.
func prepareLimit(t *target, s *Spec, hc *dcontainer.HostConfig) {
	if hc == nil {
		hc = &dcontainer.HostConfig{}
	}
	r := hc.Resources
	t.Old = &limits{NanoCPUs: r.NanoCPUs, CPUPeriod: r.CPUPeriod, CPUQuota: r.CPUQuota, Memory: r.Memory, MemorySwap: r.MemorySwap}
	t.lower, t.Restore = &limits{}, &limits{}
	if s.CPUs > 0 {
		switch {
		case r.NanoCPUs > 0:
			t.lower.NanoCPUs = int64(s.CPUs * 1e9)
			t.Restore.NanoCPUs = r.NanoCPUs
		default:
			period := r.CPUPeriod
			if period <= 0 {
				period = cfsPeriodMicros
				t.lower.CPUPeriod = period
			}
			t.lower.CPUQuota = int64(s.CPUs * float64(period))
			t.Restore.CPUQuota = r.CPUQuota
			if r.CPUQuota <= 0 {
				t.Restore.CPUQuota = -1
			}
		}
	}
	if s.Memory > 0 {
		t.lower.Memory, t.lower.MemorySwap = int64(s.Memory), int64(s.Memory)
		t.Restore.Memory, t.Restore.MemorySwap = r.Memory, r.MemorySwap
		if r.Memory <= 0 {
			t.Restore.Memory = unlimitedMemory
		}
		if r.MemorySwap <= 0 {
			t.Restore.MemorySwap = unlimitedMemory
		}
	}
}

// Apply puts f in force on the containers Prepare resolved (it prepares
// f itself when Prepare was not called). When it fails on one container
// it reverts what it did on the others. Kill, stop and restart return
// once the engine took the request; stop and restart wait for the
// container to stop, as the engine does; a fill returns once the filler
// holds all it takes.
func (in *Injector) Apply(ctx context.Context, f *chaos.Fault) (chaos.Revert, error) {
	in.mu.Lock()
	p := in.plans[f.ID]
	in.mu.Unlock()
	if p == nil {
		var err error
		if p, err = in.prepare(ctx, f); err != nil {
			return nil, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var done []*target
	for _, t := range p.targets {
		if err := in.applyTarget(ctx, p, t); err != nil {
			err = fmt.Errorf("container: %s %s: %w", p.spec.Action, t.label(), err)
			if rerr := in.revert(context.WithoutCancel(ctx), p, append(done, t)); rerr != nil {
				err = errors.Join(err, fmt.Errorf("reverting the containers already faulted: %w", rerr))
			}
			return nil, err
		}
		done = append(done, t)
	}
	p.applied = true
	return func(ctx context.Context) error { return in.revert(ctx, p, p.targets) }, nil
}

func (in *Injector) applyTarget(ctx context.Context, p *plan, t *target) error {
	s := p.spec
	var timeout *int
	if s.Timeout != nil {
		secs := int(s.Timeout.D() / time.Second)
		timeout = &secs
	}
	switch s.Action {
	case Kill:
		res, err := in.client.ContainerInspect(ctx, t.ID, client.ContainerInspectOptions{})
		if err != nil {
			return fmt.Errorf("inspect: %w", err)
		}
		if !running(res.Container) {
			return fmt.Errorf("%w (state %s)", ErrNotRunning, state(res.Container))
		}
		t.startedBefore = res.Container.State.StartedAt
		if !t.crash {
			_, err := in.client.ContainerKill(ctx, t.ID, client.ContainerKillOptions{Signal: p.sig.Name})
			return err
		}
		t.pid = res.Container.State.Pid
		if err := processOf(t.pid, t.ID); err != nil {
			return err
		}
		return signalProcess(t.pid, p.sig.Num)
	case Stop:
		_, err := in.client.ContainerStop(ctx, t.ID, client.ContainerStopOptions{Timeout: timeout})
		return err
	case Start:
		_, err := in.client.ContainerStart(ctx, t.ID, client.ContainerStartOptions{})
		return err
	case Restart:
		if st, err := inspectState(ctx, in.client, t.ID); err == nil && st != nil {
			t.startedBefore = st.StartedAt
		}
		_, err := in.client.ContainerRestart(ctx, t.ID, client.ContainerRestartOptions{Timeout: timeout})
		return err
	case Pause:
		_, err := in.client.ContainerPause(ctx, t.ID, client.ContainerPauseOptions{})
		return err
	case Disconnect:
		_, err := in.client.NetworkDisconnect(ctx, t.Network, client.NetworkDisconnectOptions{Container: t.ID})
		return err
	case Limit:
		_, err := in.client.ContainerUpdate(ctx, t.ID, client.ContainerUpdateOptions{Resources: t.lower.resources()})
		return err
	case FillMemory, FillDisk:
		return in.applyFill(ctx, p, t)
	}
	return fmt.Errorf("unknown action %q", s.Action)
}

// revert undoes the fault on ts, in this process, with the same functions
// the registered Undo runs; a fill also waits for its filler to end.
func (in *Injector) revert(ctx context.Context, p *plan, ts []*target) error {
	var fn func(context.Context, client.APIClient, undoContainer) error
	switch p.kind {
	case UndoStart:
		fn = undoStart
	case UndoUnpause:
		fn = undoUnpause
	case UndoConnect:
		fn = undoConnect
	case UndoUpdate:
		fn = undoUpdate
	case UndoStopFill:
		fn = undoStopFill
	default:
		return nil
	}
	var cs []undoContainer
	for _, t := range ts {
		cs = append(cs, t.undoContainer)
	}
	err := undoAll(ctx, in.client, cs, fn)
	if p.kind == UndoStopFill {
		for _, t := range ts {
			if t.fill != nil {
				wctx, cancel := context.WithTimeout(ctx, undoTimeout)
				werr := t.fill.wait(wctx, in.client)
				cancel()
				if werr != nil {
					err = errors.Join(err, fmt.Errorf("container %s: %w", t.label(), werr))
				}
			}
		}
	}
	return err
}

// Settled waits, bounded by ctx and polling every 50 ms, until the effect
// of an applied fault that ends by itself is over, and returns when: for a
// kill under a restart policy and for a restart, the StartedAt (the
// engine's) of each container's new run, the latest of them; for a fill,
// when its fillers ended. Faults that do not end by themselves (pause,
// disconnect, limit, stop — the engine never restarts a container it
// stopped — and a kill without a restart policy) return the zero time at
// once.
func (in *Injector) Settled(ctx context.Context, f *chaos.Fault) (time.Time, error) {
	in.mu.Lock()
	p := in.plans[f.ID]
	in.mu.Unlock()
	if p == nil {
		return time.Time{}, fmt.Errorf("container: fault %s was not applied by this injector", f.ID)
	}
	p.mu.Lock()
	applied := p.applied
	p.mu.Unlock()
	if !applied {
		return time.Time{}, fmt.Errorf("container: fault %s is not applied", f.ID)
	}
	var last time.Time
	for _, t := range p.targets {
		var at time.Time
		var err error
		switch {
		case p.spec.Action == Restart || (p.spec.Action == Kill && t.crash):
			at, err = in.waitRestarted(ctx, t, p.spec.Action == Kill)
		case t.fill != nil:
			err = t.fill.wait(ctx, in.client)
			at = t.fill.endedAt()
		default:
			continue
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("container: %s %s: %w", p.spec.Action, t.label(), err)
		}
		if at.After(last) {
			last = at
		}
	}
	return last, nil
}

// waitRestarted waits until the container runs a run other than the one
// the fault ended and returns that run's StartedAt. Under a restart
// policy, an exited container that is not restarting was given up on.
func (in *Injector) waitRestarted(ctx context.Context, t *target, policy bool) (time.Time, error) {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		res, err := in.client.ContainerInspect(ctx, t.ID, client.ContainerInspectOptions{})
		if err != nil {
			return time.Time{}, fmt.Errorf("inspect: %w", err)
		}
		st := res.Container.State
		if st != nil && st.StartedAt != t.startedBefore {
			if st.Running && !st.Restarting {
				at, err := time.Parse(time.RFC3339Nano, st.StartedAt)
				if err != nil {
					return time.Time{}, fmt.Errorf("StartedAt %q: %w", st.StartedAt, err)
				}
				return at, nil
			}
		}
		if policy && st != nil && !st.Running && !st.Restarting && st.StartedAt == t.startedBefore && st.FinishedAt != "" &&
			st.Status == dcontainer.StateExited && finishedAfterStart(st) {
			return time.Time{}, fmt.Errorf("%w (%s, exit code %d)", ErrNotRestarted, t.policy, st.ExitCode)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("waiting for the container to run again: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func finishedAfterStart(st *dcontainer.State) bool {
	s, err1 := time.Parse(time.RFC3339Nano, st.StartedAt)
	f, err2 := time.Parse(time.RFC3339Nano, st.FinishedAt)
	return err1 == nil && err2 == nil && f.After(s)
}

// prepareFill checks that the filler can run in the container and names
// its directory there.
func (in *Injector) prepareFill(ctx context.Context, t *target, s *Spec) error {
	if in.fillerPath == "" {
		return ErrNoFiller
	}
	fi, err := os.Stat(in.fillerPath)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoFiller, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a file", ErrNoFiller, in.fillerPath)
	}
	if err := checkStatic(in.fillerPath); err != nil {
		return fmt.Errorf("%w: %w", ErrNoFiller, err)
	}
	if s.Action == FillDisk {
		_, err := in.client.ContainerStatPath(ctx, t.ID, client.ContainerStatPathOptions{Path: s.Path})
		switch {
		case err == nil:
			return &chaos.InputError{Field: "path", Msg: fmt.Sprintf("%s exists in the container: a fill never overwrites", s.Path)}
		case !cerrdefs.IsNotFound(err):
			return fmt.Errorf("stat %s: %w", s.Path, err)
		}
		dir := path.Dir(s.Path)
		st, err := in.client.ContainerStatPath(ctx, t.ID, client.ContainerStatPathOptions{Path: dir})
		if err != nil {
			return &chaos.InputError{Field: "path", Msg: fmt.Sprintf("directory %s: %v", dir, err)}
		}
		if !st.Stat.Mode.IsDir() {
			return &chaos.InputError{Field: "path", Msg: fmt.Sprintf("%s is not a directory in the container", dir)}
		}
	}
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	t.FillDir = "/" + FillDirPrefix + hex.EncodeToString(nonce[:])
	return nil
}

// fillerName is the filler binary's name in its directory.
const fillerName = "fill"

// filler is a filler process running in a container.
type filler struct {
	execID string
	conn   client.HijackedResponse
	done   chan struct{} // closed when its output ends
	mu     sync.Mutex
	out    strings.Builder // its output, bounded
	ended  time.Time
}

// maxFillerOutput bounds the output of a filler kept for error messages.
const maxFillerOutput = 4 << 10

func (fl *filler) Write(b []byte) (int, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if room := maxFillerOutput - fl.out.Len(); room > 0 {
		fl.out.Write(b[:min(len(b), room)])
	}
	return len(b), nil
}

func (fl *filler) output() string {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return strings.TrimSpace(fl.out.String())
}

func (fl *filler) endedAt() time.Time {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.ended
}

// applyFill copies the filler into the container, runs it and waits until
// it holds all it takes.
func (in *Injector) applyFill(ctx context.Context, p *plan, t *target) error {
	s := p.spec
	if err := in.copyFiller(ctx, t.ID, t.FillDir); err != nil {
		return err
	}
	o := FillOptions{For: s.For.D(), StopFile: path.Join(t.FillDir, stopFileName)}
	if o.For == 0 {
		o.For = in.fillFor
	}
	if s.Action == FillMemory {
		o.MemoryBytes = int64(s.Bytes)
	} else {
		o.DiskPath, o.DiskBytes = s.Path, int64(s.Bytes)
	}
	cmd := append([]string{path.Join(t.FillDir, fillerName)}, FillArgs(o)...)
	ec, err := in.client.ExecCreate(ctx, t.ID, client.ExecCreateOptions{User: "0", AttachStdout: true, AttachStderr: true, Cmd: cmd})
	if err != nil {
		return fmt.Errorf("exec the filler: %w", err)
	}
	// The attachment outlives this call: it carries the filler's output
	// until it ends.
	hj, err := in.client.ExecAttach(context.WithoutCancel(ctx), ec.ID, client.ExecAttachOptions{})
	if err != nil {
		return fmt.Errorf("start the filler: %w", err)
	}
	fl := &filler{execID: ec.ID, conn: hj.HijackedResponse, done: make(chan struct{})}
	t.fill = fl
	ready := make(chan struct{})
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, hj.Reader)
		pw.CloseWithError(err)
	}()
	go func() {
		defer close(fl.done)
		defer hj.Close()
		sc := bufio.NewScanner(pr)
		once := false
		for sc.Scan() {
			line := sc.Text()
			fl.Write([]byte(line + "\n"))
			if !once && strings.HasPrefix(line, ReadyLine) {
				once = true
				close(ready)
			}
		}
		io.Copy(io.Discard, pr)
		fl.mu.Lock()
		fl.ended = time.Now()
		fl.mu.Unlock()
	}()
	timer := time.NewTimer(in.fillReady)
	defer timer.Stop()
	select {
	case <-ready:
		return nil
	case <-fl.done:
		code := -1
		if res, err := in.client.ExecInspect(context.WithoutCancel(ctx), ec.ID, client.ExecInspectOptions{}); err == nil {
			code = res.ExitCode
		}
		return fmt.Errorf("the filler ended before it held %s (exit code %d): %s", s.Bytes, code, fl.output())
	case <-timer.C:
		return fmt.Errorf("the filler did not hold %s within %v: %s", s.Bytes, in.fillReady, fl.output())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wait waits, bounded by ctx, until the filler has ended.
func (fl *filler) wait(ctx context.Context, c client.APIClient) error {
	select {
	case <-fl.done:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the filler to end: %w", ctx.Err())
	}
	// The output ends with the process; make sure the engine agrees.
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		res, err := c.ExecInspect(ctx, fl.execID, client.ExecInspectOptions{})
		if err != nil || !res.Running {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the filler to end: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// copyFiller copies the filler binary into dir (created) in the container.
func (in *Injector) copyFiller(ctx context.Context, id, dir string) error {
	f, err := os.Open(in.fillerPath)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoFiller, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		now := time.Now()
		name := strings.TrimPrefix(dir, "/")
		err := tw.WriteHeader(&tar.Header{Name: name + "/", Mode: 0o755, Typeflag: tar.TypeDir, ModTime: now})
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Name: name + "/" + fillerName, Mode: 0o755, Size: fi.Size(), Typeflag: tar.TypeReg, ModTime: now})
		}
		if err == nil {
			_, err = io.Copy(tw, f)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	_, err = in.client.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: "/", Content: pr})
	pr.CloseWithError(io.ErrClosedPipe) // ends the writer if the copy failed early
	if err != nil {
		return fmt.Errorf("copy the filler into the container: %w", err)
	}
	return nil
}

// checkStatic checks that the filler at p can run in any Linux container,
// a FROM-scratch one included: a static ELF executable.
func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("%s is not a Linux executable (%v)", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; a container may lack its libraries (build it with CGO_ENABLED=0)", p)
		}
	}
	return nil
}
