package main

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/openai"
	"github.com/gonogo-dev/gonogo/mirror"
	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/runner"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// dryRunBodyBytes caps each body a dry run prints.
const dryRunBodyBytes = 240

// secretHeader matches header names whose values a dry run never prints.
var secretHeader = regexp.MustCompile(`(?i)authorization|cookie|token|secret|key|password|credential|session`)

// writeDryRun prints what `gonogo load` would do, sending nothing: the
// target and the connection settings, each scenario's workload, and the
// first n requests of each open-model scenario, with their intended
// offsets, method, URL, headers (secrets redacted), body (truncated) and
// the tags a replayed row gives them (target=… for a targets file). The
// client is built (its options checked) but never sends.
func writeDryRun(w io.Writer, file *scenarios.File, protocol, target string, copts extensions.Options, n int) error {
	fmt.Fprintf(w, "dry run: nothing is sent\ntarget:    %s (protocol %s)\n", target, protocol)
	fmt.Fprintf(w, "transport: %s\n", describeTransport(copts))
	for _, name := range file.Names() {
		s := file.Scenarios[name]
		fmt.Fprintf(w, "\nscenario %s: %s\n", name, describeScenario(s))
		none, err := dryRunRequests(s, protocol, target, copts, n, func(i int, at time.Duration, dr dryRequest) {
			fmt.Fprintf(w, "  #%d at %s: %s %s\n", i, at.Round(time.Microsecond), dr.method, dr.url)
			dr.write(w, "    ")
		})
		if err != nil {
			return err
		}
		if none != "" {
			fmt.Fprintf(w, "  requests: %s\n", none)
		}
	}
	return nil
}

// writeShadowDryRun prints what `gonogo shadow` would do, sending
// nothing: the primary and the mirrors, the connection settings, how the
// mirrors are fed, the replay's pace, and the first requests of the
// replay with the URL each target would get them at.
func writeShadowDryRun(w io.Writer, file *scenarios.File, f *shadowFlags, mirrors []runner.Mirror, copts extensions.Options) error {
	fmt.Fprintf(w, "dry run: nothing is sent\n%-10s %s (protocol %s)\n", "primary:", f.primary, f.protocol)
	for _, m := range mirrors {
		fmt.Fprintf(w, "%-10s %s\n", m.Name+":", m.Target)
	}
	fmt.Fprintf(w, "transport: %s\n", describeTransport(copts))
	feed := "as many requests in flight as the primary's cap (--max-vus)"
	if f.mirrorCap > 0 {
		feed = fmt.Sprintf("up to %d requests in flight each", f.mirrorCap)
	}
	unsafe := "not mirrored (--allow-unsafe mirrors them)"
	if f.allowUnsafe {
		unsafe = "mirrored (--allow-unsafe)"
	}
	fmt.Fprintf(w, "mirrors:   %s, copies beyond it dropped; %s outside the inference paths %s\n", feed, strings.Join(mirror.UnsafeMethods, "/"), unsafe)
	name := file.Names()[0]
	s := file.Scenarios[name]
	fmt.Fprintf(w, "\nscenario %s: %s\n", name, describeScenario(s))
	none, err := dryRunRequests(s, f.protocol, f.primary, copts, f.dryRunRequests, func(i int, at time.Duration, dr dryRequest) {
		fmt.Fprintf(w, "  #%d at %s: %s %s\n", i, at.Round(time.Microsecond), dr.method, dr.url)
		for _, m := range mirrors {
			if !f.allowUnsafe && !mirror.SafeToMirror(dr.recorded) {
				fmt.Fprintf(w, "    → %s: not mirrored (unsafe method)\n", m.Name)
				continue
			}
			o := copts
			o.Target = m.Target
			_, u, _ := requestLine(f.protocol, o)
			if dr.recorded != nil {
				u = origin(m.Target) + dr.recorded.Path
			}
			fmt.Fprintf(w, "    → %s: %s %s\n", m.Name, dr.method, u)
		}
		dr.write(w, "    ")
	})
	if none != "" {
		fmt.Fprintf(w, "  requests: %s\n", none)
	}
	return err
}

// dryRequest is one request as a dry run shows it.
type dryRequest struct {
	method, url string
	header      http.Header
	body        []byte
	tags        map[string]string // the replayed row's; nil for none
	recorded    *gonogo.Recorded  // the replayed request; nil for the client's own
}

