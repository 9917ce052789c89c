package httpproto

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// BenchmarkHTTPClient measures the client's cost per request against a
// loopback server answering a small body; run with -benchmem to see allocs.
func BenchmarkHTTPClient(b *testing.B) {
	body := []byte(`{"ok":true}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) }))
	defer srv.Close()
	trace, err := extensions.NewTracer(0.1, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		o    extensions.Options
	}{
		{"GET", extensions.Options{Target: srv.URL}},
		{"POST", extensions.Options{Target: srv.URL, Method: "POST", Body: []byte(`{"inputs":[1,2,3]}`), Headers: map[string]string{"Content-Type": "application/json"}}},
		{"GET traceparent", extensions.Options{Target: srv.URL, Trace: trace}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := New(bc.o)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := &gonogo.Request{}
				var res gonogo.Result
				for pb.Next() {
					res = gonogo.Result{Request: req, Sent: time.Now()}
					c.Do(ctx, req, &res)
					if res.Class != gonogo.ErrNone {
						b.Fatalf("request failed: %s", res.Err)
					}
				}
			})
		})
	}
}
