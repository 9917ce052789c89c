package httpproto

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// With KeepOutput the body lands in Result.Output whatever its framing,
// reusing the result's backing array; without it Output stays empty.
func TestKeepOutputFraming(t *testing.T) {
	for _, tc := range []struct {
		name, answer, want string
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "hello"},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n", "abc0123456789"},
		{"until close", "HTTP/1.1 200 OK\r\n\r\nto the end", "to the end"},
		{"error status", "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy", "busy"},
		{"no body", "HTTP/1.1 204 No Content\r\n\r\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, keep := range []bool{false, true} {
				url, _ := cannedServer(t, tc.answer, tc.answer)
				c, err := New(extensions.Options{Target: url, Timeout: 2 * time.Second, KeepOutput: keep})
				if err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 0, 64)
				res := &gonogo.Result{Request: &gonogo.Request{}, Sent: time.Now(), Output: append(buf, "stale"...)}
				if !keep {
					res.Output = nil
				}
				c.Do(context.Background(), res.Request, res)
				want := tc.want
				if !keep {
					want = ""
				}
				if string(res.Output) != want {
					t.Fatalf("keep=%v: Output = %q, want %q", keep, res.Output, want)
				}
				if keep && len(want) > 0 && &res.Output[0] != &buf[:1][0] {
					t.Error("Output did not reuse the result's backing array")
				}
			}
		})
	}
}

// Output is capped at MaxOutputBytes; BytesIn still counts the whole body.
func TestKeepOutputCap(t *testing.T) {
	big := bytes.Repeat([]byte("x"), extensions.MaxOutputBytes+1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
		w.Write(big)
	}))
	defer srv.Close()
	for _, path := range []string{"/", "/chunked"} {
		c, err := New(extensions.Options{Target: srv.URL, Path: path, KeepOutput: true})
		if err != nil {
			t.Fatal(err)
		}
		res := do(t, c, context.Background())
		if res.Class != gonogo.ErrNone || res.BytesIn != int64(len(big)) || len(res.Output) != extensions.MaxOutputBytes {
			t.Errorf("%s: class %q bytes %d output %d, want ok %d %d", path, res.Class, res.BytesIn, len(res.Output), len(big), extensions.MaxOutputBytes)
		}
	}
}

// The https path (net/http) keeps the body too.
func TestKeepOutputTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("secret body")) }))
	defer srv.Close()
	c, err := New(extensions.Options{Target: srv.URL, KeepOutput: true})
	if err != nil {
		t.Fatal(err)
	}
	c.rt.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	res := do(t, c, context.Background())
	if res.Class != gonogo.ErrNone || string(res.Output) != "secret body" {
		t.Fatalf("class %q (%s) output %q", res.Class, res.Err, res.Output)
	}
	if !strings.HasPrefix(srv.URL, "https://") || c.wire != nil {
		t.Fatal("not the net/http path")
	}
}
