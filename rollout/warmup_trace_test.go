package rollout

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// warmTraceYAML is a rollout file whose warmup block is warmup.
func warmTraceYAML(stableURL, canaryURL, warmup string) string {
	return "name: w\nlisten: 127.0.0.1:0\nadmin: {listen: 127.0.0.1:0}\nbackends:\n" +
		"  - {name: blue, url: \"" + stableURL + "\", role: stable}\n" +
		"  - {name: green, url: \"" + canaryURL + "\", role: canary}\n" +
		warmup + cfgStepsYAML
}

// writeFiles writes name → content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	// warmLogJSONL is a request log of three requests: two completions
	// and a GET.
	warmLogJSONL = `{"ts": 0, "method": "POST", "path": "/v1/completions", "headers": {"Content-Type": "application/json", "Authorization": "Bearer s3cret"}, "body": {"prompt": "one two three", "max_tokens": 1}}
{"ts": 0.5, "method": "POST", "path": "/v1/chat/completions", "body": "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":1}"}
{"ts": 1, "method": "GET", "path": "/v1/models?x=1"}
`
	warmHAR = `{"log": {"entries": [
 {"startedDateTime": "2024-05-01T10:00:00Z", "request": {"method": "POST", "url": "http://h/v1/completions", "headers": [], "postData": {"mimeType": "application/json", "text": "{\"prompt\":\"a b\"}"}}},
 {"startedDateTime": "2024-05-01T10:00:01Z", "request": {"method": "GET", "url": "http://h/healthz", "headers": []}}
]}}`
	warmTargets = "POST /v1/completions\nContent-Type: application/json\n@body.json\n\nGET /v1/models\n"
)

