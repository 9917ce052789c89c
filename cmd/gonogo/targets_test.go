package main

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gonogo-dev/gonogo/reports"
)

// countingServer starts a loopback server that counts requests by method
// and path, and the X-Test header values it got.
func countingServer(t *testing.T) (url string, counts func() map[string]int) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+" "+r.URL.RequestURI()+" x="+r.Header.Get("X-Test")]++
		mu.Unlock()
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := make(map[string]int, len(seen))
		for k, v := range seen {
			out[k] = v
		}
		return out
	}
}

// writeTargets writes a targets file (and a body file) into a new folder.
func writeTargets(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "body.json"), []byte(`{"b":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "targets.txt")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// gonogo load --targets sends each request to a target drawn by weight:
// over two paths weighted 3:1 the server counts a split within 4
// binomial standard deviations of 75/25, with each target's method,
// headers and body, --target taken from the file's absolute URL; and
// run.json's per-target figures (tags target=NAME) equal the server's
// counts.
func TestLoadTargetsWeights(t *testing.T) {
	url, counts := countingServer(t)
	path := writeTargets(t, "# weight=3\nGET "+url+"/a?q=1\nX-Test: a\n\n# name=b\nPOST /b\nX-Test: b\n@body.json\n")
	out := filepath.Join(t.TempDir(), "run")
	o := quiet()
	if code := run(context.Background(), o, []string{"load", "--targets", path, "--rate", "400", "--arrival", "poisson", "--duration", "2s",
		"--out", out, "--history", "", "-q", "--no-preflight"}); code != 0 {
		t.Fatalf("load: exit %d\n%s", code, o.Err)
	}
	got := counts()
	a, b := got["GET /a?q=1 x=a"], got["POST /b x=b"]
	n := a + b
	if len(got) != 2 || n < 400 {
		t.Fatalf("server saw %v; want only GET /a?q=1 with X-Test a and POST /b with X-Test b, 400 or more", got)
	}
	mean, sd := 0.75*float64(n), math.Sqrt(float64(n)*0.75*0.25)
	if math.Abs(float64(a)-mean) > 4*sd {
		t.Errorf("%d of %d requests to /a, want %.0f ± %.0f (75 %%)", a, n, mean, 4*sd)
	}
	rj, err := reports.ReadRunJSON(out)
	if err != nil {
		t.Fatal(err)
	}
	if rj.Target != url {
		t.Errorf("run.json target %q, want the file's origin %q", rj.Target, url)
	}
	for tag, want := range map[string]int{"target=GET /a": a, "target=b": b} {
		st := rj.Tags[tag]
		if st.Requests.Total != int64(want) || st.Requests.OK != int64(want) {
			t.Errorf("run.json tags[%q]: %d requests (%d ok), server counted %d", tag, st.Requests.Total, st.Requests.OK, want)
		}
	}
	t.Logf("split %d:%d of %d (%.1f %% to /a)", a, b, n, 100*float64(a)/float64(n))
}

// --dry-run with --targets prints the first requests the run would draw,
// each with its target tag, headers and body, and sends nothing; the
// draws are the same every time.
func TestLoadTargetsDryRun(t *testing.T) {
	url, counts := countingServer(t)
	path := writeTargets(t, "# weight=3\nGET /a\n\nPOST /b\nX-Test: b\nAuthorization: Bearer sk-secret\n@body.json\n")
	dry := func(extra ...string) string {
		o := quiet()
		if code := run(context.Background(), o, append([]string{"load", "--targets", path, "--target", url, "--rate", "10", "--duration", "1s",
			"--dry-run", "--dry-run-requests", "8", "-q", "--history", ""}, extra...)); code != 0 {
			t.Fatalf("dry run: exit %d\n%s", code, o.Err)
		}
		return o.Out.(interface{ String() string }).String()
	}
	a := dry()
	if a != dry() {
		t.Error("two dry runs drew different targets")
	}
	// --seed seeds the draws too: the same seed, the same targets.
	if s := dry("--seed", "7"); s == a || s != dry("--seed", "7") {
		t.Error("--seed 7 drew the default seed's targets, or others each time")
	}
	nA, nB := strings.Count(a, ": GET "+url+"/a\n"), strings.Count(a, ": POST "+url+"/b\n")
	if nA+nB != 8 || nA == 0 || nB == 0 || strings.Count(a, "tags: target=") != 8 {
		t.Errorf("want 8 requests to /a and /b, each tagged, got %d and %d:\n%s", nA, nB, a)
	}
	if strings.Count(a, `body: {"b":1}`) != nB || strings.Count(a, "X-Test: b") != nB || strings.Contains(a, "sk-secret") {
		t.Errorf("POST /b without its body and header, or a secret shown:\n%s", a)
	}
	if got := counts(); len(got) > 0 {
		t.Errorf("--dry-run sent %v", got)
	}
}

// Bad targets files and flags are exit 2 with one line naming the file,
// line and field (or the flag).
func TestLoadTargetsBadInput(t *testing.T) {
	good := writeTargets(t, "GET http://127.0.0.1:1/a\n")
	paths := writeTargets(t, "GET /a\n")
	for _, tt := range []struct {
		name string
		src  string // the targets file; "" uses args as they are
		args []string
		want string // in the one line of stderr; TARGETS is the file
	}{
		{"unknown method", "FETCH /a\n", nil, `TARGETS:1: method: unknown method "FETCH"`},
		{"bad URL", "GET ftp://h/a\n", nil, `TARGETS:1: url: "ftp://h/a": want an http:// or https:// URL, or a path from /`},
		{"bad header", "GET /a\nX-A 1\n", nil, `TARGETS:2: header: "X-A 1": want Name: value`},
		{"zero weight", "# weight=0\nGET /a\n", nil, `TARGETS:1: weight: "0": want a number above 0`},
		{"NaN weight", "GET /a\n\n# weight=NaN\nGET /b\n", nil, `TARGETS:3: weight: "NaN": want a number above 0`},
		{"missing body file", "POST /a\n@missing.json\n", nil, "TARGETS:2: body: open "},
		{"empty file", "\n", nil, "TARGETS:1: no target"},
		{"origin differs from --target", "GET http://127.0.0.1:2/a\n", nil, "TARGETS:1: url: origin http://127.0.0.1:2 differs from --target http://127.0.0.1:1"},
		{"paths without --target", "", []string{"load", "--targets", paths, "--rate", "1", "--duration", "1s"}, "--target: required: the URLs of " + paths + " are paths"},
		{"with --trace", "", []string{"load", "--targets", good, "--trace", good, "--rate", "1", "--duration", "1s"}, "--trace: not with --targets"},
		{"missing file", "", []string{"load", "--targets", "/nonexistent/t.txt", "--rate", "1", "--duration", "1s"}, "targets file: open /nonexistent/t.txt: no such file or directory"},
		{"gRPC", "", []string{"load", "--targets", good, "--protocol", "kserve-grpc", "--model", "m", "--rate", "1", "--duration", "1s"}, "--protocol: kserve-grpc sends no HTTP request: a targets file needs http, openai or kserve"},
		{"timestamps replay of a targets file", "", []string{"load", "--trace", good, "--trace-format", "targets", "--target", "http://127.0.0.1:1"}, "scenario default: traffic.replay: a targets file is replayed in order at a rate: want sequential (got timestamps)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args, file := tt.args, ""
			if tt.src != "" {
				file = writeTargets(t, tt.src)
				args = []string{"load", "--targets", file, "--target", "http://127.0.0.1:1", "--rate", "1", "--duration", "1s", "--no-preflight"}
			}
			o := quiet()
			code := run(context.Background(), o, append(args, "-q", "--history", ""))
			stderr := o.Err.(interface{ String() string }).String()
			want := strings.ReplaceAll(tt.want, "TARGETS", file)
			if code != exitUsage || !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
				t.Errorf("exit %d, stderr %q; want 2 and one line with %q", code, stderr, want)
			}
		})
	}
}

