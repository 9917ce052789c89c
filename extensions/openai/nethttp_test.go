package openai

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// The net/http path (https:// targets, systems without the wire) measures
// as the wire does: the same answers, the same failures.
func TestNetHTTPPath(t *testing.T) {
	tests := []struct {
		name      string
		ctype     string
		steps     []step
		o         extensions.Options
		wantClass gonogo.ErrorClass
		wantErr   string
		tokens    int
		gaps      int
	}{
		{name: "stream", steps: seq(data(text("a")), after(30*time.Millisecond, text("b")), data(usageChunk(2)), done()), tokens: 2, gaps: 1},
		{name: "json", ctype: "application/json", steps: seq(step{raw: `{"choices":[{"text":"a"}],"usage":{"completion_tokens":1}}`}), tokens: 1},
		{name: "500", steps: status(500, `{"error":{"message":"engine dead"}}`), wantClass: gonogo.ErrHTTP5xx, wantErr: "HTTP 500: engine dead"},
		{name: "hangup mid stream", steps: seq(data(text("a")), hangup()), wantClass: gonogo.ErrProtocol, wantErr: "after 1 content chunks"},
		{name: "stall", steps: seq(after(2*time.Second, text("a"))), o: extensions.Options{Timeout: 80 * time.Millisecond},
			wantClass: gonogo.ErrTimeout, wantErr: "timed out after 80ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctype := tt.ctype
			if ctype == "" {
				ctype = "text/event-stream"
			}
			tt.o.Target = newFake(t, ctype, tt.steps).URL
			c, err := New(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			c.wire = nil // as for https://
			req := &gonogo.Request{ID: 1}
			res := &gonogo.Result{Request: req, Sent: time.Now()}
			c.Do(context.Background(), req, res)
			if res.Class != tt.wantClass || !strings.Contains(res.Err, tt.wantErr) {
				t.Fatalf("class %q err %q; want %q containing %q", res.Class, res.Err, tt.wantClass, tt.wantErr)
			}
			if res.OutputTokens != tt.tokens || len(res.ChunkGaps) != tt.gaps || res.Done.Before(res.Sent) {
				t.Errorf("tokens %d gaps %v done %v; want %d tokens, %d gaps", res.OutputTokens, res.ChunkGaps, res.Done.Sub(res.Sent), tt.tokens, tt.gaps)
			}
			if err := c.Warm(context.Background(), 4); err != nil {
				t.Errorf("Warm without the wire: %v", err)
			}
		})
	}
}
