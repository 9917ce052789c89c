package grpcfault_test

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/chaos/grpcfault"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/kservegrpc"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/internal/kservepb"
)

const modelInfer = kservepb.GRPCInferenceService_ModelInfer_FullMethodName

// fixtureGRPC starts the simulated server's gRPC API with cfg and returns
// its address.
func fixtureGRPC(t *testing.T, cfg modelserver.Config) string {
	t.Helper()
	s, _ := modelservertest.Start(t, cfg)
	addr, stop, err := s.StartGRPC()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr
}

func fastConfig() modelserver.Config {
	cfg := modelserver.DefaultConfig()
	cfg.InferLatency, cfg.InferJitter = 0, 0
	return cfg
}

func newProxy(t *testing.T, upstream string) *grpcfault.Proxy {
	t.Helper()
	p, err := grpcfault.NewProxy("127.0.0.1:0", upstream, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func newClient(t *testing.T, o extensions.Options) *kservegrpc.Client {
	t.Helper()
	if o.Model == "" {
		o.Model = modelserver.DefaultClassifierModel
	}
	c, err := kservegrpc.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// apply puts spec in force on p as fault id and returns its revert.
func apply(t *testing.T, p *grpcfault.Proxy, id string, spec *grpcfault.Spec) chaos.Revert {
	t.Helper()
	f := &chaos.Fault{ID: id, Kind: spec.Kind(), Target: p.Addr(), Spec: spec}
	u, err := p.Prepare(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if u.Kind != chaos.UndoNone {
		t.Errorf("undo kind %q, want %q", u.Kind, chaos.UndoNone)
	}
	revert, err := p.Apply(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { revert(context.Background()) })
	return revert
}

// run sends requests 1..n from workers goroutines and returns the results
// by ID.
func run(c *kservegrpc.Client, n, workers int) []*gonogo.Result {
	out := make([]*gonogo.Result, n)
	ids := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range ids {
				req := &gonogo.Request{ID: uint64(i + 1), Intended: time.Now()}
				res := &gonogo.Result{Request: req, Sent: time.Now()}
				c.Do(context.Background(), req, res)
				out[i] = res
			}
		})
	}
	for i := range n {
		ids <- i
	}
	close(ids)
	wg.Wait()
	return out
}

func median(results []*gonogo.Result) time.Duration {
	var d []time.Duration
	for _, r := range results {
		d = append(d, r.ServiceTime())
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// TestPassthrough: with no fault, answers through the proxy are the
// upstream's, byte for byte, errors included, and the preflight check
// passes through.
func TestPassthrough(t *testing.T) {
	up := fixtureGRPC(t, fastConfig())
	p := newProxy(t, up)
	direct := newClient(t, extensions.Options{Target: up, KeepOutput: true})
	proxied := newClient(t, extensions.Options{Target: p.Addr(), KeepOutput: true})
	a, b := run(direct, 200, 4), run(proxied, 200, 4)
	for i := range a {
		if a[i].Failed() || b[i].Failed() || len(a[i].Output) == 0 || string(a[i].Output) != string(b[i].Output) {
			t.Fatalf("request %d: direct %q (%s), proxied %q (%s)", i+1, a[i].Output, a[i].Err, b[i].Output, b[i].Err)
		}
	}
	if err := extensions.Preflight(context.Background(), proxied, p.Addr()); err != nil {
		t.Errorf("preflight through the proxy: %v", err)
	}
	unknown := newClient(t, extensions.Options{Target: p.Addr(), Model: "nope"})
	res := run(unknown, 1, 1)[0]
	if res.Class != gonogo.ErrHTTP4xx || res.Status != int(codes.NotFound) || !strings.Contains(res.Err, `model "nope" not found`) {
		t.Errorf("unknown model through the proxy: class %q status %d: %s", res.Class, res.Status, res.Err)
	}
}

// echoServer is a TestService whose FullDuplexCall echoes every payload
// back, with the incoming x-tenant in its header and a trailer, and whose
// UnaryCall fails with the status its request asks for, with details.
type echoServer struct {
	testpb.UnimplementedTestServiceServer
}

func (echoServer) FullDuplexCall(stream testpb.TestService_FullDuplexCallServer) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	if err := stream.SendHeader(metadata.Pairs("x-seen-tenant", strings.Join(md.Get("x-tenant"), ","))); err != nil {
		return err
	}
	n := 0
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			stream.SetTrailer(metadata.Pairs("x-count", string(rune('0'+n))))
			return nil
		}
		if err != nil {
			return err
		}
		n++
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: req.GetPayload()}); err != nil {
			return err
		}
	}
}

