package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze/divergence"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/mirror"
	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/rundir"
)

// Shadow is the mirroring part of a run (gonogo shadow): every request
// also goes to the mirrors, and every target's answer to pairs.ndjson.gz.
type Shadow struct {
	// Mirrors are the secondary (a second copy of production, for the
	// noise) and the candidates, by role name: "secondary", "candidate",
	// "candidate-2", …
	Mirrors []Mirror
	// MaxInFlight caps each mirror's requests in flight; 0 means the
	// scenario's maxVUs, the primary's own cap.
	MaxInFlight int
	// AllowUnsafe also mirrors POST/PUT/PATCH/DELETE requests outside the
	// inference paths.
	AllowUnsafe bool
	// Divergence configures the divergence report written at the end.
	Divergence divergence.Options
}

// Mirror is one mirrored target.
type Mirror struct {
	Name, Target string
}

// mirrorDrainTimeout bounds how long a finished shadow run waits for the
// mirrors' requests still in flight.
const mirrorDrainTimeout = 2 * time.Minute

// mirrorPreflightTimeout bounds a mirror's readiness check.
const mirrorPreflightTimeout = 5 * time.Second

// shadowRun is a run's mirroring: one mirror.Client per scenario, writing
// pairs through one PairWriter.
type shadowRun struct {
	cfg     *Shadow
	clients []*mirror.Client

	mu    sync.Mutex
	pairs *replay.PairWriter
}

var _ mirror.PairSink = (*shadowRun)(nil)

// newShadow puts a mirror.Client in front of every plan's client.
func (r *Run) newShadow() error {
	sh := &shadowRun{cfg: r.cfg.Shadow}
	for i := range r.plans {
		var targets []mirror.Target
		for _, m := range sh.cfg.Mirrors {
			mo := ScenarioOptions(r.cfg.Client, r.plans[i].Scenario.Request)
			mo.Target = m.Target
			c, err := extensions.New(r.cfg.Protocol, mo)
			if err != nil {
				return inputf("--%s: %v", strings.SplitN(m.Name, "-", 2)[0], err)
			}
			pctx, cancel := context.WithTimeout(context.Background(), mirrorPreflightTimeout)
			if err := extensions.Preflight(pctx, c, m.Target); err != nil {
				fmt.Fprintf(r.errw, "warning: %s: %v (its requests will be recorded as failures)\n", m.Name, err)
			}
			cancel()
			targets = append(targets, mirror.Target{Name: m.Name, Client: c})
		}
		inFlight := sh.cfg.MaxInFlight
		if inFlight == 0 {
			inFlight = r.plans[i].Scenario.MaxVUs // 0 for VU executors: the default
		}
		mc, err := mirror.NewClient(r.plans[i].Client, targets, sh, mirror.Options{MaxInFlight: inFlight, AllowUnsafe: sh.cfg.AllowUnsafe})
		if err != nil {
			return asInput(err)
		}
		sh.clients = append(sh.clients, mc)
		r.plans[i].Client = mc
	}
	r.shadow = sh
	return nil
}

// open starts the pair store in f.
func (sh *shadowRun) open(f *os.File) {
	sh.mu.Lock()
	sh.pairs = replay.NewPairWriter(f)
	sh.mu.Unlock()
}

// WritePair writes a pair to the pair store.
func (sh *shadowRun) WritePair(p *gonogo.Pair) error {
	sh.mu.Lock()
	w := sh.pairs
	sh.mu.Unlock()
	if w == nil {
		return errors.New("runner: pair store not open")
	}
	return w.WritePair(p)
}

// flush writes the buffered pairs to the file.
func (sh *shadowRun) flush() error { return sh.pairs.Flush() }

// finish drains the mirrors and completes the pair store.
func (sh *shadowRun) finish(r *Run) error {
	var errs []error
	for _, c := range sh.clients {
		ctx, cancel := context.WithTimeout(context.Background(), mirrorDrainTimeout)
		err := c.Close(ctx)
		cancel()
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			// Every pair is written; the unanswered ones are marked so.
			fmt.Fprintf(r.errw, "warning: mirrors still busy after %s: their last requests are recorded as canceled\n", mirrorDrainTimeout)
		case err != nil:
			errs = append(errs, err)
		}
	}
	errs = append(errs, sh.pairs.Close())
	return errors.Join(errs...)
}

// stats sums every scenario's mirror counts for run.json.
func (sh *shadowRun) stats() map[string]reports.Mirror {
	out := map[string]reports.Mirror{}
	for _, c := range sh.clients {
		for name, st := range c.Stats() {
			m := out[name]
			m.Sent += st.Sent
			m.Dropped += st.Dropped
			m.Skipped += st.Skipped
			m.Failed += st.Failed
			out[name] = m
		}
	}
	return out
}

// divergence writes and prints the divergence report of the run.
func (sh *shadowRun) divergence(r *Run) error {
	fmt.Fprintln(r.out)
	opts := sh.cfg.Divergence
	if opts.Kind == "" && r.cfg.Protocol == "openai" {
		opts.Kind = divergence.OutputText // a short answer such as "42" is still text
	}
	return WriteDivergence(r.dir, opts, r.out, false)
}

// WriteDivergence analyzes the pair store of the shadow run in dir, writes
// divergence.json there and prints the report (as JSON when asJSON). A
// directory without pairs or with a malformed pair store is bad input.
func WriteDivergence(dir rundir.Dir, opts divergence.Options, out io.Writer, asJSON bool) error {
	f, err := os.Open(dir.Path(rundir.Pairs))
	if errors.Is(err, os.ErrNotExist) {
		return inputf("%s: no %s: not a shadow run's results directory", dir, rundir.Pairs)
	} else if err != nil {
		return err
	}
	defer f.Close()
	d := divergence.New(opts)
	if err := replay.ReadPairs(f, func(p *gonogo.Pair) error { d.Add(p); return nil }); err != nil {
		return inputf("%s: %v", dir.Path(rundir.Pairs), err)
	}
	rep := d.Report()
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := dir.WriteAtomic(rundir.Divergence, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	}); err != nil {
		return err
	}
	if asJSON {
		_, err = out.Write(append(b, '\n'))
		return err
	}
	if err := rep.WriteText(out); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "\ndivergence: %s\n", dir.Path(rundir.Divergence))
	return err
}
