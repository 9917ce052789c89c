package kserve

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

type inferRequest struct {
	Inputs []struct {
		Name     string    `json:"name"`
		Shape    []int     `json:"shape"`
		Datatype string    `json:"datatype"`
		Data     []float32 `json:"data"`
	} `json:"inputs"`
}

// newServer answers infer requests of model "m" with respond(request).
func newServer(t *testing.T, respond func(w http.ResponseWriter, in *inferRequest)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/models/m/infer":
			var in inferRequest
			if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
				t.Errorf("client sent invalid JSON: %v", err)
			}
			respond(w, &in)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func reply(body string) func(http.ResponseWriter, *inferRequest) {
	return func(w http.ResponseWriter, _ *inferRequest) { io.WriteString(w, body) }
}

func TestDo(t *testing.T) {
	echo := func(w http.ResponseWriter, in *inferRequest) {
		out := map[string]any{"model_name": "m", "outputs": []any{map[string]any{
			"name": "output", "shape": in.Inputs[0].Shape, "datatype": "FP32", "data": in.Inputs[0].Data}}}
		json.NewEncoder(w).Encode(out)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String()
	l.Close()
	tests := []struct {
		name      string
		respond   func(http.ResponseWriter, *inferRequest)
		target    string
		timeout   time.Duration
		wantClass gonogo.ErrorClass
		wantErr   string
	}{
		{name: "echo", respond: echo},
		{name: "nested data", respond: reply(`{"outputs":[{"name":"o","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]}]}`)},
		{name: "bytes output", respond: reply(`{"outputs":[{"name":"o","shape":[2],"datatype":"BYTES","data":["a","b"]}]}`)},
		{name: "second output carries data", respond: reply(`{"outputs":[{"name":"a","shape":[0],"data":[]},{"name":"b","shape":[1],"data":[1]}]}`)},
		{name: "shape mismatch", respond: reply(`{"outputs":[{"name":"o","shape":[1,3],"datatype":"FP32","data":[1,2]}]}`),
			wantClass: gonogo.ErrProtocol, wantErr: "output o: shape [1 3] holds 3 elements but data has 2"},
		{name: "no outputs", respond: reply(`{"model_name":"m","outputs":[]}`), wantClass: gonogo.ErrProtocol, wantErr: "no outputs"},
		{name: "no data", respond: reply(`{"outputs":[{"name":"o","shape":[1]}]}`), wantClass: gonogo.ErrProtocol, wantErr: "no output carries data"},
		{name: "data not array", respond: reply(`{"outputs":[{"name":"o","shape":[1],"data":5}]}`), wantClass: gonogo.ErrProtocol, wantErr: "not an array"},
		{name: "garbage", respond: reply(`<html>oops`), wantClass: gonogo.ErrProtocol, wantErr: "invalid JSON"},
		{name: "error in 200", respond: reply(`{"error":"model busy"}`), wantClass: gonogo.ErrProtocol, wantErr: "model busy"},
		{name: "400", respond: func(w http.ResponseWriter, _ *inferRequest) {
			w.WriteHeader(400)
			io.WriteString(w, `{"error":"bad shape"}`)
		}, wantClass: gonogo.ErrHTTP4xx, wantErr: "HTTP 400: bad shape"},
		{name: "503", respond: func(w http.ResponseWriter, _ *inferRequest) { w.WriteHeader(503) }, wantClass: gonogo.ErrHTTP5xx},
		{name: "hangup", respond: func(w http.ResponseWriter, _ *inferRequest) {
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		}, wantClass: gonogo.ErrConnect},
		{name: "slow", timeout: 50 * time.Millisecond, respond: func(w http.ResponseWriter, _ *inferRequest) { time.Sleep(300 * time.Millisecond) },
			wantClass: gonogo.ErrTimeout, wantErr: "timed out"},
		{name: "refused", target: dead, wantClass: gonogo.ErrConnect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target
			if target == "" {
				target = newServer(t, tt.respond).URL
			}
			c, err := New(extensions.Options{Target: target, Model: "m", Timeout: tt.timeout})
			if err != nil {
				t.Fatal(err)
			}
			res := &gonogo.Result{Sent: time.Now()}
			c.Do(context.Background(), &gonogo.Request{ID: 3}, res)
			if res.Class != tt.wantClass || !strings.Contains(res.Err, tt.wantErr) {
				t.Errorf("class %q err %q; want %q containing %q", res.Class, res.Err, tt.wantClass, tt.wantErr)
			}
			if tt.target == "" && tt.name != "hangup" && tt.name != "slow" && tt.name != "503" && res.BytesIn == 0 {
				t.Error("BytesIn = 0")
			}
		})
	}
}

func TestBody(t *testing.T) {
	c, _ := New(extensions.Options{Target: "h:1", Model: "m", InputLen: 5})
	var in inferRequest
	b := c.Body(&gonogo.Request{ID: 1})
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatalf("invalid body %s: %v", b, err)
	}
	x := in.Inputs[0]
	if x.Name != InputName || x.Datatype != "FP32" || len(x.Shape) != 2 || x.Shape[1] != 5 || len(x.Data) != 5 {
		t.Fatalf("input = %+v", x)
	}
	for _, v := range x.Data {
		if v < -1 || v >= 1 {
			t.Errorf("value %v outside [-1, 1)", v)
		}
	}
	if string(b) != string(c.Body(&gonogo.Request{ID: 1})) || string(b) == string(c.Body(&gonogo.Request{ID: 2})) {
		t.Error("data is not a deterministic function of the request ID")
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name        string
		health, mdl int
		wantErr     string
	}{
		{"ready", 200, 200, ""},
		{"server not ready", 503, 200, "GET /v2/health/ready answered 503 Service Unavailable with an empty body"},
		{"model not ready", 200, 400, "GET /v2/models/m/ready answered 400 Bad Request with an empty body"},
		{"no such model", 200, 404, "GET /v2/models/m/ready answered 404 Not Found (not a KServe v2 server, or no such model) with an empty body"},
		{"unauthorized", 401, 200, `GET /v2/health/ready answered 401 Unauthorized with an empty body; the server wants credentials: pass them with --header "Authorization: Bearer …"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/v2/health/ready":
					w.WriteHeader(tt.health)
				case "/v2/models/m/ready":
					w.WriteHeader(tt.mdl)
				default:
					t.Errorf("unexpected %s", r.URL.Path)
				}
			}))
			defer srv.Close()
			c, _ := New(extensions.Options{Target: srv.URL, Model: "m"})
			err := c.Check(context.Background())
			if (tt.wantErr == "") != (err == nil) || (err != nil && err.Error() != tt.wantErr) {
				t.Errorf("Check = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewRequiresModel(t *testing.T) {
	if _, err := New(extensions.Options{Target: "h:1"}); err == nil {
		t.Error("New without a model succeeded")
	}
}
