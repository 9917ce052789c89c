// Package openai is the client of OpenAI-compatible generation servers
// (vLLM, TGI, SGLang, llama.cpp, the gonogo model server), registered as
// "openai".
//
// Each request POSTs /v1/completions (a "prompt") or, with Options.API
// "chat", /v1/chat/completions (one user message) of Options.Target, which
// may end in the /v1 of the OpenAI SDKs' base URLs (http://host/v1 and
// http://host are the same target). It asks for exactly the
// wanted output length — Request.OutputTokens, else Options.MaxTokens — by
// sending it as max_tokens and min_tokens with ignore_eos true, and for a
// prompt of Request.InputTokens (else Options.PromptTokens) tokens.
//
// Token estimate: the prompt is made of common short English words and one
// word counts as one token. Real tokenizers differ by a few percent, and chat
// templates add a handful of tokens; the server's usage report is the truth
// for output tokens. Prompts are slices of a precomputed word sequence,
// starting at an offset derived from Request.ID, so consecutive requests
// differ (no accidental prefix-cache hits) and a run is reproducible. With
// Options.Tokenizer the words are those that are one token each under it,
// so a prompt has exactly its length in tokens; with Options.Dataset the
// prompts (and output lengths) come from a dataset instead (package
// extensions/dataset). Result.PromptTokens is the prompt's length as the
// client counts it, Result.ReportedPromptTokens and CachedPromptTokens the
// server's usage.prompt_tokens and prompt_tokens_details.cached_tokens.
//
// Streaming (the default) sends stream: true with stream_options
// include_usage and reads the server-sent events:
//   - TTFT is the time from Result.Sent to the first chunk with non-empty
//     content (completions: choices[].text; chat: choices[].delta.content or
//     reasoning_content).
//   - Every gap between consecutive non-empty content chunks is appended to
//     Result.ChunkGaps.
//   - OutputTokens is usage.completion_tokens when the server reports it,
//     else the number of non-empty content chunks.
//   - A stream that ends without [DONE], a chunk that is not JSON, or an
//     error object is a gonogo.ErrProtocol failure.
//
// A chunk's time is when its last byte reached the client: on the
// plain-HTTP fast path below, when the kernel received the TCP segment
// that carried it (its SO_TIMESTAMPNS receive time stamp), so that neither
// the client's scheduling nor its reading in ticks shifts TTFT or the
// gaps; elsewhere, when the read that brought it returned. Chunks that
// came in one read share the time of its last segment. The end of the
// response (Result.Done) is timed the same way.
//
// Transport: http:// targets on Linux (amd64, arm64) go through the
// client's own HTTP/1.1 client (wire.go): keep-alive connections, requests
// written as prepared bytes, and responses read by a few reactors, each of
// which takes, every millisecond while many requests are in flight, what
// all its connections with data hold — one wake-up for many streamed
// tokens instead of one per token, which is what bounds the streams a
// client can hold on a small machine. Client.Warm (a scenarios.Warmer)
// opens these connections before time zero. https:// targets, and other
// systems, use net/http.
//
// With Options.NoStream (or when a server answers a streaming request with a
// plain JSON body) the usage is read from the response and TTFT stays 0.
//
// With Options.KeepOutput, Result.Output holds the generated text (up to
// extensions.MaxOutputBytes): the content of every streamed chunk
// (completions: choices[].text; chat: choices[].delta.content), or of the
// non-streaming answer (choices[].text or choices[].message.content), in
// order. Reasoning content is left out: it is the answer that shadow runs
// compare. A failed request keeps the text received before the failure.
//
// Accounter reads an answer as the client does from its body's bytes as
// they pass through something else — the rollout proxy relaying it —
// and fills a Result's TTFT, chunk gaps and token counts.
//
// DoObserved (extensions.ObservingClient) shows an Observer, for response
// checks, the final response's headers, the data of every streamed event
// once it has been read as JSON, and [DONE], or a non-streaming answer's
// JSON body, as each is read on either transport: nothing is kept for it.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// Name is the protocol name under which the client registers.
const Name = "openai"

// Endpoint paths.
const (
	CompletionsPath = "/v1/completions"
	ChatPath        = "/v1/chat/completions"
	ModelsPath      = "/v1/models"
)

// maxBody bounds a non-streaming response body.
const maxBody = 64 << 20

func init() {
	extensions.Register(Name, func(o extensions.Options) (gonogo.Client, error) { return New(o) })
}

