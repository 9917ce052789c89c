package extensions_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/extensions"
)

func TestStatusError(t *testing.T) {
	tests := []struct {
		name string
		err  extensions.StatusError
		want string
	}{
		{"empty body", extensions.StatusError{Method: "GET", Path: "/v1/models", Status: 503},
			"GET /v1/models answered 503 Service Unavailable with an empty body"},
		{"excerpt", extensions.StatusError{Method: "GET", Path: "/v1/models", Status: 500, Excerpt: "engine dead"},
			`GET /v1/models answered 500 Internal Server Error: "engine dead"`},
		{"note", extensions.StatusError{Method: "GET", Path: "/v1/models", Status: 404, Note: "not an OpenAI-compatible server", Excerpt: "404 page not found"},
			`GET /v1/models answered 404 Not Found (not an OpenAI-compatible server): "404 page not found"`},
		{"401 without credentials", extensions.StatusError{Method: "GET", Path: "/v1/models", Status: 401, Sent: []string{"User-Agent"}},
			`GET /v1/models answered 401 Unauthorized with an empty body; the server wants credentials: pass them with --header "Authorization: Bearer …"`},
		{"403 with credentials", extensions.StatusError{Method: "GET", Path: "/v2/health/ready", Status: 403, Excerpt: "forbidden", Sent: []string{"X-Api-Key", "Authorization"}},
			`GET /v2/health/ready answered 403 Forbidden: "forbidden"; the credentials sent (header Authorization, X-Api-Key) were refused: check them`},
		{"unknown status", extensions.StatusError{Method: "GET", Path: "/", Status: 599},
			"GET / answered 599 with an empty body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"one line", "  {\"error\":\n\t\"no\"}\r\n", `{"error": "no"}`},
		{"control and invalid bytes", "a\x00\x01b\xffc", "a b c"},
		{"cut on a rune", long, strings.Repeat("é", 100) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := extensions.Excerpt([]byte(tt.in))
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if len(strings.TrimSuffix(got, "…")) > extensions.MaxExcerptBytes {
				t.Errorf("%d bytes", len(got))
			}
		})
	}
}

// A target that refuses the readiness check with 401 says so through
// Preflight with the status, the body's start and a hint, and never with
// the value of a header sent.
func TestPreflightUnauthorized(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		if r.Header.Get("Authorization") != "" {
			w.Write([]byte(`{"error":{"message":"Incorrect API key provided"}}`))
		}
	}))
	defer srv.Close()
	const secret = "sk-very-secret-1234"
	tests := []struct {
		name, protocol string
		headers        map[string]string
		want           string
	}{
		{"openai, no credentials", "openai", nil,
			`target URL not ready: GET /v1/models answered 401 Unauthorized with an empty body; the server wants credentials: pass them with --header "Authorization: Bearer …"`},
		{"openai, refused credentials", "openai", map[string]string{"Authorization": "Bearer " + secret},
			`target URL not ready: GET /v1/models answered 401 Unauthorized: "Incorrect API key provided"; the credentials sent (header Authorization) were refused: check them`},
		{"kserve, refused credentials", "kserve", map[string]string{"authorization": "Bearer " + secret},
			`target URL not ready: GET /v2/health/ready answered 401 Unauthorized: "{\"error\":{\"message\":\"Incorrect API key provided\"}}"; the credentials sent (header Authorization) were refused: check them`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := extensions.New(tt.protocol, extensions.Options{Target: srv.URL, Model: "m", Headers: tt.headers})
			if err != nil {
				t.Fatal(err)
			}
			err = extensions.Preflight(context.Background(), c, srv.URL)
			if !errors.Is(err, extensions.ErrNotReady) {
				t.Fatalf("Preflight = %v, want ErrNotReady", err)
			}
			var se *extensions.StatusError
			if !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
				t.Errorf("no *StatusError 401 in %v", err)
			}
			got := strings.ReplaceAll(err.Error(), srv.URL, "URL")
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if strings.Contains(got, secret) {
				t.Errorf("the error shows a header value: %s", got)
			}
		})
	}
}
