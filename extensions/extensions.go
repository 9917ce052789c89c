// Package extensions holds the protocol clients that the load engine drives
// and the pieces they share.
//
// Each protocol lives in its own subpackage (extensions/http, extensions/openai,
// extensions/kserve) and registers a Factory under its name in init(). A
// program that wants every protocol imports extensions/all for its side
// effects and then calls New by name:
//
//	import _ "github.com/gonogo-dev/gonogo/extensions/all"
//
//	c, err := extensions.New("openai", extensions.Options{Target: "http://127.0.0.1:8000"})
//
// Besides the registry, the package offers what every client needs: a tuned
// *http.Transport (NewTransport), the error classifier that turns a Go error
// and an HTTP status into a gonogo.ErrorClass (Classify, Fail), the
// ProtocolError type for responses that break their protocol, and Preflight,
// which checks that a target is reachable before a run starts.
package extensions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions/dataset"
)

// Defaults applied by Options.WithDefaults.
const (
	// DefaultTimeout is the per-request deadline when Options.Timeout is 0.
	DefaultTimeout = 60 * time.Second
	// DefaultDialTimeout bounds connection establishment.
	DefaultDialTimeout = 10 * time.Second
	// DefaultPromptTokens is the prompt length of generative requests that
	// do not ask for one.
	DefaultPromptTokens = 128
	// DefaultMaxTokens is the output length of generative requests that do
	// not ask for one.
	DefaultMaxTokens = 64
	// DefaultInputLen is the number of FP32 elements of a KServe request.
	DefaultInputLen = 16
	// DefaultMaxIdleConnsPerHost sizes the idle pool when Options.MaxConns
	// is 0, so that high request rates reuse connections instead of
	// churning through ephemeral ports.
	DefaultMaxIdleConnsPerHost = 4096
	// MaxOutputBytes caps Result.Output when Options.KeepOutput is set: a
	// longer answer is kept cut to its first MaxOutputBytes bytes (and a
	// kserve outputs array cut so no longer parses as JSON).
	MaxOutputBytes = 1 << 20
)

// API names accepted in Options.API by the openai protocol.
const (
	APICompletions = "completions" // POST /v1/completions with a prompt
	APIChat        = "chat"        // POST /v1/chat/completions with messages
)

// Options configures a protocol client. Each protocol reads the fields it
// understands and ignores the others; zero values mean the documented
// defaults (see WithDefaults).
type Options struct {
	// Target is the base URL of the service, e.g. http://127.0.0.1:8000.
	// A bare host:port means http://host:port.
	Target string
	// Timeout is the per-request deadline; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxConns caps connections per host; 0 means unlimited. The idle pool
	// is sized to match (or DefaultMaxIdleConnsPerHost when unlimited).
	MaxConns int
	// Headers are added to every request of every protocol (for example
	// an Authorization header).
	Headers map[string]string
	// Transport holds the connection settings (TLS, HTTP/2, keep-alive,
	// proxy, --resolve) of the HTTP-based protocols; see NewTransport.
	Transport TransportOptions
	// KeepOutput keeps the response content in Result.Output, for shadow
	// runs that compare it between versions: the generated text (openai),
	// the "outputs" array as compact JSON (kserve), the body (http). It is
	// capped at MaxOutputBytes. Off, clients read and discard the content
	// as they do for load runs.
	KeepOutput bool
	// Trace, when not nil, puts a W3C traceparent header on every request
	// of the HTTP-based protocols and records its ids in the Result
	// (TraceID, SpanID, TraceSampled); nil sends none, at no cost.
	Trace *Tracer

	// Method is the HTTP method of the http protocol; default GET.
	Method string
	// Path is the request path (and query) of the http protocol; default /.
	Path string
	// Body is the request body of the http protocol.
	Body []byte

	// Model names the model: the "model" field of OpenAI requests (omitted
	// when empty) and the {model} of KServe paths (required there).
	Model string
	// API selects the OpenAI endpoint: APICompletions (default) or APIChat.
	API string
	// NoStream turns OpenAI streaming off; streaming (SSE) is the default.
	NoStream bool
	// PromptTokens is the prompt length, in words, of OpenAI requests whose
	// Request.InputTokens is 0; 0 means DefaultPromptTokens.
	PromptTokens int
	// MaxTokens is the output length of OpenAI requests whose
	// Request.OutputTokens is 0; 0 means DefaultMaxTokens.
	MaxTokens int
	// Dataset, when set, supplies the prompts (and output lengths) of
	// OpenAI requests: a ShareGPT or JSONL file, or random lengths in a
	// range (see package extensions/dataset); nil generates them.
	Dataset *dataset.Spec
	// Tokenizer counts the prompts of OpenAI requests: a built-in
	// vocabulary (tokenize.Builtins, e.g. cl100k_base) or the path of a
	// tiktoken file. Generated prompts then have exactly PromptTokens
	// tokens under it; "" counts one word as one token.
	Tokenizer string

	// InputLen is the number of FP32 elements of KServe requests; 0 means
	// DefaultInputLen.
	InputLen int
}

// WithDefaults returns o with every zero field that has a default filled in.
func (o Options) WithDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Method == "" {
		o.Method = "GET"
	}
	if o.Path == "" {
		o.Path = "/"
	}
	if o.API == "" {
		o.API = APICompletions
	}
	if o.PromptTokens <= 0 {
		o.PromptTokens = DefaultPromptTokens
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = DefaultMaxTokens
	}
	if o.InputLen <= 0 {
		o.InputLen = DefaultInputLen
	}
	return o
}

