package provider

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
)

// verdictJSON is a verdict document as analyze writes it.
func verdictJSON(t *testing.T, d analyze.Decision, score float64, created time.Time, reasons ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	v := &analyze.Verdict{Schema: analyze.VerdictSchema, Verdict: d, Score: score, Run: "r-42", Created: created, Reasons: reasons}
	if err := analyze.WriteVerdict(&b, v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestVerdictFile(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name       string
		doc        []byte
		maxAge     time.Duration
		wantStatus Status
		wantValue  float64
		wantDetail string
	}{
		{"go", verdictJSON(t, analyze.Go, 92, now), 0, Pass, 92, "go (score 92, run r-42)"},
		{"no-go", verdictJSON(t, analyze.NoGo, 40, now, "p99 ttft rose 38 %", "errors"), 0, Fail, 40, "no-go (score 40, run r-42): p99 ttft rose 38 %"},
		{"inconclusive", verdictJSON(t, analyze.Inconclusive, 70, now, "too few requests"), 0, Inconclusive, 70, "inconclusive (score 70, run r-42): too few requests"},
		{"fresh enough", verdictJSON(t, analyze.Go, 100, now.Add(-time.Minute)), 10 * time.Minute, Pass, 100, "go"},
		{"stale", verdictJSON(t, analyze.Go, 100, now.Add(-2*time.Hour)), 10 * time.Minute, Inconclusive, 0, "created 2h0m0s ago, maxAge 10m0s"},
		{"no creation time with maxAge", []byte(`{"schema":1,"verdict":"go","score":100}`), time.Minute, Inconclusive, 0, "no creation time"},
		{"minimal document", []byte(`{"schema":1,"verdict":"no-go"}`), 0, Fail, 0, "no-go (score 0)"},
		{"extra fields", []byte(`{"schema":1,"verdict":"go","score":99,"future":{"x":1}}`), 0, Pass, 99, "go"},
		{"schema 2", []byte(`{"schema":2,"verdict":"go"}`), 0, Inconclusive, 0, "schema 2, want 1"},
		{"no schema", []byte(`{"verdict":"go"}`), 0, Inconclusive, 0, "no schema"},
		{"unknown verdict", []byte(`{"schema":1,"verdict":"GO"}`), 0, Inconclusive, 0, `unknown verdict "GO"`},
		{"empty verdict", []byte(`{"schema":1}`), 0, Inconclusive, 0, `unknown verdict ""`},
		{"malformed", []byte(`{"schema":1,"verdict":`), 0, Inconclusive, 0, "malformed document"},
		{"wrong type", []byte(`{"schema":"1","verdict":"go"}`), 0, Inconclusive, 0, "malformed document"},
		{"empty file", nil, 0, Inconclusive, 0, "malformed document"},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".json")
			if err := os.WriteFile(path, tt.doc, 0o600); err != nil {
				t.Fatal(err)
			}
			p, err := New(Spec{Name: "v", Verdict: &VerdictSpec{File: path, MaxAge: tt.maxAge}})
			if err != nil {
				t.Fatal(i, err)
			}
			m := p.Measure(context.Background())
			if m.Status != tt.wantStatus || m.Value != tt.wantValue || !strings.Contains(m.Detail, tt.wantDetail) {
				t.Errorf("measure = %+v, want %s, value %v, detail with %q", m, tt.wantStatus, tt.wantValue, tt.wantDetail)
			}
		})
	}
}

func TestVerdictFileUnreadable(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, bytes.Repeat([]byte(" "), MaxResponseBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path, want string }{
		{"missing", filepath.Join(dir, "nope.json"), "no such file"},
		{"directory", dir, "not a regular file"},
		{"fifo", fifo, "not a regular file"},
		{"too large", big, "larger than the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(Spec{Name: "v", Verdict: &VerdictSpec{File: tt.path}})
			if err != nil {
				t.Fatal(err)
			}
			m := p.Measure(context.Background())
			if m.Status != Inconclusive || !strings.Contains(m.Detail, tt.want) {
				t.Errorf("measure = %+v, want inconclusive with %q", m, tt.want)
			}
		})
	}
}

func TestVerdictURL(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name       string
		code       int
		body       []byte
		wantStatus Status
		wantDetail string
	}{
		{"go 200", 200, verdictJSON(t, analyze.Go, 95, now), Pass, "go (score 95"},
		{"no-go 200", 200, verdictJSON(t, analyze.NoGo, 10, now, "error rate 4 %"), Fail, "no-go (score 10, run r-42): error rate 4 %"},
		// A Flagger-style endpoint answers a no-go with a non-2xx status
		// and the document: the document decides.
		{"no-go 412", 412, verdictJSON(t, analyze.NoGo, 10, now), Fail, "no-go"},
		{"go with 500 contradicts", 500, verdictJSON(t, analyze.Go, 95, now), Inconclusive, "HTTP 500 with go"},
		{"404 page", 404, []byte("404 page not found\n"), Inconclusive, "verdict URL answered HTTP 404"},
		{"malformed 200", 200, []byte("<html>"), Inconclusive, "malformed document"},
		{"schema 3", 200, []byte(`{"schema":3,"verdict":"go"}`), Inconclusive, "schema 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth := make(chan string, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case auth <- r.Header.Get("Authorization"):
				default:
				}
				if r.Method != http.MethodGet || r.URL.Path != "/runs/latest/verdict.json" {
					http.Error(w, "wrong request", http.StatusTeapot)
					return
				}
				w.WriteHeader(tt.code)
				_, _ = w.Write(tt.body)
			}))
			defer srv.Close()
			tokenFile := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(tokenFile, []byte("admin-token\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			p, err := New(Spec{Name: "v", Verdict: &VerdictSpec{URL: srv.URL + "/runs/latest/verdict.json", TokenFile: tokenFile}})
			if err != nil {
				t.Fatal(err)
			}
			m := p.Measure(context.Background())
			if m.Status != tt.wantStatus || !strings.Contains(m.Detail, tt.wantDetail) {
				t.Errorf("measure = %+v, want %s with %q", m, tt.wantStatus, tt.wantDetail)
			}
			select {
			case got := <-auth:
				if got != "Bearer admin-token" {
					t.Errorf("Authorization = %q", got)
				}
			default:
				t.Error("the server saw no request")
			}
		})
	}
}

func TestVerdictURLTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	p, err := New(Spec{Name: "v", Verdict: &VerdictSpec{URL: srv.URL, Timeout: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m := p.Measure(context.Background())
	if m.Status != Inconclusive || !strings.Contains(m.Detail, "no answer in time") {
		t.Errorf("measure = %+v", m)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v with a 100ms timeout", took)
	}
}
