package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo/chaos"
)

// Request is an action: one HTTP request, such as the simulated server's
// PUT /admin/knobs that slows its "GPU" down. Revert, when given, is the
// request that undoes it when the activity's duration is over (its
// method and URL default to the action's); it is written to the ledger,
// so that a guard can send it when the run is killed.
type Request struct {
	Method string `yaml:"method" json:"method"`
	URL    string `yaml:"url" json:"url"`
	Body   string `yaml:"body" json:"body,omitempty"`
	// ContentType of Body (default application/json).
	ContentType string `yaml:"contentType" json:"contentType,omitempty"`
	// Revert undoes the action.
	Revert *Request `yaml:"revert" json:"revert,omitempty"`
}

// requestTimeout bounds one action request.
const requestTimeout = 10 * time.Second

// UndoRequest is the undo kind of an action with a revert request.
const UndoRequest = "request"

func init() {
	chaos.RegisterUndo(UndoRequest, func(ctx context.Context, data json.RawMessage) error {
		var r Request
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("experiment: undo request: %w", err)
		}
		return r.send(ctx)
	})
}

func (r *Request) check() (field, msg string) {
	if r.Method == "" {
		r.Method = http.MethodPost
	}
	if r.Method != strings.ToUpper(r.Method) {
		return "method", fmt.Sprintf("%q is not an HTTP method (GET, PUT, POST)", r.Method)
	}
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "url", fmt.Sprintf("%q: want http://host:port/path", r.URL)
	}
	if r.Revert != nil {
		if r.Revert.Revert != nil {
			return "revert.revert", "a revert is not reverted"
		}
		if r.Revert.Method == "" {
			r.Revert.Method = r.Method
		}
		if r.Revert.URL == "" {
			r.Revert.URL = r.URL
		}
		if field, msg := r.Revert.check(); msg != "" {
			return "revert." + field, msg
		}
	}
	return "", ""
}

// send sends the request; a status of 400 or more is an error.
func (r *Request) send(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, bytes.NewReader([]byte(r.Body)))
	if err != nil {
		return err
	}
	if r.Body != "" {
		ct := r.ContentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.Method, r.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode >= 400 {
		return fmt.Errorf("%s %s answered %d: %s", r.Method, r.URL, res.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

// requestInjector runs request actions.
type requestInjector struct{}

var _ chaos.Injector = requestInjector{}

func (requestInjector) Prepare(_ context.Context, f *chaos.Fault) (chaos.Undo, error) {
	r := f.Spec.(*Request)
	if r.Revert == nil {
		return chaos.Undo{Kind: chaos.UndoNone}, nil
	}
	return chaos.NewUndo(UndoRequest, r.Revert)
}

func (requestInjector) Apply(ctx context.Context, f *chaos.Fault) (chaos.Revert, error) {
	r := f.Spec.(*Request)
	if err := r.send(ctx); err != nil {
		return nil, err
	}
	if r.Revert == nil {
		return func(context.Context) error { return nil }, nil
	}
	return r.Revert.send, nil
}
