package behaviour

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"unicode/utf8"
)

// Protocol names the wire format of a response body.
type Protocol string

// Protocols Extract reads.
const (
	// ProtocolKServe is the KServe v2 REST infer response.
	ProtocolKServe Protocol = "kserve"
	// ProtocolOpenAI is an OpenAI-compatible completion or chat
	// completion, as one JSON object or an SSE stream.
	ProtocolOpenAI Protocol = "openai"
)

// Outcome says whether a response held a prediction.
type Outcome uint8

// Outcomes of a response.
const (
	// OK is a response with an output.
	OK Outcome = iota
	// Empty is a well-formed response with no output (null or empty).
	Empty
	// Error is a response that does not parse, reports an error, or
	// was cut short.
	Error
)

// String returns "ok", "empty" or "error".
func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Empty:
		return "empty"
	}
	return "error"
}

// Prediction is one scored row of a response.
type Prediction struct {
	// Confidence is the top-class probability (KServe) or the
	// geometric-mean token probability (OpenAI), in [0, 1].
	Confidence float64
	// Class is the top-class index, or -1 when the output has no classes
	// (text generation).
	Class int
}

// Features is what Extract reads from one response.
type Features struct {
	Outcome Outcome
	// Reason says why the response is an error; "" otherwise.
	Reason string
	// Predictions holds one entry per row with a confidence (KServe: each
	// row of a numeric output; OpenAI: one, when log-probabilities are
	// present).
	Predictions []Prediction
	// Tokens is usage.completion_tokens, or -1 when the server did not
	// report it. KServe responses have -1.
	Tokens int
	// Chars is the output text's length in runes (OpenAI; 0 for KServe).
	Chars int
	// FinishReason is choice 0's finish_reason (OpenAI), "" when absent.
	FinishReason string
	// HasLength is true when the response has an output length (OpenAI,
	// not an error).
	HasLength bool
}

// Length is the output length: Tokens when known, else Chars.
func (f *Features) Length() int {
	if f.Tokens >= 0 {
		return f.Tokens
	}
	return f.Chars
}

// Failed returns Features for a response that is an error for a reason
// outside its body (a transport failure, a 5xx status), for the caller to
// count.
func Failed(reason string) Features { return Features{Outcome: Error, Reason: reason, Tokens: -1} }

// Extract reads one response body of protocol p. It never fails: a body
// that cannot be read is Features with Outcome Error and a Reason.
func Extract(p Protocol, body []byte) Features {
	switch p {
	case ProtocolKServe:
		return extractKServe(body)
	case ProtocolOpenAI:
		b := bytes.TrimLeft(body, " \t\r\n")
		if len(b) > 0 && b[0] == '{' {
			return extractOpenAIJSON(b)
		}
		return extractSSE(body)
	}
	return Failed("unknown protocol " + string(p))
}

// hasError reports whether raw, an "error" member, holds something.
func hasError(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

type kserveResponse struct {
	Outputs []struct {
		Shape    []int           `json:"shape"`
		Datatype string          `json:"datatype"`
		Data     json.RawMessage `json:"data"`
	} `json:"outputs"`
	Error json.RawMessage `json:"error"`
}

// probTolerance is how far from 1 a row of probabilities may sum.
const probTolerance = 1e-3

func extractKServe(body []byte) Features {
	f := Features{Tokens: -1}
	var r kserveResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return Failed("kserve: " + err.Error())
	}
	if hasError(r.Error) {
		return Failed("kserve: error response")
	}
	if len(r.Outputs) == 0 {
		f.Outcome = Empty
		return f
	}
	out := r.Outputs[0]
	switch strings.ToUpper(out.Datatype) {
	case "BYTES", "BOOL":
		var items []json.RawMessage
		if err := json.Unmarshal(out.Data, &items); err != nil {
			return Failed("kserve: outputs[0].data: " + err.Error())
		}
		if len(items) == 0 {
			f.Outcome = Empty
		}
		return f
	}
	data, err := numbers(out.Data)
	if err != nil {
		return Failed("kserve: outputs[0].data: " + err.Error())
	}
	if len(data) == 0 {
		f.Outcome = Empty
		return f
	}
	cols, ok := columns(out.Shape, len(data))
	if !ok {
		return Failed("kserve: outputs[0].shape does not match its data")
	}
	f.Predictions = make([]Prediction, 0, len(data)/cols)
	if cols == 1 {
		prob := inUnit(data)
		for _, v := range data {
			if !prob {
				v = 1 / (1 + math.Exp(-v))
			}
			p := Prediction{Confidence: v, Class: 1}
			if v < 0.5 {
				p = Prediction{Confidence: 1 - v, Class: 0}
			}
			f.Predictions = append(f.Predictions, p)
		}
		return f
	}
	prob := inUnit(data)
	for i := 0; prob && i < len(data); i += cols {
		var s float64
		for _, v := range data[i : i+cols] {
			s += v
		}
		prob = math.Abs(s-1) <= probTolerance
	}
	for i := 0; i < len(data); i += cols {
		row := data[i : i+cols]
		top := 0
		for j, v := range row {
			if v > row[top] {
				top = j
			}
		}
		conf := row[top]
		if !prob {
			var s float64
			for _, v := range row {
				s += math.Exp(v - row[top])
			}
			conf = 1 / s
		}
		f.Predictions = append(f.Predictions, Prediction{Confidence: conf, Class: top})
	}
	return f
}

