package flags

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// ofrepServer serves rulesYAML over OFREP on loopback; the rollout sends
// every key to the backend stored in backend.
func ofrepServer(t *testing.T, backend *atomic.Value) *httptest.Server {
	t.Helper()
	split := splitFunc(func(string) string { return backend.Load().(string) })
	srv := httptest.NewServer(mustParse(t, rulesYAML).WithSalt("s").Handler(split))
	t.Cleanup(srv.Close)
	return srv
}

type reply struct {
	status int
	header http.Header
	body   map[string]any // nil when the body is empty
}

func post(t *testing.T, srv *httptest.Server, path, body string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header}
	if len(raw) > 0 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("POST %s: Content-Type %q, want application/json", path, ct)
		}
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("POST %s: body %q is not a JSON object: %v", path, raw, err)
		}
	}
	return r
}

func TestOFREPSingle(t *testing.T) {
	var backend atomic.Value
	backend.Store("canary")
	srv := ofrepServer(t, &backend)
	tests := []struct {
		name, path, body string
		status           int
		want             map[string]any
	}{
		{"targeting match", "/ofrep/v1/evaluate/flags/model", `{"context": {"targetingKey": "alice"}}`, 200,
			map[string]any{"key": "model", "value": "v2", "variant": "canary", "reason": "TARGETING_MATCH", "metadata": map[string]any{"rule": "internal users"}}},
		{"attributes of every JSON type", "/ofrep/v1/evaluate/flags/model",
			`{"context": {"targetingKey": "carol", "tier": "paid", "region": "us", "plan": 3.0, "beta": true, "org": {"id": 1}, "tags": [1], "x": null}}`, 200,
			map[string]any{"key": "model", "value": "v2", "variant": "canary", "reason": "TARGETING_MATCH", "metadata": map[string]any{"rule": "paid us on plan 3"}}},
		{"rollout rule", "/ofrep/v1/evaluate/flags/model", `{"context": {"targetingKey": "carol"}}`, 200,
			map[string]any{"key": "model", "value": "v2", "variant": "canary", "reason": "SPLIT", "metadata": map[string]any{"rule": "everyone else follows the rollout"}}},
		{"default", "/ofrep/v1/evaluate/flags/model", `{"context": {"region": "eu-west"}}`, 200,
			map[string]any{"key": "model", "value": "v1", "variant": "stable", "reason": "DEFAULT"}},
		{"kill switch", "/ofrep/v1/evaluate/flags/off", `{"context": {"targetingKey": "alice"}}`, 200,
			map[string]any{"key": "off", "value": "v1", "variant": "stable", "reason": "DISABLED"}},
		{"empty body", "/ofrep/v1/evaluate/flags/static", ``, 200,
			map[string]any{"key": "static", "value": "yes", "variant": "on", "reason": "STATIC"}},
		{"null context", "/ofrep/v1/evaluate/flags/static", `{"context": null}`, 200,
			map[string]any{"key": "static", "value": "yes", "variant": "on", "reason": "STATIC"}},
		{"flag not found", "/ofrep/v1/evaluate/flags/nope", `{"context": {"targetingKey": "alice"}}`, 404,
			map[string]any{"key": "nope", "errorCode": "FLAG_NOT_FOUND", "errorDetails": `flag "nope" not found`}},
		{"targeting key missing", "/ofrep/v1/evaluate/flags/keyed", `{"context": {}}`, 400,
			map[string]any{"key": "keyed", "errorCode": "TARGETING_KEY_MISSING", "errorDetails": "every rule of this flag needs a targetingKey in the context"}},
		{"not JSON", "/ofrep/v1/evaluate/flags/model", `{"context": `, 400, nil},
		{"not an object", "/ofrep/v1/evaluate/flags/model", `[1, 2]`, 400, nil},
		{"data after the object", "/ofrep/v1/evaluate/flags/model", `{"context": {}} {}`, 400, nil},
		{"context not an object", "/ofrep/v1/evaluate/flags/model", `{"context": "alice"}`, 400,
			map[string]any{"key": "model", "errorCode": "INVALID_CONTEXT", "errorDetails": "context: want an object"}},
		{"targeting key not a string", "/ofrep/v1/evaluate/flags/model", `{"context": {"targetingKey": 42}}`, 400,
			map[string]any{"key": "model", "errorCode": "INVALID_CONTEXT", "errorDetails": "context.targetingKey: want a string"}},
		{"body too large", "/ofrep/v1/evaluate/flags/model", `{"context": {"a": "` + strings.Repeat("x", MaxBodyBytes) + `"}}`, 400,
			map[string]any{"key": "model", "errorCode": "PARSE_ERROR", "errorDetails": "body over 65536 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, srv, tt.path, tt.body)
			if r.status != tt.status {
				t.Errorf("status %d, want %d (body %v)", r.status, tt.status, r.body)
			}
			if tt.want == nil { // a parse error: its details come from encoding/json
				if r.body["errorCode"] != "PARSE_ERROR" || r.body["key"] != "model" || r.body["errorDetails"] == "" {
					t.Errorf("body %v, want key model, errorCode PARSE_ERROR and details", r.body)
				}
				return
			}
			if !reflect.DeepEqual(r.body, tt.want) {
				t.Errorf("body\n got %v\nwant %v", r.body, tt.want)
			}
		})
	}
}