// Client sends generation requests. It is safe for concurrent use.
type Client struct {
	wire      *wire  // http:// targets; nil for https://
	wireHead  []byte // the head of a generated request on the wire, without Content-Length
	rt        *http.Transport
	tmpl      *http.Request
	header    http.Header
	modelsURL string
	model     string
	chat      bool
	stream    bool
	prompt    int
	maxTokens int
	timeout   time.Duration
	keep      bool               // Options.KeepOutput
	trace     *extensions.Tracer // Options.Trace; nil sends no traceparent

	// pieces of the request body around the prompt and the token counts
	head, mid, tail string
	p               prompts // where the prompts come from (prompt.go)
}

var (
	_ gonogo.Client              = (*Client)(nil)
	_ extensions.Checker         = (*Client)(nil)
	_ extensions.ObservingClient = (*Client)(nil)
)

// New builds a client from o: Target, Timeout, MaxConns, Headers, Model,
// API, NoStream, PromptTokens, MaxTokens and KeepOutput.
func New(o extensions.Options) (*Client, error) {
	o = o.WithDefaults()
	base, err := extensions.BaseURL(o.Target)
	if err != nil {
		return nil, fmt.Errorf("openai: %w", err)
	}
	// The OpenAI SDKs take a base URL ending in /v1; the paths carry it.
	base = strings.TrimSuffix(base, "/v1")
	c := &Client{
		rt:        extensions.NewTransport(o),
		modelsURL: base + ModelsPath,
		model:     o.Model,
		stream:    !o.NoStream,
		prompt:    o.PromptTokens,
		maxTokens: o.MaxTokens,
		timeout:   o.Timeout,
		keep:      o.KeepOutput,
		trace:     o.Trace,
	}
	path := CompletionsPath
	switch o.API {
	case extensions.APICompletions:
	case extensions.APIChat:
		c.chat, path = true, ChatPath
	default:
		return nil, fmt.Errorf("openai: %w: --api %q: want %s or %s", extensions.ErrBadOptions, o.API, extensions.APICompletions, extensions.APIChat)
	}
	u, err := url.Parse(base + path)
	if err != nil {
		return nil, fmt.Errorf("openai: %w: %v", extensions.ErrBadOptions, err)
	}
	c.header = extensions.Header(o.Headers)
	h := c.header.Clone()
	h.Set("Content-Type", "application/json")
	if c.stream {
		h.Set("Accept", "text/event-stream")
	} else {
		h.Set("Accept", "application/json")
	}
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", "gonogo")
	}
	if o.Trace != nil {
		delete(h, extensions.TraceparentHeader) // each request gets its own
	}
	c.tmpl = &http.Request{
		Method: http.MethodPost, URL: u, Host: u.Host, Header: h,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
	for k, vs := range h {
		for _, v := range vs {
			if err := extensions.CheckHeader(k, v); err != nil {
				return nil, fmt.Errorf("openai: %w: %v", extensions.ErrBadOptions, err)
			}
		}
	}
	if u.Scheme == "http" && haveWire && o.Transport.Wire() {
		addr, _ := extensions.HostPort(base) // BaseURL checked it
		c.wire = newWire(o.Transport.DialAddr(addr), o.Timeout, o.MaxConns)
		runtime.AddCleanup(c, (*extensions.Pool[*wireConn]).Close, c.wire.pool) // its idle connections go with it
		c.wireHead = extensions.AppendRequestHead(nil, http.MethodPost, u.RequestURI(), u.Host, h)
	}

	head := "{"
	if c.model != "" {
		m, _ := json.Marshal(c.model)
		head += `"model":` + string(m) + ","
	}
	if err := c.setPrompts(o, head); err != nil {
		return nil, err
	}
	if c.chat {
		c.head = head + `"messages":[{"role":"user","content":"`
		c.mid = `"}],"max_tokens":`
	} else {
		c.head = head + `"prompt":"`
		c.mid = `","max_tokens":`
	}
	if c.stream {
		c.tail = `,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}`
	} else {
		c.tail = `,"ignore_eos":true,"stream":false}`
	}
	return c, nil
}

// Body returns the JSON request body Do sends for req. It is exported for
// tests and for tools that want to show what is sent.
func (c *Client) Body(req *gonogo.Request) []byte {
	return c.appendBody(nil, req)
}

// Do sends one generation request and measures it. See gonogo.Client.
func (c *Client) Do(ctx context.Context, req *gonogo.Request, res *gonogo.Result) {
	c.DoObserved(ctx, req, res, nil)
}

