package rollout

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// warmCap is how many times Warmup.Requests a warm-up may send while it
// waits for stable latency.
const warmCap = 5

// warm makes b eligible for traffic: its health path answers 2xx, then
// warm-up requests until their latency is stable (the median of the last
// five within StableWithin of the five before), all within
// Warmup.Timeout. It records a transition either way.
func (c *Controller) warm(ctx context.Context, b *backend) error {
	w := c.cfg.Warmup
	ctx, cancel := context.WithTimeout(ctx, w.Timeout.D())
	defer cancel()
	start := time.Now()
	if err := waitHealthy(ctx, b, b.health); err != nil {
		return err
	}
	var lat []time.Duration
	stable := false
	for len(lat) < w.Requests*warmCap && !stable {
		d, err := warmRequest(ctx, b, w)
		if err != nil {
			return fmt.Errorf("warm-up request %d: %w", len(lat)+1, err)
		}
		lat = append(lat, d)
		stable = len(lat) >= max(w.Requests, 10) && steady(lat, *w.StableWithin)
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

// steady says whether the median of the last five latencies is within
// tol of the median of the five before.
func steady(lat []time.Duration, tol float64) bool {
	n := len(lat)
	if n < 10 {
		return false
	}
	a, b := median(lat[n-10:n-5]), median(lat[n-5:])
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

// warmRequest sends one warm-up request and returns its latency.
func warmRequest(ctx context.Context, b *backend, w Warmup) (time.Duration, error) {
	var body io.Reader
	if w.Body != "" {
		body = strings.NewReader(w.Body)
	}
	req, err := http.NewRequestWithContext(ctx, w.Method, b.url.JoinPath(w.Path).String(), body)
	if err != nil {
		return 0, err
	}
	if w.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
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
		return 0, fmt.Errorf("%s %s: %s", w.Method, w.Path, resp.Status)
	}
	return time.Since(start), nil
}
