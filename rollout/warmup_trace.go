package rollout

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/mirror"
	"github.com/gonogo-dev/gonogo/replay"
	_ "github.com/gonogo-dev/gonogo/replay/all" // the trace formats warmup.trace may be in
	_ "github.com/gonogo-dev/gonogo/replay/targets"
)

// Bounds of a warm-up trace: at most maxWarmTrace recorded requests are
// kept (the first Warmup.Requests of them), their bodies and headers
// together at most maxWarmBytes, and at most maxWarmScan rows are read to
// find them (the rows skipped as unsafe included).
const (
	maxWarmTrace = 1000
	maxWarmBytes = 16 << 20
	maxWarmScan  = 100_000
)

// checkTrace checks the warm-up trace's options, before their defaults.
func (w *Warmup) checkTrace() *fail {
	if w.Trace == "" {
		switch {
		case w.TraceFormat != "":
			return failf("warmup.traceFormat", "only with warmup.trace")
		case w.AllowUnsafe:
			return failf("warmup.allowUnsafe", "only with warmup.trace")
		}
		return nil
	}
	if w.Method != "" || w.Path != "" || w.Body != "" {
		return failf("warmup.trace", "not with warmup.method, path or body: the recorded requests carry their own")
	}
	if w.TraceFormat != "" && !slices.Contains(replay.Formats(), w.TraceFormat) {
		return failf("warmup.traceFormat", "unknown format %q (known: %s)", w.TraceFormat, strings.Join(replay.Formats(), ", "))
	}
	return nil
}

// loadTrace reads the recorded requests of the trace at path into
// w.sends: the first min(Requests, maxWarmTrace) that are sendable, in
// order (the first draws of a targets file), the unsafe ones skipped
// unless AllowUnsafe. A malformed row, a trace without recorded requests
// (a token trace) or with none to send is an error.
func (w *Warmup) loadTrace(path string) error {
	r, closer, err := replay.Open(path, replay.Options{Format: w.TraceFormat, Strict: true})
	if err != nil {
		return err
	}
	defer closer.Close()
	want := min(w.Requests, maxWarmTrace)
	var (
		row                replay.Row
		rows, unsafe, size int
		sends              []*gonogo.Recorded
	)
	for len(sends) < want && rows < maxWarmScan {
		err := r.Next(&row)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		rows++
		rec := row.Request
		if rec == nil {
			return fmt.Errorf("no recorded requests in %s: it is a token trace (want a request log, a HAR or a targets file)", path)
		}
		if err := extensions.CheckRecorded(rec); err != nil {
			return fmt.Errorf("%s:%d: %v", path, row.Line, err)
		}
		if !w.AllowUnsafe && !mirror.SafeToMirror(rec) {
			unsafe++
			continue
		}
		if size += len(rec.Body) + headerSize(rec); size > maxWarmBytes {
			return fmt.Errorf("%s: the first %d recorded requests hold over %d MiB: trim the trace or lower warmup.requests", path, len(sends)+1, maxWarmBytes>>20)
		}
		sends = append(sends, rec)
	}
	if len(sends) == 0 {
		if unsafe > 0 {
			return fmt.Errorf("no recorded requests to send in %s: its %d requests are unsafe (%s outside the inference paths may change state; warmup.allowUnsafe: true sends them)", path, unsafe, strings.Join(mirror.UnsafeMethods, ", "))
		}
		return fmt.Errorf("no recorded requests in %s", path)
	}
	w.sends = sends
	return nil
}

// headerSize is the bytes of rec's header names and values.
func headerSize(rec *gonogo.Recorded) int {
	n := 0
	for k, vs := range rec.Header {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	return n
}
