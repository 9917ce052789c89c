// Package kservegrpc is the client of the KServe v2 / Open Inference
// Protocol over gRPC (Triton, KServe, MLServer, the gonogo model server's
// --grpc-addr), registered as "kserve-grpc"; the REST twin is
// extensions/kserve.
//
// Each request is a GRPCInferenceService/ModelInfer call for
// Options.Model with one FP32 input tensor named "input" of shape
// [1, Options.InputLen], sent as raw_input_contents (little-endian, as
// Triton's clients send it). Its data is a deterministic function of
// Request.ID, the same values the kserve REST client sends for that ID
// (Input), so a run is reproducible and REST and gRPC runs are comparable.
// The answer must hold at least one output with data, each output's element
// count (from its contents or its raw_output_contents) must equal the
// product of its shape, and its datatype must be a v2 datatype; otherwise
// the request fails with gonogo.ErrProtocol, as does an answer that is not
// valid protobuf.
//
// Result.Status is the gRPC status code (0 for OK, 14 for UNAVAILABLE);
// Result.BytesIn counts the response message's bytes. With
// Options.KeepOutput, Result.Output holds the outputs as the compact JSON
// array a v2 REST server sends, e.g.
// [{"name":"probabilities","shape":[1,10],"datatype":"FP32","data":[…]}],
// numbers formatted as encoding/json formats them, so that one model's
// answers over REST and over gRPC are byte for byte the same (cut at
// extensions.MaxOutputBytes). It is kept for valid answers only.
//
// Failures are classified (ClassOf) by the status code the server sent;
// a call that ended without a status from the server (a refused or dropped
// connection, a reset stream) is gonogo.ErrConnect, whatever code gRPC made
// up for it. See docs/kserve-grpc.md for the table.
//
// Targets are host:port, grpc://host:port or http://host:port (plaintext
// HTTP/2; TLS is not supported). Every call shares one gRPC connection
// (HTTP/2 multiplexes the calls), or Options.MaxConns connections used in
// turn. Options.Headers are sent as metadata on every call: names in lower
// case, Host as the :authority, User-Agent before gRPC's own.
//
// Recorded HTTP requests (Request.Recorded) cannot be sent over gRPC: such
// a request fails with gonogo.ErrOther.
//
// The preflight Check calls ServerReady and then ModelReady for the model.
package kservegrpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/internal/kservepb"
)

// Name is the protocol name under which the client registers.
const Name = "kserve-grpc"

// InputName is the name of the input tensor sent.
const InputName = "input"

// MaxResponseBytes bounds a response message.
const MaxResponseBytes = 64 << 20

// Reconnection backoff: a load test wants a restarted server back in a
// second, not after gRPC's default of up to two minutes.
const (
	reconnectBase = 100 * time.Millisecond
	reconnectMax  = time.Second
)

// modelInfer is the full method name of ModelInfer.
const modelInfer = kservepb.GRPCInferenceService_ModelInfer_FullMethodName

func init() {
	extensions.Register(Name, func(o extensions.Options) (gonogo.Client, error) { return New(o) })
}

// ErrRecorded is the failure of a request that carries a recorded HTTP
// request, which cannot be sent over gRPC.
var ErrRecorded = errors.New("kserve-grpc: recorded HTTP requests cannot be replayed over gRPC")

// Client sends ModelInfer calls. It is safe for concurrent use; Close
// releases its connections.
type Client struct {
	conns    []*grpc.ClientConn
	next     atomic.Uint64
	md       metadata.MD // Options.Headers; nil when none
	addr     string
	model    string
	inputLen int
	timeout  time.Duration
	keep     bool
	head     []byte // the request up to the input data (requestHead)
	pool     sync.Pool
	dialErr  atomic.Pointer[error] // the last failed dial, for Check
}

var (
	_ gonogo.Client      = (*Client)(nil)
	_ extensions.Checker = (*Client)(nil)
)

// New builds a client from o: Target, Timeout, MaxConns (the number of
// connections, default 1), Headers, Model (required), InputLen and
// KeepOutput. It opens no connection: the first call, Warm or Check does.
func New(o extensions.Options) (*Client, error) {
	o = o.WithDefaults()
	addr, err := Address(o.Target)
	if err != nil {
		return nil, fmt.Errorf("kserve-grpc: %w", err)
	}
	if o.Model == "" {
		return nil, fmt.Errorf("kserve-grpc: %w: a model name is required", extensions.ErrBadOptions)
	}
	c := &Client{
		addr: addr, model: o.Model, inputLen: o.InputLen, timeout: o.Timeout, keep: o.KeepOutput,
		head: requestHead(o.Model, o.InputLen),
	}
	c.pool.New = func() any { return &call{c: c} }
	dial := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(c.dial),
		grpc.WithStatsHandler(statsHandler{}),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(codec{}), grpc.MaxCallRecvMsgSize(MaxResponseBytes)),
		grpc.WithDisableServiceConfig(),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: reconnectBase, Multiplier: 1.6, Jitter: 0.2, MaxDelay: reconnectMax},
			MinConnectTimeout: extensions.DefaultDialTimeout,
		}),
	}
	md, extra, err := callMetadata(o.Headers)
	if err != nil {
		return nil, fmt.Errorf("kserve-grpc: %w", err)
	}
	c.md = md
	dial = append(dial, extra...)
	n := max(o.MaxConns, 1)
	for range n {
		cc, err := grpc.NewClient("passthrough:///"+addr, dial...)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("kserve-grpc: %w: %v", extensions.ErrBadOptions, err)
		}
		c.conns = append(c.conns, cc)
	}
	return c, nil
}

