// Package kserve is the client of the KServe / Open Inference Protocol v2
// (KServe, Triton, MLServer, the gonogo model server), registered as
// "kserve".
//
// Each request POSTs /v2/models/{Options.Model}/infer with one FP32 input
// tensor named "input" of shape [1, Options.InputLen]. Its data is a
// deterministic function of Request.ID, so a run is reproducible and
// different requests carry different inputs. The response must hold at
// least one output with data, and each output's data length must match the
// product of its shape; otherwise the request fails with gonogo.ErrProtocol.
//
// With Options.KeepOutput, Result.Output holds the response's "outputs"
// array as compact JSON, exactly as the server sent it but for whitespace,
// e.g. [{"name":"probabilities","shape":[1,10],"datatype":"FP32","data":[…]}]
// (cut at extensions.MaxOutputBytes, which leaves it unparsable). It is
// kept for valid responses only.
//
// A recorded request (Request.Recorded, from a request log or a HAR) is sent
// as recorded instead: its method, path, headers (under the configured
// Options.Headers, which win) and body, built by extensions.RecordedRequest.
// Its answer is validated as above when its path is an inference endpoint
// (/v2/models/…/infer); otherwise any 2xx answer is a success, and
// Options.KeepOutput keeps its body.
//
// The preflight Check asks GET /v2/health/ready and then
// GET /v2/models/{model}/ready.
//
// DoObserved (extensions.ObservingClient) shows an Observer, for response
// checks, the response's headers and a 2xx answer's JSON body.
package kserve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// Name is the protocol name under which the client registers.
const Name = "kserve"

// InputName is the name of the input tensor sent.
const InputName = "input"

// maxBody bounds a response body.
const maxBody = 64 << 20

func init() {
	extensions.Register(Name, func(o extensions.Options) (gonogo.Client, error) { return New(o) })
}

// Client sends inference requests. It is safe for concurrent use.
type Client struct {
	rt       *http.Transport
	tmpl     *http.Request
	header   http.Header
	base     string
	model    string
	inputLen int
	timeout  time.Duration
	head     string             // the request body up to the data array
	keep     bool               // Options.KeepOutput
	trace    *extensions.Tracer // Options.Trace; nil sends no traceparent
}

var (
	_ gonogo.Client              = (*Client)(nil)
	_ extensions.Checker         = (*Client)(nil)
	_ extensions.ObservingClient = (*Client)(nil)
)

// New builds a client from o: Target, Timeout, MaxConns, Headers, Model
// (required), InputLen and KeepOutput.
func New(o extensions.Options) (*Client, error) {
	o = o.WithDefaults()
	base, err := extensions.BaseURL(o.Target)
	if err != nil {
		return nil, fmt.Errorf("kserve: %w", err)
	}
	if o.Model == "" {
		return nil, fmt.Errorf("kserve: %w: a model name is required", extensions.ErrBadOptions)
	}
	u, err := url.Parse(base + "/v2/models/" + url.PathEscape(o.Model) + "/infer")
	if err != nil {
		return nil, fmt.Errorf("kserve: %w: %v", extensions.ErrBadOptions, err)
	}
	c := &Client{
		rt:       extensions.NewTransport(o),
		header:   extensions.Header(o.Headers),
		base:     base,
		model:    o.Model,
		inputLen: o.InputLen,
		timeout:  o.Timeout,
		keep:     o.KeepOutput,
		trace:    o.Trace,
		head: `{"inputs":[{"name":"` + InputName + `","shape":[1,` + strconv.Itoa(o.InputLen) +
			`],"datatype":"FP32","data":[`,
	}
	h := c.header.Clone()
	h.Set("Content-Type", "application/json")
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", "gonogo")
	}
	c.tmpl = &http.Request{
		Method: http.MethodPost, URL: u, Host: u.Host, Header: h,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
	return c, nil
}

// Body returns the JSON request body Do sends for req.
func (c *Client) Body(req *gonogo.Request) []byte {
	b := make([]byte, 0, len(c.head)+c.inputLen*12+8)
	b = append(b, c.head...)
	x := req.ID*0x9e3779b97f4a7c15 + 1
	for i := 0; i < c.inputLen; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		// splitmix64 step; values in [-1, 1) with float32 precision
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		v := float32(float64(z>>40)/float64(1<<23) - 1)
		b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
	}
	return append(b, "]}]}"...)
}

// Do sends one inference request and checks its answer. See gonogo.Client.
func (c *Client) Do(ctx context.Context, req *gonogo.Request, res *gonogo.Result) {
	c.DoObserved(ctx, req, res, nil)
}

// Shows says that DoObserved shows the response's headers and its JSON
// body.
func (c *Client) Shows() extensions.Shows { return extensions.ShowsHeaders | extensions.ShowsDocuments }

