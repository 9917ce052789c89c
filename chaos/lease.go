package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/gonogo-dev/gonogo/rundir"
)

// Defaults of a Lease.
const (
	DefaultLeaseTTL   = 10 * time.Second
	DefaultLeaseRenew = 2 * time.Second
	// MinLeaseRenew bounds how often a lease may be renewed.
	MinLeaseRenew = 100 * time.Millisecond
)

// Lease is how long faults outlive their run's last sign of life: the run
// renews its lease every Renew; once TTL passes without a renewal, the
// guard reverts the ledger's faults and proxies drop the faults they hold.
type Lease struct {
	TTL   time.Duration `json:"ttl"`
	Renew time.Duration `json:"renew"`
}

// DefaultLease returns the default lease.
func DefaultLease() Lease { return Lease{TTL: DefaultLeaseTTL, Renew: DefaultLeaseRenew} }

// Check says what is wrong with l, "" when nothing: a lease must be
// longer than its renewal period, or it lapses between two renewals.
func (l Lease) Check() (field, msg string) {
	switch {
	case l.Renew < MinLeaseRenew:
		return "renew", fmt.Sprintf("must be at least %v", MinLeaseRenew)
	case l.TTL <= l.Renew:
		return "ttl", fmt.Sprintf("the lease (%v) must be longer than its renewal period (%v), or it lapses between two renewals", l.TTL, l.Renew)
	}
	return "", ""
}

// LeaseState is the lease file (rundir.Lease) of a results directory.
type LeaseState struct {
	Lease
	// PID is the run's process.
	PID int `json:"pid"`
	// Renewed is the run's last renewal.
	Renewed time.Time `json:"renewed"`
	// Deadline bounds the lease whatever the renewals: the run's planned
	// end with a margin. The guard reverts at Deadline and ends.
	Deadline time.Time `json:"deadline"`
	// Released is set when the run ended and reverted its faults itself.
	Released bool `json:"released,omitempty"`
}

// Lapsed reports whether the lease has lapsed at now.
func (s *LeaseState) Lapsed(now time.Time) bool {
	return now.After(s.Renewed.Add(s.TTL)) || now.After(s.Deadline)
}

// ReadLease reads dir's lease file.
func ReadLease(dir rundir.Dir) (*LeaseState, error) {
	b, err := os.ReadFile(dir.Path(rundir.Lease))
	if err != nil {
		return nil, err
	}
	var s LeaseState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("chaos: %s: %w", dir.Path(rundir.Lease), err)
	}
	return &s, nil
}

func writeLease(dir rundir.Dir, s *LeaseState) error {
	return dir.WriteAtomic(rundir.Lease, func(w io.Writer) error { return json.NewEncoder(w).Encode(s) })
}

// Holder holds a lease on a results directory's ledger and renews it
// until Release; renewers (proxies holding faults with a lease of their
// own) are renewed at the same moments.
type Holder struct {
	dir      rundir.Dir
	state    LeaseState
	mu       sync.Mutex
	renewers []func(context.Context) error
	stop     chan struct{}
	done     chan struct{}
	errw     io.Writer
}

// Hold writes dir's lease and renews it every l.Renew until Release or
// deadline. Renewal failures are written to errw; the lease then lapses
// and the guard reverts, which is the safe side.
func Hold(dir rundir.Dir, l Lease, deadline time.Time, errw io.Writer) (*Holder, error) {
	if field, msg := l.Check(); msg != "" {
		return nil, &InputError{Field: "lease." + field, Msg: msg}
	}
	if errw == nil {
		errw = io.Discard
	}
	h := &Holder{dir: dir, state: LeaseState{Lease: l, PID: os.Getpid(), Renewed: time.Now(), Deadline: deadline},
		stop: make(chan struct{}), done: make(chan struct{}), errw: errw}
	if err := writeLease(dir, &h.state); err != nil {
		return nil, err
	}
	go h.renew()
	return h, nil
}

// AddRenewer adds fn to what every renewal calls.
func (h *Holder) AddRenewer(fn func(context.Context) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.renewers = append(h.renewers, fn)
}