// Address returns the host:port a target names: host:port,
// grpc://host:port or http://host:port. A port is required; https:// and
// grpcs:// (TLS) are refused.
func Address(target string) (string, error) {
	t := strings.TrimSpace(target)
	if t == "" {
		return "", fmt.Errorf("%w: empty target", extensions.ErrBadOptions)
	}
	if !strings.Contains(t, "://") {
		t = "grpc://" + t
	}
	u, err := url.Parse(t)
	if err != nil {
		return "", fmt.Errorf("%w: target %q: %v", extensions.ErrBadOptions, target, err)
	}
	switch u.Scheme {
	case "grpc", "http":
	case "grpcs", "https":
		return "", fmt.Errorf("%w: target %q: TLS is not supported; use a plaintext grpc://host:port", extensions.ErrBadOptions, target)
	default:
		return "", fmt.Errorf("%w: target %q: scheme %q is not grpc or http", extensions.ErrBadOptions, target, u.Scheme)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("%w: target %q has no host", extensions.ErrBadOptions, target)
	}
	if u.Port() == "" {
		return "", fmt.Errorf("%w: target %q has no port (KServe serves gRPC on 8081, Triton on 8001)", extensions.ErrBadOptions, target)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("%w: target %q: want host:port only, no path, query or user", extensions.ErrBadOptions, target)
	}
	return u.Host, nil
}

// callMetadata turns Options.Headers into the metadata of every call and
// the dial options of the two headers gRPC sets itself: Host (the
// :authority) and User-Agent.
func callMetadata(h map[string]string) (metadata.MD, []grpc.DialOption, error) {
	var md metadata.MD
	ua := "gonogo"
	var opts []grpc.DialOption
	for k, v := range h {
		key := strings.ToLower(strings.TrimSpace(k))
		switch {
		case key == "host":
			opts = append(opts, grpc.WithAuthority(v))
			continue
		case key == "user-agent":
			ua = v
			continue
		case key == "" || strings.HasPrefix(key, "grpc-") || strings.HasPrefix(key, ":") ||
			key == "content-type" || key == "te" || key == "connection":
			return nil, nil, fmt.Errorf("%w: header %q is reserved by gRPC", extensions.ErrBadOptions, k)
		}
		for _, r := range key {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
				return nil, nil, fmt.Errorf("%w: header %q: a gRPC metadata name holds only a-z, 0-9, -, _ and .", extensions.ErrBadOptions, k)
			}
		}
		if md == nil {
			md = metadata.MD{}
		}
		md[key] = append(md[key], v)
	}
	return md, append(opts, grpc.WithUserAgent(ua)), nil
}

// dial opens a TCP connection, remembering the error of a failed one so
// that Check can tell an unreachable target from one that is not ready.
func (c *Client) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		c.dialErr.Store(&err)
		return nil, err
	}
	c.dialErr.Store(nil)
	return conn, nil
}

// conn returns the connection of the next call.
func (c *Client) conn() *grpc.ClientConn {
	if len(c.conns) == 1 {
		return c.conns[0]
	}
	return c.conns[(c.next.Add(1)-1)%uint64(len(c.conns))]
}

// Do sends one ModelInfer call and checks its answer. See gonogo.Client.
func (c *Client) Do(ctx context.Context, req *gonogo.Request, res *gonogo.Result) {
	if c.keep {
		res.Output = res.Output[:0]
	}
	if req.Recorded != nil {
		res.Done = time.Now()
		res.Class, res.Err = gonogo.ErrOther, ErrRecorded.Error()
		return
	}
	cl := c.pool.Get().(*call)
	defer c.pool.Put(cl)
	cl.id = req.ID
	cl.clean.Store(false)
	cl.resp = cl.resp[:0]
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	var cctx context.Context = &callCtx{Context: rctx, c: cl}
	if c.md != nil {
		cctx = metadata.NewOutgoingContext(cctx, c.md)
	}
	err := c.conn().Invoke(cctx, modelInfer, cl, cl)
	res.Done = time.Now()
	cancel()
	res.BytesIn = int64(len(cl.resp))
	if err != nil {
		c.fail(ctx, rctx, res, err, cl.clean.Load())
		return
	}
	res.Status = int(codes.OK)
	if err := cl.r.parse(cl.resp); err != nil {
		res.Class, res.Err = gonogo.ErrProtocol, (&extensions.ProtocolError{Msg: "invalid protobuf response", Err: err}).Error()
		return
	}
	if err := cl.r.check(); err != nil {
		res.Class, res.Err = gonogo.ErrProtocol, err.Error()
		return
	}
	if c.keep {
		res.Output = cl.r.appendJSON(res.Output[:0])
		if len(res.Output) > extensions.MaxOutputBytes {
			res.Output = res.Output[:extensions.MaxOutputBytes]
		}
	}
	res.Class, res.Err = gonogo.ErrNone, ""
}

