package fuzz

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Seed is a normal request that mutations start from: a protocol's
// built-in request (DefaultSeeds) or one recorded in a request log
// (ReadSeeds). Its headers are never kept.
type Seed struct {
	Method string
	// Path is the request's path and query.
	Path string
	Body []byte
	// Line is the request log line it came from; 0 for a built-in seed.
	Line int64
}

// Mutation is one malformed request, a deterministic function of its
// class, seed request, index and the run's seed.
type Mutation struct {
	Class Class
	// Variant names the kind of damage within the class ("truncated",
	// "NaN", "negative").
	Variant string
	// Detail says what was changed, printably ("inputs[0].data[2] = NaN").
	Detail string
	Method string
	Path   string
	Body   []byte
	// Legal is true when the mutated request is still a valid one (a
	// huge max_tokens a server may clip): a 2xx to it is Accepted, not
	// AcceptedNonsense.
	Legal bool
}

// DefaultHugePromptBytes is the size of a huge-prompt mutation's prompt:
// 1 MiB of one-letter words, 512 Ki words, beyond any model's context.
const DefaultHugePromptBytes = 1 << 20

// Mutator makes the mutations of one protocol. The zero value is not
// usable: set Protocol.
type Mutator struct {
	// Protocol is ProtocolOpenAI or ProtocolKServe.
	Protocol string
	// Model is the model of built-in bodies and paths; empty leaves the
	// OpenAI "model" field out.
	Model string
	// HugePromptBytes is the prompt size of huge-prompt (0:
	// DefaultHugePromptBytes).
	HugePromptBytes int
}

// variants lists each class's variants per protocol; a class that does not
// apply to a protocol has none. Mutation n of a class is variant
// n mod len(variants), so that a class's first requests cover them all.
var variants = map[string]map[Class][]string{
	ProtocolOpenAI: {
		InvalidJSON:   {"truncated", "trailing-garbage", "single-quotes"},
		WrongTypes:    {"prompt-object", "max-tokens-string", "stream-string", "model-number", "text-number"},
		EmptyPrompt:   {"empty-string", "whitespace", "empty-array"},
		HugePrompt:    {"words"},
		InvalidUTF8:   {"invalid-start", "lone-continuation", "truncated-sequence", "surrogate", "overlong"},
		NaNInf:        {"temperature-NaN", "temperature-Infinity", "top_p--Infinity", "temperature-1e999", "max_tokens-NaN", "max_tokens-Infinity"},
		UnknownModel:  {"random-name", "case-changed"},
		MissingFields: {"no-text", "empty-object", "no-role"},
		MaxTokens:     {"negative", "zero", "min-int32", "fractional", "max-int32", "max-int64", "overflow"},
	},
	ProtocolKServe: {
		InvalidJSON:   {"truncated", "trailing-garbage", "single-quotes"},
		WrongTypes:    {"data-string", "data-strings", "shape-string", "datatype-number", "inputs-object"},
		EmptyPrompt:   {"empty-tensor", "zero-batch", "no-inputs"},
		InvalidUTF8:   {"invalid-start", "lone-continuation", "truncated-sequence", "surrogate", "overlong"},
		NaNInf:        {"NaN", "Infinity", "-Infinity", "1e999", "-1e999", "all-NaN"},
		WrongShape:    {"extra-column", "extra-row", "negative-dim", "scalar-shape", "short-data"},
		UnknownModel:  {"random-name", "case-changed"},
		MissingFields: {"no-inputs", "no-data", "no-shape", "no-datatype", "no-name"},
	},
}

// legalVariants are the variants whose mutated request is still valid.
var legalVariants = map[string]bool{"max-int32": true, "max-int64": true, "overflow": true}

// badBytes are the invalid UTF-8 sequences of the invalid-utf8 variants.
var badBytes = map[string]string{
	"invalid-start":      "\xff",
	"lone-continuation":  "\x80",
	"truncated-sequence": "\xc3(",
	"surrogate":          "\xed\xa0\x80",
	"overlong":           "\xc0\xaf",
}

// Variants returns the variants of class c under protocol, nil when c does
// not apply to it.
func Variants(protocol string, c Class) []string { return variants[protocol][c] }

// Applies reports whether class c applies to protocol.
func Applies(protocol string, c Class) bool { return len(variants[protocol][c]) > 0 }