// AppendOutput appends b to res.Output up to MaxOutputBytes in all and
// drops the rest. Clients call it only when Options.KeepOutput is set, after
// truncating res.Output to length 0 (keeping its backing array).
func AppendOutput(res *gonogo.Result, b []byte) {
	if room := MaxOutputBytes - len(res.Output); room < len(b) {
		b = b[:max(room, 0)]
	}
	res.Output = append(res.Output, b...)
}

// AppendOutputString is AppendOutput for a string.
func AppendOutputString(res *gonogo.Result, s string) {
	if room := MaxOutputBytes - len(res.Output); room < len(s) {
		s = s[:max(room, 0)]
	}
	res.Output = append(res.Output, s...)
}

// ReadOutput reads r to its end like Drain, appending what it reads to
// res.Output (up to MaxOutputBytes in all), and returns the number of bytes
// read.
func ReadOutput(r io.Reader, res *gonogo.Result) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		AppendOutput(res, buf[:m])
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Factory builds a client of one protocol from options.
type Factory func(Options) (gonogo.Client, error)

// Errors of the registry and of Preflight.
var (
	// ErrUnknownProtocol is wrapped by New when no protocol has the name.
	ErrUnknownProtocol = errors.New("extensions: unknown protocol")
	// ErrUnreachable is wrapped by Preflight when the target cannot be
	// reached at all (refused, no route, DNS, dial timeout).
	ErrUnreachable = errors.New("extensions: target unreachable")
	// ErrNotReady is wrapped by Preflight when the target answers but its
	// readiness check fails (wrong kind of server, model not ready).
	ErrNotReady = errors.New("extensions: target not ready")
	// ErrBadOptions is wrapped by factories when options are invalid.
	ErrBadOptions = errors.New("extensions: invalid options")
)

var (
	regMu    sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes a protocol available under name. It is meant to be called
// from init() and panics when name is empty, f is nil or name is taken.
func Register(name string, f Factory) {
	if name == "" || f == nil {
		panic("extensions: Register with empty name or nil factory")
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("extensions: protocol " + name + " registered twice")
	}
	registry[name] = f
}

// New builds a client of the named protocol. An unknown name gives an error
// wrapping ErrUnknownProtocol that lists the known names.
func New(name string, o Options) (gonogo.Client, error) {
	regMu.RLock()
	f, ok := registry[name]
	regMu.RUnlock()
	if !ok {
		known := Names()
		list := "none registered (import extensions/all)"
		if len(known) > 0 {
			list = strings.Join(known, ", ")
		}
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownProtocol, name, list)
	}
	return f(o)
}

// Names lists the registered protocols, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Checker is an optional capability of a client: a preflight check that the
// target is reachable and ready to serve. Preflight uses it when present.
type Checker interface {
	// Check returns nil when the target is ready for load.
	Check(ctx context.Context) error
}

// PreflightError is the error Preflight returns. It matches ErrUnreachable
// or ErrNotReady with errors.Is and unwraps to the underlying cause.
type PreflightError struct {
	// Target is the target that was checked.
	Target string
	// Unreachable says the target could not be reached at all; otherwise it
	// answered but was not ready.
	Unreachable bool
	// Err is the cause.
	Err error
}

// Error reads "target http://127.0.0.1:9 unreachable: connection refused" or
// "target http://... not ready: <cause>".
func (e *PreflightError) Error() string {
	if e.Unreachable {
		return "target " + e.Target + " unreachable: " + Reason(e.Err)
	}
	return "target " + e.Target + " not ready: " + e.Err.Error()
}

// Unwrap returns the sentinel (ErrUnreachable or ErrNotReady) and the cause.
func (e *PreflightError) Unwrap() []error {
	if e.Unreachable {
		return []error{ErrUnreachable, e.Err}
	}
	return []error{ErrNotReady, e.Err}
}

// Preflight checks that target can take load before a run starts. When c
// implements Checker its Check decides; otherwise a TCP connection to the
// target's host:port must open. Failures are *PreflightError values wrapping
// ErrUnreachable (nothing answers) or ErrNotReady (the check failed).
func Preflight(ctx context.Context, c gonogo.Client, target string) error {
	if ch, ok := c.(Checker); ok {
		err := ch.Check(ctx)
		if err == nil {
			return nil
		}
		return &PreflightError{Target: target, Unreachable: isConnectErr(err), Err: err}
	}
	addr, err := HostPort(target)
	if err != nil {
		return &PreflightError{Target: target, Unreachable: true, Err: err}
	}
	if pd, ok := c.(PreflightDialer); ok && pd.PreflightAddr() != "" {
		addr = pd.PreflightAddr() // a proxy, a --resolve entry
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultDialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return &PreflightError{Target: target, Unreachable: true, Err: err}
	}
	conn.Close()
	return nil
}

// BaseURL normalizes a target: it adds http:// to a bare host:port, checks
// that the scheme is http or https and that a host is present, and drops a
// trailing slash. Clients append request paths to the result.
func BaseURL(target string) (string, error) {
	t := strings.TrimSpace(target)
	if t == "" {
		return "", fmt.Errorf("%w: empty target", ErrBadOptions)
	}
	if !strings.Contains(t, "://") {
		t = "http://" + t
	}
	u, err := url.Parse(t)
	if err != nil {
		return "", fmt.Errorf("%w: target %q: %v", ErrBadOptions, target, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%w: target %q: scheme %q is not http or https", ErrBadOptions, target, u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("%w: target %q has no host", ErrBadOptions, target)
	}
	return strings.TrimRight(t, "/"), nil
}

// HostPort returns the host:port a target URL connects to, with the
// scheme's default port when none is given.
func HostPort(target string) (string, error) {
	base, err := BaseURL(target)
	if err != nil {
		return "", err
	}
	u, _ := url.Parse(base) // BaseURL parsed it already
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}
