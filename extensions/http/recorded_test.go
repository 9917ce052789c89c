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

// Both paths of the client (the http:// wire and net/http for https://)
// send a recorded request alike: recorded method, path, repeated header
// values and body; the configured headers win over recorded ones of the
// same name; the recorded user agent replaces the default one.
func TestRecordedBothPaths(t *testing.T) {
	type seen struct{ method, uri, auth, agent, accept, conn, body string }
	handler := func(got chan<- seen) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got <- seen{r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("User-Agent"),
				strings.Join(r.Header.Values("Accept"), "|"), r.Header.Get("Connection"), string(b)}
		}
	}
	rec := &gonogo.Recorded{Method: "PATCH", Path: "/v1/x%2Fy?q=1", Body: []byte("payload"),
		Header: http.Header{"Authorization": {"Bearer recorded"}, "User-Agent": {"curl/8"}, "Accept": {"a", "b"}, "Connection": {"close"}}}
	want := seen{"PATCH", "/v1/x%2Fy?q=1", "Bearer mine", "curl/8", "a|b", "", "payload"}
	for _, tls := range []bool{false, true} {
		got := make(chan seen, 1)
		var srv *httptest.Server
		if tls {
			srv = httptest.NewTLSServer(handler(got))
		} else {
			srv = httptest.NewServer(handler(got))
		}
		c, err := New(extensions.Options{Target: srv.URL, Headers: map[string]string{"Authorization": "Bearer mine"}})
		if err != nil {
			t.Fatal(err)
		}
		if tls {
			c.rt.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
		}
		req := &gonogo.Request{Recorded: rec}
		res := &gonogo.Result{Request: req}
		c.Do(context.Background(), req, res)
		if res.Class != gonogo.ErrNone {
			t.Fatalf("tls %v: %s %s", tls, res.Class, res.Err)
		}
		if s := <-got; s != want {
			t.Errorf("tls %v: server saw %+v\nwant            %+v", tls, s, want)
		}
		srv.Close()
	}
}