// Mutate returns mutation n of class c made from seed s, drawn from the run
// seed: the same arguments give the same mutation. It reports false when c
// does not apply to the protocol. A seed whose body is not a request of
// the protocol (not a JSON object, no prompt, no input tensor) is replaced
// by the built-in body, keeping its path when that is the protocol's.
func (m Mutator) Mutate(c Class, s Seed, n, seed uint64) (Mutation, bool) {
	vs := variants[m.Protocol][c]
	if len(vs) == 0 {
		return Mutation{}, false
	}
	r := &prng{state: mix(seed, hashString(string(c)), n)}
	mu := Mutation{Class: c, Variant: vs[n%uint64(len(vs))], Method: "POST"}
	obj, path := m.normalize(s)
	mu.Path = path
	mu.Legal = legalVariants[mu.Variant]
	e := &editor{}
	if m.Protocol == ProtocolKServe {
		mu.Detail = m.kserve(&mu, obj, e, r)
	} else {
		mu.Detail = m.openai(&mu, obj, e, r)
	}
	if mu.Body == nil {
		mu.Body = e.encode(obj)
	}
	return mu, true
}

// openai applies an OpenAI mutation to obj (or to mu.Path, mu.Body) and
// returns its detail.
func (m Mutator) openai(mu *Mutation, obj map[string]any, e *editor, r *prng) string {
	chat := isChatPath(mu.Path)
	textField := "prompt"
	var msg map[string]any // the last message of a chat request
	if chat {
		msgs := obj["messages"].([]any)
		msg = msgs[len(msgs)-1].(map[string]any)
		textField = fmt.Sprintf("messages[%d].content", len(msgs)-1)
	}
	setText := func(v any) {
		if chat {
			msg["content"] = v
		} else {
			obj["prompt"] = v
		}
	}
	text := promptOf(obj, msg)
	tokField := "max_tokens"
	if _, ok := obj["max_tokens"]; !ok {
		if _, ok := obj["max_completion_tokens"]; ok {
			tokField = "max_completion_tokens"
		}
	}
	switch mu.Class {
	case InvalidJSON:
		mu.Body, mu.Detail = invalidJSON(mu.Variant, e.encode(obj), r)
		return mu.Detail
	case WrongTypes:
		switch mu.Variant {
		case "prompt-object":
			if chat {
				obj["messages"] = msg
				return "messages: an object where an array belongs"
			}
			obj["prompt"] = map[string]any{"text": text}
			return "prompt: an object where a string belongs"
		case "max-tokens-string":
			obj[tokField] = "16"
			return tokField + `: the string "16" where a number belongs`
		case "stream-string":
			obj["stream"] = "yes"
			return `stream: the string "yes" where a boolean belongs`
		case "model-number":
			obj["model"] = json.Number("42")
			return "model: a number where a string belongs"
		default: // text-number
			setText(json.Number("12345"))
			return textField + ": a number where a string belongs"
		}
	case EmptyPrompt:
		// a chat request is empty when every message is: a system
		// message with text still gives the model something to answer
		setAll := func(v string) string {
			if !chat {
				obj["prompt"] = v
				return "prompt"
			}
			for _, m := range obj["messages"].([]any) {
				if mm, ok := m.(map[string]any); ok {
					mm["content"] = v
				}
			}
			return "messages[*].content"
		}
		switch mu.Variant {
		case "empty-string":
			return setAll("") + `: ""`
		case "whitespace":
			return setAll(" \n\t ") + ": whitespace only"
		default: // empty-array
			if chat {
				obj["messages"] = []any{}
				return "messages: []"
			}
			obj["prompt"] = []any{}
			return "prompt: []"
		}
	case HugePrompt:
		size := m.HugePromptBytes
		if size <= 0 {
			size = DefaultHugePromptBytes
		}
		words := make([]byte, 0, size)
		for len(words)+2 <= size {
			words = append(words, byte('a'+r.intn(26)), ' ')
		}
		setText(e.raw(words, true))
		return fmt.Sprintf("%s: %d bytes of one-letter words (%d words)", textField, len(words), len(words)/2)
	case InvalidUTF8:
		bad := badBytes[mu.Variant]
		at := runeBoundary(text, r)
		setText(e.raw([]byte(jsonEscape(text[:at])+bad+jsonEscape(text[at:])), true))
		return fmt.Sprintf("%s: bytes %s inserted at byte %d", textField, hexBytes(bad), at)
	case NaNInf:
		field, tok, _ := strings.Cut(mu.Variant, "-")
		if field == "max_tokens" {
			field = tokField
		}
		obj[field] = e.raw([]byte(tok), false)
		return fmt.Sprintf("%s: %s", field, tok)
	case UnknownModel:
		name := unknownName(mu.Variant, modelOf(obj), r)
		obj["model"] = name
		return "model: " + strconv.Quote(name)
	case MissingFields:
		switch {
		case mu.Variant == "empty-object":
			clear(obj)
			return "body: {}"
		case mu.Variant == "no-role" && chat:
			delete(msg, "role")
			return fmt.Sprintf("messages[%d].role removed", len(obj["messages"].([]any))-1)
		case chat:
			mu.Variant = "no-text"
			delete(obj, "messages")
			return "messages removed"
		}
		mu.Variant = "no-text"
		delete(obj, "prompt")
		return "prompt removed"
	case MaxTokens:
		lit := map[string]string{
			"negative": "-1", "zero": "0", "min-int32": "-2147483648", "fractional": "16.5",
			"max-int32": "2147483647", "max-int64": "9223372036854775807", "overflow": "18446744073709551616",
		}[mu.Variant]
		obj[tokField] = json.Number(lit)
		return tokField + ": " + lit
	}
	return ""
}

