package container

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	dcontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/gonogo-dev/gonogo/chaos"
)

// Undo kinds of container faults: each reverts its fault from any process
// (the run, its guard, gonogo chaos revert), idempotently.
const (
	// UndoStart starts each container unless it runs, restarts (its
	// restart policy brings it back) or is paused: the undo of kill, stop
	// and restart.
	UndoStart = "container.start"
	// UndoUnpause unpauses each container that is paused.
	UndoUnpause = "container.unpause"
	// UndoConnect connects each container to the network it left, with
	// the endpoint settings it had, unless it is connected.
	UndoConnect = "container.connect"
	// UndoUpdate restores each container's CPU and memory limits.
	UndoUpdate = "container.update"
	// UndoStopFill ends each container's filler (it writes the filler's
	// stop file); nothing is left to do when the filler has ended.
	UndoStopFill = "container.stop-fill"
)

func init() {
	chaos.RegisterUndo(UndoStart, undoFunc(undoStart))
	chaos.RegisterUndo(UndoUnpause, undoFunc(undoUnpause))
	chaos.RegisterUndo(UndoConnect, undoFunc(undoConnect))
	chaos.RegisterUndo(UndoUpdate, undoFunc(undoUpdate))
	chaos.RegisterUndo(UndoStopFill, undoFunc(undoStopFill))
}

// undoData is the Data of every container Undo: the engine and, per
// container, what reverting needs.
type undoData struct {
	// Host is the engine's address (unix:///var/run/docker.sock); ""
	// is the environment's (DOCKER_HOST).
	Host       string          `json:"host,omitempty"`
	Containers []undoContainer `json:"containers"`
}

