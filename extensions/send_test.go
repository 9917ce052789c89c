package extensions

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// rtFunc adapts a function to http.RoundTripper.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestSend(t *testing.T) {
	u, _ := url.Parse("http://h/x")
	tmpl := &http.Request{Method: http.MethodPost, URL: u, Header: http.Header{}}
	tests := []struct {
		name      string
		body      string
		timeout   time.Duration
		rt        rtFunc
		wantResp  bool
		wantClass gonogo.ErrorClass
	}{
		{name: "body sent", body: "hello", timeout: time.Second, wantResp: true,
			rt: func(r *http.Request) (*http.Response, error) {
				b, _ := io.ReadAll(r.Body)
				again, _ := r.GetBody()
				b2, _ := io.ReadAll(again)
				if string(b) != "hello" || string(b2) != "hello" || r.ContentLength != 5 {
					t.Errorf("sent %q, GetBody %q, ContentLength %d", b, b2, r.ContentLength)
				}
				if _, ok := r.Context().Deadline(); !ok {
					t.Error("request has no deadline")
				}
				return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
			}},
		{name: "refused", timeout: time.Second, wantClass: gonogo.ErrConnect,
			rt: func(*http.Request) (*http.Response, error) { return nil, syscall.ECONNREFUSED }},
		{name: "deadline", timeout: time.Millisecond, wantClass: gonogo.ErrTimeout,
			rt: func(r *http.Request) (*http.Response, error) {
				<-r.Context().Done()
				return nil, errors.New("gave up")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &gonogo.Result{Sent: time.Now()}
			resp, rctx, done := Send(context.Background(), tt.rt, tmpl, []byte(tt.body), tt.timeout, res)
			done()
			if rctx.Err() == nil {
				t.Error("done did not release the per-request context")
			}
			if got := resp != nil; got != tt.wantResp {
				t.Fatalf("resp = %v, want one: %v", resp, tt.wantResp)
			}
			if !tt.wantResp && (res.Class != tt.wantClass || res.Done.IsZero()) {
				t.Errorf("class %q err %q done %v; want %q and Done set", res.Class, res.Err, res.Done, tt.wantClass)
			}
			if tmpl.Body != nil || tmpl.GetBody != nil {
				t.Error("Send modified the template")
			}
		})
	}
}
