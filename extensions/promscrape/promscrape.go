// Package promscrape reads the load gauges an inference server exposes on
// its Prometheus /metrics page — requests waiting, the running batch,
// KV-cache use — while gonogo loads it, so that a sweep can say which of
// them reached its limit first.
//
// It knows vLLM's names (vllm:num_requests_waiting,
// vllm:num_requests_running, vllm:kv_cache_usage_perc and the older
// vllm:gpu_cache_usage_perc, both fractions 0..1 despite the name) and
// those of gonogo's simulated server (modelserver_queue_depth,
// modelserver_running_seqs, modelserver_kv_tokens_used, in tokens); see
// Gauges. Where the page states a resource's limit it is read too: the
// simulated server's modelserver_max_running_seqs and
// modelserver_kv_tokens_capacity, and 1 for a fraction. vLLM exposes no
// running limit (max_num_seqs is on no gauge; vllm:cache_config_info
// describes the KV cache only, which its fraction already covers). The
// parser reads the Prometheus text exposition format (version
// 0.0.4) and keeps only the samples asked for, so a large page costs no
// memory.
package promscrape

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrParse is wrapped by every Parse error, which names the line.
var ErrParse = errors.New("promscrape: bad exposition")

// Resources a server's gauges describe.
const (
	// Waiting is the number of requests queued for a batch slot.
	Waiting = "waiting"
	// Running is the number of sequences in the running batch.
	Running = "running"
	// KVCache is the KV-cache in use: a fraction 0..1 (vLLM) or tokens
	// (the simulated server).
	KVCache = "kv_cache"
)

// Resources lists the resources in the order reports show them.
var Resources = []string{Waiting, Running, KVCache}

// Gauge is a metric name that measures a resource.
type Gauge struct {
	Resource string
	Name     string
	// Fraction marks a gauge in 0..1 whose limit is 1 (KV-cache use as
	// vLLM reports it); the others count requests or tokens.
	Fraction bool
	// Limit names the gauge that holds a count's limit on the same page
	// (summed over label sets, as the count is); "" when the page states
	// none.
	Limit string
}

// Gauges are the names read, by resource; the first present on a page
// wins for its resource. Series of the same name with different labels
// (one per engine or model) are summed for counts and the highest is
// taken for fractions: the fullest engine reaches its limit first.
var Gauges = []Gauge{
	{Waiting, "vllm:num_requests_waiting", false, ""},
	{Waiting, "modelserver_queue_depth", false, ""},
	{Running, "vllm:num_requests_running", false, ""},
	{Running, "modelserver_running_seqs", false, "modelserver_max_running_seqs"},
	{KVCache, "vllm:kv_cache_usage_perc", true, ""},
	{KVCache, "vllm:gpu_cache_usage_perc", true, ""},
	{KVCache, "modelserver_kv_tokens_used", false, "modelserver_kv_tokens_capacity"},
}

// Series sums the samples of one metric name over its label sets.
type Series struct {
	Sum, Max float64
	// N counts the label sets.
	N int
}

// Limits of Parse.
const (
	maxLine      = 1 << 20
	maxPageBytes = 16 << 20
	maxLines     = 1 << 20
)

// Parse reads a Prometheus text exposition and returns the series whose
// name keep accepts, by name. Comments (# HELP, # TYPE) and blank lines
// are skipped; a malformed sample line is an error naming its line.
// NaN samples are skipped.
func Parse(r io.Reader, keep func(name string) bool) (map[string]Series, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxPageBytes))
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	out := map[string]Series{}
	for n := 1; sc.Scan(); n++ {
		if n > maxLines {
			return nil, fmt.Errorf("%w: more than %d lines", ErrParse, maxLines)
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, v, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrParse, n, err)
		}
		if !keep(name) || math.IsNaN(v) {
			continue
		}
		s, seen := out[name]
		s.Sum += v
		if !seen || v > s.Max {
			s.Max = v
		}
		s.N++
		out[name] = s
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrParse, err)
	}
	return out, nil
}

// parseSample reads `name{labels} value [timestamp]`.
func parseSample(line string) (name string, v float64, err error) {
	i := 0
	for i < len(line) && nameChar(line[i], i == 0) {
		i++
	}
	if i == 0 {
		return "", 0, errors.New("no metric name")
	}
	name, rest := line[:i], line[i:]
	if strings.HasPrefix(rest, "{") {
		end, err := labelsEnd(rest)
		if err != nil {
			return "", 0, err
		}
		rest = rest[end:]
	}
	if rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return "", 0, fmt.Errorf("%s: want a space and a value after the name", name)
	}
	f := strings.Fields(rest)
	if len(f) > 2 {
		return "", 0, fmt.Errorf("%s: more than a value and a timestamp", name)
	}
	if v, err = parseValue(f[0]); err != nil {
		return "", 0, fmt.Errorf("%s: value %q", name, f[0])
	}
	if len(f) == 2 {
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			return "", 0, fmt.Errorf("%s: timestamp %q", name, f[1])
		}
	}
	return name, v, nil
}

// nameChar reports whether c may stand in a metric name ([a-zA-Z_:]
// first, then digits too).
func nameChar(c byte, first bool) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || !first && c >= '0' && c <= '9'
}

// labelsEnd returns the index just past the closing brace of the label
// set that s starts with, honouring quoted values with escapes.
func labelsEnd(s string) (int, error) {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++ // the escaped character
		case c == '"':
			quoted = !quoted
		case !quoted && c == '}':
			return i + 1, nil
		}
	}
	return 0, errors.New("label set not closed")
}

