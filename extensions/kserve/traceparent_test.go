package kserve

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// With Options.Trace every request carries the traceparent recorded in
// its Result; without, none does.
func TestTraceparent(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Values("Traceparent")...)
		mu.Unlock()
		w.Write([]byte(`{"model_name":"m","outputs":[{"name":"output","shape":[1],"datatype":"FP32","data":[1]}]}`))
	}))
	defer srv.Close()
	tr, err := extensions.NewTracer(1, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, trace := range []*extensions.Tracer{nil, tr} {
		got = got[:0]
		c, err := New(extensions.Options{Target: srv.URL, Model: "m", Trace: trace, Headers: map[string]string{"Traceparent": "configured"}})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for range 3 {
			req := &gonogo.Request{Intended: time.Now()}
			res := gonogo.Result{Request: req, Sent: time.Now()}
			c.Do(context.Background(), req, &res)
			if res.Class != gonogo.ErrNone {
				t.Fatalf("request failed: %s", res.Err)
			}
			if trace != nil {
				want = append(want, string(extensions.AppendTraceparent(nil, &res)))
			} else {
				want = append(want, "configured")
			}
		}
		mu.Lock()
		if len(got) != len(want) {
			t.Fatalf("trace %v: server saw %q, want %q", trace != nil, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("trace %v: request %d carried %q, want %q", trace != nil, i, got[i], want[i])
			}
		}
		mu.Unlock()
	}
}
