package fuzz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gonogo-dev/gonogo/chaos"
)

// Defaults of Options.
const (
	DefaultPerClass    = 20
	DefaultTimeout     = 5 * time.Second
	DefaultConcurrency = 4
	DefaultMaxDuration = 5 * time.Minute
	// MaxPerClass bounds Options.PerClass.
	MaxPerClass = 10000
	// MaxConcurrency bounds Options.Concurrency.
	MaxConcurrency = 64
	// MinHealthTimeout is the least time a health check is given, however
	// short Options.Timeout.
	MinHealthTimeout = 2 * time.Second
	// maxResponseBytes bounds what is read of an answer.
	maxResponseBytes = 1 << 20
)

// Options configure a fuzz run.
type Options struct {
	// Target is the endpoint's base URL (http://127.0.0.1:8000).
	Target string
	// Protocol is ProtocolOpenAI or ProtocolKServe.
	Protocol string
	// Model names the model of built-in seeds. KServe requires it unless
	// Seeds are given; OpenAI without it asks GET /v1/models and takes
	// the first model, or leaves the field out.
	Model string
	// Seeds are the requests mutations start from; nil means
	// DefaultSeeds.
	Seeds []Seed
	// SeedSource says where Seeds came from, for the report ("" means
	// built-in).
	SeedSource string
	// Classes to send; nil means ClassesFor(Protocol).
	Classes []Class
	// PerClass is the number of requests per class (0: DefaultPerClass).
	PerClass int
	// Concurrency is the number of requests in flight at most (0:
	// DefaultConcurrency).
	Concurrency int
	// Timeout bounds each request, answer included; past it the outcome
	// is a hang (0: DefaultTimeout).
	Timeout time.Duration
	// MaxDuration bounds the whole run (0: DefaultMaxDuration); requests
	// not sent by then are left out and Report.Stopped says so.
	MaxDuration time.Duration
	// Seed draws every mutation.
	Seed uint64
	// HealthPath is checked before the run and after every bad answer
	// (any answer below 500 within Timeout, or MinHealthTimeout if longer,
	// means up); "" means /v1/models (OpenAI) or /v2/health/live (KServe).
	HealthPath string
	// HugePromptBytes is the size of huge-prompt prompts (0:
	// DefaultHugePromptBytes).
	HugePromptBytes int
	// Header is sent with every request (credentials); its values never
	// reach the report.
	Header http.Header
}

