package httpproto

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// testServer answers by path: /ok (1000 bytes), /404, /500, /slow (sleeps),
// /cut (promises 1000 bytes, sends 10, closes), /hangup (closes at once),
// /echo (echoes method, header X-Test and body).
func testServer(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(strings.Repeat("x", 1000)))
		case "/404":
			http.NotFound(w, r)
		case "/500":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "/slow":
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		case "/cut":
			w.Header().Set("Content-Length", "1000")
			w.Write([]byte("0123456789"))
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		case "/hangup":
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			w.Write([]byte(r.Method + " " + r.Header.Get("X-Test") + " " + string(b)))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDo(t *testing.T) {
	srv := testServer(t)
	dead := "http://" + closedAddr(t)
	tests := []struct {
		name      string
		opts      extensions.Options
		ctx       func() (context.Context, context.CancelFunc)
		wantClass gonogo.ErrorClass
		wantCode  int
		wantBytes int64
	}{
		{name: "ok", opts: extensions.Options{Path: "/ok"}, wantCode: 200, wantBytes: 1000},
		{name: "echo post", opts: extensions.Options{Method: "POST", Path: "/echo", Headers: map[string]string{"x-test": "h1"}, Body: []byte("payload")},
			wantCode: 200, wantBytes: int64(len("POST h1 payload"))},
		{name: "404", opts: extensions.Options{Path: "/404"}, wantClass: gonogo.ErrHTTP4xx, wantCode: 404, wantBytes: 19},
		{name: "500", opts: extensions.Options{Path: "/500"}, wantClass: gonogo.ErrHTTP5xx, wantCode: 500, wantBytes: 5},
		{name: "timeout", opts: extensions.Options{Path: "/slow", Timeout: 50 * time.Millisecond}, wantClass: gonogo.ErrTimeout},
		{name: "cut body", opts: extensions.Options{Path: "/cut"}, wantClass: gonogo.ErrProtocol, wantCode: 200, wantBytes: 10},
		{name: "hangup", opts: extensions.Options{Path: "/hangup"}, wantClass: gonogo.ErrConnect},
		{name: "refused", opts: extensions.Options{Target: dead}, wantClass: gonogo.ErrConnect},
		{name: "canceled run", opts: extensions.Options{Path: "/slow"}, wantClass: gonogo.ErrCanceled,
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.Target == "" {
				tt.opts.Target = srv.URL
			}
			c, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			req := &gonogo.Request{ID: 1, Intended: time.Now()}
			res := &gonogo.Result{Request: req, Sent: time.Now()}
			c.Do(ctx, req, res)
			if res.Class != tt.wantClass || res.Status != tt.wantCode || res.BytesIn != tt.wantBytes {
				t.Errorf("got class %q status %d bytes %d (err %q); want %q %d %d",
					res.Class, res.Status, res.BytesIn, res.Err, tt.wantClass, tt.wantCode, tt.wantBytes)
			}
			if (res.Class == gonogo.ErrNone) != (res.Err == "") {
				t.Errorf("class %q with err %q", res.Class, res.Err)
			}
			if res.Done.Before(res.Sent) {
				t.Errorf("Done %v before Sent %v", res.Done, res.Sent)
			}
		})
	}
}

func TestDoTimeoutMessage(t *testing.T) {
	srv := testServer(t)
	c, _ := New(extensions.Options{Target: srv.URL, Path: "/slow", Timeout: 30 * time.Millisecond})
	res := &gonogo.Result{Sent: time.Now()}
	c.Do(context.Background(), &gonogo.Request{}, res)
	if !strings.Contains(res.Err, "timed out after 30ms") {
		t.Errorf("Err = %q, want it to say the deadline", res.Err)
	}
}

