package kserve

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// A recorded request goes out as recorded: method, path and query,
// headers (repeated values kept, the configured ones winning) and body.
func TestRecordedRequestSent(t *testing.T) {
	type seen struct{ method, uri, ctype, auth, accept, body string }
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), r.Header.Get("Authorization"),
			strings.Join(r.Header.Values("Accept"), "|"), string(b)}
		io.WriteString(w, `{"outputs":[{"name":"o","shape":[1],"datatype":"FP32","data":[1]}]}`)
	}))
	defer srv.Close()
	c, err := New(extensions.Options{Target: srv.URL, Model: "configured", Headers: map[string]string{"Authorization": "Bearer mine"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &gonogo.Recorded{Method: "POST", Path: "/v2/models/recorded/versions/2/infer?trace=1", Body: []byte(`{"inputs":[]}`),
		Header: http.Header{"Accept": {"a", "b"}, "Authorization": {"Bearer recorded"}, "Content-Type": {"application/x-test"}}}
	req := &gonogo.Request{ID: 1, Recorded: rec}
	res := &gonogo.Result{Request: req, Sent: time.Now()}
	c.Do(context.Background(), req, res)
	if res.Class != gonogo.ErrNone {
		t.Fatalf("%s: %s", res.Class, res.Err)
	}
	want := seen{"POST", "/v2/models/recorded/versions/2/infer?trace=1", "application/x-test", "Bearer mine", "a|b", `{"inputs":[]}`}
	if s := <-got; s != want {
		t.Errorf("server saw %+v\nwant        %+v", s, want)
	}
}

// Against the simulated server, whose outputs are a function of the input:
// a recorded inference request gets the answer of the request it recorded,
// on the recorded path (not the configured model's); a recorded request to
// another endpoint succeeds on its status; a recorded request that cannot
// be sent fails with a message and reaches nothing.
func TestRecordedAgainstFixture(t *testing.T) {
	srv, url := modelservertest.Start(t, modelserver.DefaultConfig())
	gen, err := New(extensions.Options{Target: url, Model: modelserver.DefaultClassifierModel, KeepOutput: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(extensions.Options{Target: url, Model: "not-served", KeepOutput: true})
	if err != nil {
		t.Fatal(err)
	}
	do := func(c *Client, req *gonogo.Request) *gonogo.Result {
		res := &gonogo.Result{Request: req, Sent: time.Now()}
		c.Do(context.Background(), req, res)
		return res
	}
	generated := &gonogo.Request{ID: 7}
	want := do(gen, generated)
	if want.Class != gonogo.ErrNone || len(want.Output) == 0 {
		t.Fatalf("generated request: %s %s", want.Class, want.Err)
	}
	inferPath := "/v2/models/" + modelserver.DefaultClassifierModel + "/infer"
	tests := []struct {
		name      string
		rec       gonogo.Recorded
		wantClass gonogo.ErrorClass
		wantOut   string
		wantErr   string
	}{
		{"inference", gonogo.Recorded{Method: "POST", Path: inferPath, Body: gen.Body(generated),
			Header: http.Header{"Content-Type": {"application/json"}}}, gonogo.ErrNone, string(want.Output), ""},
		{"another endpoint", gonogo.Recorded{Method: "GET", Path: "/v2/health/ready"}, gonogo.ErrNone, `{"ready":true}`, ""},
		{"no such model", gonogo.Recorded{Method: "POST", Path: "/v2/models/none/infer", Body: gen.Body(generated)}, gonogo.ErrHTTP4xx, "",
			`HTTP 404: model "none" not found`},
		{"not sendable", gonogo.Recorded{Method: "POST", Path: "v2/models"}, gonogo.ErrOther, "",
			`recorded request: path "v2/models" must start with / and hold no spaces or line breaks`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.Requests()
			res := do(c, &gonogo.Request{ID: 1, Recorded: &tt.rec})
			if res.Class != tt.wantClass || res.Err != tt.wantErr {
				t.Errorf("class %q err %q, want %q %q", res.Class, res.Err, tt.wantClass, tt.wantErr)
			}
			if got := strings.TrimSpace(string(res.Output)); got != tt.wantOut {
				t.Errorf("output %s\nwant   %s", got, tt.wantOut)
			}
			if n := srv.Requests() - before; tt.wantClass == gonogo.ErrOther && n != 0 {
				t.Errorf("%d requests reached the server", n)
			}
		})
	}
}