// Shows says that DoObserved shows the response's headers, the data of
// every streamed event and a non-streaming answer's JSON body.
func (c *Client) Shows() extensions.Shows {
	return extensions.ShowsHeaders | extensions.ShowsEvents | extensions.ShowsDocuments
}

// DoObserved is Do, showing obs (when not nil) the final response's
// headers, then the data of each streamed event up to [DONE] or the body
// of a JSON answer (an error answer's body is not shown).
func (c *Client) DoObserved(ctx context.Context, req *gonogo.Request, res *gonogo.Result, obs extensions.Observer) {
	res.ChunkGaps = res.ChunkGaps[:0]
	if c.keep {
		res.Output = res.Output[:0]
	}
	tmpl, body, stream := c.tmpl, []byte(nil), c.stream
	if rec := req.Recorded; rec != nil {
		// A request log's request goes as recorded; whether it streams is
		// the server's answer to say.
		r, err := extensions.RecordedRequest(c.tmpl, rec, c.header)
		if err != nil {
			res.Done = time.Now()
			extensions.Fail(ctx, res, err)
			return
		}
		tmpl, body, stream = r, rec.Body, true
	} else {
		res.PromptTokens = c.promptTokens(req)
		if c.wire == nil {
			body = c.Body(req)
		}
	}
	if c.trace != nil {
		c.trace.Next(res)
		if c.wire == nil || req.Recorded != nil {
			tmpl = extensions.WithTraceparent(tmpl, res) // the wire adds it to generated requests
		}
	}
	if c.wire != nil {
		wr := request{gen: req, method: http.MethodPost, stream: stream, obs: obs}
		if req.Recorded != nil {
			head := extensions.AppendRequestHead(nil, tmpl.Method, tmpl.URL.RequestURI(), tmpl.Host, tmpl.Header)
			wr = request{head: head, body: body, method: tmpl.Method, stream: true, obs: obs}
		}
		c.wire.do(ctx, c, wr, res)
		if req.Recorded == nil {
			res.PromptTokens = c.promptTokens(req) // a retry on a fresh connection cleared it
		}
		return
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
	cr := &countingReader{r: resp.Body}
	res.Done = time.Time{} // readStream sets it when [DONE] arrives
	var err error
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		msg, _ := extensions.Snippet(cr, 512)
		if msg = errorMessage([]byte(msg)); msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
		res.Done = time.Now()
	case stream && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"):
		_, err = readStream(cr, res, c.keep, obs)
	default:
		err = readJSON(cr, res, c.keep, obs)
		res.Done = time.Now()
	}
	if res.Done.IsZero() {
		res.Done = time.Now()
	}
	res.BytesIn = cr.n
	extensions.Fail(ctx, res, extensions.Deadline(rctx, c.timeout, err))
}

// Check asks GET /v1/models: 200 means ready, 404 means the target is not an
// OpenAI-compatible server. When Options.Model is set and the server lists
// models, the model must be among them.
func (c *Client) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(c.timeout, 30*time.Second))
	defer cancel()
	status, body, err := extensions.Get(ctx, c.rt, c.modelsURL, c.header)
	if err != nil {
		return fmt.Errorf("GET %s: %w", ModelsPath, err)
	}
	if status != http.StatusOK {
		e := &extensions.StatusError{Method: http.MethodGet, Path: ModelsPath, Status: status,
			Excerpt: extensions.Excerpt([]byte(errorMessage(body))), Sent: extensions.HeaderNames(c.header)}
		if status == http.StatusNotFound {
			e.Note = "not an OpenAI-compatible server"
		}
		return e
	}
	if c.model == "" {
		return nil
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &list) != nil || len(list.Data) == 0 {
		return nil
	}
	ids := make([]string, len(list.Data))
	for i, m := range list.Data {
		ids[i] = m.ID
	}
	if !slices.Contains(ids, c.model) {
		return fmt.Errorf("model %q is not served (GET %s lists: %s)", c.model, ModelsPath, strings.Join(ids, ", "))
	}
	return nil
}

// chunk is one streamed event, or a whole non-streaming response.
type chunk struct {
	Object  string          `json:"object"`
	Message string          `json:"message"`
	Error   json.RawMessage `json:"error"`
	Choices []choice        `json:"choices"`
	Usage   *usage          `json:"usage"`
}

type choice struct {
	Text  string  `json:"text"`
	Delta message `json:"delta"`
	// Message is the answer of a non-streaming chat completion.
	Message message `json:"message"`
}