// DoObserved is Do, showing obs (when not nil) the response's headers and
// the body of a 2xx answer (the whole v2 response: model_name, outputs).
func (c *Client) DoObserved(ctx context.Context, req *gonogo.Request, res *gonogo.Result, obs extensions.Observer) {
	if c.keep {
		res.Output = res.Output[:0]
	}
	tmpl, body, infer := c.tmpl, []byte(nil), true
	if rec := req.Recorded; rec != nil {
		r, err := extensions.RecordedRequest(c.tmpl, rec, c.header)
		if err != nil {
			res.Done = time.Now()
			extensions.Fail(ctx, res, err)
			return
		}
		tmpl, body, infer = r, rec.Body, isInferPath(r.URL.Path)
	} else {
		body = c.Body(req)
	}
	if c.trace != nil {
		c.trace.Next(res)
		tmpl = extensions.WithTraceparent(tmpl, res)
	}
	resp, rctx, done := extensions.Send(ctx, c.rt, tmpl, body, c.timeout, res)
	defer done()
	if resp == nil {
		return
	}
	defer resp.Body.Close()
	res.Status = resp.StatusCode
	if obs != nil {
		extensions.ShowHeader(obs, resp.Header)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg, n := extensions.Snippet(resp.Body, 512)
		res.Done = time.Now()
		res.BytesIn = n
		if msg = errorText(msg); msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		extensions.Fail(ctx, res, fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg))
		return
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	rest, _ := extensions.Drain(resp.Body)
	res.Done = time.Now()
	res.BytesIn = int64(len(b)) + rest
	if obs != nil && err == nil {
		obs.Document(b)
	}
	switch {
	case err == nil && !infer:
		if c.keep {
			extensions.AppendOutput(res, b)
		}
	case err == nil:
		err = CheckResponse(b)
		if err == nil && c.keep {
			res.Output = appendOutputs(res.Output[:0], b)
		}
	default:
		err = &extensions.ProtocolError{Msg: "reading response", Err: err}
	}
	extensions.Fail(ctx, res, extensions.Deadline(rctx, c.timeout, err))
}

// isInferPath reports whether path is a v2 inference endpoint,
// /v2/models/{model}[/versions/{version}]/infer, whose answer CheckResponse
// validates.
func isInferPath(path string) bool {
	return strings.HasPrefix(path, "/v2/models/") && strings.HasSuffix(path, "/infer")
}

// Check asks GET /v2/health/ready, then GET /v2/models/{model}/ready; both
// must answer 200.
func (c *Client) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(c.timeout, 30*time.Second))
	defer cancel()
	for _, p := range []string{"/v2/health/ready", "/v2/models/" + url.PathEscape(c.model) + "/ready"} {
		status, body, err := extensions.Get(ctx, c.rt, c.base+p, c.header)
		if err != nil {
			return fmt.Errorf("GET %s: %w", p, err)
		}
		if status != http.StatusOK {
			e := &extensions.StatusError{Method: http.MethodGet, Path: p, Status: status,
				Excerpt: extensions.Excerpt([]byte(errorText(string(body)))), Sent: extensions.HeaderNames(c.header)}
			if status == http.StatusNotFound {
				e.Note = "not a KServe v2 server, or no such model"
			}
			return e
		}
	}
	return nil
}

// inferResponse is the v2 inference response.
type inferResponse struct {
	ModelName string   `json:"model_name"`
	Error     string   `json:"error"`
	Outputs   []tensor `json:"outputs"`
}

type tensor struct {
	Name     string          `json:"name"`
	Shape    []int64         `json:"shape"`
	Datatype string          `json:"datatype"`
	Data     json.RawMessage `json:"data"`
}

// CheckResponse validates a v2 inference response body: valid JSON, no
// error, at least one output with data, and every output's element count
// equal to the product of its shape (data may be flat or nested in row-major
// order). Failures are *extensions.ProtocolError values.
func CheckResponse(b []byte) error {
	var r inferResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return extensions.Protocolf("invalid JSON response: %w", err)
	}
	if r.Error != "" {
		return extensions.Protocolf("server error: %s", r.Error)
	}
	if len(r.Outputs) == 0 {
		return extensions.Protocolf("response has no outputs")
	}
	withData := 0
	for i, t := range r.Outputs {
		name := t.Name
		if name == "" {
			name = "#" + strconv.Itoa(i)
		}
		if len(t.Data) == 0 || string(t.Data) == "null" {
			continue
		}
		var data any
		if err := json.Unmarshal(t.Data, &data); err != nil {
			return extensions.Protocolf("output %s: invalid data: %w", name, err)
		}
		arr, ok := data.([]any)
		if !ok {
			return extensions.Protocolf("output %s: data is not an array", name)
		}
		n := countLeaves(arr)
		if n == 0 {
			continue
		}
		want, err := shapeSize(t.Shape)
		if err != nil {
			return extensions.Protocolf("output %s: %v", name, err)
		}
		if n != want {
			return extensions.Protocolf("output %s: shape %v holds %d elements but data has %d", name, t.Shape, want, n)
		}
		withData++
	}
	if withData == 0 {
		return extensions.Protocolf("no output carries data")
	}
	return nil
}

// appendOutputs appends the "outputs" array of a valid response body b to
// dst as compact JSON, cut at extensions.MaxOutputBytes.
func appendOutputs(dst, b []byte) []byte {
	var r struct {
		Outputs json.RawMessage `json:"outputs"`
	}
	if json.Unmarshal(b, &r) != nil {
		return dst // CheckResponse accepted it: not reached
	}
	buf := bytes.NewBuffer(dst)
	if json.Compact(buf, r.Outputs) != nil {
		return dst
	}
	out := buf.Bytes()
	if len(out) > extensions.MaxOutputBytes {
		out = out[:extensions.MaxOutputBytes]
	}
	return out
}

func countLeaves(a []any) int64 {
	var n int64
	for _, v := range a {
		if sub, ok := v.([]any); ok {
			n += countLeaves(sub)
		} else {
			n++
		}
	}
	return n
}

func shapeSize(shape []int64) (int64, error) {
	if len(shape) == 0 {
		return 1, nil // a scalar
	}
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= d
	}
	return n, nil
}

// errorText extracts the "error" of a v2 error body ({"error": "..."}),
// else returns the body as is.
func errorText(s string) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal([]byte(s), &e) == nil && e.Error != "" {
		return e.Error
	}
	return s
}
