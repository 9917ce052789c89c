package outputs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults of Config and Sender.
const (
	// DefaultInterval is how often a Driver pushes a snapshot (k6's
	// remote-write output pushes every 5 s too).
	DefaultInterval = 5 * time.Second
	// DefaultTimeout bounds one HTTP request of an output.
	DefaultTimeout = 10 * time.Second
	// DefaultAttempts bounds the tries of one push: the first and the
	// retries.
	DefaultAttempts = 3
	// DefaultBackoff is the wait before the first retry; it doubles at
	// each retry up to MaxBackoff.
	DefaultBackoff = 250 * time.Millisecond
	// MaxBackoff bounds one wait between tries, a server's Retry-After
	// included.
	MaxBackoff = 5 * time.Second
	// maxTokenBytes bounds a token file.
	maxTokenBytes = 16 << 10
	// maxErrorBody is how much of an error response an error quotes.
	maxErrorBody = 512
)

// Config configures one output.
type Config struct {
	// URL is where the output sends. URLFlag names it in errors (the flag
	// that set it, "--out-remote-write"); "" says "URL".
	URL, URLFlag string
	// TokenFile, when set, holds a bearer token sent in the Authorization
	// header. The token is never logged or written. TokenFlag names the
	// file in errors; "" says "token file".
	TokenFile, TokenFlag string
	// Client sends the requests; nil means a client with DefaultTimeout.
	Client *http.Client
}

// HTTPClient is Client, or a client with DefaultTimeout.
func (c Config) HTTPClient() *http.Client {
	if c.Client != nil {
		return c.Client
	}
	return &http.Client{Timeout: DefaultTimeout}
}

// Endpoint is where an HTTP output posts: the URL, the URL as messages
// show it (without a password), and the Sender of the output's headers.
type Endpoint struct {
	URL, Shown string
	*Sender
}

// Endpoint checks the URL (ParseURL) and the token file (Token) and
// returns the endpoint: the URL, with its path changed by path when path
// is not nil, and a Sender of header plus User-Agent and, with a token, a
// bearer Authorization. Its errors wrap ErrInput.
func (c Config) Endpoint(header http.Header, path func(string) string) (*Endpoint, error) {
	u, err := c.ParseURL()
	if err != nil {
		return nil, err
	}
	tok, err := c.Token()
	if err != nil {
		return nil, err
	}
	if path != nil {
		u.Path = path(u.Path)
	}
	h := header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("User-Agent", "gonogo")
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	return &Endpoint{URL: u.String(), Shown: u.Redacted(), Sender: &Sender{Client: c.HTTPClient(), Header: h}}, nil
}

// ParseURL checks the URL: absolute http or https with a host. Its error
// names URLFlag and wraps ErrInput.
func (c Config) ParseURL() (*url.URL, error) {
	name := c.URLFlag
	if name == "" {
		name = "URL"
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL itself may hold a password
		}
		return nil, fmt.Errorf("%w: %s: not a URL: %v", ErrInput, name, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %s %q: want an http:// or https:// URL with a host", ErrInput, name, u.Redacted())
	}
	return u, nil
}

// Token reads the bearer token of TokenFile: "" without one. Surrounding
// white space is trimmed; an empty token, or one with a control character
// (it could not travel in a header), is bad input. The error names
// TokenFlag and the file, never the token.
func (c Config) Token() (string, error) {
	if c.TokenFile == "" {
		return "", nil
	}
	name := c.TokenFlag
	if name == "" {
		name = "token file"
	}
	f, err := os.Open(c.TokenFile)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrInput, name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenBytes+1))
	if err != nil {
		return "", fmt.Errorf("%w: %s: %s: %v", ErrInput, name, c.TokenFile, err)
	}
	if len(b) > maxTokenBytes {
		return "", fmt.Errorf("%w: %s: %s: over %d bytes: not a token", ErrInput, name, c.TokenFile, maxTokenBytes)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%w: %s: %s is empty", ErrInput, name, c.TokenFile)
	}
	if strings.ContainsFunc(tok, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", fmt.Errorf("%w: %s: %s: the token holds a control character (one token on one line, please)", ErrInput, name, c.TokenFile)
	}
	return tok, nil
}

