package kservegrpc

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/kserve"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// fixture starts the simulated server with cfg and its gRPC API and
// returns the server, its HTTP base URL and its gRPC address.
func fixture(t *testing.T, cfg modelserver.Config) (*modelserver.Server, string, string) {
	t.Helper()
	s, url := modelservertest.Start(t, cfg)
	addr, stop, err := s.StartGRPC()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s, url, addr
}

// fastConfig is the fixture with no model time.
func fastConfig() modelserver.Config {
	cfg := modelserver.DefaultConfig()
	cfg.InferLatency, cfg.InferJitter = 0, 0
	return cfg
}

func newClient(t *testing.T, o extensions.Options) *Client {
	t.Helper()
	if o.Model == "" {
		o.Model = modelserver.DefaultClassifierModel
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// do sends request id and returns its result.
func do(ctx context.Context, c *Client, id uint64) *gonogo.Result {
	req := &gonogo.Request{ID: id, Intended: time.Now()}
	res := &gonogo.Result{Request: req, Sent: time.Now()}
	c.Do(ctx, req, res)
	return res
}

// doMany sends requests 1..n from workers goroutines and returns their
// results by ID.
func doMany(t *testing.T, c *Client, n, workers int) []*gonogo.Result {
	t.Helper()
	out := make([]*gonogo.Result, n+1)
	ids := make(chan uint64)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for id := range ids {
				out[id] = do(context.Background(), c, id)
			}
		})
	}
	for id := uint64(1); id <= uint64(n); id++ {
		ids <- id
	}
	close(ids)
	wg.Wait()
	return out[1:]
}

func TestAddress(t *testing.T) {
	tests := []struct {
		target, want, err string
	}{
		{target: "127.0.0.1:8081", want: "127.0.0.1:8081"},
		{target: "grpc://127.0.0.1:8081", want: "127.0.0.1:8081"},
		{target: "http://localhost:8001/", want: "localhost:8001"},
		{target: " [::1]:9 ", want: "[::1]:9"},
		{target: "", err: "empty target"},
		{target: "127.0.0.1", err: "no port"},
		{target: "grpc://host", err: "no port"},
		{target: "https://host:443", err: "TLS is not supported"},
		{target: "grpcs://host:443", err: "TLS is not supported"},
		{target: "ftp://host:21", err: `scheme "ftp"`},
		{target: "http://host:80/v2/models", err: "no path"},
		{target: "grpc://:8081", err: "no host"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			got, err := Address(tt.target)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, extensions.ErrBadOptions) {
					t.Errorf("Address(%q) = %q, %v; want an ErrBadOptions containing %q", tt.target, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Address(%q) = %q, %v; want %q", tt.target, got, err, tt.want)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		o    extensions.Options
		err  string
	}{
		{"no model", extensions.Options{Target: "127.0.0.1:1"}, "model name is required"},
		{"reserved header", extensions.Options{Target: "127.0.0.1:1", Model: "m", Headers: map[string]string{"grpc-timeout": "1S"}}, "reserved"},
		{"bad header name", extensions.Options{Target: "127.0.0.1:1", Model: "m", Headers: map[string]string{"X Tenant": "a"}}, "metadata name"},
		{"bad target", extensions.Options{Target: "https://h:1", Model: "m"}, "TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := extensions.New(Name, tt.o)
			if err == nil || !errors.Is(err, extensions.ErrBadOptions) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("New = %v, want ErrBadOptions containing %q", err, tt.err)
			}
		})
	}
}

// TestInputMatchesREST checks that the tensor sent for a request ID is the
// one the kserve REST client sends for it.
func TestInputMatchesREST(t *testing.T) {
	rc, err := kserve.New(extensions.Options{Target: "127.0.0.1:1", Model: "m", InputLen: 24})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{0, 1, 2, 77, 1 << 40} {
		var body struct {
			Inputs []struct {
				Shape []int     `json:"shape"`
				Data  []float32 `json:"data"`
			} `json:"inputs"`
		}
		if err := json.Unmarshal(rc.Body(&gonogo.Request{ID: id}), &body); err != nil {
			t.Fatal(err)
		}
		if got := Input(id, 24); !slices.Equal(got, body.Inputs[0].Data) {
			t.Errorf("id %d: gRPC input %v, REST input %v", id, got, body.Inputs[0].Data)
		}
	}
}

