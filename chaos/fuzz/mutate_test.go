package fuzz

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMutateCoversVariantsDeterministically(t *testing.T) {
	for _, proto := range []string{ProtocolOpenAI, ProtocolKServe} {
		m := Mutator{Protocol: proto, Model: "m1", HugePromptBytes: 4096}
		seeds := DefaultSeeds(proto, "m1")
		for _, c := range AllClasses {
			vs := Variants(proto, c)
			t.Run(proto+"/"+string(c), func(t *testing.T) {
				if len(vs) == 0 {
					if _, ok := m.Mutate(c, seeds[0], 0, 1); ok || slices.Contains(ClassesFor(proto), c) {
						t.Fatalf("%s applies to %s without variants", c, proto)
					}
					return
				}
				seen := map[string]bool{}
				for n := range uint64(2 * len(vs)) {
					for _, s := range seeds {
						a, ok := m.Mutate(c, s, n, 7)
						b, _ := m.Mutate(c, s, n, 7)
						if !ok || a.Class != c || a.Method != "POST" || a.Detail == "" {
							t.Fatalf("mutation %d: ok %v, %+v", n, ok, a)
						}
						if !bytes.Equal(a.Body, b.Body) || a.Path != b.Path || a.Detail != b.Detail {
							t.Fatalf("mutation %d not deterministic: %q vs %q", n, a.Body, b.Body)
						}
						seen[a.Variant] = true
					}
				}
				for _, v := range vs {
					if !seen[v] && !(c == MissingFields && v == "no-role") {
						t.Errorf("variant %s never made (made %v)", v, seen)
					}
				}
			})
		}
	}
}

// TestMutationsAreMalformed checks each class's mutations against what
// the class promises about the bytes sent.
func TestMutationsAreMalformed(t *testing.T) {
	for _, proto := range []string{ProtocolOpenAI, ProtocolKServe} {
		m := Mutator{Protocol: proto, Model: "m1", HugePromptBytes: 8192}
		for _, c := range ClassesFor(proto) {
			for n := range uint64(12) {
				for _, s := range DefaultSeeds(proto, "m1") {
					mu, _ := m.Mutate(c, s, n, 3)
					valid, text := json.Valid(mu.Body), utf8.Valid(mu.Body)
					var obj map[string]any
					_ = json.Unmarshal(mu.Body, &obj)
					bad := ""
					switch c {
					case InvalidJSON:
						if valid {
							bad = "valid JSON"
						}
					case InvalidUTF8:
						if text || !strings.Contains(mu.Detail, `\x`) {
							bad = "valid UTF-8"
						}
					case NaNInf:
						if valid && !bytes.Contains(mu.Body, []byte("e999")) {
							bad = "no non-finite value"
						}
					case HugePrompt:
						if !valid || len(mu.Body) < 8000 {
							bad = "not a large valid body"
						}
					case UnknownModel:
						if !valid || (!strings.Contains(mu.Path, "M1") && !strings.Contains(string(mu.Body), `"M1"`)) &&
							!strings.Contains(mu.Path+string(mu.Body), "no-such-model") {
							bad = "model not replaced"
						}
					default:
						if !valid || !text {
							bad = "not valid JSON text"
						}
					}
					if mu.Legal != (c == MaxTokens && (mu.Variant == "max-int32" || mu.Variant == "max-int64" || mu.Variant == "overflow")) {
						bad = "wrong legality"
					}
					if bad != "" {
						t.Errorf("%s %s/%s: %s: %s %q", proto, c, mu.Variant, bad, mu.Path, Excerpt(mu.Body, 200))
					}
				}
			}
		}
	}
}

func TestMutateKeepsRecordedFields(t *testing.T) {
	m := Mutator{Protocol: ProtocolOpenAI}
	s := Seed{Method: "POST", Path: "/v1/chat/completions?x=1", Body: []byte(
		`{"model":"llama","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"say \"hi\" <now>"}],"temperature":0.7,"max_completion_tokens":12}`)}
	mu, _ := m.Mutate(WrongTypes, s, 1, 1) // max-tokens-string
	var got map[string]any
	if err := json.Unmarshal(mu.Body, &got); err != nil {
		t.Fatal(err)
	}
	if mu.Path != s.Path || got["temperature"] != 0.7 || got["max_completion_tokens"] != "16" || got["model"] != "llama" {
		t.Errorf("mutation lost recorded fields or edited the wrong one: %s %s", mu.Path, mu.Body)
	}
	mu, _ = m.Mutate(InvalidUTF8, s, 0, 1)
	if !bytes.Contains(mu.Body, []byte(`be brief`)) || !bytes.Contains(mu.Body, []byte("\xff")) {
		t.Errorf("invalid-utf8 did not edit the last message: %q", mu.Body)
	}
	fixed := bytes.ReplaceAll(mu.Body, []byte("\xff"), nil)
	if !json.Valid(fixed) || !bytes.Contains(fixed, []byte(`say \"hi\" <now>`)) {
		t.Errorf("the text around the bad bytes is not escaped as JSON: %q", mu.Body)
	}
	mu, _ = m.Mutate(UnknownModel, s, 1, 1) // case-changed
	if !bytes.Contains(mu.Body, []byte(`"model":"LLAMA"`)) {
		t.Errorf("case-changed: %s", mu.Body)
	}

	// a body that is no request of the protocol gives way to the built-in one
	for _, body := range []string{`[1,2]`, `not json`, `{"prompt":5}`, ``} {
		mu, _ := m.Mutate(EmptyPrompt, Seed{Method: "POST", Path: "/v1/completions", Body: []byte(body)}, 0, 1)
		if string(mu.Body) != `{"max_tokens":16,"prompt":""}` {
			t.Errorf("seed %q: %s", body, mu.Body)
		}
	}
	k := Mutator{Protocol: ProtocolKServe, Model: "resnet"}
	mu, _ = k.Mutate(UnknownModel, Seed{Path: "/v2/models/resnet/infer", Body: []byte(`{}`)}, 1, 1)
	if mu.Path != "/v2/models/RESNET/infer" {
		t.Errorf("kserve case-changed path %s", mu.Path)
	}
	mu, _ = k.Mutate(NaNInf, Seed{Path: "/v2/models/other/versions/2/infer", Body: []byte(
		`{"id":"r1","inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3,4]}]}`)}, 0, 1)
	if mu.Path != "/v2/models/other/versions/2/infer" || !bytes.Contains(mu.Body, []byte(`"id":"r1"`)) || !bytes.Contains(mu.Body, []byte("NaN")) {
		t.Errorf("recorded kserve seed: %s %s", mu.Path, mu.Body)
	}
}