// gonogo shadow --dry-run prints the plan and the first requests it would
// replay to the primary and each candidate, and sends nothing.
func TestShadowDryRun(t *testing.T) {
	url, counts := countingServer(t)
	dir := t.TempDir()
	trace := filepath.Join(dir, "requests.jsonl")
	log := `{"ts":0,"method":"POST","path":"/v1/completions","body":"{\"prompt\":\"one\"}"}
{"ts":0.5,"method":"GET","path":"/health"}
{"ts":1,"method":"POST","path":"/v1/completions","body":"{\"prompt\":\"three\"}"}
`
	if err := os.WriteFile(trace, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	o := quiet()
	if code := run(context.Background(), o, []string{"shadow", "--trace", trace, "--primary", url, "--candidate", url + "/c",
		"--secondary", url + "/s", "--speed", "2", "--dry-run", "--dry-run-requests", "2", "-q", "--history", ""}); code != 0 {
		t.Fatalf("shadow --dry-run: exit %d\n%s", code, o.Err)
	}
	got := o.Out.(interface{ String() string }).String()
	for _, want := range []string{
		"dry run: nothing is sent",
		"primary:   " + url,
		"secondary: " + url + "/s",
		"candidate: " + url + "/c",
		"#1 at 0s: POST " + url + "/v1/completions",
		`body: {"prompt":"one"}`,
		"#2 at 250ms: GET " + url + "/health",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "three") {
		t.Errorf("printed more than 2 requests:\n%s", got)
	}
	if c := counts(); len(c) > 0 {
		t.Errorf("shadow --dry-run sent %v", c)
	}
}

// A targets file is drawn without end: what would read it whole refuses
// it (exit 2) instead of running out of memory, and a sweep takes it at a
// list of rates only.
func TestTargetsEndless(t *testing.T) {
	path := writeTargets(t, "GET http://127.0.0.1:1/a\n")
	for _, args := range [][]string{
		{"trace", "inspect", path, "--trace-format", "targets"},
		{"load", "--trace", path, "--trace-format", "targets", "--target", "http://127.0.0.1:1", "--no-preflight", "-q", "--history", ""},
		{"sweep", "--targets", path, "--target", "http://127.0.0.1:1", "--rates", "auto", "--history", ""},
	} {
		o := quiet()
		code := run(context.Background(), o, args)
		msg := o.Err.(interface{ String() string }).String()
		if code != 2 || strings.Count(strings.TrimSpace(msg), "\n") != 0 || !strings.Contains(msg, "without end") && !strings.Contains(msg, "sequential") && !strings.Contains(msg, "--rates a list") {
			t.Errorf("%v: exit %d, %q; want exit 2 and one line", args[:2], code, msg)
		}
	}
}