// parseValue reads a sample value: a float, NaN, +Inf or -Inf.
func parseValue(s string) (float64, error) {
	switch s {
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	if strings.ContainsAny(s, "xXpP_") { // ParseFloat's hex and underscores are not Prometheus'
		return 0, errors.New("not a number")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, err
	}
	return v, nil
}

// Reading is one resource's value on one page.
type Reading struct {
	Name     string
	Value    float64
	Fraction bool
	// Limit is the resource's limit as the page states it (1 for a
	// fraction), 0 when it states none.
	Limit float64
}

// Readings picks each resource's gauge from a parsed page (see Gauges).
func Readings(page map[string]Series) map[string]Reading {
	out := map[string]Reading{}
	for _, g := range Gauges {
		if _, done := out[g.Resource]; done {
			continue
		}
		s, ok := page[g.Name]
		if !ok {
			continue
		}
		r := Reading{Name: g.Name, Value: s.Sum, Fraction: g.Fraction}
		switch l, ok := page[g.Limit]; {
		case g.Fraction:
			r.Value, r.Limit = s.Max, 1
		case ok && l.Sum > 0:
			r.Limit = l.Sum
		}
		out[g.Resource] = r
	}
	return out
}

// gaugeNames are the names Parse keeps for Readings.
var gaugeNames = func() map[string]bool {
	m := map[string]bool{}
	for _, g := range Gauges {
		m[g.Name] = true
		if g.Limit != "" {
			m[g.Limit] = true
		}
	}
	return m
}()

// MetricsURL is the /metrics page of the server at target (a base URL):
// its scheme and host with the path /metrics.
func MetricsURL(target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("promscrape: %q is not an http(s) base URL", target)
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/metrics"}).String(), nil
}

// DefaultTimeout bounds one scrape.
const DefaultTimeout = 2 * time.Second

// Scraper reads a server's gauges from its /metrics page.
type Scraper struct {
	URL    string
	Client *http.Client // nil: a client with DefaultTimeout
}

// Read scrapes the page once.
func (s *Scraper) Read(ctx context.Context) (map[string]Reading, error) {
	c := s.Client
	if c == nil {
		c = &http.Client{Timeout: DefaultTimeout}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("promscrape: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("promscrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("promscrape: GET %s: %s", s.URL, resp.Status)
	}
	page, err := Parse(resp.Body, func(name string) bool { return gaugeNames[name] })
	if err != nil {
		return nil, fmt.Errorf("promscrape: GET %s: %w", s.URL, err)
	}
	return Readings(page), nil
}

// Load summarizes one resource's readings over a span: their mean, their
// 90th percentile (nearest rank: the value the readings were at or above
// a tenth of the time) and their peak. Limit is the highest limit read
// (0 when the page stated none).
type Load struct {
	Name           string
	Fraction       bool
	Mean, P90, Max float64
	Limit          float64
	Samples        int
}

// Watch scrapes a page at a fixed period until stopped and summarizes
// what it read by resource.
type Watch struct {
	s     *Scraper
	every time.Duration

	mu     sync.Mutex
	sums   map[string]*Load
	vals   map[string][]float64 // every reading, by resource, for P90
	errs   int
	first  error
	cancel context.CancelFunc
	done   chan struct{}
}

// maxScrapes bounds a Watch: at 10 per second, more than a day.
const maxScrapes = 1_000_000

// Start begins scraping every period (at least 10 ms) until Stop or ctx
// ends; the first scrape is immediate.
func (s *Scraper) Start(ctx context.Context, every time.Duration) *Watch {
	every = max(every, 10*time.Millisecond)
	ctx, cancel := context.WithCancel(ctx)
	w := &Watch{s: s, every: every, sums: map[string]*Load{}, vals: map[string][]float64{}, cancel: cancel, done: make(chan struct{})}
	go w.loop(ctx)
	return w
}

func (w *Watch) loop(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(w.every)
	defer t.Stop()
	for range maxScrapes {
		rctx, cancel := context.WithTimeout(ctx, min(DefaultTimeout, 4*w.every))
		rs, err := w.s.Read(rctx)
		cancel()
		if ctx.Err() != nil {
			return // a scrape cut short by Stop is not a reading
		}
		w.add(rs, err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *Watch) add(rs map[string]Reading, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.errs++
		if w.first == nil {
			w.first = err
		}
		return
	}
	for res, r := range rs {
		l := w.sums[res]
		if l == nil {
			l = &Load{Name: r.Name, Fraction: r.Fraction, Max: r.Value}
			w.sums[res] = l
		}
		l.Mean += r.Value // a sum until Stop
		l.Max, l.Limit = max(l.Max, r.Value), max(l.Limit, r.Limit)
		l.Samples++
		w.vals[res] = append(w.vals[res], r.Value)
	}
}

// Stop ends the scraping and returns the load of every resource read at
// least once, and the first scrape error when no scrape succeeded.
func (w *Watch) Stop() (map[string]Load, error) {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]Load{}
	for res, l := range w.sums {
		m := *l
		m.Mean /= float64(m.Samples)
		vs := w.vals[res]
		slices.Sort(vs)
		m.P90 = vs[int(math.Ceil(0.9*float64(len(vs))))-1]
		out[res] = m
	}
	if len(out) == 0 && w.first != nil {
		return nil, w.first
	}
	return out, nil
}