func (echoServer) UnaryCall(_ context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	st := status.New(codes.Code(req.GetResponseStatus().GetCode()), req.GetResponseStatus().GetMessage())
	if st.Code() == codes.OK {
		return &testpb.SimpleResponse{Payload: req.GetPayload()}, nil
	}
	st, _ = st.WithDetails(&testpb.Payload{Body: []byte("detail")})
	return nil, st.Err()
}

// TestAnyService forwards services the proxy knows nothing of: a
// bidirectional stream with headers and trailers, a unary call whose
// status carries details, and a server stream (the health service).
func TestAnyService(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	testpb.RegisterTestServiceServer(gs, echoServer{})
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	p := newProxy(t, ln.Addr().String())
	cc, err := grpc.NewClient("passthrough:///"+p.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	tc := testpb.NewTestServiceClient(cc)
	stream, err := tc.FullDuplexCall(metadata.AppendToOutgoingContext(ctx, "x-tenant", "blue"))
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"one", "two", "three"} {
		if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(body)}}); err != nil {
			t.Fatal(err)
		}
		got, err := stream.Recv()
		if err != nil || string(got.GetPayload().GetBody()) != body {
			t.Fatalf("echo of %q: %v, %v", body, got, err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("end of stream: %v", err)
	}
	if h, _ := stream.Header(); !slices.Equal(h.Get("x-seen-tenant"), []string{"blue"}) {
		t.Errorf("header %v: the upstream did not see the metadata, or its header was lost", h)
	}
	if tr := stream.Trailer(); !slices.Equal(tr.Get("x-count"), []string{"3"}) {
		t.Errorf("trailer %v, want x-count 3", tr)
	}

	_, err = tc.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.ResourceExhausted), Message: "slow down"}})
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || st.Message() != "slow down" || len(st.Details()) != 1 {
		t.Errorf("status through the proxy: %v %q, %d details", st.Code(), st.Message(), len(st.Details()))
	}

	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_NOT_SERVING)
	watch, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{Service: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := watch.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("first watch: %v, %v", r, err)
	}
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	if r, err := watch.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("second watch: %v, %v", r, err)
	}
}

// TestStatusFaultRate: 5 % UNAVAILABLE on ModelInfer over 3000 calls.
func TestStatusFaultRate(t *testing.T) {
	const n, share = 3000, 0.05
	p := newProxy(t, fixtureGRPC(t, fastConfig()))
	apply(t, p, "unavailable", &grpcfault.Spec{
		Match:  grpcfault.Match{Method: modelInfer, Percent: ptr(100 * share)},
		Status: &grpcfault.StatusFault{Code: "UNAVAILABLE", Message: "upstream overloaded"},
	})
	c := newClient(t, extensions.Options{Target: p.Addr()})
	failed := 0
	for _, res := range run(c, n, 8) {
		switch {
		case !res.Failed():
		case res.Class == gonogo.ErrHTTP5xx && res.Status == int(codes.Unavailable) && strings.HasSuffix(res.Err, "upstream overloaded"):
			failed++
		default:
			t.Fatalf("unexpected failure: class %q status %d: %s", res.Class, res.Status, res.Err)
		}
	}
	sd := math.Sqrt(share * (1 - share) / n)
	got := float64(failed) / n
	t.Logf("UNAVAILABLE share %.4f, fault %.2f (±4σ = %.4f)", got, share, 4*sd)
	if math.Abs(got-share) > 4*sd {
		t.Errorf("UNAVAILABLE share %.4f, want %.2f ± %.4f", got, share, 4*sd)
	}
	if matched, affected := p.Counts("unavailable"); matched != n || affected != int64(failed) {
		t.Errorf("Counts = %d matched, %d affected; want %d, %d", matched, affected, n, failed)
	}
}

