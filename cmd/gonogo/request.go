package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/gonogo-dev/gonogo/extensions"
	httpproto "github.com/gonogo-dev/gonogo/extensions/http"
)

// requestFlags say what each request sends; `load` and `shadow` share them.
type requestFlags struct {
	method, path, body, requestFile string
	headers                         []string
	model, api                      string
	promptTokens, maxTokens         int
	noStream                        bool
	timeout                         time.Duration
	prompts                         promptFlags
	tr                              transportFlags // connections and --seed
	traceparent                     bool
	traceSample                     float64
}

func (r *requestFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&r.method, "method", "", "HTTP method (http protocol; default GET)")
	fs.StringVar(&r.path, "path", "", "request path (http protocol; default /)")
	fs.StringVar(&r.body, "body", "", "request body (http protocol)")
	fs.StringVar(&r.requestFile, "request-file", "", "JSON/YAML request {method, path, headers, body} (http protocol)")
	fs.StringArrayVarP(&r.headers, "header", "H", nil, "extra header 'Name: value' (repeatable)")
	fs.StringVar(&r.model, "model", "", "model name (openai: the model field; kserve: required)")
	fs.StringVar(&r.api, "api", "", "openai endpoint: "+extensions.APICompletions+" or "+extensions.APIChat+" (default "+extensions.APICompletions+")")
	fs.IntVar(&r.promptTokens, "prompt-tokens", 0, "prompt length in tokens (openai; default 128)")
	fs.IntVar(&r.maxTokens, "max-tokens", 0, "output length in tokens (openai; default 64)")
	fs.BoolVar(&r.noStream, "no-stream", false, "openai: non-streaming requests (no TTFT or chunk gaps)")
	fs.DurationVar(&r.timeout, "timeout", 0, "per-request deadline (default 60s)")
	fs.BoolVar(&r.traceparent, "traceparent", false, "send a W3C traceparent header with a fresh trace id on every request (http, openai, kserve); ids go to samples.ndjson.gz")
	fs.Float64Var(&r.traceSample, "trace-sample", 0.1, "with --traceparent: share of requests marked sampled (flags 01), 0 to 1")
	r.prompts.register(fs)
	r.tr.register(fs)
}

// options turns the request flags into protocol client options. Fields
// left zero are filled per scenario from its request block.
func (r *requestFlags) options(fs *pflag.FlagSet, protocol string) (extensions.Options, error) {
	if !slices.Contains(extensions.Names(), protocol) {
		return extensions.Options{}, usageError("--protocol: unknown protocol %q; one of %s", protocol, strings.Join(extensions.Names(), ", "))
	}
	if fs.Changed("api") && r.api != extensions.APICompletions && r.api != extensions.APIChat {
		return extensions.Options{}, usageError("--api %q: unknown openai endpoint; one of %s, %s", r.api, extensions.APICompletions, extensions.APIChat)
	}
	if fs.Changed("timeout") && r.timeout <= 0 {
		return extensions.Options{}, usageError("--timeout: must be > 0 (got %s)", r.timeout)
	}
	for _, n := range []struct {
		flag string
		v    int
	}{{"prompt-tokens", r.promptTokens}, {"max-tokens", r.maxTokens}} {
		if fs.Changed(n.flag) && n.v <= 0 {
			return extensions.Options{}, usageError("--%s: must be > 0 (got %d)", n.flag, n.v)
		}
	}
	o := extensions.Options{
		Timeout: r.timeout, Method: r.method, Path: r.path, Model: r.model, API: r.api,
		NoStream: r.noStream, PromptTokens: r.promptTokens, MaxTokens: r.maxTokens,
	}
	if err := r.prompts.options(fs, protocol, &o); err != nil {
		return o, err
	}
	if err := r.tr.apply(fs, &o); err != nil {
		return o, err
	}
	if fs.Changed("trace-sample") && !(r.traceSample >= 0 && r.traceSample <= 1) {
		return o, usageError("--trace-sample: must be in [0, 1] (got %v)", r.traceSample)
	}
	if r.traceparent {
		t, err := extensions.NewTracer(r.traceSample, r.prompts.seed)
		if err != nil {
			return o, err
		}
		o.Trace = t
	}
	if r.body != "" {
		o.Body = []byte(r.body)
	}
	if r.requestFile != "" {
		rf, err := httpproto.LoadRequestFile(r.requestFile)
		if err != nil {
			return o, &exitError{code: exitUsage, err: err}
		}
		o = rf.Options(o)
	}
	for _, h := range r.headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return o, usageError("--header %s: want 'Name: value'", headerShown(h))
		}
		if o.Headers == nil {
			o.Headers = map[string]string{}
		}
		o.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return o, nil
}

// headerShown is a malformed --header for an error message: its first word
// only, and only when it is short enough to be a name, since the rest may
// be a secret (-H "Authorization Bearer sk-…", -H "sk-…").
func headerShown(h string) string {
	f := strings.Fields(h)
	switch {
	case len(f) == 0:
		return `""`
	case utf8.RuneCountInString(f[0]) > 32:
		return `"…"`
	case len(f) == 1:
		return fmt.Sprintf("%q", f[0])
	}
	return fmt.Sprintf("%q", f[0]+" …")
}