func (h *Holder) renew() {
	defer close(h.done)
	t := time.NewTicker(h.state.Renew)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case now := <-t.C:
			if now.After(h.state.Deadline) {
				return
			}
			h.mu.Lock()
			h.state.Renewed = now
			err := writeLease(h.dir, &h.state)
			renewers := append([]func(context.Context) error(nil), h.renewers...)
			h.mu.Unlock()
			if err != nil {
				fmt.Fprintf(h.errw, "warning: renewing the fault lease: %v\n", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), h.state.Renew)
			for _, fn := range renewers {
				if err := fn(ctx); err != nil {
					fmt.Fprintf(h.errw, "warning: renewing a fault lease: %v\n", err)
				}
			}
			cancel()
		}
	}
}

// Release stops renewing and marks the lease released: the run has
// reverted its faults itself, and the guard ends without reverting.
func (h *Holder) Release() error {
	select {
	case <-h.stop:
		return nil
	default:
	}
	close(h.stop)
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state.Released = true
	return writeLease(h.dir, &h.state)
}

// ByGuard, ByRun and ByRevert name who reverted a fault in the ledger.
const (
	ByRun    = "run"
	ByGuard  = "guard"
	ByRevert = "gonogo chaos revert"
)

// guardPoll bounds how often the guard reads the lease.
const guardPoll = time.Second

// Guard watches dir's lease and, when it lapses, reverts every fault the
// ledger shows pending, then returns. It returns without reverting when
// the lease is released. It ends by itself: at the lease's deadline at
// the latest, or when the lease file is missing for a whole TTL.
func Guard(ctx context.Context, dir rundir.Dir, log io.Writer) error {
	missingSince := time.Time{}
	for {
		s, err := ReadLease(dir)
		now := time.Now()
		switch {
		case errors.Is(err, os.ErrNotExist):
			if missingSince.IsZero() {
				missingSince = now
			} else if now.Sub(missingSince) > DefaultLeaseTTL {
				fmt.Fprintf(log, "%s guard: no lease in %s: nothing to guard\n", now.Format(time.RFC3339), dir)
				return nil
			}
		case err != nil:
			// A torn or foreign file: revert, the safe side.
			fmt.Fprintf(log, "%s guard: %v: reverting\n", now.Format(time.RFC3339), err)
			return guardRevert(dir, log)
		case s.Released:
			return nil
		case s.Lapsed(now):
			fmt.Fprintf(log, "%s guard: the lease lapsed (last renewed %s, ttl %v): reverting\n",
				now.Format(time.RFC3339), s.Renewed.Format(time.RFC3339), s.TTL)
			return guardRevert(dir, log)
		}
		poll := guardPoll
		if s != nil {
			poll = min(poll, s.Renew/2)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// guardRevertTimeout bounds the guard's reverts.
const guardRevertTimeout = time.Minute

func guardRevert(dir rundir.Dir, log io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), guardRevertTimeout)
	defer cancel()
	res, err := RevertPending(ctx, dir, ByGuard)
	for _, e := range res.Reverted {
		fmt.Fprintf(log, "%s guard: reverted %s (%s on %s)\n", time.Now().Format(time.RFC3339), e.ID, e.Kind, e.Target)
	}
	for _, f := range res.Failed {
		fmt.Fprintf(log, "%s guard: could not revert %s (%s on %s): %v\n", time.Now().Format(time.RFC3339), f.ID, f.Kind, f.Target, f.Err)
	}
	if err == nil && len(res.Failed) > 0 {
		err = fmt.Errorf("chaos: %d faults could not be reverted", len(res.Failed))
	}
	return err
}

// SpawnGuard starts the guard of dir as a process of its own, in a
// session of its own, so that it outlives the run however the run ends:
// exe with args (gonogo's "chaos guard --ledger DIR"), argv[0] set to
// "gonogo". Its output goes to dir's guard log.
func SpawnGuard(exe string, args []string, dir rundir.Dir) (*os.Process, error) {
	logf, err := dir.Append(rundir.GuardLog)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := &exec.Cmd{Path: exe, Args: append([]string{"gonogo"}, args...), Stdout: logf, Stderr: logf,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("chaos: starting the fault guard: %w", err)
	}
	go cmd.Wait() // reap it if it ends while the run goes
	return cmd.Process, nil
}