// TestDelayFault: 50 ms ± 10 ms uniform shifts the client-side median by
// 50 ms.
func TestDelayFault(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	cfg := modelserver.DefaultConfig()
	cfg.InferLatency, cfg.InferJitter = 2*time.Millisecond, 0.25
	p := newProxy(t, fixtureGRPC(t, cfg))
	c := newClient(t, extensions.Options{Target: p.Addr()})
	run(c, 20, 4) // connect, warm up
	before := median(run(c, 120, 8))
	apply(t, p, "slow", &grpcfault.Spec{
		Match: grpcfault.Match{Method: modelInfer},
		Delay: &grpcfault.DelayFault{Mean: chaos.Duration(50 * time.Millisecond), Variation: chaos.Duration(10 * time.Millisecond), Distribution: chaos.DistUniform},
	})
	delayed := run(c, 120, 8)
	after := median(delayed)
	shift := after - before
	t.Logf("median %v without the fault, %v with it: shift %v", before, after, shift)
	if shift < 46*time.Millisecond || shift > 54*time.Millisecond {
		t.Errorf("median shift %v, want 50ms ± 4ms", shift)
	}
	for _, r := range delayed {
		if r.Failed() || r.ServiceTime() < 40*time.Millisecond {
			t.Fatalf("a delayed call took %v (%s): below the delay's 40ms minimum", r.ServiceTime(), r.Err)
		}
	}
	if m, a := p.Counts("slow"); m != 120 || a != 120 {
		t.Errorf("Counts = %d, %d; want 120, 120", m, a)
	}
}

// TestAbort: an aborted call is a failure with no status from the server
// (a connect failure), in both modes, and the calls after it succeed.
func TestAbort(t *testing.T) {
	p := newProxy(t, fixtureGRPC(t, fastConfig()))
	c := newClient(t, extensions.Options{Target: p.Addr()})
	for _, mode := range []string{grpcfault.AbortReset, grpcfault.AbortClose} {
		t.Run(mode, func(t *testing.T) {
			revert := apply(t, p, "abort-"+mode, &grpcfault.Spec{Match: grpcfault.Match{Method: modelInfer}, Abort: &grpcfault.AbortFault{Mode: mode}})
			for _, res := range run(c, 5, 1) {
				if res.Class != gonogo.ErrConnect || !strings.Contains(res.Err, "no status from the server") {
					t.Errorf("aborted call: class %q status %d: %s", res.Class, res.Status, res.Err)
				}
			}
			if m, a := p.Counts("abort-" + mode); m != 5 || a != 5 {
				t.Errorf("Counts = %d, %d; want 5, 5", m, a)
			}
			if err := revert(context.Background()); err != nil {
				t.Fatal(err)
			}
			for i, res := range run(c, 5, 1) {
				if res.Failed() && !(mode == grpcfault.AbortClose && i == 0 && res.Class == gonogo.ErrConnect) {
					t.Errorf("call %d after the revert: %s", i, res.Err)
				}
			}
		})
	}
}