// fail records a call that ended with err: Status is its gRPC code, Class
// as the package doc and ClassOf say. ctx is Do's context (done: the run
// was stopped) and rctx the per-request one (past its deadline: a
// timeout); clean says whether the server sent the status.
func (c *Client) fail(ctx, rctx context.Context, res *gonogo.Result, err error, clean bool) {
	st, _ := status.FromError(err)
	code := st.Code()
	res.Status = int(code)
	switch {
	case ctx.Err() != nil:
		res.Class = gonogo.ErrCanceled
	case code == codes.DeadlineExceeded || errors.Is(rctx.Err(), context.DeadlineExceeded):
		res.Class = gonogo.ErrTimeout
		res.Err = (&extensions.TimeoutError{After: c.timeout, Err: statusError{st}}).Error()
		return
	case !clean && notGRPC(st.Message()):
		res.Class = gonogo.ErrProtocol
		res.Err = "protocol error: the answer is not gRPC: " + st.Message()
		return
	case !clean:
		res.Class = gonogo.ErrConnect
		res.Err = "gRPC " + CodeName(code) + " (no status from the server): " + st.Message()
		return
	default:
		res.Class = ClassOf(code)
	}
	res.Err = statusError{st}.Error()
}

// notGRPC reports whether a status message is gRPC's description of an
// answer that is not gRPC at all (an HTTP error page, a wrong content
// type).
func notGRPC(msg string) bool {
	return strings.Contains(msg, "unexpected HTTP status code received from server") ||
		strings.Contains(msg, "malformed header: missing HTTP") ||
		strings.Contains(msg, "received unexpected content-type")
}

// statusError reads "gRPC NOT_FOUND: model \"x\" not found".
type statusError struct{ st *status.Status }

func (e statusError) Error() string {
	if e.st.Message() == "" {
		return "gRPC " + CodeName(e.st.Code())
	}
	return "gRPC " + CodeName(e.st.Code()) + ": " + e.st.Message()
}

// Check calls ServerReady, then ModelReady for the model: both must answer
// ready. A target that cannot be reached gives an error wrapping the dial
// error, which extensions.Preflight reports as unreachable.
func (c *Client) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(c.timeout, 30*time.Second))
	defer cancel()
	if c.md != nil {
		ctx = metadata.NewOutgoingContext(ctx, c.md)
	}
	stub := kservepb.NewGRPCInferenceServiceClient(c.conns[0])
	sr, err := stub.ServerReady(ctx, &kservepb.ServerReadyRequest{})
	if err != nil {
		return c.checkError("ServerReady", err)
	}
	if !sr.GetReady() {
		return errors.New("ServerReady answered ready=false")
	}
	mr, err := stub.ModelReady(ctx, &kservepb.ModelReadyRequest{Name: c.model})
	if err != nil {
		return c.checkError(fmt.Sprintf("ModelReady(%q)", c.model), err)
	}
	if !mr.GetReady() {
		return fmt.Errorf("ModelReady(%q) answered ready=false", c.model)
	}
	return nil
}

func (c *Client) checkError(what string, err error) error {
	st, _ := status.FromError(err)
	if st.Code() == codes.Unavailable {
		if p := c.dialErr.Load(); p != nil {
			return fmt.Errorf("%s: %w", what, *p)
		}
		if strings.Contains(st.Message(), "server preface") {
			return fmt.Errorf("%s: %v (is %s a gRPC server, not an HTTP/1 one?)", what, statusError{st}, c.addr)
		}
	}
	e := fmt.Errorf("%s: %w", what, statusError{st})
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("%w (no such model on this server)", e)
	case codes.Unimplemented:
		return fmt.Errorf("%w (not a KServe v2 gRPC server)", e)
	case codes.Unauthenticated, codes.PermissionDenied:
		return fmt.Errorf(`%w; pass credentials with --header "Authorization: Bearer …"`, e)
	}
	return e
}

// Warm connects every connection of the client and returns when all are
// ready, when ctx ends, or when one fails (it is a scenarios.Warmer). conns
// is ignored: the number of connections is fixed by Options.MaxConns, since
// calls share them.
func (c *Client) Warm(ctx context.Context, _ int) error {
	for _, cc := range c.conns {
		cc.Connect()
	}
	for _, cc := range c.conns {
		for {
			s := cc.GetState()
			if s == connectivity.Ready {
				break
			}
			if s == connectivity.TransientFailure || s == connectivity.Shutdown {
				return fmt.Errorf("kserve-grpc: connecting to %s: %s", c.addr, s)
			}
			if !cc.WaitForStateChange(ctx, s) {
				return ctx.Err()
			}
		}
	}
	return nil
}

// Close closes the client's connections; calls in flight fail.
func (c *Client) Close() error {
	var errs []error
	for _, cc := range c.conns {
		errs = append(errs, cc.Close())
	}
	return errors.Join(errs...)
}
