package openai

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// recorder is an Observer that keeps what it is shown.
type recorder struct {
	mu      sync.Mutex
	headers map[string][]string
	events  []string
	docs    []string
}

func (r *recorder) Header(name, value []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.headers == nil {
		r.headers = map[string][]string{}
	}
	k := strings.ToLower(string(name))
	r.headers[k] = append(r.headers[k], string(value))
}

func (r *recorder) Event(data []byte) {
	r.mu.Lock()
	r.events = append(r.events, string(data))
	r.mu.Unlock()
}

func (r *recorder) Document(body []byte) {
	r.mu.Lock()
	r.docs = append(r.docs, string(body))
	r.mu.Unlock()
}

var _ extensions.Observer = (*recorder)(nil)

// Both transports show an observer the final response's headers, every
// event read as JSON and [DONE], or a JSON answer whole; never an error
// answer's body nor an event that is not JSON.
func TestDoObserved(t *testing.T) {
	body := `{"choices":[{"text":"a"}],"usage":{"completion_tokens":1}}`
	tests := []struct {
		name, ctype string
		steps       []step
		events      []string
		docs        []string
		class       gonogo.ErrorClass
	}{
		{name: "stream", steps: seq(data(text("a")), data(text("b")), data(usageChunk(2)), done(), data(text("after"))),
			events: []string{text("a"), text("b"), usageChunk(2), "[DONE]"}},
		{name: "json", ctype: "application/json", steps: seq(step{raw: body}), docs: []string{body}},
		{name: "500", steps: status(500, `{"error":{"message":"engine dead"}}`), class: gonogo.ErrHTTP5xx},
		{name: "not JSON", steps: seq(data(text("a")), data("{nope"), done()), events: []string{text("a")}, class: gonogo.ErrProtocol},
	}
	for _, wire := range []bool{true, false} {
		for _, tt := range tests {
			t.Run(tt.name+map[bool]string{true: " wire", false: " net/http"}[wire], func(t *testing.T) {
				if wire && !haveWire {
					t.Skip("no wire on this system")
				}
				ctype := tt.ctype
				if ctype == "" {
					ctype = "text/event-stream"
				}
				c, err := New(extensions.Options{Target: newFake(t, ctype, tt.steps).URL})
				if err != nil {
					t.Fatal(err)
				}
				if !wire {
					c.wire = nil
				}
				var obs recorder
				req := &gonogo.Request{ID: 1}
				res := &gonogo.Result{Request: req, Sent: time.Now()}
				c.DoObserved(context.Background(), req, res, &obs)
				if res.Class != tt.class {
					t.Fatalf("class %q (%s), want %q", res.Class, res.Err, tt.class)
				}
				wantType := ctype
				if tt.class == gonogo.ErrHTTP5xx {
					wantType = "application/json"
				}
				if got := obs.headers["content-type"]; len(got) != 1 || got[0] != wantType {
					t.Errorf("Content-Type shown %q, want %q (headers %v)", got, wantType, obs.headers)
				}
				if strings.Join(obs.events, "|") != strings.Join(tt.events, "|") || strings.Join(obs.docs, "|") != strings.Join(tt.docs, "|") {
					t.Errorf("events %q docs %q, want %q and %q", obs.events, obs.docs, tt.events, tt.docs)
				}
			})
		}
	}
}
