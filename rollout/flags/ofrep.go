package flags

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxBodyBytes is the largest OFREP request body read; a larger one is
// 400 PARSE_ERROR.
const MaxBodyBytes = 64 << 10

// OFREP error codes besides those a Decision carries.
const (
	ErrorParse          = "PARSE_ERROR"
	ErrorInvalidContext = "INVALID_CONTEXT"
)

// Handler serves the rules over OFREP: POST /ofrep/v1/evaluate/flags/{key}
// and POST /ofrep/v1/evaluate/flags (bulk, with ETag and If-None-Match),
// asking split for rollout rules (split may be nil), and GET
// /ofrep/v1/configuration. See the package documentation for the status
// codes.
func (s *Set) Handler(split Splitter) http.Handler {
	h := &ofrep{set: s, split: split}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ofrep/v1/evaluate/flags/{key}", h.single)
	mux.HandleFunc("POST /ofrep/v1/evaluate/flags", h.bulk)
	mux.HandleFunc("GET /ofrep/v1/configuration", configuration)
	return mux
}

// MinPollingInterval is the shortest polling interval the configuration
// endpoint allows a client provider: the bulk evaluation is cheap, and a
// rollout moves its users when its weights change.
const MinPollingInterval = time.Second

// configurationBody is what GET /ofrep/v1/configuration answers: the
// values are strings (variant values); client providers may poll the bulk
// evaluation, which has an ETag; server providers must not cache an
// evaluation, since a rollout rule's answer follows the live weights.
var configurationBody = func() []byte {
	b, err := json.Marshal(map[string]any{
		"name": "gonogo",
		"capabilities": map[string]any{
			"cacheInvalidation": map[string]any{
				"polling": map[string]any{"enabled": true, "minPollingIntervalMs": MinPollingInterval.Milliseconds()},
			},
			"flagEvaluation": map[string]any{"supportedTypes": []string{"string"}},
			"caching":        map[string]any{"enabled": false},
		},
	})
	if err != nil {
		panic(err)
	}
	return b
}()

// configuration serves the provider configuration, with an ETag.
func configuration(w http.ResponseWriter, r *http.Request) {
	writeTagged(w, r, configurationBody)
}

type ofrep struct {
	set   *Set
	split Splitter
}

// evaluation is one flag's answer, success or failure, in OFREP's words.
type evaluation struct {
	Key          string            `json:"key"`
	Value        *string           `json:"value,omitempty"`
	Reason       string            `json:"reason,omitempty"`
	Variant      string            `json:"variant,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	ErrorCode    string            `json:"errorCode,omitempty"`
	ErrorDetails string            `json:"errorDetails,omitempty"`
}

// failure is a request-wide error: bad JSON or context.
type failure struct {
	Key          string `json:"key,omitempty"`
	ErrorCode    string `json:"errorCode"`
	ErrorDetails string `json:"errorDetails,omitempty"`
}

func (h *ofrep) single(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	c, code, details := readContext(w, r)
	if code != "" {
		writeJSON(w, http.StatusBadRequest, failure{Key: key, ErrorCode: code, ErrorDetails: details})
		return
	}
	e := toEvaluation(h.set.Evaluate(key, c, h.split))
	status := http.StatusOK
	switch e.ErrorCode {
	case "":
	case ErrorFlagNotFound:
		status = http.StatusNotFound
	case ErrorGeneral:
		status = http.StatusInternalServerError
	default:
		status = http.StatusBadRequest
	}
	writeJSON(w, status, e)
}

func (h *ofrep) bulk(w http.ResponseWriter, r *http.Request) {
	c, code, details := readContext(w, r)
	if code != "" {
		writeJSON(w, http.StatusBadRequest, failure{ErrorCode: code, ErrorDetails: details})
		return
	}
	res := struct {
		Flags []evaluation `json:"flags"`
	}{Flags: make([]evaluation, 0, len(h.set.keys))}
	for _, key := range h.set.keys {
		res.Flags = append(res.Flags, toEvaluation(h.set.Evaluate(key, c, h.split)))
	}
	body, err := json.Marshal(res)
	if err != nil { // strings and maps of strings always marshal
		panic(err)
	}
	writeTagged(w, r, body)
}

// writeTagged answers body with an ETag of its hash, or 304 when the
// request's If-None-Match names it.
func writeTagged(w http.ResponseWriter, r *http.Request, body []byte) {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	w.Header().Set("ETag", etag)
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// toEvaluation turns a Decision into OFREP's answer: the metadata names
// the rule that decided.
func toEvaluation(d Decision) evaluation {
	e := evaluation{Key: d.Flag}
	switch d.ErrorCode {
	case "":
	case ErrorFlagNotFound:
		e.ErrorCode, e.ErrorDetails = d.ErrorCode, fmt.Sprintf("flag %q not found", d.Flag)
		return e
	case ErrorTargetingKeyMissing:
		e.ErrorCode, e.ErrorDetails = d.ErrorCode, "every rule of this flag needs a targetingKey in the context"
		return e
	default:
		e.ErrorCode, e.ErrorDetails = d.ErrorCode, "the live rollout gave a backend that is not a variant of this flag"
		return e
	}
	e.Value, e.Reason, e.Variant = &d.Value, d.Reason, d.Variant
	if d.Rule != "" {
		e.Metadata = map[string]string{"rule": d.Rule}
	}
	return e
}

// readContext reads an OFREP request body, {"context": {...}}, into a
// Context: the targetingKey and the flat attributes. An empty body is an
// empty context. On failure it returns the OFREP error code and details.
func readContext(w http.ResponseWriter, r *http.Request) (c Context, code, details string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return c, ErrorParse, fmt.Sprintf("body over %d bytes", MaxBodyBytes)
		}
		return c, ErrorParse, "reading the body: " + err.Error()
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return c, "", ""
	}
	var req struct {
		Context json.RawMessage `json:"context"`
	}
	if err := decodeOne(body, &req); err != nil {
		return c, ErrorParse, "want a JSON object: " + err.Error()
	}
	if len(req.Context) == 0 || string(req.Context) == "null" {
		return c, "", ""
	}
	var attrs map[string]any
	if err := decodeOne(req.Context, &attrs); err != nil {
		return c, ErrorInvalidContext, "context: want an object"
	}
	c.Attrs = make(map[string]string, len(attrs))
	for name, v := range attrs {
		if name == "targetingKey" {
			key, ok := v.(string)
			if !ok {
				return Context{}, ErrorInvalidContext, "context.targetingKey: want a string"
			}
			c.Key = key
			continue
		}
		if text, ok := jsonText(v); ok {
			c.Attrs[name] = text
		}
	}
	return c, "", ""
}

// decodeOne decodes exactly one JSON value from data into v, numbers as
// json.Number.
func decodeOne(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// jsonText is the text an attribute of a context compares by (see
// scalarText); false for objects, lists and null.
func jsonText(v any) (string, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return scalarText(v)
	}
	if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		return strconv.FormatInt(i, 10), true
	}
	if f, err := n.Float64(); err == nil {
		return floatText(f), true
	}
	return n.String(), true
}

// etagMatch says whether an If-None-Match header names etag (weakly
// compared, as RFC 9110 asks for If-None-Match) or is "*".
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // strings and maps of strings always marshal
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
