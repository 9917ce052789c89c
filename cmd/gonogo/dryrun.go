package main

import (
	"fmt"
	"io"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/openai"
	"github.com/gonogo-dev/gonogo/mirror"
	"github.com/gonogo-dev/gonogo/runner"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// dryRunBodyBytes caps each body a dry run prints.
const dryRunBodyBytes = 240

// secretHeader matches header names whose values a dry run never prints.
var secretHeader = regexp.MustCompile(`(?i)authorization|cookie|token|secret|key|password|credential|session`)

// writeDryRun prints what `gonogo load` would do, sending nothing: the
// target and the connection settings, each scenario's workload, and the
// first n requests of each arrival-rate scenario, with their intended
// offsets, method, URL, headers (secrets redacted) and body (truncated).
// The client is built (its options checked) but never sends.
func writeDryRun(w io.Writer, file *scenarios.File, protocol, target string, copts extensions.Options, n int) error {
	fmt.Fprintf(w, "dry run: nothing is sent\ntarget:    %s (protocol %s)\n", target, protocol)
	fmt.Fprintf(w, "transport: %s\n", describeTransport(copts))
	for _, name := range file.Names() {
		s := file.Scenarios[name]
		fmt.Fprintf(w, "\nscenario %s: %s\n", name, describeScenario(s))
		opts := runner.ScenarioOptions(copts, s.Request)
		opts.Target = target
		c, err := extensions.New(protocol, opts)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		if cl, ok := c.(io.Closer); ok {
			defer cl.Close()
		}
		method, u, h := requestLine(protocol, opts)
		sch := scenarios.NewSchedule(s)
		if sch == nil || s.Traffic != nil {
			fmt.Fprintf(w, "  requests: %s %s (offsets come from the VUs or the trace)\n", method, u)
			continue
		}
		for i := range n {
			req := &gonogo.Request{ID: uint64(i + 1), Scenario: name}
			at, ok := sch.Next(req)
			if !ok {
				break
			}
			fmt.Fprintf(w, "  #%d at %s: %s %s\n", i+1, at.Round(time.Microsecond), method, u)
			for _, k := range slices.Sorted(maps.Keys(h)) {
				v := h[k]
				if secretHeader.MatchString(k) {
					v = "<redacted>"
				}
				fmt.Fprintf(w, "    %s: %s\n", k, v)
			}
			var body []byte
			if bc, ok := c.(mirror.BodyClient); ok {
				body = bc.Body(req)
			} else {
				body = opts.Body
			}
			if len(body) > 0 {
				more := ""
				if len(body) > dryRunBodyBytes {
					body, more = body[:dryRunBodyBytes], fmt.Sprintf("… (%d bytes in all)", len(body))
				}
				fmt.Fprintf(w, "    body: %s%s\n", strings.ToValidUTF8(string(body), "?"), more)
			}
		}
	}
	return nil
}

// describeTransport sums up o's connection settings in one line.
func describeTransport(o extensions.Options) string {
	t := o.Transport
	var parts []string
	switch {
	case t.H2C:
		parts = append(parts, "h2c on http, h2 on https")
	case t.HTTP2:
		parts = append(parts, "HTTP/1.1 on http, h2 or HTTP/1.1 (ALPN) on https")
	default:
		parts = append(parts, "HTTP/1.1")
	}
	if t.TLS != nil {
		if t.TLS.RootCAs != nil {
			parts = append(parts, "custom CA")
		}
		if len(t.TLS.Certificates) > 0 {
			parts = append(parts, "client certificate")
		}
		if t.TLS.ServerName != "" {
			parts = append(parts, "server name "+t.TLS.ServerName)
		}
		if t.TLS.InsecureSkipVerify {
			parts = append(parts, "INSECURE: certificates not verified")
		}
	}
	if t.NoKeepAlive {
		parts = append(parts, "no keep-alive")
	}
	if o.MaxConns > 0 {
		parts = append(parts, fmt.Sprintf("max %d conns/host", o.MaxConns))
	}
	if t.MaxIdleConns > 0 {
		parts = append(parts, fmt.Sprintf("max %d idle conns/host", t.MaxIdleConns))
	}
	if t.Proxy != nil {
		p := *t.Proxy
		p.User = nil // never print proxy credentials
		parts = append(parts, "proxy "+p.String())
	}
	for _, k := range slices.Sorted(maps.Keys(t.Resolve)) {
		parts = append(parts, "resolve "+k+" → "+t.Resolve[k])
	}
	return strings.Join(parts, ", ")
}

// describeScenario sums up a scenario's workload in one line.
func describeScenario(s *scenarios.Scenario) string {
	b := &strings.Builder{}
	fmt.Fprintf(b, "%s", s.Executor)
	if s.Rate > 0 {
		fmt.Fprintf(b, ", rate %g per %s", s.Rate, s.TimeUnit)
	}
	for _, st := range s.Stages {
		fmt.Fprintf(b, ", %s→%g", st.Duration, st.Target)
	}
	if s.Duration > 0 {
		fmt.Fprintf(b, ", duration %s", s.Duration)
	}
	if s.Arrival != "" {
		fmt.Fprintf(b, ", arrival %s", s.Arrival)
	}
	if s.Traffic != nil {
		fmt.Fprintf(b, ", replays %s", s.Traffic.Trace)
	}
	fmt.Fprintf(b, ", seed %d", s.Seed)
	return b.String()
}

// requestLine is the method, URL and configured headers of the requests
// of protocol under o.
func requestLine(protocol string, o extensions.Options) (method, u string, h map[string]string) {
	o = o.WithDefaults()
	base, _ := extensions.BaseURL(o.Target)
	switch protocol {
	case "openai":
		path := openai.CompletionsPath
		if o.API == extensions.APIChat {
			path = openai.ChatPath
		}
		method, u = "POST", strings.TrimSuffix(base, "/v1")+path
	case "kserve":
		method, u = "POST", base+"/v2/models/"+url.PathEscape(o.Model)+"/infer"
	case "kserve-grpc":
		method, u = "gRPC", base
	default:
		method, u = o.Method, base+o.Path
	}
	return method, u, o.Headers
}