// TestAgainstFixture checks outputs against the fixture's Classify truth
// and byte for byte against the REST client's.
func TestAgainstFixture(t *testing.T) {
	cfg := fastConfig()
	cfg.Version = modelserver.VersionV2
	_, url, addr := fixture(t, cfg)
	c := newClient(t, extensions.Options{Target: "grpc://" + addr, KeepOutput: true, InputLen: 8})
	rest, err := kserve.New(extensions.Options{Target: url, Model: "resnet", KeepOutput: true, InputLen: 8})
	if err != nil {
		t.Fatal(err)
	}
	const n = 320
	for i, res := range doMany(t, c, n, 8) {
		id := uint64(i + 1)
		if res.Failed() || res.Status != 0 {
			t.Fatalf("request %d: status %d class %q: %s", id, res.Status, res.Class, res.Err)
		}
		if res.BytesIn <= 0 {
			t.Errorf("request %d: BytesIn %d", id, res.BytesIn)
		}
		var out []struct {
			Name     string    `json:"name"`
			Shape    []int     `json:"shape"`
			Datatype string    `json:"datatype"`
			Data     []float32 `json:"data"`
		}
		if err := json.Unmarshal(res.Output, &out); err != nil {
			t.Fatalf("request %d: output %s: %v", id, res.Output, err)
		}
		want := cfg.Truth().Classify(cfg.Version, Input(id, 8))
		if len(out) != 1 || out[0].Name != "probabilities" || !slices.Equal(out[0].Shape, []int{1, modelserver.NumClasses}) ||
			!slices.Equal(out[0].Data, want) {
			t.Fatalf("request %d: output %s, want probabilities %v", id, res.Output, want)
		}
		if id%20 == 0 { // the REST answer to the same request is the same JSON
			req := &gonogo.Request{ID: id}
			rres := &gonogo.Result{Request: req}
			rest.Do(context.Background(), req, rres)
			if rres.Failed() || string(rres.Output) != string(res.Output) {
				t.Errorf("request %d: REST output %s (%s), gRPC %s", id, rres.Output, rres.Err, res.Output)
			}
		}
	}
}

func TestErrorRateMeasured(t *testing.T) {
	const n, rate = 2000, 0.05
	cfg := fastConfig()
	cfg.Knobs.ErrorRate = rate
	_, _, addr := fixture(t, cfg)
	c := newClient(t, extensions.Options{Target: addr})
	fails := 0
	for _, res := range doMany(t, c, n, 8) {
		switch {
		case !res.Failed():
		case res.Class == gonogo.ErrHTTP5xx && res.Status == int(codes.Internal) && strings.Contains(res.Err, "INTERNAL: injected fault"):
			fails++
		default:
			t.Fatalf("unexpected failure: status %d class %q: %s", res.Status, res.Class, res.Err)
		}
	}
	sd := math.Sqrt(rate * (1 - rate) / n)
	frac := float64(fails) / n
	t.Logf("error share %.4f, knob %.2f (±4σ = %.4f)", frac, rate, 4*sd)
	if math.Abs(frac-rate) > 4*sd {
		t.Errorf("error share %.4f, want %.2f ± %.4f", frac, rate, 4*sd)
	}
}

