package flags

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/internal/input"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		rulesYAML,
		"",
		"flags: {}\n",
		"flags:\n  f:\n    variants: {a: A, b: B}\n    defaultVariant: a\n    rules:\n      - split: {a: 33.333, b: 66.667}\n",
		"flags:\n  f:\n    variants: {a: A}\n    defaultVariant: a\n    rules:\n      - match: {x: [1, true, 2.5, s]}\n        variant: a\n      - rollout: true\n",
		"flags:\n  f:\n    variants: {a: A}\n    defaultVariant: a\n    rules:\n      - match: {x: {$in: [1]}}\n        variant: a\n",
		"flags:\n  f:\n    variants: {a: A}\n    defaultVariant: a\n    rules:\n      - split: {a: .nan}\n",
		"flags:\n  f: !!map\n",
		"flags: &a\n  f: *a\n",
		"flags:\n  my.flag:\n    variants: {x.y: X}\n    defaultVariant: x.y\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		s, err := Parse("rules.yaml", []byte(src), []string{"a", "b"})
		if err != nil {
			var ie *input.Error
			if !errors.As(err, &ie) || !errors.Is(err, input.ErrInput) {
				t.Fatalf("error %v (%T) is not an *input.Error", err, err)
			}
			return
		}
		for _, name := range s.Flags() {
			fl := s.flags[name]
			for _, c := range []Context{{}, {Key: "k"}, {Key: "k", Attrs: map[string]string{"x": "1"}}} {
				d := s.Evaluate(name, c, always("a"))
				if _, ok := fl.variants[d.Variant]; !ok || d.Value != fl.variants[d.Variant] {
					t.Fatalf("flag %s, context %+v: decision %+v names no variant of the flag", name, c, d)
				}
				if d.Reason == "" || (d.Reason == ReasonError) != (d.ErrorCode != "") {
					t.Fatalf("flag %s, context %+v: decision %+v has reason and error code at odds", name, c, d)
				}
			}
		}
	})
}

func FuzzHandler(f *testing.F) {
	for _, seed := range []struct{ key, body string }{
		{"model", `{"context": {"targetingKey": "alice"}}`},
		{"model", `{"context": {"targetingKey": "carol", "plan": 3.0, "region": "eu-west", "o": {"a": [1]}}}`},
		{"keyed", `{}`},
		{"nope", `{"context": {}}`},
		{"", `{"context": {"targetingKey": "alice"}}`},
		{"model", `{"context": `},
		{"model", `{"context": 1e999}`},
		{"model", `{"context": {"plan": 1e999, "n": -0, "big": 123456789012345678901234567890}}`},
		{"model", `{"context": {"targetingKey": null}}`},
		{"model", "\xff\xfe"},
		{"model", `[]`},
		{"model", `null`},
		{"model", `{"context": {}} trailing`},
		{" ", "0"},
		{"a/b?c#d%", `{}`},
	} {
		f.Add(seed.key, seed.body)
	}
	h := mustParse(f, rulesYAML).WithSalt("s").Handler(always("canary"))
	f.Fuzz(func(t *testing.T, key, body string) {
		paths := []string{"/ofrep/v1/evaluate/flags"}
		if key != "" && key != "." && key != ".." { // dot segments are redirected to the clean path
			paths = append(paths, "/ofrep/v1/evaluate/flags/"+url.PathEscape(key))
		}
		for _, path := range paths {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusOK, http.StatusBadRequest, http.StatusNotFound:
			default:
				t.Fatalf("POST %s %q: status %d", path, body, rec.Code)
			}
			var v map[string]any
			if rec.Header().Get("Content-Type") == "application/json" {
				if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
					t.Fatalf("POST %s %q: body %q is not a JSON object: %v", path, body, rec.Body, err)
				}
				if rec.Code != http.StatusOK && v["errorCode"] == nil {
					t.Fatalf("POST %s %q: status %d without errorCode: %s", path, body, rec.Code, rec.Body)
				}
			}
		}
	})
}
