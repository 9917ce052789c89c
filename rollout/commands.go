package rollout

import (
	"errors"
	"fmt"
	"time"

	"github.com/gonogo-dev/gonogo/store"
)

// Errors of the admin commands.
var (
	// ErrEnded: the rollout has ended; only undo (after a promotion)
	// applies.
	ErrEnded = errors.New("the rollout has ended")
	// ErrNotEnded: undo applies to a promoted rollout.
	ErrNotEnded = errors.New("the rollout has not been promoted")
	// ErrNotWarm: set-weight cannot give traffic to a canary that is not
	// ready and warmed yet.
	ErrNotWarm = errors.New("the canary is not warmed yet")
)

// Command is an admin action on a rollout.
type Command struct {
	// Op is promote, pause, resume, abort, undo or set-weight.
	Op string `json:"op"`
	// Full promotes to the end at once (promote).
	Full bool `json:"full,omitempty"`
	// Weight is the canary's percentage (set-weight).
	Weight float64 `json:"weight,omitempty"`
	// Actor says who asked ("admin:<token name>", "cli").
	Actor  string `json:"-"`
	Reason string `json:"reason,omitempty"`
}

// ErrBadCommand is wrapped by an unknown or malformed command.
var ErrBadCommand = errors.New("bad command")

// Do runs an admin command: the transition is stored before it is acted
// on, like every other.
func (c *Controller) Do(cmd Command) (store.State, error) {
	c.mu.Lock()
	defer func() {
		c.mu.Unlock()
		c.poke()
	}()
	st := c.st
	reason := cmd.Reason
	if reason == "" {
		reason = cmd.Op + " by " + cmd.Actor
	}
	if Terminal(st.Phase) && cmd.Op != "undo" {
		return *cloneState(st), fmt.Errorf("%s: %w (%s)", cmd.Op, ErrEnded, st.Phase)
	}
	switch cmd.Op {
	case "promote":
		// Traffic never moves to a canary that is not ready and warm.
		if c.notWarm() != nil && (cmd.Full || st.Step >= len(c.steps)-1) {
			return *cloneState(st), fmt.Errorf("promote: %w: let the rollout reach its first weight step", ErrNotWarm)
		}
		if cmd.Full || st.Step >= len(c.steps)-1 {
			c.finish(cmd.Actor, reason)
			break
		}
		n := cloneState(st)
		n.Step++
		n.StepStarted = time.Now()
		n.Paused = false
		n.Phase = PhaseProgressing
		n.Message = reason
		if _, err := c.save(n, store.Event{Kind: "promote", Actor: cmd.Actor, Reason: "step skipped: " + reason}); err != nil {
			return *cloneState(st), err
		}
		c.enterStep()
		if err := c.apply(n); err != nil {
			return *cloneState(n), err
		}
	case "pause", "resume":
		n := cloneState(st)
		n.Paused = cmd.Op == "pause"
		n.Phase = PhaseProgressing
		if n.Paused {
			n.Phase = PhasePaused
		}
		if _, err := c.save(n, store.Event{Kind: cmd.Op, Actor: cmd.Actor, Reason: reason}); err != nil {
			return *cloneState(st), err
		}
	case "abort":
		c.rollback(cmd.Actor, "abort", reason)
	case "undo":
		if st.Phase != PhasePromoted {
			return *cloneState(st), fmt.Errorf("undo: %w", ErrNotEnded)
		}
		c.rollback(cmd.Actor, "undo", reason)
	case "set-weight":
		if f := checkPercent("weight", cmd.Weight); f != nil {
			return *cloneState(st), fmt.Errorf("%w: set-weight: %s", ErrBadCommand, f.msg)
		}
		if f := c.cfg.checkBaselineWeight("weight", cmd.Weight); f != nil {
			return *cloneState(st), fmt.Errorf("%w: set-weight: %s", ErrBadCommand, f.msg)
		}
		if cmd.Weight > 0 && c.notWarm() != nil {
			return *cloneState(st), fmt.Errorf("set-weight: %w: resume the rollout to its first weight step first", ErrNotWarm)
		}
		n := cloneState(st)
		n.Weights = c.weightsFor(cmd.Weight)
		n.Paused = true
		n.Phase = PhasePaused
		n.Message = reason
		if _, err := c.save(n, store.Event{Kind: "flip", Actor: cmd.Actor, Reason: fmt.Sprintf("set-weight %g%%: %s", cmd.Weight, reason)}); err != nil {
			return *cloneState(st), err
		}
		c.enterStep()
		if err := c.apply(n); err != nil {
			return *cloneState(n), err
		}
	default:
		return *cloneState(st), fmt.Errorf("%w: %q (want promote, pause, resume, abort, undo or set-weight)", ErrBadCommand, cmd.Op)
	}
	return *cloneState(c.st), nil
}