type message struct {
	Content          string `json:"content"`
	ReasoningContent string `json:"reasoning_content"`
	Reasoning        string `json:"reasoning"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	// PromptTokensDetails is read leniently (cachedTokens): servers that
	// put something else there are not failed for it.
	PromptTokensDetails json.RawMessage `json:"prompt_tokens_details"`
}

// cachedTokens is prompt_tokens_details.cached_tokens when the details
// are an object with a whole number there, else 0.
func (u *usage) cachedTokens() int {
	var d struct {
		CachedTokens int `json:"cached_tokens"`
	}
	if len(u.PromptTokensDetails) == 0 || json.Unmarshal(u.PromptTokensDetails, &d) != nil {
		return 0
	}
	return d.CachedTokens
}

// report sets the prompt tokens the server reported in res.
func (u *usage) report(res *gonogo.Result) {
	res.ReportedPromptTokens, res.CachedPromptTokens = u.PromptTokens, u.cachedTokens()
}

// hasContent reports whether any choice carries generated text.
func (ch *chunk) hasContent() bool {
	for i := range ch.Choices {
		c := &ch.Choices[i]
		if c.Text != "" || c.Delta.Content != "" || c.Delta.ReasoningContent != "" || c.Delta.Reasoning != "" ||
			c.Message.Content != "" || c.Message.ReasoningContent != "" {
			return true
		}
	}
	return false
}

// keepText appends the answer text of every choice to res.Output: text,
// delta.content and message.content (reasoning left out).
func (ch *chunk) keepText(res *gonogo.Result) {
	for i := range ch.Choices {
		c := &ch.Choices[i]
		extensions.AppendOutputString(res, c.Text)
		extensions.AppendOutputString(res, c.Delta.Content)
		extensions.AppendOutputString(res, c.Message.Content)
	}
}

// failure returns the error a chunk reports, or nil.
func (ch *chunk) failure() error {
	if len(ch.Error) > 0 && string(ch.Error) != "null" {
		return extensions.Protocolf("server error: %s", errorMessage(ch.Error))
	}
	if ch.Object == "error" {
		return extensions.Protocolf("server error: %s", ch.Message)
	}
	return nil
}

// reset clears ch for reuse, zeroing the choices' backing array so no field
// of an earlier chunk survives into the next.
func (ch *chunk) reset() {
	cs := ch.Choices[:cap(ch.Choices)]
	clear(cs)
	*ch = chunk{Choices: cs[:0]}
}

// readJSON reads a non-streaming completion and fills res.OutputTokens;
// with keep, also res.Output. obs, when not nil, is shown the body.
func readJSON(body io.Reader, res *gonogo.Result, keep bool, obs extensions.Observer) error {
	b, err := io.ReadAll(io.LimitReader(body, maxBody))
	if err != nil {
		return &extensions.ProtocolError{Msg: "reading response", Err: err}
	}
	extensions.Drain(body)
	return parseJSON(b, res, keep, obs)
}

// parseJSON reads b, a non-streaming completion, as readJSON does.
func parseJSON(b []byte, res *gonogo.Result, keep bool, obs extensions.Observer) error {
	var ch chunk
	if err := json.Unmarshal(b, &ch); err != nil {
		return extensions.Protocolf("invalid JSON response (%s): %w", clip(b, 80), err)
	}
	if obs != nil {
		obs.Document(b)
	}
	if err := ch.failure(); err != nil {
		return err
	}
	if len(ch.Choices) == 0 {
		return extensions.Protocolf("response has no choices")
	}
	if ch.Usage != nil {
		res.OutputTokens = ch.Usage.CompletionTokens
		ch.Usage.report(res)
	}
	if keep {
		ch.keepText(res)
	}
	return nil
}

// errorMessage extracts a readable message from an error body: the
// "message" of {"error": {...}} or {"error": "..."} or {"message": ...},
// else the text itself.
func errorMessage(b []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	var obj struct {
		Message string `json:"message"`
	}
	var s string
	switch {
	case json.Unmarshal(b, &s) == nil && s != "":
		return s
	case json.Unmarshal(b, &obj) == nil && obj.Message != "":
		return obj.Message
	case json.Unmarshal(b, &v) == nil && len(v.Error) > 0 && string(v.Error) != "null":
		return errorMessage(v.Error)
	}
	return clip(b, 200)
}

// clip returns b as a string of at most n bytes, marked when cut.
func clip(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
