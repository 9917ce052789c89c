package extensions

import (
	"net/http"
	"testing"
)

func TestAppendRequestHead(t *testing.T) {
	tests := []struct {
		name   string
		method string
		uri    string
		h      http.Header
		want   string
	}{
		{"no headers", "GET", "/v1/models", nil, "GET /v1/models HTTP/1.1\r\nHost: h:1\r\n"},
		{"names in order, repeated values kept", "POST", "/x?a=1",
			http.Header{"X-B": {"2"}, "Accept": {"a", "b"}, "User-Agent": {"gonogo"}},
			"POST /x?a=1 HTTP/1.1\r\nHost: h:1\r\nAccept: a\r\nAccept: b\r\nUser-Agent: gonogo\r\nX-B: 2\r\n"},
		{"the connection's own headers left out", "POST", "/",
			http.Header{"Host": {"evil"}, "Content-Length": {"9"}, "Transfer-Encoding": {"chunked"}, "Connection": {"close"},
				"Keep-Alive": {"1"}, "Upgrade": {"h2c"}, "Te": {"trailers"}, "Trailer": {"X"}, "Proxy-Connection": {"x"}, "X-Ok": {"1"}},
			"POST / HTTP/1.1\r\nHost: h:1\r\nX-Ok: 1\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendRequestHead([]byte("prefix|"), tt.method, tt.uri, "h:1", tt.h))
			if want := "prefix|" + tt.want; got != want {
				t.Errorf("got %q\nwant %q", got, want)
			}
		})
	}
}
