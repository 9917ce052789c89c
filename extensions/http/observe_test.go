package httpproto

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// headers is an Observer that keeps the headers it is shown.
type headers map[string][]string

func (h headers) Header(name, value []byte) {
	k := strings.ToLower(string(name))
	h[k] = append(h[k], string(value))
}
func (headers) Event([]byte)    {}
func (headers) Document([]byte) {}

var _ extensions.Observer = headers(nil)

// readResponse shows the final response's headers, not an interim one's.
func TestReadResponseObserved(t *testing.T) {
	raw := "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Multi: a\r\nx-multi:  b \r\nContent-Length: 2\r\n\r\n{}"
	h := headers{}
	status, n, _, err := readResponse(bufio.NewReader(strings.NewReader(raw)), false, nil, h)
	if err != nil || status != 200 || n != 2 {
		t.Fatalf("status %d, %d bytes, %v", status, n, err)
	}
	if _, ok := h["x-interim"]; ok || strings.Join(h["x-multi"], ",") != "a,b" || h["content-type"][0] != "application/json" {
		t.Errorf("headers shown %v", h)
	}
}

// Both paths, the wire (http://) and net/http (https://), show the
// headers; Do shows nothing and works as before.
func TestDoObservedHeaders(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Model-Version", "v2")
		w.Write([]byte("ok"))
	})
	for _, tls := range []bool{false, true} {
		srv := httptest.NewServer(handler)
		if tls {
			srv = httptest.NewTLSServer(handler)
		}
		c, err := New(extensions.Options{Target: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		if tls {
			c.rt.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
		}
		if c.Shows() != extensions.ShowsHeaders {
			t.Errorf("Shows %b", c.Shows())
		}
		if res := do(t, c, context.Background()); res.Failed() {
			t.Fatalf("Do: %s %s", res.Class, res.Err)
		}
		h := headers{}
		res := &gonogo.Result{Request: &gonogo.Request{}, Sent: time.Now()}
		c.DoObserved(context.Background(), res.Request, res, h)
		if res.Failed() || res.Status != 200 || res.BytesIn != 2 {
			t.Errorf("tls %v: %s %s, status %d", tls, res.Class, res.Err, res.Status)
		}
		if got := h["x-model-version"]; len(got) != 1 || got[0] != "v2" {
			t.Errorf("tls %v: headers shown %v", tls, h)
		}
		srv.Close()
	}
}