// undoContainer is what reverting a fault on one container needs.
type undoContainer struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`

	// Network (UndoConnect) is the network's ID, NetworkName its name,
	// Endpoint the container's settings on it.
	Network     string    `json:"network,omitempty"`
	NetworkName string    `json:"networkName,omitempty"`
	Endpoint    *endpoint `json:"endpoint,omitempty"`

	// Old (UndoUpdate) are the limits before the fault, Restore the
	// update that puts them back.
	Old     *limits `json:"old,omitempty"`
	Restore *limits `json:"restore,omitempty"`

	// FillDir (UndoStopFill) is the filler's directory in the container.
	FillDir string `json:"fillDir,omitempty"`
}

// endpoint is what a container's endpoint on a network was configured
// with: its aliases and IP configuration.
type endpoint struct {
	Aliases      []string          `json:"aliases,omitempty"`
	IPv4Address  string            `json:"ipv4Address,omitempty"`
	IPv6Address  string            `json:"ipv6Address,omitempty"`
	LinkLocalIPs []string          `json:"linkLocalIPs,omitempty"`
	Links        []string          `json:"links,omitempty"`
	DriverOpts   map[string]string `json:"driverOpts,omitempty"`
}

// limits are the engine's CPU and memory resources of a container, 0
// meaning "leave as is" in an update, as the engine reads them.
type limits struct {
	NanoCPUs   int64 `json:"nanoCpus,omitempty"`
	CPUPeriod  int64 `json:"cpuPeriod,omitempty"`
	CPUQuota   int64 `json:"cpuQuota,omitempty"`
	Memory     int64 `json:"memory,omitempty"`
	MemorySwap int64 `json:"memorySwap,omitempty"`
}

func (l *limits) resources() *dcontainer.Resources {
	return &dcontainer.Resources{NanoCPUs: l.NanoCPUs, CPUPeriod: l.CPUPeriod, CPUQuota: l.CPUQuota,
		Memory: l.Memory, MemorySwap: l.MemorySwap}
}

// undoTimeout bounds one container's undo when ctx has no deadline.
const undoTimeout = 30 * time.Second

// undoFunc makes an UndoFunc of fn: it decodes the data, talks to the
// engine it names, and reverts every container, reporting every failure.
func undoFunc(fn func(context.Context, client.APIClient, undoContainer) error) chaos.UndoFunc {
	return func(ctx context.Context, raw json.RawMessage) error {
		var d undoData
		if err := json.Unmarshal(raw, &d); err != nil {
			return fmt.Errorf("container: undo data: %w", err)
		}
		opts := []client.Opt{client.FromEnv}
		if d.Host != "" {
			opts = append(opts, client.WithHost(d.Host))
		}
		c, err := client.New(opts...)
		if err != nil {
			return fmt.Errorf("container: docker client: %w", err)
		}
		defer c.Close()
		return undoAll(ctx, c, d.Containers, fn)
	}
}

// undoAll reverts every container with fn, each bounded by undoTimeout.
func undoAll(ctx context.Context, c client.APIClient, cs []undoContainer, fn func(context.Context, client.APIClient, undoContainer) error) error {
	var errs []error
	for _, u := range cs {
		uctx, cancel := context.WithTimeout(ctx, undoTimeout)
		err := fn(uctx, c, u)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", u.label(), err))
		}
	}
	return errors.Join(errs...)
}

func (u undoContainer) label() string {
	if u.Name != "" {
		return u.Name
	}
	return shortID(u.ID)
}

// undoStart starts the container unless it runs, is restarting or is
// paused. A container removed since has nothing left to revert.
func undoStart(ctx context.Context, c client.APIClient, u undoContainer) error {
	st, err := inspectState(ctx, c, u.ID)
	if err != nil || st == nil {
		return err
	}
	if st.Running || st.Restarting || st.Paused {
		return nil
	}
	if _, err := c.ContainerStart(ctx, u.ID, client.ContainerStartOptions{}); err != nil {
		// Started meanwhile (by its restart policy, say): reverted.
		if st, ierr := inspectState(ctx, c, u.ID); ierr == nil && (st == nil || st.Running) {
			return nil
		}
		return fmt.Errorf("start: %w", err)
	}
	return nil
}

// undoUnpause unpauses the container if it is paused.
func undoUnpause(ctx context.Context, c client.APIClient, u undoContainer) error {
	st, err := inspectState(ctx, c, u.ID)
	if err != nil || st == nil || !st.Paused {
		return err
	}
	if _, err := c.ContainerUnpause(ctx, u.ID, client.ContainerUnpauseOptions{}); err != nil {
		if st, ierr := inspectState(ctx, c, u.ID); ierr == nil && (st == nil || !st.Paused) {
			return nil
		}
		return fmt.Errorf("unpause: %w", err)
	}
	return nil
}

// undoConnect connects the container to its network with its former
// endpoint settings unless it is connected.
func undoConnect(ctx context.Context, c client.APIClient, u undoContainer) error {
	res, err := c.ContainerInspect(ctx, u.ID, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	if connected(res.Container, u.Network) {
		return nil
	}
	es, err := u.Endpoint.settings()
	if err != nil {
		return err
	}
	_, err = c.NetworkConnect(ctx, u.Network, client.NetworkConnectOptions{Container: u.ID, EndpointConfig: es})
	if err != nil {
		if res, ierr := c.ContainerInspect(ctx, u.ID, client.ContainerInspectOptions{}); ierr == nil && connected(res.Container, u.Network) {
			return nil
		}
		return fmt.Errorf("connect to network %s: %w", u.NetworkName, err)
	}
	return nil
}

// connected reports whether the container is on the network with ID id.
func connected(c dcontainer.InspectResponse, id string) bool {
	if c.NetworkSettings == nil {
		return false
	}
	for _, es := range c.NetworkSettings.Networks {
		if es != nil && es.NetworkID == id {
			return true
		}
	}
	return false
}

// settings turns e back into the engine's endpoint settings.
func (e *endpoint) settings() (*network.EndpointSettings, error) {
	es := &network.EndpointSettings{}
	if e == nil {
		return es, nil
	}
	es.Aliases, es.Links, es.DriverOpts = e.Aliases, e.Links, e.DriverOpts
	var ipam network.EndpointIPAMConfig
	var set bool
	for _, a := range []struct {
		s   string
		dst *netip.Addr
	}{{e.IPv4Address, &ipam.IPv4Address}, {e.IPv6Address, &ipam.IPv6Address}} {
		if a.s == "" {
			continue
		}
		addr, err := netip.ParseAddr(a.s)
		if err != nil {
			return nil, fmt.Errorf("endpoint address %q: %w", a.s, err)
		}
		*a.dst, set = addr, true
	}
	for _, s := range e.LinkLocalIPs {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("endpoint address %q: %w", s, err)
		}
		ipam.LinkLocalIPs, set = append(ipam.LinkLocalIPs, addr), true
	}
	if set {
		es.IPAMConfig = &ipam
	}
	return es, nil
}

// endpointOf records the configured part of a container's endpoint: its
// aliases (less the container's short ID, which the engine adds by
// itself) and its IP configuration.
func endpointOf(id string, es *network.EndpointSettings) *endpoint {
	e := &endpoint{Links: es.Links, DriverOpts: es.DriverOpts}
	for _, a := range es.Aliases {
		if a != shortID(id) {
			e.Aliases = append(e.Aliases, a)
		}
	}
	if c := es.IPAMConfig; c != nil {
		if c.IPv4Address.IsValid() {
			e.IPv4Address = c.IPv4Address.String()
		}
		if c.IPv6Address.IsValid() {
			e.IPv6Address = c.IPv6Address.String()
		}
		for _, a := range c.LinkLocalIPs {
			e.LinkLocalIPs = append(e.LinkLocalIPs, a.String())
		}
	}
	return e
}

// undoUpdate puts the container's former limits back.
func undoUpdate(ctx context.Context, c client.APIClient, u undoContainer) error {
	if u.Restore == nil {
		return nil
	}
	_, err := c.ContainerUpdate(ctx, u.ID, client.ContainerUpdateOptions{Resources: u.Restore.resources()})
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update limits: %w", err)
	}
	return nil
}

// stopFileName is the name of a filler's stop file in its directory.
const stopFileName = "stop"

// undoStopFill writes the filler's stop file; a filler that ended took its
// directory with it, and a container that is gone took its filler.
func undoStopFill(ctx context.Context, c client.APIClient, u undoContainer) error {
	if u.FillDir == "" {
		return nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: stopFileName, Mode: 0o644, Size: 0, Typeflag: tar.TypeReg, ModTime: time.Now()}); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	_, err := c.CopyToContainer(ctx, u.ID, client.CopyToContainerOptions{DestinationPath: u.FillDir, Content: &buf})
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write the filler's stop file %s: %w", path.Join(u.FillDir, stopFileName), err)
	}
	return nil
}

// inspectState returns the container's state; nil without an error when
// the container is gone.
func inspectState(ctx context.Context, c client.APIClient, id string) (*dcontainer.State, error) {
	res, err := c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	if res.Container.State == nil {
		return &dcontainer.State{}, nil
	}
	return res.Container.State, nil
}

// shortID is the 12-character form of a container ID.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