func TestFailures(t *testing.T) {
	_, _, addr := fixture(t, fastConfig())
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	// The slow server answers only when the test ends, whatever its own
	// deadline says: the client's timeout and cancel are what is tested
	// (a server that gave up on its deadline first could answer before
	// the client's own deadline fired, on a loaded machine).
	release := make(chan struct{})
	slow := rawServer(t, func(context.Context, string, []byte) ([]byte, error) {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		return nil, status.Error(codes.Internal, "too late")
	})
	t.Cleanup(func() { close(release) }) // before the server stops
	codesSrv := rawServer(t, func(ctx context.Context, _ string, _ []byte) ([]byte, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		code := codes.Unknown
		if v := md.Get("x-code"); len(v) == 1 {
			_ = code.UnmarshalJSON([]byte(`"` + v[0] + `"`))
		}
		return nil, status.Error(code, "as asked")
	})
	tests := []struct {
		name       string
		o          extensions.Options
		cancel     bool
		wantClass  gonogo.ErrorClass
		wantStatus codes.Code
		wantErr    string
	}{
		{name: "unknown model", o: extensions.Options{Target: addr, Model: "nope"},
			wantClass: gonogo.ErrHTTP4xx, wantStatus: codes.NotFound, wantErr: `gRPC NOT_FOUND: model "nope" not found`},
		{name: "refused", o: extensions.Options{Target: dead},
			wantClass: gonogo.ErrConnect, wantStatus: codes.Unavailable, wantErr: "no status from the server"},
		{name: "timeout", o: extensions.Options{Target: slow, Timeout: 100 * time.Millisecond},
			wantClass: gonogo.ErrTimeout, wantStatus: codes.DeadlineExceeded, wantErr: "timed out after 100ms"},
		{name: "run stopped", o: extensions.Options{Target: slow}, cancel: true,
			wantClass: gonogo.ErrCanceled, wantStatus: codes.Canceled},
	}
	for _, tc := range []struct {
		code  string
		class gonogo.ErrorClass
		want  codes.Code
	}{
		{"INVALID_ARGUMENT", gonogo.ErrHTTP4xx, codes.InvalidArgument},
		{"UNAUTHENTICATED", gonogo.ErrHTTP4xx, codes.Unauthenticated},
		{"PERMISSION_DENIED", gonogo.ErrHTTP4xx, codes.PermissionDenied},
		{"FAILED_PRECONDITION", gonogo.ErrHTTP4xx, codes.FailedPrecondition},
		{"OUT_OF_RANGE", gonogo.ErrHTTP4xx, codes.OutOfRange},
		{"INTERNAL", gonogo.ErrHTTP5xx, codes.Internal},
		{"UNKNOWN", gonogo.ErrHTTP5xx, codes.Unknown},
		{"DATA_LOSS", gonogo.ErrHTTP5xx, codes.DataLoss},
		{"UNIMPLEMENTED", gonogo.ErrHTTP5xx, codes.Unimplemented},
		{"UNAVAILABLE", gonogo.ErrHTTP5xx, codes.Unavailable}, // sent by the server: not a connect failure
		{"DEADLINE_EXCEEDED", gonogo.ErrTimeout, codes.DeadlineExceeded},
		{"CANCELLED", gonogo.ErrCanceled, codes.Canceled},
	} {
		tests = append(tests, struct {
			name       string
			o          extensions.Options
			cancel     bool
			wantClass  gonogo.ErrorClass
			wantStatus codes.Code
			wantErr    string
		}{name: "server sends " + tc.code, o: extensions.Options{Target: codesSrv, Headers: map[string]string{"X-Code": tc.code}},
			wantClass: tc.class, wantStatus: tc.want})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.o)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			res := do(ctx, c, 1)
			if res.Class != tt.wantClass || res.Status != int(tt.wantStatus) || !strings.Contains(res.Err, tt.wantErr) {
				t.Errorf("class %q status %d err %q; want %q %d containing %q", res.Class, res.Status, res.Err, tt.wantClass, tt.wantStatus, tt.wantErr)
			}
			if res.Done.IsZero() || res.Err == "" {
				t.Errorf("Done %v, Err %q", res.Done, res.Err)
			}
		})
	}
}

// TestCrashIsConnectFailure: a server that dies mid-call (the fixture's
// crash-after knob closes every connection) gives no status: the request
// is a connect failure, not a 5xx.
func TestCrashIsConnectFailure(t *testing.T) {
	cfg := fastConfig()
	cfg.Knobs.CrashAfter = 1
	_, _, addr := fixture(t, cfg)
	c := newClient(t, extensions.Options{Target: addr})
	if res := do(context.Background(), c, 1); res.Failed() {
		t.Fatalf("first call: %s", res.Err)
	}
	res := do(context.Background(), c, 2)
	if res.Class != gonogo.ErrConnect || !strings.Contains(res.Err, "no status from the server") {
		t.Errorf("call after the crash: class %q status %d: %s", res.Class, res.Status, res.Err)
	}
}

