package extensions_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

func TestRecordedHeader(t *testing.T) {
	base := http.Header{"User-Agent": {"gonogo"}, "Content-Type": {"application/json"}, "Authorization": {"Bearer mine"}}
	keep := http.Header{"Authorization": {"Bearer mine"}}
	tests := []struct {
		name string
		rec  http.Header
		want string
	}{
		{"none", nil, "map[Authorization:[Bearer mine] Content-Type:[application/json] User-Agent:[gonogo]]"},
		{"repeated values kept", http.Header{"Accept": {"a", "b"}},
			"map[Accept:[a b] Authorization:[Bearer mine] Content-Type:[application/json] User-Agent:[gonogo]]"},
		{"recorded over the client's defaults", http.Header{"User-Agent": {"python"}, "Content-Type": {"text/plain"}},
			"map[Authorization:[Bearer mine] Content-Type:[text/plain] User-Agent:[python]]"},
		{"configured headers win", http.Header{"Authorization": {"Bearer recorded"}},
			"map[Authorization:[Bearer mine] Content-Type:[application/json] User-Agent:[gonogo]]"},
		{"connection headers dropped", http.Header{"Host": {"prod"}, "Content-Length": {"9"}, "Connection": {"close"}, "Transfer-Encoding": {"chunked"}, "X-A": {"1"}},
			"map[Authorization:[Bearer mine] Content-Type:[application/json] User-Agent:[gonogo] X-A:[1]]"},
		{"names canonicalized, one order", http.Header{"x-a": {"2"}, "X-A": {"1"}},
			"map[Authorization:[Bearer mine] Content-Type:[application/json] User-Agent:[gonogo] X-A:[1 2]]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fmt.Sprint(base)
			got := extensions.RecordedHeader(base, &gonogo.Recorded{Header: tt.rec}, keep)
			if fmt.Sprint(got) != tt.want {
				t.Errorf("got %v\nwant %s", got, tt.want)
			}
			if fmt.Sprint(base) != before {
				t.Errorf("base changed to %v", base)
			}
		})
	}
}

func TestRecordedRequest(t *testing.T) {
	u, _ := url.Parse("https://svc:8443/v1/completions")
	tmpl := &http.Request{Method: http.MethodPost, URL: u, Host: u.Host, Header: http.Header{"Content-Type": {"application/json"}},
		Body: http.NoBody, ContentLength: 12}
	tests := []struct {
		name    string
		rec     gonogo.Recorded
		wantURL string
		wantErr string
	}{
		{"path and query", gonogo.Recorded{Method: "PUT", Path: "/v2/items/7?dry=1&x=%2F"}, "https://svc:8443/v2/items/7?dry=1&x=%2F", ""},
		{"escaped path kept", gonogo.Recorded{Method: "GET", Path: "/a%20b/c%2Fd"}, "https://svc:8443/a%20b/c%2Fd", ""},
		{"no slash", gonogo.Recorded{Method: "GET", Path: "items"}, "", `recorded request: path "items" must start with / and hold no spaces or line breaks`},
		{"space in path", gonogo.Recorded{Method: "GET", Path: "/a b"}, "", `recorded request: path "/a b" must start with / and hold no spaces or line breaks`},
		{"bad method", gonogo.Recorded{Method: "GE T", Path: "/"}, "", `recorded request: invalid method "GE T"`},
		{"empty method", gonogo.Recorded{Path: "/"}, "", "recorded request: empty method"},
		{"bad header name", gonogo.Recorded{Method: "GET", Path: "/", Header: http.Header{"X A": {"1"}}}, "", `recorded request: invalid header name "X A"`},
		{"header value with a line break", gonogo.Recorded{Method: "GET", Path: "/", Header: http.Header{"X-A": {"1\r\nX-B: 2"}}}, "",
			"recorded request: header X-A: value contains CR, LF or NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := extensions.RecordedRequest(tmpl, &tt.rec, nil)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Method != tt.rec.Method || r.URL.String() != tt.wantURL || r.Host != "svc:8443" || r.ContentLength != 0 || r.Body != http.NoBody {
				t.Errorf("request %s %s host %s, length %d", r.Method, r.URL, r.Host, r.ContentLength)
			}
			if r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("headers %v", r.Header)
			}
			if tmpl.Method != http.MethodPost || tmpl.URL.Path != "/v1/completions" || tmpl.ContentLength != 12 {
				t.Errorf("template changed: %s %s", tmpl.Method, tmpl.URL)
			}
		})
	}
}