func TestWarmupTraceConfig(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"log.jsonl":     warmLogJSONL,
		"log.har":       warmHAR,
		"targets.txt":   warmTargets,
		"body.json":     `{"prompt":"t","max_tokens":1}`,
		"tokens.csv":    "timestamp,input_tokens,output_tokens\n0,10,5\n1,20,6\n",
		"badrow.jsonl":  `{"ts": 0, "method": "GET", "path": "/a"}` + "\n" + `{"ts": 1, "method": "GET"}` + "\n",
		"unsafe.jsonl":  `{"ts": 0, "method": "POST", "path": "/orders", "body": "x"}` + "\n" + `{"ts": 1, "method": "DELETE", "path": "/users/1"}` + "\n",
		"mixed.jsonl":   `{"ts": 0, "method": "POST", "path": "/orders", "body": "x"}` + "\n" + `{"ts": 1, "method": "GET", "path": "/b"}` + "\n",
		"badpath.jsonl": `{"ts": 0, "method": "GET", "path": "/a b"}` + "\n",
	})
	path := filepath.Join(dir, "rollout.yaml")
	parse := func(warmup string) (*Config, error) {
		return ParseConfig(path, []byte(warmTraceYAML("http://127.0.0.1:9001", "http://127.0.0.1:9002", warmup)))
	}

	good := []struct {
		name, warmup string
		want         []string // method path body of each kept request
	}{
		{"request log", "warmup: {trace: log.jsonl}\n", []string{
			`POST /v1/completions {"prompt":"one two three","max_tokens":1}`,
			`POST /v1/chat/completions {"messages":[{"role":"user","content":"hi"}],"max_tokens":1}`,
			"GET /v1/models?x=1 "}},
		{"the first requests only", "warmup: {trace: log.jsonl, requests: 2}\n", []string{
			`POST /v1/completions {"prompt":"one two three","max_tokens":1}`,
			`POST /v1/chat/completions {"messages":[{"role":"user","content":"hi"}],"max_tokens":1}`}},
		{"HAR", "warmup: {trace: log.har, traceFormat: har}\n", []string{`POST /v1/completions {"prompt":"a b"}`, "GET /healthz "}},
		{"unsafe skipped", "warmup: {trace: mixed.jsonl}\n", []string{"GET /b "}},
		{"unsafe allowed", "warmup: {trace: mixed.jsonl, allowUnsafe: true}\n", []string{"POST /orders x", "GET /b "}},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(tc.warmup)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range c.Warmup.requests() {
				got = append(got, r.Method+" "+r.Path+" "+string(r.Body))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}

	t.Run("endless targets file", func(t *testing.T) {
		c, err := parse("warmup: {trace: targets.txt, traceFormat: targets, requests: 7}\n")
		if err != nil {
			t.Fatal(err)
		}
		reqs := c.Warmup.requests()
		if len(reqs) != 7 {
			t.Fatalf("kept %d draws of an endless trace, want warmup.requests = 7", len(reqs))
		}
		for _, r := range reqs {
			if r.Path != "/v1/completions" && r.Path != "/v1/models" {
				t.Errorf("draw %s %s is not a target of the file", r.Method, r.Path)
			}
		}
	})

	bad := []struct {
		name, warmup, field, msg string
	}{
		{"missing file", "warmup: {trace: absent.jsonl}\n", "warmup.trace", "absent.jsonl"},
		{"token trace", "warmup: {trace: tokens.csv}\n", "warmup.trace", "no recorded requests in"},
		{"unknown format", "warmup: {trace: log.jsonl, traceFormat: pcap}\n", "warmup.traceFormat", `unknown format "pcap"`},
		{"wrong format", "warmup: {trace: log.jsonl, traceFormat: har}\n", "warmup.trace", "log.jsonl"},
		{"malformed row", "warmup: {trace: badrow.jsonl}\n", "warmup.trace", "badrow.jsonl:2"},
		{"unsendable path", "warmup: {trace: badpath.jsonl}\n", "warmup.trace", "badpath.jsonl:1: recorded request: path"},
		{"only unsafe requests", "warmup: {trace: unsafe.jsonl}\n", "warmup.trace", "warmup.allowUnsafe"},
		{"trace and path", "warmup: {trace: log.jsonl, path: /x}\n", "warmup.trace", "not with warmup.method"},
		{"format without trace", "warmup: {traceFormat: har}\n", "warmup.traceFormat", "only with warmup.trace"},
		{"allowUnsafe without trace", "warmup: {allowUnsafe: true}\n", "warmup.allowUnsafe", "only with warmup.trace"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(tc.warmup)
			var ie *input.Error
			if !errors.As(err, &ie) || !errors.Is(err, input.ErrInput) {
				t.Fatalf("ParseConfig = %v, want an *input.Error", err)
			}
			if ie.File != path || ie.Line != 7 || ie.Field != tc.field || !strings.Contains(ie.Msg, tc.msg) {
				t.Errorf("error %q: want %s:7: %s: …%s…", err, path, tc.field, tc.msg)
			}
		})
	}
}

// FuzzWarmupTrace: any trace file named by warmup.trace is either loaded
// (at least one request, at most warmup.requests, each sendable) or an
// *input.Error on warmup.trace.
func FuzzWarmupTrace(f *testing.F) {
	for _, s := range []string{warmLogJSONL, warmHAR, "timestamp,input_tokens\n0,1\n", "", "{}\n", `{"ts":0,"method":"G T","path":"/"}`} {
		f.Add(s)
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "rollout.yaml")
	src := []byte(warmTraceYAML("http://127.0.0.1:9001", "http://127.0.0.1:9002", "warmup: {trace: t.jsonl, requests: 3}\n"))
	f.Fuzz(func(t *testing.T, trace string) {
		if err := os.WriteFile(filepath.Join(dir, "t.jsonl"), []byte(trace), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := ParseConfig(path, src)
		if err != nil {
			var ie *input.Error
			if !errors.As(err, &ie) || ie.Field != "warmup.trace" {
				t.Fatalf("error %T %v is not an *input.Error on warmup.trace", err, err)
			}
			return
		}
		if n := len(c.Warmup.sends); n < 1 || n > 3 {
			t.Fatalf("kept %d requests, want 1 to 3", n)
		}
	})
}