func TestPreflight(t *testing.T) {
	_, url, addr := fixture(t, fastConfig())
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	tests := []struct {
		name, target, model string
		want                error
		msg                 string
	}{
		{name: "ready", target: addr, model: "resnet"},
		{name: "unreachable", target: dead, model: "resnet", want: extensions.ErrUnreachable, msg: "connection refused"},
		{name: "unknown model", target: addr, model: "nope", want: extensions.ErrNotReady, msg: "NOT_FOUND"},
		{name: "HTTP port", target: strings.TrimPrefix(url, "http://"), model: "resnet", want: extensions.ErrNotReady, msg: "not an HTTP/1 one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := extensions.New(Name, extensions.Options{Target: tt.target, Model: tt.model})
			if err != nil {
				t.Fatal(err)
			}
			defer c.(*Client).Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = extensions.Preflight(ctx, c, tt.target)
			if tt.want == nil {
				if err != nil {
					t.Errorf("Preflight = %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Preflight = %v; want %v containing %q", err, tt.want, tt.msg)
			}
		})
	}
}

// TestMetadataAndConnections checks what reaches the server: the headers
// as metadata, Host as :authority, the user agent, and MaxConns
// connections used in turn.
func TestMetadataAndConnections(t *testing.T) {
	var mu sync.Mutex
	peers := map[string]int{}
	var seen metadata.MD
	addr := rawServer(t, func(ctx context.Context, _ string, _ []byte) ([]byte, error) {
		p, _ := peer.FromContext(ctx)
		md, _ := metadata.FromIncomingContext(ctx)
		mu.Lock()
		peers[p.Addr.String()]++
		seen = md
		mu.Unlock()
		return fixedResponse(t), nil
	})
	c := newClient(t, extensions.Options{Target: addr, MaxConns: 3, Headers: map[string]string{
		"X-Tenant": "blue", "Authorization": "Bearer s3cret", "Host": "models.example", "User-Agent": "ci-gate",
	}})
	for i := range 30 {
		if res := do(context.Background(), c, uint64(i)); res.Failed() {
			t.Fatal(res.Err)
		}
	}
	if len(peers) != 3 {
		t.Errorf("calls came over %d connections, want 3: %v", len(peers), peers)
	}
	for p, n := range peers {
		if n != 10 {
			t.Errorf("connection %s carried %d calls, want 10 (round robin)", p, n)
		}
	}
	for k, want := range map[string]string{"x-tenant": "blue", "authorization": "Bearer s3cret", ":authority": "models.example"} {
		if got := seen.Get(k); len(got) != 1 || got[0] != want {
			t.Errorf("metadata %s = %q, want %q", k, got, want)
		}
	}
	if ua := seen.Get("user-agent"); len(ua) != 1 || !strings.HasPrefix(ua[0], "ci-gate ") {
		t.Errorf("user-agent %q, want ci-gate first", ua)
	}
}

func TestWarm(t *testing.T) {
	_, _, addr := fixture(t, fastConfig())
	c := newClient(t, extensions.Options{Target: addr, MaxConns: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Warm(ctx, 100); err != nil {
		t.Fatal(err)
	}
	for i, cc := range c.conns {
		if s := cc.GetState().String(); s != "READY" {
			t.Errorf("connection %d is %s after Warm", i, s)
		}
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	if err := newClient(t, extensions.Options{Target: dead}).Warm(ctx, 1); err == nil {
		t.Error("Warm of an unreachable target succeeded")
	}
}

func TestRecordedRequestRefused(t *testing.T) {
	c := newClient(t, extensions.Options{Target: "127.0.0.1:1"})
	req := &gonogo.Request{ID: 1, Recorded: &gonogo.Recorded{Method: "POST", Path: "/v2/models/m/infer"}}
	res := &gonogo.Result{Request: req}
	c.Do(context.Background(), req, res)
	if res.Class != gonogo.ErrOther || !strings.Contains(res.Err, "cannot be replayed over gRPC") {
		t.Errorf("class %q err %q", res.Class, res.Err)
	}
}
