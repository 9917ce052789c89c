package extensions_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	_ "github.com/gonogo-dev/gonogo/extensions/all"
)

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestRegistry(t *testing.T) {
	got := extensions.Names()
	for _, want := range []string{"http", "kserve", "openai"} {
		if !slices.Contains(got, want) {
			t.Errorf("Names() = %v, missing %q", got, want)
		}
	}
	if !slices.IsSorted(got) {
		t.Errorf("Names() = %v, not sorted", got)
	}

	_, err := extensions.New("grpcx", extensions.Options{Target: "http://127.0.0.1:1"})
	if !errors.Is(err, extensions.ErrUnknownProtocol) {
		t.Fatalf("New(unknown) error = %v, want ErrUnknownProtocol", err)
	}
	if !strings.Contains(err.Error(), "http, kserve, kserve-grpc, openai") {
		t.Errorf("error %q does not list known protocols", err)
	}

	c, err := extensions.New("http", extensions.Options{Target: "127.0.0.1:8000"})
	if err != nil || c == nil {
		t.Fatalf("New(http) = %v, %v", c, err)
	}

	func() {
		defer func() {
			if recover() == nil {
				t.Error("duplicate Register did not panic")
			}
		}()
		extensions.Register("http", func(extensions.Options) (gonogo.Client, error) { return nil, nil })
	}()
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"http://127.0.0.1:8000", "http://127.0.0.1:8000", false},
		{"http://127.0.0.1:8000/", "http://127.0.0.1:8000", false},
		{"127.0.0.1:8000", "http://127.0.0.1:8000", false},
		{"https://h/prefix/", "https://h/prefix", false},
		{"", "", true},
		{"ftp://h", "", true},
		{"http://", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := extensions.BaseURL(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("BaseURL(%q) = %q, %v; want %q, err %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name   string
		err    error
		status int
		want   gonogo.ErrorClass
	}{
		{"ok", nil, 200, gonogo.ErrNone},
		{"redirect", nil, 302, gonogo.ErrNone},
		{"404", nil, 404, gonogo.ErrHTTP4xx},
		{"503", nil, 503, gonogo.ErrHTTP5xx},
		{"503 with body error", io.ErrUnexpectedEOF, 503, gonogo.ErrHTTP5xx},
		{"refused", dial, 0, gonogo.ErrConnect},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), 0, gonogo.ErrConnect},
		{"eof before response", io.EOF, 0, gonogo.ErrConnect},
		{"eof mid body", io.ErrUnexpectedEOF, 200, gonogo.ErrProtocol},
		{"dns", &net.DNSError{Err: "no such host", Name: "x.invalid"}, 0, gonogo.ErrConnect},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), 0, gonogo.ErrTimeout},
		{"deadline beats status", context.DeadlineExceeded, 500, gonogo.ErrTimeout},
		{"timeout type", &extensions.TimeoutError{After: time.Second, Err: errors.New("x")}, 200, gonogo.ErrTimeout},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), 0, gonogo.ErrCanceled},
		{"protocol", extensions.Protocolf("bad %s", "json"), 200, gonogo.ErrProtocol},
		{"other", errors.New("weird"), 200, gonogo.ErrOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := extensions.Classify(tt.err, tt.status); got != tt.want {
				t.Errorf("Classify(%v, %d) = %q, want %q", tt.err, tt.status, got, tt.want)
			}
		})
	}
}

func TestFailCanceledRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var res gonogo.Result
	extensions.Fail(ctx, &res, &extensions.TimeoutError{Err: context.DeadlineExceeded})
	if res.Class != gonogo.ErrCanceled {
		t.Errorf("class = %q, want canceled when the run context is done", res.Class)
	}
	res = gonogo.Result{Status: 500}
	extensions.Fail(context.Background(), &res, nil)
	if res.Class != gonogo.ErrHTTP5xx || res.Err != "HTTP 500 Internal Server Error" {
		t.Errorf("Fail(500) = %q %q", res.Class, res.Err)
	}
}

type checkerClient struct{ err error }

func (checkerClient) Do(context.Context, *gonogo.Request, *gonogo.Result) {}
func (c checkerClient) Check(context.Context) error                       { return c.err }

type plainClient struct{}

func (plainClient) Do(context.Context, *gonogo.Request, *gonogo.Result) {}

func TestPreflight(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	dead := "http://" + closedAddr(t)
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}

	tests := []struct {
		name      string
		c         gonogo.Client
		target    string
		sentinel  error
		wantInMsg string
	}{
		{"tcp ok", plainClient{}, srv.URL, nil, ""},
		{"tcp refused", plainClient{}, dead, extensions.ErrUnreachable, "target " + dead + " unreachable: connection refused"},
		{"bad target", plainClient{}, "ftp://x", extensions.ErrUnreachable, "unreachable"},
		{"checker ok", checkerClient{}, dead, nil, ""},
		{"checker dial error", checkerClient{err: fmt.Errorf("GET /x: %w", dialErr)}, dead, extensions.ErrUnreachable, "unreachable: connection refused"},
		{"checker not ready", checkerClient{err: errors.New("model m not served")}, srv.URL, extensions.ErrNotReady, "not ready: model m not served"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := extensions.Preflight(context.Background(), tt.c, tt.target)
			if tt.sentinel == nil {
				if err != nil {
					t.Fatalf("Preflight = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("Preflight = %v, want %v", err, tt.sentinel)
			}
			if !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Errorf("Preflight error %q does not contain %q", err, tt.wantInMsg)
			}
		})
	}
}

func TestPreflightRegisteredClients(t *testing.T) {
	dead := "http://" + closedAddr(t)
	for _, name := range extensions.Names() {
		t.Run(name, func(t *testing.T) {
			c, err := extensions.New(name, extensions.Options{Target: dead, Model: "m"})
			if err != nil {
				t.Fatal(err)
			}
			err = extensions.Preflight(context.Background(), c, dead)
			if !errors.Is(err, extensions.ErrUnreachable) {
				t.Fatalf("Preflight = %v, want ErrUnreachable", err)
			}
			if !strings.Contains(err.Error(), "connection refused") {
				t.Errorf("Preflight error %q does not say connection refused", err)
			}
		})
	}
}

func TestNewTransport(t *testing.T) {
	tr := extensions.NewTransport(extensions.Options{})
	if tr.MaxIdleConnsPerHost != extensions.DefaultMaxIdleConnsPerHost || !tr.DisableCompression || tr.Proxy != nil {
		t.Errorf("transport not tuned: idle %d compression off %v", tr.MaxIdleConnsPerHost, tr.DisableCompression)
	}
	tr = extensions.NewTransport(extensions.Options{MaxConns: 8})
	if tr.MaxConnsPerHost != 8 || tr.MaxIdleConnsPerHost != 8 {
		t.Errorf("MaxConns 8: max %d idle %d", tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost)
	}
}
