package extensions

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gonogo-dev/gonogo"
)

// This file holds what every protocol client does with a recorded request
// (gonogo.Request.Recorded, from a request log or a HAR): check it, merge
// its headers with the client's, and build it over the client's template.

// CheckMethod reports whether m is a valid HTTP method: a non-empty token
// (RFC 9110).
func CheckMethod(m string) error {
	if m == "" {
		return fmt.Errorf("empty method")
	}
	for i := 0; i < len(m); i++ {
		if !isTokenChar(m[i]) {
			return fmt.Errorf("invalid method %q", m)
		}
	}
	return nil
}

// isTokenChar reports whether b may appear in an HTTP token (RFC 9110).
func isTokenChar(b byte) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

// CheckRecorded rejects a recorded request that cannot be sent as is: a
// method that is not an HTTP token, a path that does not start with / or
// holds spaces or line breaks, a header name that is not a token or a value
// with CR, LF or NUL. Clients record the error as the request's failure.
func CheckRecorded(rec *gonogo.Recorded) error {
	if err := CheckMethod(rec.Method); err != nil {
		return fmt.Errorf("recorded request: %v", err)
	}
	if !strings.HasPrefix(rec.Path, "/") || strings.ContainsAny(rec.Path, " \t\r\n") {
		return fmt.Errorf("recorded request: path %q must start with / and hold no spaces or line breaks", rec.Path)
	}
	for k, vs := range rec.Header {
		for _, v := range vs {
			if err := CheckHeader(k, v); err != nil {
				return fmt.Errorf("recorded request: %v", err)
			}
		}
		if len(vs) == 0 {
			if err := CheckHeader(k, ""); err != nil {
				return fmt.Errorf("recorded request: %v", err)
			}
		}
	}
	return nil
}

// CheckHeader reports whether a header can be sent as is: its name a
// token, its value free of CR, LF and NUL.
func CheckHeader(name, value string) error {
	if name == "" {
		return fmt.Errorf("empty header name")
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("invalid header name %q", name)
		}
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("header %s: value contains CR, LF or NUL", name)
	}
	return nil
}

// connectionHeaders describe the recorded connection, not the request:
// RecordedHeader drops them, and the transport sets its own.
var connectionHeaders = []string{
	"Connection", "Content-Length", "Host", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// RecordedHeader returns the headers a client sends with a recorded
// request: base (the client's own headers: content type, accept, user
// agent, and the configured Options.Headers) with rec's headers over it,
// name by name, repeated values kept — except the names in keep (the
// configured Options.Headers: credentials for this target), which win over
// the recorded ones. Connection headers (Host, Content-Length, Connection,
// Transfer-Encoding, …) of the recording are dropped. Names are
// canonicalized; base, keep and rec are not modified.
func RecordedHeader(base http.Header, rec *gonogo.Recorded, keep http.Header) http.Header {
	h := base.Clone()
	if h == nil {
		h = http.Header{}
	}
	names := make([]string, 0, len(rec.Header))
	for k := range rec.Header {
		names = append(names, k)
	}
	slices.Sort(names) // "x-a" and "X-A" merge in one order, every time
	replaced := map[string]bool{}
	for _, k := range names {
		ck := http.CanonicalHeaderKey(k)
		if slices.Contains(connectionHeaders, ck) {
			continue
		}
		if _, ok := keep[ck]; ok {
			continue
		}
		if !replaced[ck] {
			replaced[ck] = true
			delete(h, ck)
		}
		h[ck] = append(h[ck], rec.Header[k]...)
	}
	return h
}

// RecordedRequest checks rec (CheckRecorded) and returns the request a
// client sends for it: a copy of tmpl, the client's own request (scheme,
// host, headers), with rec's method, path and query, and the headers of
// RecordedHeader(tmpl.Header, rec, keep). It has no body: Send sets it from
// rec.Body. The http, openai and kserve clients all build recorded
// requests with it.
func RecordedRequest(tmpl *http.Request, rec *gonogo.Recorded, keep http.Header) (*http.Request, error) {
	if err := CheckRecorded(rec); err != nil {
		return nil, err
	}
	pu, err := url.ParseRequestURI(rec.Path)
	if err != nil {
		return nil, fmt.Errorf("recorded request: path %q: %v", rec.Path, err)
	}
	u := *tmpl.URL
	u.Path, u.RawPath, u.RawQuery = pu.Path, pu.RawPath, pu.RawQuery
	r := tmpl.Clone(context.Background())
	r.Method, r.URL, r.Header = rec.Method, &u, RecordedHeader(tmpl.Header, rec, keep)
	r.Body, r.ContentLength, r.GetBody = http.NoBody, 0, nil
	return r, nil
}
