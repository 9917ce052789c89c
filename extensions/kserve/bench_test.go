package kserve

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// BenchmarkDo measures the client's cost per inference request against a
// loopback server answering a fixed valid response; run with -benchmem to
// see allocs.
func BenchmarkDo(b *testing.B) {
	body := []byte(`{"model_name":"m","outputs":[{"name":"output","shape":[1,4],"datatype":"FP32","data":[0.5,-1,2.25,3]}]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	c, err := New(extensions.Options{Target: srv.URL, Model: "m"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	req := &gonogo.Request{}
	res := &gonogo.Result{}
	for i := 0; b.Loop(); i++ {
		req.ID = uint64(i)
		*res = gonogo.Result{Request: req, Sent: time.Now()}
		c.Do(context.Background(), req, res)
		if res.Class != gonogo.ErrNone {
			b.Fatalf("class %q err %q", res.Class, res.Err)
		}
	}
}