func TestDoConcurrentBody(t *testing.T) {
	srv := testServer(t)
	c, err := New(extensions.Options{Target: srv.URL, Method: "PUT", Path: "/echo", Body: []byte("same body")})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Go(func() {
			for j := 0; j < 50; j++ {
				res := &gonogo.Result{Sent: time.Now()}
				c.Do(context.Background(), &gonogo.Request{}, res)
				if res.Class != gonogo.ErrNone || res.BytesIn != int64(len("PUT  same body")) {
					t.Errorf("res %+v", res)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		o    extensions.Options
	}{
		{"no target", extensions.Options{}},
		{"bad method", extensions.Options{Target: "h:1", Method: "G T"}},
		{"relative path", extensions.Options{Target: "h:1", Path: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.o); err == nil {
				t.Error("New succeeded")
			}
		})
	}
}

func TestParseRequestFile(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    *RequestFile
		wantErr string
	}{
		{name: "json", src: `{"method":"POST","path":"/v1/x","headers":{"X-A":"1"},"body":"raw text"}`,
			want: &RequestFile{Method: "POST", Path: "/v1/x", Headers: map[string]string{"X-A": "1"}, Body: []byte("raw text")}},
		{name: "yaml defaults", src: "headers:\n  X-A: b\n",
			want: &RequestFile{Method: "GET", Path: "/", Headers: map[string]string{"X-A": "b"}}},
		{name: "object body", src: "method: POST\nbody:\n  inputs: [1, 2]\n",
			want: &RequestFile{Method: "POST", Path: "/", Headers: map[string]string{"Content-Type": "application/json"}, Body: []byte(`{"inputs":[1,2]}`)}},
		{name: "object body keeps content type", src: "headers: {content-type: application/x-custom}\nbody: [1]\n",
			want: &RequestFile{Method: "GET", Path: "/", Headers: map[string]string{"content-type": "application/x-custom"}, Body: []byte(`[1]`)}},
		{name: "unknown field", src: "method: GET\nbodee: x\n", wantErr: "req.yaml:2:1: unknown field \"bodee\""},
		{name: "syntax", src: "method: [GET\n", wantErr: "req.yaml:"},
		{name: "bad method", src: "method: \"G T\"\n", wantErr: "req.yaml: method: invalid method"},
		{name: "bad path", src: "path: v1/x\n", wantErr: "req.yaml: path: \"v1/x\" must start with /"},
		{name: "space in path", src: "path: /a b\n", wantErr: "req.yaml: path:"},
		{name: "bad header", src: "headers: {\"X A\": b}\n", wantErr: "req.yaml: headers: invalid header name"},
		{name: "header newline", src: "headers: {X: \"a\\nb\"}\n", wantErr: "req.yaml: headers: header X"},
		{name: "empty", src: "  \n", wantErr: "req.yaml: request file is empty"},
		{name: "wrong type", src: "headers: [a, b]\n", wantErr: "req.yaml:1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequestFile("req.yaml", []byte(tt.src))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Method != tt.want.Method || got.Path != tt.want.Path || string(got.Body) != string(tt.want.Body) || len(got.Headers) != len(tt.want.Headers) {
				t.Fatalf("got %+v (body %q), want %+v (body %q)", got, got.Body, tt.want, tt.want.Body)
			}
			for k, v := range tt.want.Headers {
				if got.Headers[k] != v {
					t.Errorf("header %s = %q, want %q", k, got.Headers[k], v)
				}
			}
		})
	}
}

func TestLoadRequestFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "req.json")
	os.WriteFile(p, []byte(`{"method": "POST", "path": "/p", "body": {"a": 1}}`), 0o644)
	rf, err := LoadRequestFile(p)
	if err != nil {
		t.Fatal(err)
	}
	o := rf.Options(extensions.Options{Target: "h:1", Headers: map[string]string{"Authorization": "x"}})
	if o.Method != "POST" || o.Path != "/p" || string(o.Body) != `{"a":1}` || o.Headers["Authorization"] != "x" || o.Headers["Content-Type"] != "application/json" {
		t.Errorf("Options = %+v", o)
	}
	if _, err := LoadRequestFile(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: err = %v", err)
	}
}