// TestOFREPAgreesWithTheProxy checks that an app asking over OFREP gets
// what Evaluate gives the proxy, split rules included.
func TestOFREPAgreesWithTheProxy(t *testing.T) {
	var backend atomic.Value
	backend.Store("stable")
	srv := ofrepServer(t, &backend)
	set := mustParse(t, rulesYAML).WithSalt("s")
	for _, key := range []string{"u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "u10", "u11", "u12"} {
		d := set.Evaluate("model", Context{Key: key, Attrs: map[string]string{"region": "eu-west"}}, nil)
		r := post(t, srv, "/ofrep/v1/evaluate/flags/model", `{"context": {"targetingKey": "`+key+`", "region": "eu-west"}}`)
		if r.body["variant"] != d.Variant || r.body["reason"] != "SPLIT" {
			t.Errorf("key %s: OFREP %v, Evaluate %+v", key, r.body, d)
		}
	}
}

func TestOFREPGeneralError(t *testing.T) {
	var backend atomic.Value
	backend.Store("v3") // not a variant of model
	srv := ofrepServer(t, &backend)
	r := post(t, srv, "/ofrep/v1/evaluate/flags/model", `{"context": {"targetingKey": "carol"}}`)
	if r.status != http.StatusInternalServerError || r.body["errorCode"] != "GENERAL" {
		t.Errorf("status %d body %v, want 500 GENERAL", r.status, r.body)
	}
}

