package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
)

// verdictProvider reads a gonogo verdict document from a file or a URL.
type verdictProvider struct {
	name      string
	file      string
	url       string
	tokenFile string
	timeout   time.Duration
	maxAge    time.Duration
	client    *http.Client
}

var _ Provider = (*verdictProvider)(nil)

// newVerdict builds the provider of a checked VerdictSpec.
func newVerdict(name string, s VerdictSpec, client *http.Client) *verdictProvider {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return &verdictProvider{
		name: name, file: s.File, url: s.URL, tokenFile: s.TokenFile,
		timeout: timeout, maxAge: s.MaxAge, client: client,
	}
}

// Measure reads the document once: go passes, no-go fails, anything else
// is inconclusive.
func (p *verdictProvider) Measure(ctx context.Context) Measurement {
	m := Measurement{Name: p.name, Status: Inconclusive, Time: time.Now()}
	var (
		code  int // 0 for a file
		body  []byte
		token string
		err   error
	)
	if p.file != "" {
		body, err = readVerdictFile(p.file)
	} else {
		if p.tokenFile != "" {
			if token, err = readToken(p.tokenFile); err != nil {
				m.Detail = "verdict: " + err.Error()
				return m
			}
		}
		ctx, cancel := context.WithTimeout(ctx, p.timeout)
		defer cancel()
		code, body, err = fetch(ctx, p.client, p.url, token)
	}
	if err != nil {
		m.Detail = "verdict: " + clip(err.Error(), token)
		return m
	}
	m.Value, m.Status, m.Detail = judgeVerdict(code, body, m.Time, p.maxAge, token)
	return m
}

// readVerdictFile reads a regular file of at most MaxResponseBytes (a
// FIFO or device could block or never end).
func readVerdictFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return readLimited(path, MaxResponseBytes)
}

// judgeVerdict judges a verdict document: its score, the status its
// verdict maps to and a sentence. code is the HTTP status of a fetched
// document, 0 for a file; now and maxAge judge its age (maxAge 0: any).
func judgeVerdict(code int, body []byte, now time.Time, maxAge time.Duration, token string) (float64, Status, string) {
	fetched := code != 0
	ok := !fetched || code/100 == 2
	var v analyze.Verdict
	if err := json.Unmarshal(body, &v); err != nil {
		if !ok {
			return 0, Inconclusive, fmt.Sprintf("verdict URL answered HTTP %d", code)
		}
		return 0, Inconclusive, "verdict: malformed document: " + clip(err.Error(), token)
	}
	switch {
	case v.Schema == 0:
		return 0, Inconclusive, "verdict: document has no schema, want 1"
	case v.Schema != analyze.VerdictSchema:
		return 0, Inconclusive, fmt.Sprintf("verdict: schema %d, want %d", v.Schema, analyze.VerdictSchema)
	case maxAge > 0 && v.Created.IsZero():
		return 0, Inconclusive, fmt.Sprintf("verdict: no creation time, maxAge %s", maxAge)
	case maxAge > 0 && now.Sub(v.Created) > maxAge:
		return 0, Inconclusive, fmt.Sprintf("verdict: created %s ago, maxAge %s", now.Sub(v.Created).Round(time.Second), maxAge)
	}
	detail := describeVerdict(&v, token)
	switch v.Verdict {
	case analyze.Go:
		if !ok {
			return 0, Inconclusive, fmt.Sprintf("verdict URL answered HTTP %d with %s", code, detail)
		}
		return v.Score, Pass, detail
	case analyze.NoGo:
		return v.Score, Fail, detail
	case analyze.Inconclusive:
		return v.Score, Inconclusive, detail
	default:
		return 0, Inconclusive, fmt.Sprintf("verdict: unknown verdict %q, want go, no-go or inconclusive", clip(string(v.Verdict), token))
	}
}

// describeVerdict says "no-go (score 40, run r1): p99 rose 38 %".
func describeVerdict(v *analyze.Verdict, token string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (score %s", v.Verdict, formatValue(v.Score))
	if v.Run != "" {
		fmt.Fprintf(&b, ", run %s", v.Run)
	}
	b.WriteString(")")
	if len(v.Reasons) > 0 {
		b.WriteString(": " + v.Reasons[0])
	}
	return clip(b.String(), token)
}