// write prints the request's tags, headers (secrets redacted) and body
// (truncated), each line after indent.
func (d dryRequest) write(w io.Writer, indent string) {
	if len(d.tags) > 0 {
		tags := make([]string, 0, len(d.tags))
		for _, k := range slices.Sorted(maps.Keys(d.tags)) {
			tags = append(tags, k+"="+d.tags[k])
		}
		fmt.Fprintf(w, "%stags: %s\n", indent, strings.Join(tags, ", "))
	}
	for _, k := range slices.Sorted(maps.Keys(d.header)) {
		for _, v := range d.header[k] {
			if secretHeader.MatchString(k) {
				v = "<redacted>"
			}
			fmt.Fprintf(w, "%s%s: %s\n", indent, k, v)
		}
	}
	if body := d.body; len(body) > 0 {
		more := ""
		if len(body) > dryRunBodyBytes {
			body, more = body[:dryRunBodyBytes], fmt.Sprintf("… (%d bytes in all)", len(body))
		}
		fmt.Fprintf(w, "%sbody: %s%s\n", indent, strings.ToValidUTF8(string(body), "?"), more)
	}
}

// dryRunRequests builds scenario s's client against target (checking its
// options; it sends nothing) and shows each of its first n requests to
// show, numbered from 1, with its offset from the scenario's start: the
// arrivals of its schedule, or of its trace replayed at its timestamps or
// in order at its rate. A closed-model scenario, or a trace whose sizes
// and gaps are drawn from its whole, has no offsets before the run: it
// shows nothing and returns what its requests are, in words.
func dryRunRequests(s *scenarios.Scenario, protocol, target string, copts extensions.Options, n int, show func(i int, at time.Duration, dr dryRequest)) (none string, err error) {
	opts := runner.ScenarioOptions(copts, s.Request)
	opts.Target = target
	c, err := extensions.New(protocol, opts)
	if err != nil {
		return "", &exitError{code: exitUsage, err: err}
	}
	if cl, ok := c.(io.Closer); ok {
		defer cl.Close()
	}
	method, u, h := requestLine(protocol, opts)
	src, stop, err := dryRunSource(s)
	if err != nil {
		return "", err
	}
	if src == nil {
		if s.Traffic != nil {
			return fmt.Sprintf("%s %s (sizes and gaps are drawn from the whole trace during the run)", method, u), nil
		}
		return fmt.Sprintf("%s %s (offsets come from the VUs)", method, u), nil
	}
	defer stop()
	origin := u
	if pu, err := url.Parse(u); err == nil && pu.Host != "" {
		origin = pu.Scheme + "://" + pu.Host
	}
	for i := range n {
		req := &gonogo.Request{ID: uint64(i + 1), Scenario: s.Name}
		at, ok := src.Next(req)
		if !ok {
			break
		}
		dr := dryRequest{method: method, url: u, header: extensions.Header(h), tags: req.Tags, recorded: req.Recorded}
		bc, isBC := c.(mirror.BodyClient)
		switch {
		case req.Recorded != nil:
			rec := req.Recorded
			conf := extensions.Header(opts.Headers)
			dr.method, dr.header, dr.body = rec.Method, extensions.RecordedHeader(conf, rec, conf), rec.Body
			dr.url = origin + rec.Path // a recorded path replaces the target's
		case isBC:
			dr.body = bc.Body(req)
		default:
			dr.body = opts.Body
		}
		show(i+1, at, dr)
	}
	return "", nil
}

// dryRunSource opens the arrivals of scenario s as its run would, for a
// dry run: its schedule, or its trace replayed in order at its rate or at
// its timestamps (runner.New builds the same). It returns a nil source
// for a closed-model scenario and for a distribution replay, and stop
// closes what it opened.
func dryRunSource(s *scenarios.Scenario) (src scenarios.Source, stop func(), err error) {
	t := s.Traffic
	if t == nil {
		if sch := scenarios.NewSchedule(s); sch != nil {
			return sch, func() {}, nil
		}
		return nil, nil, nil
	}
	if t.Replay == scenarios.ReplayDistribution {
		return nil, nil, nil
	}
	r, c, err := replay.Open(t.Trace, replay.Options{Format: t.Format, Preset: t.Preset, Columns: t.Columns, TimeFormat: t.TimeFormat, Strict: t.Strict, Seed: s.Seed})
	if err != nil {
		return nil, nil, runner.TraceError(err)
	}
	if t.Replay == scenarios.ReplaySequential {
		return replay.NewPaced(r, scenarios.NewSchedule(s)), func() { c.Close() }, nil
	}
	ts := replay.NewTimestamps(r, replay.TimestampOptions{Speed: t.Speed, Scale: t.Scale, From: t.From, To: t.To, Loop: t.Loop, Seed: s.Seed})
	if err := ts.Start(); err != nil {
		ts.Close()
		c.Close()
		return nil, nil, runner.TraceError(err)
	}
	return ts, func() { ts.Close(); c.Close() }, nil
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
