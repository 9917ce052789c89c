package kservegrpc

import (
	"context"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// BenchmarkDo measures the client's cost per ModelInfer call against a
// loopback server answering a fixed valid response (the server's own cost
// included); run with -benchmem to see allocs.
func BenchmarkDo(b *testing.B) {
	body := fixedResponse(b)
	addr := rawServer(b, func(context.Context, string, []byte) ([]byte, error) { return body, nil })
	c, err := New(extensions.Options{Target: addr, Model: "m"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
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