// kserve applies a KServe v2 mutation and returns its detail.
func (m Mutator) kserve(mu *Mutation, obj map[string]any, e *editor, r *prng) string {
	inputs := obj["inputs"].([]any)
	in := inputs[0].(map[string]any)
	data := in["data"].([]any)
	shape := in["shape"].([]any)
	switch mu.Class {
	case InvalidJSON:
		mu.Body, mu.Detail = invalidJSON(mu.Variant, e.encode(obj), r)
		return mu.Detail
	case WrongTypes:
		switch mu.Variant {
		case "data-string":
			parts := make([]string, len(data))
			for i, v := range data {
				parts[i] = fmt.Sprint(v)
			}
			in["data"] = strings.Join(parts, ",")
			return "inputs[0].data: a string where an array belongs"
		case "data-strings":
			strs := make([]any, len(data))
			for i, v := range data {
				strs[i] = fmt.Sprint(v)
			}
			in["data"] = strs
			return "inputs[0].data: strings where numbers belong"
		case "shape-string":
			in["shape"] = fmt.Sprint(shape)
			return "inputs[0].shape: a string where an array belongs"
		case "datatype-number":
			in["datatype"] = json.Number("32")
			return "inputs[0].datatype: a number where a string belongs"
		default: // inputs-object
			obj["inputs"] = in
			return "inputs: an object where an array belongs"
		}
	case EmptyPrompt:
		switch mu.Variant {
		case "empty-tensor":
			in["shape"], in["data"] = []any{json.Number("1"), json.Number("0")}, []any{}
			return "inputs[0]: shape [1, 0], data []"
		case "zero-batch":
			in["shape"], in["data"] = []any{json.Number("0"), json.Number(strconv.Itoa(len(data)))}, []any{}
			return fmt.Sprintf("inputs[0]: shape [0, %d], data []", len(data))
		default: // no-inputs
			obj["inputs"] = []any{}
			return "inputs: []"
		}
	case InvalidUTF8:
		bad := badBytes[mu.Variant]
		name, _ := in["name"].(string)
		at := runeBoundary(name, r)
		in["name"] = e.raw([]byte(jsonEscape(name[:at])+bad+jsonEscape(name[at:])), true)
		return fmt.Sprintf("inputs[0].name: bytes %s inserted at byte %d", hexBytes(bad), at)
	case NaNInf:
		if mu.Variant == "all-NaN" {
			for i := range data {
				data[i] = e.raw([]byte("NaN"), false)
			}
			return fmt.Sprintf("inputs[0].data: all %d values NaN", len(data))
		}
		i := r.intn(len(data))
		data[i] = e.raw([]byte(mu.Variant), false)
		return fmt.Sprintf("inputs[0].data[%d] = %s", i, mu.Variant)
	case WrongShape:
		rows, cols := 1, len(data)
		if len(shape) == 2 {
			if a, b := dim(shape[0]), dim(shape[1]); a > 0 && b > 0 && a*b == len(data) {
				rows, cols = a, b
			}
		}
		num := func(n int) any { return json.Number(strconv.Itoa(n)) }
		switch mu.Variant {
		case "extra-column":
			in["shape"] = []any{num(rows), num(cols + 1)}
		case "extra-row":
			in["shape"] = []any{num(rows + 1), num(cols)}
		case "negative-dim":
			in["shape"] = []any{num(-rows), num(cols)}
		case "scalar-shape":
			in["shape"] = []any{}
		default: // short-data
			in["shape"] = []any{num(rows), num(cols)}
			in["data"] = data[:len(data)-1]
			return fmt.Sprintf("inputs[0]: shape [%d, %d], %d values", rows, cols, len(data)-1)
		}
		return fmt.Sprintf("inputs[0].shape %v for %d values", in["shape"], len(data))
	case UnknownModel:
		name := unknownName(mu.Variant, modelOfPath(mu.Path), r)
		mu.Path = inferPath(name)
		return "model: " + strconv.Quote(name)
	case MissingFields:
		switch mu.Variant {
		case "no-inputs":
			delete(obj, "inputs")
			return "inputs removed"
		default: // no-data, no-shape, no-datatype, no-name
			field := strings.TrimPrefix(mu.Variant, "no-")
			delete(in, field)
			return "inputs[0]." + field + " removed"
		}
	}
	return ""
}