// withDefaults fills zero fields and checks the others; errors are
// chaos.InputErrors naming the field.
func (o Options) withDefaults() (Options, error) {
	bad := func(field, format string, a ...any) (Options, error) {
		return o, &chaos.InputError{Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	u, err := url.Parse(o.Target)
	if o.Target == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("target", "%q: want a base URL like http://127.0.0.1:8000", o.Target)
	}
	o.Target = strings.TrimRight(o.Target, "/")
	if o.Protocol != ProtocolOpenAI && o.Protocol != ProtocolKServe {
		return bad("protocol", "%q: want openai or kserve", o.Protocol)
	}
	if o.Protocol == ProtocolKServe && o.Model == "" && len(o.Seeds) == 0 {
		return bad("model", "kserve needs the model to infer on (or recorded requests)")
	}
	if o.Classes == nil {
		o.Classes = ClassesFor(o.Protocol)
	}
	for _, c := range o.Classes {
		if !Applies(o.Protocol, c) {
			return bad("classes", "class %q does not apply to %s", c, o.Protocol)
		}
	}
	if len(o.Classes) == 0 {
		return bad("classes", "no class to send")
	}
	switch {
	case o.PerClass == 0:
		o.PerClass = DefaultPerClass
	case o.PerClass < 0 || o.PerClass > MaxPerClass:
		return bad("per-class", "%d: want 1..%d", o.PerClass, MaxPerClass)
	}
	switch {
	case o.Concurrency == 0:
		o.Concurrency = DefaultConcurrency
	case o.Concurrency < 0 || o.Concurrency > MaxConcurrency:
		return bad("concurrency", "%d: want 1..%d", o.Concurrency, MaxConcurrency)
	}
	switch {
	case o.Timeout == 0:
		o.Timeout = DefaultTimeout
	case o.Timeout < 0:
		return bad("timeout", "%v: want > 0", o.Timeout)
	}
	switch {
	case o.MaxDuration == 0:
		o.MaxDuration = DefaultMaxDuration
	case o.MaxDuration < 0:
		return bad("max-duration", "%v: want > 0", o.MaxDuration)
	}
	if o.HugePromptBytes < 0 {
		return bad("huge-prompt-bytes", "%d: want ≥ 0", o.HugePromptBytes)
	}
	if o.HealthPath == "" {
		o.HealthPath = "/v1/models"
		if o.Protocol == ProtocolKServe {
			o.HealthPath = "/v2/health/live"
		}
	}
	return o, nil
}

// Check reports the first invalid option, as Run would: a
// chaos.InputError naming the field.
func (o Options) Check() error {
	_, err := o.withDefaults()
	return err
}

// Plan describes what Run will send, for the CLI to print first.
func (o Options) Plan() string {
	o2, err := o.withDefaults()
	if err == nil {
		o = o2
	}
	seeds := "built-in requests"
	if o.SeedSource != "" {
		seeds = fmt.Sprintf("%d requests from %s", len(o.Seeds), o.SeedSource)
	}
	model := o.Model
	if model == "" {
		model = "(the server's)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "fuzz: %s %s, model %s\n", o.Protocol, o.Target, model)
	fmt.Fprintf(&b, "  classes: %s\n", joinClasses(o.Classes))
	fmt.Fprintf(&b, "  %d requests per class, %d at most; seeds: %s; seed %d\n", o.PerClass, o.PerClass*len(o.Classes), seeds, o.Seed)
	fmt.Fprintf(&b, "  timeout %v per request, %d in flight, %v at most; health check GET %s\n", o.Timeout, o.Concurrency, o.MaxDuration, o.HealthPath)
	return b.String()
}

// result is one sent mutation and what came back.
type result struct {
	mu      Mutation
	outcome Outcome
	status  int
	errText string
	resp    []byte
	latency time.Duration
}

// Run sends every class's mutations to the target and returns the report.
// It stops early, with what it has, when the target crashes (Report.Stopped
// "crash"), when MaxDuration passes ("time limit") or when ctx ends
// ("interrupted"). Errors are bad options (chaos.InputError), an
// unreachable target (ErrUnreachable) or nothing else: per-request failures
// are outcomes.
func Run(ctx context.Context, o Options) (*Report, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	// A connection per request: malformed requests make servers close
	// connections, and a reused one that the server closed would pass
	// for a crash. Requests go where the user points them, never to an
	// environment proxy.
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	f := &fuzzer{o: o, hc: hc}
	if err := f.health(ctx); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, o.Target+o.HealthPath, err)
	}
	if o.Protocol == ProtocolOpenAI && o.Model == "" && len(o.Seeds) == 0 {
		o.Model = f.discoverModel(ctx)
		f.o.Model = o.Model
	}
	if len(o.Seeds) == 0 {
		o.Seeds = DefaultSeeds(o.Protocol, o.Model)
		f.o.Seeds = o.Seeds
	}
	f.mut = Mutator{Protocol: o.Protocol, Model: o.Model, HugePromptBytes: o.HugePromptBytes}

	start := time.Now()
	runCtx, cancel := context.WithTimeout(ctx, o.MaxDuration)
	defer cancel()
	type job struct {
		class Class
		n     int
	}
	jobs := make([]job, 0, o.PerClass*len(o.Classes))
	for n := range o.PerClass {
		for _, c := range o.Classes {
			jobs = append(jobs, job{c, n})
		}
	}
	results := make([]*result, len(jobs))
	var (
		crashed   bool
		crashOnce sync.Once
		next      = make(chan int)
		wg        sync.WaitGroup
	)
	for range o.Concurrency {
		wg.Go(func() {
			for i := range next {
				j := jobs[i]
				res := f.send(runCtx, j.class, j.n)
				if res == nil { // the run ended while it was in flight
					continue
				}
				results[i] = res
				if res.outcome == Crash {
					crashOnce.Do(func() { crashed = true; cancel() })
				}
			}
		})
	}
feed:
	for i := range jobs {
		select {
		case next <- i:
		case <-runCtx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()

	rep := newReport(o, start, time.Since(start))
	switch {
	case crashed:
		rep.Stopped = StoppedCrash
	case ctx.Err() != nil:
		rep.Stopped = StoppedInterrupted
	case runCtx.Err() != nil:
		rep.Stopped = StoppedTimeLimit
	}
	for _, res := range results {
		if res != nil {
			rep.add(res)
		}
	}
	rep.finish()
	return rep, nil
}

// fuzzer sends mutations and judges answers.
type fuzzer struct {
	o   Options
	hc  *http.Client
	mut Mutator
}

// send makes mutation n of class c, sends it and judges the answer; nil
// when the run ended first.
func (f *fuzzer) send(runCtx context.Context, c Class, n int) *result {
	if runCtx.Err() != nil {
		return nil
	}
	seed := f.o.Seeds[int(mix(f.o.Seed, hashString("seed:"+string(c)), uint64(n))%uint64(len(f.o.Seeds)))]
	mu, _ := f.mut.Mutate(c, seed, uint64(n), f.o.Seed)
	res := &result{mu: mu}
	ctx, cancel := context.WithTimeout(runCtx, f.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, mu.Method, f.o.Target+mu.Path, bytes.NewReader(mu.Body))
	if err != nil {
		res.outcome, res.errText = ServerError, "building the request: "+err.Error()
		return res
	}
	for k, vs := range f.o.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "gonogo-fuzz")
	}
	start := time.Now()
	resp, err := f.hc.Do(req)
	if err == nil {
		res.status = resp.StatusCode
		res.resp, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		resp.Body.Close()
	}
	res.latency = time.Since(start)
	switch {
	case runCtx.Err() != nil:
		return nil
	case err != nil && ctx.Err() != nil:
		res.outcome, res.errText = Hang, fmt.Sprintf("no whole answer within %v", f.o.Timeout)
	case err != nil && connectionLost(err):
		res.outcome, res.errText = Crash, err.Error()
	case err != nil:
		res.outcome, res.errText = ServerError, err.Error()
	default:
		res.outcome = judge(f.o.Protocol, mu, res.status, res.resp)
	}
	if res.outcome.Bad() && res.outcome != Crash {
		if herr := f.health(runCtx); herr != nil && runCtx.Err() == nil {
			res.errText = strings.TrimPrefix(res.errText+"; ", "; ") + "health check failed right after: " + herr.Error()
			res.outcome = Crash
		}
	}
	return res
}