// StatusError is a push the receiver answered with a status other than
// 2xx.
type StatusError struct {
	Code int
	// Body is the start of the answer, for the error message.
	Body string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("HTTP %d", e.Code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body)
}

// Sender posts a body with bounded retries: at most Attempts tries, each
// bounded by the client's timeout, and never past the context's deadline.
// It retries network errors and the statuses Retryable accepts, waiting
// Backoff before the first retry and twice as long before each next one
// (or the server's Retry-After, in seconds), at most MaxBackoff.
type Sender struct {
	// Client sends the requests.
	Client *http.Client
	// Header is sent with every request (content type, encoding, auth).
	Header http.Header
	// Attempts bounds the tries; 0 means DefaultAttempts.
	Attempts int
	// Backoff is the first wait; 0 means DefaultBackoff.
	Backoff time.Duration
	// Retryable says which statuses are worth another try; nil retries
	// 429 and every 5xx (the remote-write rule).
	Retryable func(code int) bool
	// Check, when set, reads a 2xx answer's body and may turn it into an
	// error (which is not retried): an OTLP partial success.
	Check func(resp *http.Response, body []byte) error
}

// Post sends body to u. Its error says how many tries were made; it never
// quotes the request's headers.
func (s *Sender) Post(ctx context.Context, u string, body []byte) error {
	attempts := s.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	wait := s.Backoff
	if wait <= 0 {
		wait = DefaultBackoff
	}
	retryable := s.Retryable
	if retryable == nil {
		retryable = func(code int) bool { return code == http.StatusTooManyRequests || code >= 500 }
	}
	var last error
	for try := 1; ; try++ {
		again, after, err := s.once(ctx, u, body, retryable)
		if err == nil {
			return nil
		}
		last = err
		if !again {
			if try == 1 {
				return last
			}
			return fmt.Errorf("%w (try %d)", last, try)
		}
		if try == attempts {
			return fmt.Errorf("%w (after %d tries)", last, try)
		}
		if after <= 0 {
			after = wait
			wait = min(2*wait, MaxBackoff)
		}
		after = min(after, MaxBackoff)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < after {
			return fmt.Errorf("%w (try %d; no time left to retry)", last, try)
		}
		t := time.NewTimer(after)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (try %d; %v)", last, try, ctx.Err())
		case <-t.C:
		}
	}
}

// once makes one try; again says whether another may succeed, after how
// long the server asked to wait (0: not said).
func (s *Sender) once(ctx context.Context, u string, body []byte, retryable func(int) bool) (again bool, after time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return false, 0, err
	}
	req.Header = s.Header.Clone()
	resp, err := s.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return false, 0, ctx.Err()
		}
		return true, 0, redactErr(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // reuse the connection
	if resp.StatusCode/100 == 2 {
		if s.Check != nil {
			return false, 0, s.Check(resp, rb)
		}
		return false, 0, nil
	}
	se := &StatusError{Code: resp.StatusCode, Body: quote(rb)}
	if !retryable(resp.StatusCode) {
		return false, 0, se
	}
	if ra, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && ra >= 0 {
		after = time.Duration(ra) * time.Second
	}
	return true, after, se
}

// quote cuts a response body for an error message: its first line, at
// most maxErrorBody bytes of printable text.
func quote(b []byte) string {
	s := string(b)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > maxErrorBody {
		s = s[:maxErrorBody] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return -1
		}
		return r
	}, s)
}

// redactErr keeps a URL's password out of a client error.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			return &url.Error{Op: ue.Op, URL: u.Redacted(), Err: ue.Err}
		}
	}
	return err
}