// TestRevertAndMatch: a fault acts only on the calls it matches, only
// while in force; reverting twice is harmless and the counts stay.
func TestRevertAndMatch(t *testing.T) {
	p := newProxy(t, fixtureGRPC(t, fastConfig()))
	blue := newClient(t, extensions.Options{Target: p.Addr(), Headers: map[string]string{"X-Tenant": "blue"}})
	green := newClient(t, extensions.Options{Target: p.Addr(), Headers: map[string]string{"X-Tenant": "green"}})
	revert := apply(t, p, "blue-down", &grpcfault.Spec{
		Match:  grpcfault.Match{Method: "/inference.GRPCInferenceService/*", Headers: map[string]string{"x-tenant": "blue"}},
		Status: &grpcfault.StatusFault{Code: "PERMISSION_DENIED"},
	})
	apply(t, p, "other-method", &grpcfault.Spec{
		Match: grpcfault.Match{Method: kservepb.GRPCInferenceService_ModelMetadata_FullMethodName}, Abort: &grpcfault.AbortFault{},
	})
	for _, res := range run(blue, 10, 2) {
		if res.Class != gonogo.ErrHTTP4xx || res.Status != int(codes.PermissionDenied) || !strings.Contains(res.Err, grpcfault.DefaultStatusMessage) {
			t.Fatalf("blue call: class %q status %d: %s", res.Class, res.Status, res.Err)
		}
	}
	for _, res := range run(green, 10, 2) {
		if res.Failed() {
			t.Fatalf("green call: %s", res.Err)
		}
	}
	if m, a := p.Counts("blue-down"); m != 10 || a != 10 {
		t.Errorf("blue-down counts %d, %d; want 10, 10", m, a)
	}
	if m, a := p.Counts("other-method"); m != 0 || a != 0 {
		t.Errorf("other-method counts %d, %d; want 0, 0", m, a)
	}
	for range 2 {
		if err := revert(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for _, res := range run(blue, 10, 2) {
		if res.Failed() {
			t.Fatalf("blue call after the revert: %s", res.Err)
		}
	}
	if m, _ := p.Counts("blue-down"); m != 10 {
		t.Errorf("counts after the revert: %d matched, want 10", m)
	}
	// The same id can be applied again, counting afresh.
	apply(t, p, "blue-down", &grpcfault.Spec{Status: &grpcfault.StatusFault{Code: "INTERNAL"}})
	if m, a := p.Counts("blue-down"); m != 0 || a != 0 {
		t.Errorf("counts of the re-applied fault %d, %d; want 0, 0", m, a)
	}
}

func TestInjectorRefuses(t *testing.T) {
	p := newProxy(t, "127.0.0.1:1")
	ok := &grpcfault.Spec{Abort: &grpcfault.AbortFault{}}
	apply(t, p, "taken", ok)
	tests := []struct {
		name string
		f    chaos.Fault
		msg  string
	}{
		{"wrong spec type", chaos.Fault{ID: "a", Kind: grpcfault.KindAbort, Spec: grpcfault.AbortFault{}}, "wants a *grpcfault.Spec"},
		{"invalid spec", chaos.Fault{ID: "a", Kind: grpcfault.KindDelay, Spec: &grpcfault.Spec{Delay: &grpcfault.DelayFault{}}}, "want more than 0"},
		{"kind mismatch", chaos.Fault{ID: "a", Kind: grpcfault.KindStatus, Spec: ok}, "is a grpc.abort fault"},
		{"no id", chaos.Fault{Kind: grpcfault.KindAbort, Spec: ok}, "needs an id"},
		{"id in force", chaos.Fault{ID: "taken", Kind: grpcfault.KindAbort, Spec: ok}, "already in force"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Prepare(context.Background(), &tt.f)
			if !errors.Is(err, chaos.ErrInput) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Prepare = %v, want a chaos input error containing %q", err, tt.msg)
			}
			if _, err := p.Apply(context.Background(), &tt.f); err == nil {
				t.Error("Apply accepted it")
			}
		})
	}
	if _, err := grpcfault.NewProxy("", "no-port", 1); !errors.Is(err, chaos.ErrInput) {
		t.Errorf("NewProxy with a bad upstream: %v", err)
	}
	p.Close()
	if _, err := p.Prepare(context.Background(), &chaos.Fault{ID: "late", Kind: grpcfault.KindAbort, Spec: ok}); !errors.Is(err, grpcfault.ErrClosed) {
		t.Errorf("Prepare on a closed proxy: %v", err)
	}
	if err := (chaos.Undo{Kind: chaos.UndoNone}).Do(context.Background()); err != nil {
		t.Errorf("undo: %v", err)
	}
}

// TestUpstreamDown: with the upstream gone, the proxy answers UNAVAILABLE
// (a status of its own, as a real proxy does), and nothing hangs.
func TestUpstreamDown(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	p := newProxy(t, dead)
	c := newClient(t, extensions.Options{Target: p.Addr(), Timeout: 5 * time.Second})
	res := run(c, 1, 1)[0]
	if res.Class != gonogo.ErrHTTP5xx || res.Status != int(codes.Unavailable) {
		t.Errorf("class %q status %d: %s", res.Class, res.Status, res.Err)
	}
}

func ptr[T any](v T) *T { return &v }