// judge classifies an answer that came back whole.
func judge(protocol string, mu Mutation, status int, body []byte) Outcome {
	switch {
	case status >= 400 && status < 500:
		return ValidationError
	case status < 200 || status >= 300:
		return ServerError
	case !wellFormed(protocol, body):
		return ServerError // a 2xx that answers nothing usable
	case mu.Legal:
		return Accepted
	}
	return AcceptedNonsense
}

// wellFormed reports whether a 2xx body is a confident answer: OpenAI, a
// JSON object (or a server-sent event of one) with at least one choice;
// KServe, outputs each with a non-empty array of finite numbers.
func wellFormed(protocol string, body []byte) bool {
	if protocol == ProtocolKServe {
		var r struct {
			Outputs []struct {
				Data []float64 `json:"data"`
			} `json:"outputs"`
		}
		if json.Unmarshal(body, &r) != nil || len(r.Outputs) == 0 {
			return false
		}
		for _, out := range r.Outputs {
			if len(out.Data) == 0 {
				return false
			}
		}
		return true
	}
	hasChoice := func(b []byte) bool {
		var r struct {
			Choices []json.RawMessage `json:"choices"`
		}
		return json.Unmarshal(b, &r) == nil && len(r.Choices) > 0
	}
	if hasChoice(body) {
		return true
	}
	for line := range bytes.SplitSeq(body, []byte("\n")) {
		if data, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("data:")); ok && hasChoice(bytes.TrimSpace(data)) {
			return true
		}
	}
	return false
}

// connectionLost reports whether err means the endpoint went away: the
// connection refused, reset, or closed before an answer.
func connectionLost(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed)
}

// health asks the health path: an answer below 500 within the timeout
// (at least MinHealthTimeout) means the endpoint is up.
func (f *fuzzer) health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, max(f.o.Timeout, MinHealthTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.o.Target+f.o.HealthPath, nil)
	if err != nil {
		return err
	}
	for k, vs := range f.o.Header {
		req.Header[k] = vs
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// discoverModel returns the first model of GET /v1/models, or "".
func (f *fuzzer) discoverModel(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, f.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.o.Target+"/v1/models", nil)
	if err != nil {
		return ""
	}
	for k, vs := range f.o.Header {
		req.Header[k] = vs
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(&list) != nil || len(list.Data) == 0 {
		return ""
	}
	return list.Data[0].ID
}