// invalidJSON damages a compact JSON object's text.
func invalidJSON(variant string, b []byte, r *prng) ([]byte, string) {
	switch {
	case variant == "truncated" && len(b) >= 2:
		cut := 1 + r.intn(len(b)-1)
		return b[:cut:cut], fmt.Sprintf("cut after byte %d of %d", cut, len(b))
	case variant == "single-quotes" && bytes.Count(b, []byte(`"`)) >= 2:
		return bytes.ReplaceAll(b, []byte(`"`), []byte(`'`)), "every \" replaced by '"
	}
	tails := []string{"}", " garbage", `{"x":1}`, ",", "]"}
	tail := tails[r.intn(len(tails))]
	return append(b[:len(b):len(b)], tail...), "trailing " + strconv.Quote(tail)
}

// normalize parses the seed's body as a request of the protocol, or
// returns the built-in one, and the path to send it to.
func (m Mutator) normalize(s Seed) (map[string]any, string) {
	path := s.Path
	obj, _ := parseObject(s.Body)
	if m.Protocol == ProtocolKServe {
		if !isInferPath(path) {
			path = inferPath(m.Model)
		}
		if !kserveUsable(obj) {
			obj = m.builtin(false)
		}
		return obj, path
	}
	if !isOpenAIPath(path) {
		path = CompletionsPath
	}
	chat := isChatPath(path)
	if !openAIUsable(obj, chat) {
		obj = m.builtin(chat)
	}
	return obj, path
}

// builtin returns the built-in body: a completion or chat request of a
// short prompt, or a [1, 4] FP32 tensor.
func (m Mutator) builtin(chat bool) map[string]any {
	var b []byte
	for _, s := range DefaultSeeds(m.Protocol, m.Model) {
		if m.Protocol == ProtocolKServe || isChatPath(s.Path) == chat {
			b = s.Body
			break
		}
	}
	obj, _ := parseObject(b)
	return obj
}

// Paths of the OpenAI seeds.
const (
	CompletionsPath = "/v1/completions"
	ChatPath        = "/v1/chat/completions"
)

// DefaultPrompt is the prompt of the built-in OpenAI seeds.
const DefaultPrompt = "Write one short sentence about the sea."

// DefaultSeeds returns the protocol's normal requests: an OpenAI
// completion and chat request (with "model" when model is set), or a
// KServe v2 infer request of one [1, 4] FP32 tensor named "input" to
// model.
func DefaultSeeds(protocol, model string) []Seed {
	enc := func(v map[string]any) []byte {
		if model != "" && protocol == ProtocolOpenAI {
			v["model"] = model
		}
		b, _ := json.Marshal(v)
		return b
	}
	if protocol == ProtocolKServe {
		return []Seed{{Method: "POST", Path: inferPath(model), Body: enc(map[string]any{
			"inputs": []any{map[string]any{"name": "input", "shape": []int{1, 4}, "datatype": "FP32", "data": []float64{0.25, -0.5, 0.75, 0.125}}},
		})}}
	}
	return []Seed{
		{Method: "POST", Path: CompletionsPath, Body: enc(map[string]any{"prompt": DefaultPrompt, "max_tokens": 16})},
		{Method: "POST", Path: ChatPath, Body: enc(map[string]any{
			"messages": []any{map[string]any{"role": "user", "content": DefaultPrompt}}, "max_tokens": 16})},
	}
}

func openAIUsable(obj map[string]any, chat bool) bool {
	if obj == nil {
		return false
	}
	if !chat {
		_, ok := obj["prompt"].(string)
		return ok
	}
	msgs, ok := obj["messages"].([]any)
	if !ok || len(msgs) == 0 {
		return false
	}
	last, ok := msgs[len(msgs)-1].(map[string]any)
	if !ok {
		return false
	}
	_, ok = last["content"].(string)
	return ok
}

func kserveUsable(obj map[string]any) bool {
	inputs, ok := obj["inputs"].([]any)
	if !ok || len(inputs) == 0 {
		return false
	}
	in, ok := inputs[0].(map[string]any)
	if !ok {
		return false
	}
	data, ok := in["data"].([]any)
	if !ok || len(data) == 0 {
		return false
	}
	for _, v := range data {
		if _, ok := v.(json.Number); !ok {
			return false
		}
	}
	_, ok = in["shape"].([]any)
	name, _ := in["name"].(string)
	return ok && utf8.ValidString(name)
}

