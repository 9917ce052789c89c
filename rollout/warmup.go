package rollout

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// warmCap is how many times Warmup.Requests a warm-up may send while it
// waits for stable latency.
const warmCap = 5

// warm makes b eligible for traffic: its health path answers 2xx, then
// warm-up requests (Warmup.requests, in order, cycling) until their
// latency is stable (steady, comparing the same requests one cycle
// apart), all within Warmup.Timeout. It records a transition either way.
func (c *Controller) warm(ctx context.Context, b *backend) error {
	w := c.cfg.Warmup
	ctx, cancel := context.WithTimeout(ctx, w.Timeout.D())
	defer cancel()
	start := time.Now()
	if err := waitHealthy(ctx, b, b.health); err != nil {
		return err
	}
	sends := w.requests()
	lag := cycleLag(len(sends))
	least := max(w.Requests, lag+5)
	most := max(w.Requests*warmCap, least)
	var lat []time.Duration
	stable := false
	for len(lat) < most && !stable {
		d, err := warmRequest(ctx, b, sends[len(lat)%len(sends)])
		if err != nil {
			return fmt.Errorf("warm-up request %d: %w", len(lat)+1, err)
		}
		lat = append(lat, d)
		stable = len(lat) >= least && steady(lat, lag, *w.StableWithin)
	}
	if !stable {
		return fmt.Errorf("latency not stable within %.0f %% after %d warm-up requests", *w.StableWithin*100, len(lat))
	}
	b.eligible.Store(true)
	c.mu.Lock()
	c.event("warm", ActorController, fmt.Sprintf("%s ready and warm after %d requests in %s (median %s)",
		b.name, len(lat), time.Since(start).Round(time.Millisecond), median(lat[len(lat)-5:]).Round(time.Microsecond)))
	c.mu.Unlock()
	return nil
}

// requests are the requests a warm-up cycles through: the recorded ones
// of Trace, else the one of Method, Path and Body.
func (w *Warmup) requests() []*gonogo.Recorded {
	if w.sends != nil {
		return w.sends
	}
	rec := &gonogo.Recorded{Method: w.Method, Path: w.Path}
	if w.Body != "" {
		rec.Body = []byte(w.Body)
		rec.Header = http.Header{"Content-Type": {"application/json"}}
	}
	return []*gonogo.Recorded{rec}
}

// cycleLag is how far back steady looks when a warm-up cycles through n
// requests: the fewest whole cycles that span five requests, so that the
// five it compares with are the same requests as the last five. Recorded
// prompts of different sizes take different times; the same prompt one
// cycle later takes the same once the backend is warm. One request (the
// synthetic warm-up) gives 5: the five before.
func cycleLag(n int) int { return n * ((5 + n - 1) / n) }

// steady says whether the median of the last five latencies is within
// tol of the median of the five lag requests before them.
func steady(lat []time.Duration, lag int, tol float64) bool {
	n := len(lat)
	if n < lag+5 {
		return false
	}
	a, b := median(lat[n-lag-5:n-lag]), median(lat[n-5:])
	return a > 0 && float64(b-a) <= tol*float64(a) && float64(a-b) <= tol*float64(a)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// waitHealthy polls a backend's health path until it answers 2xx or ctx
// ends.
func waitHealthy(ctx context.Context, b *backend, path string) error {
	var last error
	for {
		last = probe(ctx, b, path)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", b.name, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// probe sends one health check.
func probe(ctx context.Context, b *backend, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url.JoinPath(path).String(), nil)
	if err != nil {
		return err
	}
	resp, err := b.transport.RoundTrip(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return nil
}

// warmRequest sends one warm-up request and returns its latency. Its
// errors name the method and the path without its query, never a header.
func warmRequest(ctx context.Context, b *backend, rec *gonogo.Recorded) (time.Duration, error) {
	p, q, hasQuery := strings.Cut(rec.Path, "?")
	u := b.url.JoinPath(p)
	if hasQuery {
		u.RawQuery = q
	}
	var body io.Reader
	if len(rec.Body) > 0 {
		body = bytes.NewReader(rec.Body)
	}
	req, err := http.NewRequestWithContext(ctx, rec.Method, u.String(), body)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", rec.Method, p, err)
	}
	req.Header = extensions.RecordedHeader(nil, rec, nil)
	start := time.Now()
	resp, err := b.transport.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<20))
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	if resp.StatusCode/100 != 2 {
		return 0, fmt.Errorf("%s %s: %s", rec.Method, p, resp.Status)
	}
	return time.Since(start), nil
}
