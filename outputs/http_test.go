package outputs

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		ok   bool
		want string // in the error
	}{
		{"http://127.0.0.1:9090/api/v1/write", true, ""},
		{"https://prom.example/api/v1/push", true, ""},
		{"ftp://127.0.0.1/x", false, "--out-x \"ftp://127.0.0.1/x\": want an http:// or https:// URL"},
		{"127.0.0.1:9090", false, "--out-x"},
		{"http:///nohost", false, "with a host"},
		{"http://user:s3cret@host/x%zz", false, "--out-x"},
		{"https://user:s3cret@", false, "want an http"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := Config{URL: tc.url, URLFlag: "--out-x"}.ParseURL()
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrInput containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, file, want, errWant string
	}{
		{"none", "", "", ""},
		{"trimmed", write("ok", "  tok-123\n"), "tok-123", ""},
		{"missing", filepath.Join(dir, "nope"), "", "--tok: open"},
		{"empty", write("empty", " \n"), "", "is empty"},
		{"two lines", write("two", "tok-a\ntok-b\n"), "", "control character"},
		{"too big", write("big", strings.Repeat("x", maxTokenBytes+1)), "", "not a token"},
		{"a directory", dir, "", "--tok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Config{TokenFile: tc.file, TokenFlag: "--tok"}.Token()
			if tc.errWant == "" {
				if err != nil || got != tc.want {
					t.Fatalf("Token() = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.errWant) {
				t.Fatalf("err = %v, want ErrInput containing %q", err, tc.errWant)
			}
			if strings.Contains(err.Error(), "tok-a") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

// flaky answers with the statuses of codes in turn (200 once they run
// out) and counts the tries.
func flaky(t *testing.T, header http.Header, codes ...int) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		for k, v := range header {
			w.Header()[k] = v
		}
		if r.Header.Get("Authorization") != "Bearer t0k" {
			http.Error(w, "no auth", http.StatusUnauthorized)
			return
		}
		if i < len(codes) {
			http.Error(w, "busy\nsecond line", codes[i])
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestSenderRetries(t *testing.T) {
	auth := http.Header{"Authorization": {"Bearer t0k"}}
	for _, tc := range []struct {
		name      string
		codes     []int
		retryable func(int) bool
		tries     int32
		errWant   string // "" for success
	}{
		{"success", nil, nil, 1, ""},
		{"503 then success", []int{503}, nil, 2, ""},
		{"429, 500, then success", []int{429, 500}, nil, 3, ""},
		{"5xx three times: dropped", []int{503, 502, 500}, nil, 3, "HTTP 500: busy (after 3 tries)"},
		{"400 is not retried", []int{400}, nil, 1, "HTTP 400: busy"},
		{"OTLP does not retry 500", []int{500}, func(c int) bool { return c == 503 }, 1, "HTTP 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := flaky(t, nil, tc.codes...)
			s := &Sender{Client: srv.Client(), Header: auth, Backoff: time.Millisecond, Retryable: tc.retryable}
			err := s.Post(context.Background(), srv.URL, []byte("x"))
			if got := n.Load(); got != tc.tries {
				t.Errorf("%d tries, want %d", got, tc.tries)
			}
			switch {
			case tc.errWant == "" && err != nil:
				t.Errorf("err = %v, want success", err)
			case tc.errWant != "" && (err == nil || !strings.Contains(err.Error(), tc.errWant)):
				t.Errorf("err = %v, want %q", err, tc.errWant)
			}
			if err != nil && strings.Contains(err.Error(), "t0k") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

// TestSenderBounded checks that retries stop at the context's deadline:
// a receiver that asks to come back later is not waited for past it.
func TestSenderBounded(t *testing.T) {
	srv, n := flaky(t, http.Header{"Retry-After": {"3"}}, 503, 503, 503)
	s := &Sender{Client: srv.Client(), Header: http.Header{"Authorization": {"Bearer t0k"}}, Attempts: 10}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Post(ctx, srv.URL, nil)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Post took %s past a 500 ms deadline", took)
	}
	if err == nil || !strings.Contains(err.Error(), "no time left") || n.Load() != 1 {
		t.Errorf("err = %v after %d tries, want one try and no time left to retry", err, n.Load())
	}

	// A receiver that never answers: the deadline ends the try.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	start = time.Now()
	err = (&Sender{Client: hang.Client()}).Post(ctx2, hang.URL, nil)
	if took := time.Since(start); err == nil || took > 2*time.Second {
		t.Errorf("Post to a silent receiver: %v after %s, want a deadline error within 2 s", err, took)
	}
}

func TestSenderCheck(t *testing.T) {
	srv, _ := flaky(t, nil)
	bad := errors.New("partial")
	s := &Sender{Client: srv.Client(), Header: http.Header{"Authorization": {"Bearer t0k"}}, Check: func(*http.Response, []byte) error { return bad }}
	if err := s.Post(context.Background(), srv.URL, nil); !errors.Is(err, bad) {
		t.Errorf("err = %v, want the check's", err)
	}
}

func TestSenderRedactsURL(t *testing.T) {
	s := &Sender{Client: &http.Client{Timeout: time.Second}, Attempts: 1}
	err := s.Post(context.Background(), "http://user:s3cret@127.0.0.1:1/x", nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("err = %v, want an error without the password", err)
	}
}
