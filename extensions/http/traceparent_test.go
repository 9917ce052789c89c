package httpproto

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// With Options.Trace both paths (wire, net/http) send exactly one
// traceparent, the one recorded in the Result, in place of a configured
// one and of a recorded request's own (and its tracestate); the rest of
// the request is unchanged.
func TestTraceparentBothPaths(t *testing.T) {
	type seen struct{ traceparent, tracestate, auth, body string }
	got := make(chan seen, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{strings.Join(r.Header.Values("Traceparent"), "|"), r.Header.Get("Tracestate"), r.Header.Get("Authorization"), string(b)}
	})
	rec := &gonogo.Recorded{Method: "POST", Path: "/r", Body: []byte("recorded"),
		Header: http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, "Tracestate": {"v=1"}}}
	tr, err := extensions.NewTracer(0.5, 9)
	if err != nil {
		t.Fatal(err)
	}
	for _, tls := range []bool{false, true} {
		var srv *httptest.Server
		if tls {
			srv = httptest.NewTLSServer(handler)
		} else {
			srv = httptest.NewServer(handler)
		}
		c, err := New(extensions.Options{Target: srv.URL, Method: "POST", Body: []byte("generated"), Trace: tr,
			Headers: map[string]string{"Authorization": "Bearer mine", "Traceparent": "configured"}})
		if err != nil {
			t.Fatal(err)
		}
		if tls {
			c.rt.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
		}
		for _, r := range []*gonogo.Recorded{nil, rec, nil} {
			req := &gonogo.Request{Recorded: r}
			res := &gonogo.Result{Request: req}
			c.Do(context.Background(), req, res)
			if res.Class != gonogo.ErrNone {
				t.Fatalf("tls %v: %s %s", tls, res.Class, res.Err)
			}
			want := seen{string(extensions.AppendTraceparent(nil, res)), "", "Bearer mine", "generated"}
			if r != nil {
				want.body = "recorded"
			}
			if s := <-got; s != want {
				t.Errorf("tls %v, recorded %v: server saw %+v\nwant %+v", tls, r != nil, s, want)
			}
		}
		srv.Close()
	}
}
