package kserve

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// seen is an Observer that keeps what it is shown.
type seen struct {
	headers map[string]string
	docs    []string
	events  int
}

func (s *seen) Header(name, value []byte) {
	s.headers[http.CanonicalHeaderKey(string(name))] = string(value)
}
func (s *seen) Event([]byte)         { s.events++ }
func (s *seen) Document(body []byte) { s.docs = append(s.docs, string(body)) }

// DoObserved shows the headers and a 2xx answer's body; an error answer's
// body is not a document.
func TestDoObserved(t *testing.T) {
	const answer = `{"model_name":"m","outputs":[{"name":"o","shape":[1],"datatype":"FP32","data":[0.5]}]}`
	for _, tc := range []struct {
		name    string
		respond func(http.ResponseWriter, *inferRequest)
		docs    int
	}{
		{"ok", reply(answer), 1},
		{"500", func(w http.ResponseWriter, _ *inferRequest) { http.Error(w, `{"error":"boom"}`, 500) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, tc.respond)
			c, err := New(extensions.Options{Target: srv.URL, Model: "m"})
			if err != nil {
				t.Fatal(err)
			}
			if c.Shows() != extensions.ShowsHeaders|extensions.ShowsDocuments {
				t.Errorf("Shows %b", c.Shows())
			}
			s := &seen{headers: map[string]string{}}
			res := &gonogo.Result{Request: &gonogo.Request{ID: 1}, Sent: time.Now()}
			c.DoObserved(context.Background(), res.Request, res, s)
			if s.headers["Content-Type"] == "" || len(s.docs) != tc.docs || s.events != 0 {
				t.Errorf("headers %v, %d documents, %d events", s.headers, len(s.docs), s.events)
			}
			if tc.docs == 1 && s.docs[0] != answer {
				t.Errorf("document %q, want the answer", s.docs[0])
			}
		})
	}
}
