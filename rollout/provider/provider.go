// Package provider holds the external analysis sources a rollout step may
// consult besides gonogo's own gates: an instant PromQL query against the
// user's Prometheus, judged by a condition such as "< 0.05", and a gonogo
// verdict document (verdict.json) read from a file or fetched from a URL.
//
// A Provider never fails: an unreachable Prometheus, an empty result, a
// missing or unreadable verdict are each an inconclusive Measurement whose
// Detail says why. No data is never a pass. Only New returns an error, for
// a Spec that cannot work.
//
// Endpoints must be loopback addresses unless the Spec says AllowRemote;
// the rule is enforced when connecting, so a name that resolves elsewhere
// is refused too, and redirects are not followed. A bearer token is read
// from a file and never appears in a Detail.
package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// Status of one measurement.
type Status string

// Statuses of a Measurement.
const (
	// Pass: the value meets the condition, or the verdict is go.
	Pass Status = "pass"
	// Fail: the value fails the condition, or the verdict is no-go.
	Fail Status = "fail"
	// Inconclusive: no usable value (no data, NaN, several series,
	// unreachable, malformed, stale) or an inconclusive verdict.
	Inconclusive Status = "inconclusive"
)

// Limits and defaults.
const (
	// DefaultTimeout bounds one measurement when the Spec gives none.
	DefaultTimeout = 5 * time.Second
	// MaxTimeout is the largest timeout a Spec may give.
	MaxTimeout = 5 * time.Minute
	// MaxResponseBytes bounds a Prometheus response, a fetched verdict and
	// a verdict file; a larger one is inconclusive.
	MaxResponseBytes = 1 << 20
	// maxDetail bounds the text a remote server puts into a Detail.
	maxDetail = 240
)

// Measurement is one reading of a Provider.
type Measurement struct {
	// Name is the Spec's name.
	Name string `json:"name"`
	// Value is the query's value, or the verdict's score (0..100); 0 when
	// there is none (Detail says why). It is never NaN, but a query may
	// yield ±Inf, which JSON writes as the strings "+Inf" and "-Inf".
	Value float64 `json:"value"`
	// Status is pass, fail or inconclusive.
	Status Status `json:"status"`
	// Detail says in a sentence what was found.
	Detail string `json:"detail,omitempty"`
	// Time is when the measurement started, on the local clock.
	Time time.Time `json:"time"`
}

// Provider takes a measurement. Measure never returns an error: a failure
// to measure is an inconclusive Measurement, and it returns by the Spec's
// timeout or when ctx ends, whichever is first.
type Provider interface {
	Measure(ctx context.Context) Measurement
}

// Spec is one external analysis source, as written in a rollout file.
// Exactly one of Prometheus and Verdict is set.
type Spec struct {
	// Name names the measurement.
	Name string `yaml:"name"`
	// Prometheus is a PromQL query and its condition.
	Prometheus *PromSpec `yaml:"prometheus"`
	// Verdict is a gonogo verdict document: go passes, no-go fails.
	Verdict *VerdictSpec `yaml:"verdict"`
	// Critical asks the controller to roll back at once when this
	// source fails (the controller acts on it; Measure does not).
	Critical bool `yaml:"critical"`
	// AllowRemote lets the Prometheus address or the verdict URL be
	// a non-loopback host.
	AllowRemote bool `yaml:"allowRemote"`
}

// PromSpec is an instant PromQL query whose one sample is judged by
// Condition.
type PromSpec struct {
	// Address is Prometheus's base URL, e.g. http://127.0.0.1:9090 (a path
	// prefix is kept: /api/v1/query is appended).
	Address string `yaml:"address"`
	// Query must yield one sample: a vector of one series or a scalar.
	Query string `yaml:"query"`
	// Condition is an operator and a number: "< 0.05", ">= 0.99",
	// "== 0"; the operators are <, <=, >, >=, == and !=.
	Condition string `yaml:"condition"`
	// Timeout bounds the query (DefaultTimeout when zero); it is also
	// sent to Prometheus so that it stops evaluating.
	Timeout time.Duration `yaml:"timeout"`
	// TokenFile holds a bearer token sent to Prometheus; it is read at
	// New and again at every Measure, so that a rotated token is used.
	TokenFile string `yaml:"tokenFile"`
}

// VerdictSpec is a gonogo verdict document (DESIGN.md's verdict.json):
// go passes, no-go fails, inconclusive is inconclusive. A document that
// cannot be read, does not parse, has another schema or an unknown verdict
// is inconclusive, so is one older than MaxAge.
type VerdictSpec struct {
	// File is a path to verdict.json. Exactly one of File and URL is set.
	File string `yaml:"file"`
	// URL serves the document (GET). Its body decides, whatever the HTTP
	// status, except that a non-2xx answer saying go is inconclusive.
	URL string `yaml:"url"`
	// Timeout bounds reading the document (DefaultTimeout when zero).
	Timeout time.Duration `yaml:"timeout"`
	// TokenFile holds a bearer token sent with URL, read like
	// PromSpec.TokenFile.
	TokenFile string `yaml:"tokenFile"`
	// MaxAge, when set, makes a verdict created longer ago (or without
	// a creation time) inconclusive.
	MaxAge time.Duration `yaml:"maxAge"`
}