// promptOf returns the text a text mutation edits.
func promptOf(obj, msg map[string]any) string {
	var s string
	if msg != nil {
		s, _ = msg["content"].(string)
	} else {
		s, _ = obj["prompt"].(string)
	}
	return s
}

func modelOf(obj map[string]any) string {
	s, _ := obj["model"].(string)
	return s
}

// unknownName is a model name no server serves: random, or model with its
// letters' case changed (random when that changes nothing).
func unknownName(variant, model string, r *prng) string {
	if variant == "case-changed" {
		if up := strings.ToUpper(model); up != model {
			return up
		}
		if low := strings.ToLower(model); low != model {
			return low
		}
	}
	return fmt.Sprintf("gonogo-fuzz-no-such-model-%08x", uint32(r.next()))
}

func dim(v any) int {
	n, ok := v.(json.Number)
	if !ok {
		return 0
	}
	i, err := strconv.Atoi(string(n))
	if err != nil {
		return 0
	}
	return i
}

func stripQuery(path string) string {
	p, _, _ := strings.Cut(path, "?")
	return p
}

func isChatPath(path string) bool { return strings.HasSuffix(stripQuery(path), "/chat/completions") }

func isOpenAIPath(path string) bool {
	p := stripQuery(path)
	return strings.HasSuffix(p, "/completions")
}

func isInferPath(path string) bool {
	p := stripQuery(path)
	return strings.HasPrefix(p, "/v2/models/") && strings.HasSuffix(p, "/infer")
}

func inferPath(model string) string { return "/v2/models/" + url.PathEscape(model) + "/infer" }

// modelOfPath returns the model of a /v2/models/{name}/… path.
func modelOfPath(path string) string {
	rest := strings.TrimPrefix(stripQuery(path), "/v2/models/")
	name, _, _ := strings.Cut(rest, "/")
	if u, err := url.PathUnescape(name); err == nil {
		return u
	}
	return name
}

// runeBoundary picks a byte offset of s that starts a rune (or len(s)).
func runeBoundary(s string, r *prng) int {
	var starts []int
	for i := range s {
		starts = append(starts, i)
	}
	starts = append(starts, len(s))
	return starts[r.intn(len(starts))]
}

// jsonEscape returns s as it stands between the quotes of a JSON string.
func jsonEscape(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return string(b[1 : len(b)-1])
}

func hexBytes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, `\x%02x`, s[i])
	}
	return b.String()
}

// parseObject decodes b as one JSON object, numbers kept as written.
func parseObject(b []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, false
	}
	if _, err := dec.Token(); err == nil {
		return nil, false // more than one value
	}
	return obj, true
}

// editor encodes an edited object, putting raw bytes — what encoding/json
// cannot write, such as NaN or invalid UTF-8 — where placeholders stand.
type editor struct {
	raws [][]byte
	tags []string
}

// raw returns a placeholder string for b: inString puts b inside the JSON
// string (its quotes kept), otherwise b replaces the whole value.
func (e *editor) raw(b []byte, inString bool) string {
	tag := fmt.Sprintf("\x1egonogo-fuzz-raw-%d\x1e", len(e.raws))
	e.raws = append(e.raws, b)
	if inString {
		tag = "s" + tag
	}
	e.tags = append(e.tags, tag)
	return tag
}

// encode writes obj as compact JSON (no HTML escaping, keys sorted) and
// puts the raw bytes in place of their placeholders.
func (e *editor) encode(obj map[string]any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return []byte("{}")
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	for i, tag := range e.tags {
		quoted, _ := json.Marshal(tag)
		if strings.HasPrefix(tag, "s") {
			// inside a string: replace the placeholder between its quotes
			b = bytes.ReplaceAll(b, quoted[1:len(quoted)-1], e.raws[i])
		} else {
			b = bytes.ReplaceAll(b, quoted, e.raws[i])
		}
	}
	return b
}

// prng is a SplitMix64 stream: every mutation draws from its own.
type prng struct{ state uint64 }

func (r *prng) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a value in [0, n); 0 when n ≤ 0.
func (r *prng) intn(n int) int {
	if n <= 0 {
		return 0
	}
	return int(r.next() % uint64(n))
}

func mix(parts ...uint64) uint64 {
	r := prng{}
	for _, p := range parts {
		r.state ^= p
		r.state = r.next()
	}
	return r.state
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