func TestParseClasses(t *testing.T) {
	for _, tt := range []struct {
		list, proto string
		want        []Class
		err         string
	}{
		{"", ProtocolKServe, ClassesFor(ProtocolKServe), ""},
		{"nan-inf, wrong-shape,nan-inf", ProtocolKServe, []Class{NaNInf, WrongShape}, ""},
		{"max-tokens", ProtocolOpenAI, []Class{MaxTokens}, ""},
		{"nan-inf,bogus", ProtocolKServe, nil, `classes: unknown class "bogus"`},
		{"max-tokens", ProtocolKServe, nil, `classes: class "max-tokens" does not apply to kserve`},
		{",", ProtocolKServe, nil, "classes: no class named"},
	} {
		t.Run(tt.list, func(t *testing.T) {
			got, err := ParseClasses(tt.list, tt.proto)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if n := len(ClassesFor(ProtocolOpenAI)); n != 9 {
		t.Errorf("openai has %d classes, want 9 (all but wrong-shape)", n)
	}
	if n := len(ClassesFor(ProtocolKServe)); n != 8 {
		t.Errorf("kserve has %d classes, want 8 (all but huge-prompt and max-tokens)", n)
	}
}

func TestExcerpt(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 10, "abc"},
		{"a\xffb\n", 10, `a\xffb\x0a`},
		{"héllo wörld", 4, "hél… (13 bytes)"},
	} {
		if got := Excerpt([]byte(tt.in), tt.n); got != tt.want {
			t.Errorf("Excerpt(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// FuzzMutate mutates arbitrary seed bodies and paths with every class:
// never a panic, always the same mutation for the same input, and the
// bytes each class promises (invalid JSON, invalid UTF-8).
func FuzzMutate(f *testing.F) {
	for _, s := range []struct{ path, body string }{
		{"/v1/completions", `{"prompt":"hi","max_tokens":3}`},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"x\"y"}]}`},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`},
		{"/v2/models/m/infer", `{"inputs":[{"name":"in","shape":[1,2],"datatype":"FP32","data":[1,2]}]}`},
		{"/v2/models/m/infer", `{"inputs":[{"name":"in","shape":"x","data":[[1],[2]]}]}`},
		{"/x", "\xff{"},
		{"", `{"prompt":"\u001egonogo-fuzz-raw-0\u001e"}`},
	} {
		f.Add(s.path, []byte(s.body), uint64(3))
	}
	f.Fuzz(func(t *testing.T, path string, body []byte, n uint64) {
		for _, proto := range []string{ProtocolOpenAI, ProtocolKServe} {
			m := Mutator{Protocol: proto, Model: "m", HugePromptBytes: 64}
			for _, c := range ClassesFor(proto) {
				s := Seed{Method: "POST", Path: path, Body: body}
				a, ok := m.Mutate(c, s, n, 1)
				b, _ := m.Mutate(c, s, n, 1)
				if !ok || !bytes.Equal(a.Body, b.Body) || a.Path != b.Path {
					t.Fatalf("%s %s: not deterministic", proto, c)
				}
				if c == InvalidJSON && json.Valid(a.Body) {
					t.Fatalf("%s invalid-json gave valid JSON %q", proto, a.Body)
				}
				if c == InvalidUTF8 && utf8.Valid(a.Body) {
					t.Fatalf("%s invalid-utf8 gave valid UTF-8 %q", proto, a.Body)
				}
			}
		}
	})
}

func TestHugePromptDefault(t *testing.T) {
	mu, _ := Mutator{Protocol: ProtocolOpenAI}.Mutate(HugePrompt, DefaultSeeds(ProtocolOpenAI, "")[0], 0, 1)
	var req struct{ Prompt string }
	if err := json.Unmarshal(mu.Body, &req); err != nil {
		t.Fatal(err)
	}
	if len(req.Prompt) != DefaultHugePromptBytes || len(strings.Fields(req.Prompt)) != DefaultHugePromptBytes/2 {
		t.Errorf("huge prompt of %d bytes, %d words; want %d bytes of one-letter words", len(req.Prompt), len(strings.Fields(req.Prompt)), DefaultHugePromptBytes)
	}
}