// numbers decodes a flat array of numbers, or an array of arrays of
// numbers (some servers nest rows), row-major.
func numbers(raw json.RawMessage) ([]float64, error) {
	var flat []float64
	err := json.Unmarshal(raw, &flat)
	if err == nil {
		return flat, nil
	}
	var nested [][]float64
	if json.Unmarshal(raw, &nested) != nil {
		return nil, err
	}
	flat = flat[:0] // the failed decode may have filled some
	for _, row := range nested {
		flat = append(flat, row...)
	}
	return flat, nil
}

// columns returns the number of classes per row: the last dimension of
// shape, whose product must be n (no shape: one row of n).
func columns(shape []int, n int) (int, bool) {
	if len(shape) == 0 {
		return n, true
	}
	prod := 1
	for _, d := range shape {
		if d <= 0 || prod > n/d {
			return 0, false
		}
		prod *= d
	}
	return shape[len(shape)-1], prod == n
}

func inUnit(data []float64) bool {
	for _, v := range data {
		if !(v >= 0 && v <= 1) {
			return false
		}
	}
	return true
}

type oaMessage struct {
	Content   *string         `json:"content"`
	ToolCalls json.RawMessage `json:"tool_calls"`
}

// oaBody is a completion, chat completion or stream chunk.
type oaBody struct {
	Choices []struct {
		Index    int        `json:"index"`
		Text     *string    `json:"text"`
		Message  *oaMessage `json:"message"`
		Delta    *oaMessage `json:"delta"`
		Logprobs *struct {
			TokenLogprobs []*float64 `json:"token_logprobs"`
			Content       []struct {
				Logprob *float64 `json:"logprob"`
			} `json:"content"`
		} `json:"logprobs"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		CompletionTokens *int `json:"completion_tokens"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// textState accumulates choice 0 over one body or the chunks of a stream.
type textState struct {
	f       Features
	choice  bool // choice 0 seen
	content bool // non-blank text or a tool call seen
	lpSum   float64
	lpN     int
}

// add folds one decoded object in; false when it reports an error.
func (s *textState) add(b *oaBody) bool {
	if hasError(b.Error) {
		return false
	}
	if b.Usage != nil && b.Usage.CompletionTokens != nil && *b.Usage.CompletionTokens >= 0 {
		s.f.Tokens = *b.Usage.CompletionTokens
	}
	for i := range b.Choices {
		c := &b.Choices[i]
		if c.Index != 0 {
			continue
		}
		s.choice = true
		s.text(c.Text)
		for _, m := range []*oaMessage{c.Message, c.Delta} {
			if m != nil {
				s.text(m.Content)
				if toolCalls(m.ToolCalls) {
					s.content = true
				}
			}
		}
		if lp := c.Logprobs; lp != nil {
			for _, v := range lp.TokenLogprobs {
				s.logprob(v)
			}
			for _, t := range lp.Content {
				s.logprob(t.Logprob)
			}
		}
		if c.FinishReason != nil {
			s.f.FinishReason = *c.FinishReason
		}
	}
	return true
}

// toolCalls reports whether a tool_calls member holds calls.
func toolCalls(raw []byte) bool {
	return len(raw) > 0 && string(raw) != "null" && string(raw) != "[]"
}

// chunk folds one JSON object (a body or a stream event) in; false when
// it does not parse or reports an error.
func (s *textState) chunk(data []byte) bool {
	if isErr, ok := fastChunk(data, s); ok {
		return !isErr
	}
	var b oaBody
	return json.Unmarshal(data, &b) == nil && s.add(&b)
}

func (s *textState) text(t *string) {
	if t == nil {
		return
	}
	s.f.Chars += utf8.RuneCountInString(*t)
	if !s.content && strings.TrimSpace(*t) != "" {
		s.content = true
	}
}

func (s *textState) logprob(v *float64) {
	if v != nil && *v <= 0 && !math.IsInf(*v, 0) {
		s.lpSum += *v
		s.lpN++
	}
}

func (s *textState) features() Features {
	f := s.f
	f.HasLength = true
	if !s.choice || !s.content || f.Tokens == 0 {
		f.Outcome = Empty
	}
	if s.lpN > 0 {
		f.Predictions = []Prediction{{Confidence: math.Exp(s.lpSum / float64(s.lpN)), Class: -1}}
	}
	return f
}

func extractOpenAIJSON(body []byte) Features {
	s := textState{f: Features{Tokens: -1}}
	if !s.chunk(body) {
		return Failed("openai: body does not parse or reports an error")
	}
	return s.features()
}

var done = []byte("[DONE]")

// extractSSE reads an SSE stream: events are separated by blank lines,
// an event's data lines are joined by "\n", comments and other fields are
// skipped.
func extractSSE(body []byte) Features {
	s := textState{f: Features{Tokens: -1}}
	var (
		data   []byte // the event's data so far
		joined bool   // data is a private buffer
		inData bool
		ended  bool
	)
	dispatch := func() bool {
		defer func() { data, joined, inData = nil, false, false }()
		if !inData {
			return true
		}
		if bytes.Equal(bytes.TrimSpace(data), done) {
			ended = true
			return true
		}
		return s.chunk(data)
	}
	for len(body) > 0 && !ended {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			if !dispatch() {
				return Failed("openai: stream event does not parse or reports an error")
			}
			continue
		}
		v, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue // a comment, event:, id: or retry:
		}
		v = bytes.TrimPrefix(v, []byte(" "))
		switch {
		case !inData:
			data, inData = v, true
		case !joined:
			data = append(append(append([]byte(nil), data...), '\n'), v...)
			joined = true
		default:
			data = append(append(data, '\n'), v...)
		}
	}
	if !ended && !dispatch() {
		return Failed("openai: stream event does not parse or reports an error")
	}
	if !ended {
		return Failed("openai: stream ended without data: [DONE]")
	}
	return s.features()
}