func TestOFREPBulk(t *testing.T) {
	var backend atomic.Value
	backend.Store("canary")
	srv := ofrepServer(t, &backend)
	const path = "/ofrep/v1/evaluate/flags"

	r := post(t, srv, path, `{"context": {"targetingKey": "carol", "tier": "free"}}`)
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200 (body %v)", r.status, r.body)
	}
	want := map[string]any{"flags": []any{
		map[string]any{"key": "keyed", "value": "B", "variant": "b", "reason": "SPLIT", "metadata": map[string]any{"rule": "rules[1]"}},
		map[string]any{"key": "model", "value": "v1-distilled", "variant": "small", "reason": "TARGETING_MATCH", "metadata": map[string]any{"rule": "free tier gets the small model"}},
		map[string]any{"key": "off", "value": "v1", "variant": "stable", "reason": "DISABLED"},
		map[string]any{"key": "static", "value": "yes", "variant": "on", "reason": "STATIC"},
	}}
	if set := mustParse(t, rulesYAML).WithSalt("s"); set.Evaluate("keyed", Context{Key: "carol"}, nil).Variant == "a" {
		want["flags"].([]any)[0] = map[string]any{"key": "keyed", "value": "A", "variant": "a", "reason": "SPLIT", "metadata": map[string]any{"rule": "rules[1]"}}
	}
	if !reflect.DeepEqual(r.body, want) {
		t.Errorf("body\n got %v\nwant %v", r.body, want)
	}
	etag := r.header.Get("ETag")
	if len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		t.Fatalf("ETag %q, want a quoted entity tag", etag)
	}

	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		r := post(t, srv, path, `{"context": {"targetingKey": "carol", "tier": "free"}}`, "If-None-Match", inm)
		if r.status != http.StatusNotModified || r.body != nil || r.header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: status %d, ETag %q, body %v; want 304, %s, no body", inm, r.status, r.header.Get("ETag"), r.body, etag)
		}
	}

	// Another context, or the live rollout moving, is another answer.
	r = post(t, srv, path, `{"context": {"targetingKey": "dave"}}`, "If-None-Match", etag)
	if r.status != http.StatusOK || r.header.Get("ETag") == etag {
		t.Errorf("another context: status %d, ETag %q; want 200 and an ETag other than %s", r.status, r.header.Get("ETag"), etag)
	}
	daveTag := r.header.Get("ETag")
	backend.Store("stable")
	r = post(t, srv, path, `{"context": {"targetingKey": "dave"}}`, "If-None-Match", daveTag)
	if r.status != http.StatusOK || r.header.Get("ETag") == daveTag {
		t.Errorf("rollout moved: status %d, ETag %q; want 200 and an ETag other than %s", r.status, r.header.Get("ETag"), daveTag)
	}

	// A flag that cannot be evaluated is a failure in the list.
	r = post(t, srv, path, `{}`)
	first := r.body["flags"].([]any)[0]
	if want := map[string]any{"key": "keyed", "errorCode": "TARGETING_KEY_MISSING", "errorDetails": "every rule of this flag needs a targetingKey in the context"}; !reflect.DeepEqual(first, want) {
		t.Errorf("keyed without a key: %v, want %v", first, want)
	}

	for body, code := range map[string]string{`{"context": `: "PARSE_ERROR", `{"context": []}`: "INVALID_CONTEXT"} {
		r := post(t, srv, path, body)
		if r.status != http.StatusBadRequest || r.body["errorCode"] != code || r.body["key"] != nil {
			t.Errorf("body %s: status %d %v, want 400 %s without key", body, r.status, r.body, code)
		}
	}
}

func TestOFREPMethodAndPath(t *testing.T) {
	var backend atomic.Value
	backend.Store("")
	srv := ofrepServer(t, &backend)
	client := &http.Client{Timeout: 10 * time.Second}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/ofrep/v1/evaluate/flags/model", http.StatusMethodNotAllowed},
		{http.MethodGet, "/ofrep/v1/evaluate/flags", http.StatusMethodNotAllowed},
		{http.MethodPost, "/ofrep/v1/evaluate/flags/model/extra", http.StatusNotFound},
		{http.MethodPost, "/other", http.StatusNotFound},
	} {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
	}
}

// The configuration tells a provider what OFREP's schema lets it ask:
// string values, polling of the bulk evaluation, no caching; with an ETag.
func TestOFREPConfiguration(t *testing.T) {
	var backend atomic.Value
	backend.Store("")
	srv := ofrepServer(t, &backend)
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(inm string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/ofrep/v1/configuration", nil)
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		raw, _ := io.ReadAll(resp.Body)
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("body %q: %v", raw, err)
			}
		}
		return resp, body
	}
	resp, body := get("")
	want := map[string]any{"name": "gonogo", "capabilities": map[string]any{
		"cacheInvalidation": map[string]any{"polling": map[string]any{"enabled": true, "minPollingIntervalMs": float64(1000)}},
		"flagEvaluation":    map[string]any{"supportedTypes": []any{"string"}},
		"caching":           map[string]any{"enabled": false},
	}}
	if resp.StatusCode != http.StatusOK || !reflect.DeepEqual(body, want) {
		t.Fatalf("status %d, body %v; want 200, %v", resp.StatusCode, body, want)
	}
	etag := resp.Header.Get("ETag")
	if resp, body := get(etag); resp.StatusCode != http.StatusNotModified || body != nil {
		t.Errorf("If-None-Match %s: status %d, want 304", etag, resp.StatusCode)
	}
	if resp, _ := get(`"other"`); resp.StatusCode != http.StatusOK {
		t.Errorf("another ETag: status %d, want 200", resp.StatusCode)
	}
}