// Check reports what is wrong with s: the field's path within the block
// and a message; "" when nothing is.
func (s *Spec) Check() (field, msg string) {
	switch {
	case strings.TrimSpace(s.Name) == "":
		return "name", "required"
	case s.Prometheus == nil && s.Verdict == nil:
		return "prometheus", "want one of prometheus or verdict"
	case s.Prometheus != nil && s.Verdict != nil:
		return "verdict", "want one of prometheus or verdict, not both"
	case s.Prometheus != nil:
		f, m := s.Prometheus.check(s.AllowRemote)
		return prefix("prometheus", f), m
	default:
		f, m := s.Verdict.check(s.AllowRemote)
		return prefix("verdict", f), m
	}
}

func (p *PromSpec) check(allowRemote bool) (field, msg string) {
	if msg := checkURL(p.Address, allowRemote); msg != "" {
		return "address", msg
	}
	if strings.TrimSpace(p.Query) == "" {
		return "query", "required"
	}
	if p.Condition == "" {
		return "condition", `required, e.g. "< 0.05"`
	}
	if _, err := parseCondition(p.Condition); err != nil {
		return "condition", err.Error()
	}
	if msg := checkTimeout(p.Timeout); msg != "" {
		return "timeout", msg
	}
	return "", ""
}

func (v *VerdictSpec) check(allowRemote bool) (field, msg string) {
	switch {
	case v.File == "" && v.URL == "":
		return "file", "want one of file or url"
	case v.File != "" && v.URL != "":
		return "url", "want one of file or url, not both"
	case v.URL != "":
		if msg := checkURL(v.URL, allowRemote); msg != "" {
			return "url", msg
		}
	case v.TokenFile != "":
		return "tokenFile", "only with url"
	}
	if msg := checkTimeout(v.Timeout); msg != "" {
		return "timeout", msg
	}
	if v.MaxAge < 0 {
		return "maxAge", "must not be negative"
	}
	return "", ""
}

func prefix(block, field string) string {
	if field == "" {
		return block
	}
	return block + "." + field
}

// checkURL says what is wrong with an endpoint's URL; "" when nothing is.
func checkURL(raw string, allowRemote bool) string {
	if raw == "" {
		return "required"
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "want an http:// or https:// URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "want an http:// or https:// URL"
	case u.Host == "" || u.Hostname() == "":
		return "want a host"
	case u.User != nil:
		return "credentials do not belong in the URL: use tokenFile"
	case u.RawQuery != "" || u.Fragment != "":
		return "want no query or fragment"
	case !allowRemote && !loopbackHost(u.Hostname()):
		return fmt.Sprintf("host %q is not loopback (set allowRemote: true to allow it)", u.Hostname())
	}
	return ""
}

func checkTimeout(d time.Duration) string {
	if d < 0 || d > MaxTimeout {
		return fmt.Sprintf("want 0 (default %s) up to %s", DefaultTimeout, MaxTimeout)
	}
	return ""
}

// loopbackHost reports whether host is "localhost" or a loopback IP.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// New checks s and returns its Provider. Its error, for a bad Spec or a
// token file that cannot be read, matches input.ErrInput and names the
// field.
func New(s Spec) (Provider, error) {
	if field, msg := s.Check(); msg != "" {
		return nil, &input.Error{Field: field, Msg: msg}
	}
	client := newClient(s.AllowRemote)
	if p := s.Prometheus; p != nil {
		if p.TokenFile != "" {
			if _, err := readToken(p.TokenFile); err != nil {
				return nil, &input.Error{Field: "prometheus.tokenFile", Msg: err.Error()}
			}
		}
		return newProm(s.Name, *p, client), nil
	}
	v := s.Verdict
	if v.TokenFile != "" {
		if _, err := readToken(v.TokenFile); err != nil {
			return nil, &input.Error{Field: "verdict.tokenFile", Msg: err.Error()}
		}
	}
	return newVerdict(s.Name, *v, client), nil
}

// newClient returns the HTTP client of one provider: no redirects, no
// proxy for loopback-only, and a dialer that refuses any address but a
// loopback one unless allowRemote.
func newClient(allowRemote bool) *http.Client {
	dialer := &net.Dialer{Timeout: MaxTimeout}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	if !allowRemote {
		tr.Proxy = nil
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("refusing non-loopback address %s (allowRemote is off)", host)
			}
			return nil
		}
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// readToken reads a bearer token file: surrounding white space is dropped;
// an empty token or one with control characters is an error. The error
// never holds the token.
func readToken(path string) (string, error) {
	b, err := readLimited(path, 64<<10)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	for _, r := range tok {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("token file %s holds a control character", path)
		}
	}
	return tok, nil
}

// readLimited reads at most limit bytes of a file; a longer file is an
// error.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAtMost(f, limit, path)
}

// MarshalJSON writes an infinite Value as "+Inf" or "-Inf" (as Prometheus
// does), which JSON numbers cannot hold.
func (m Measurement) MarshalJSON() ([]byte, error) {
	type plain Measurement
	if !math.IsInf(m.Value, 0) {
		return json.Marshal(plain(m))
	}
	v := "+Inf"
	if m.Value < 0 {
		v = "-Inf"
	}
	return json.Marshal(struct {
		plain
		Value string `json:"value"`
	}{plain(m), v})
}
