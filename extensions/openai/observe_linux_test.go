package openai

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// The wire does not show an interim (1xx) response's headers.
func TestWireObservedSkipsInterim(t *testing.T) {
	body := "data: " + text("a") + "\n\ndata: [DONE]\n\n"
	url := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if readRequest(br) != nil {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n"+
			"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Served-By:  gpu-3 \r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	})
	c, err := New(extensions.Options{Target: url})
	if err != nil {
		t.Fatal(err)
	}
	var obs recorder
	req := &gonogo.Request{ID: 1}
	res := &gonogo.Result{Request: req, Sent: time.Now()}
	c.DoObserved(context.Background(), req, res, &obs)
	if res.Failed() {
		t.Fatalf("%s: %s", res.Class, res.Err)
	}
	if _, ok := obs.headers["link"]; ok || len(obs.headers["x-served-by"]) != 1 || obs.headers["x-served-by"][0] != "gpu-3" {
		t.Errorf("headers shown %v: want X-Served-By trimmed, no Link", obs.headers)
	}
	if len(obs.events) != 2 {
		t.Errorf("events %q", obs.events)
	}
}
