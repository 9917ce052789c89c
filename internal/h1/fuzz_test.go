package h1

import (
	"bufio"
	"bytes"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// FuzzRequestHead: a request head the fast path forwards is one net/http
// reads the same way (method, target, path, Host, header, framing,
// Connection: close), a chunked body decodes as net/http decodes it, and
// the head sent upstream is a request net/http reads the same, with no
// hop-by-hop field left, which the fast path would take again.
func FuzzRequestHead(f *testing.F) {
	for _, s := range []string{
		"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: gonogo\r\n\r\n",
		"POST /v1/chat/completions?x=%20 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\nX-Forwarded-For: 1.2.3.4\r\n\r\nhello",
		"POST /v2/models/m/infer HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n\r\n5;x=y\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
		"GET /a%2Fb HTTP/1.1\r\nHost: [::1]:80\r\nKeep-Alive: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
		"GET / HTTP/1.0\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
		"0 / HTTP/1.1\r\nHost:\r\nTrAnsfer-EnCoding:Chunked\r\n\r\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end := headEnd(b, 0)
		if end <= 0 {
			return
		}
		var h reqHead
		if !h.parse(b[:end]) {
			return
		}
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatalf("the fast path takes %q; net/http refuses it: %v", b[:end], err)
		}
		if r.Method != string(h.method) || r.RequestURI != string(h.target) || r.Host != h.host() || r.Close != h.close {
			t.Fatalf("%q: net/http reads %s %s host %q close %v", b[:end], r.Method, r.RequestURI, r.Host, r.Close)
		}
		if p, ok := h.path(); ok && p != r.URL.Path {
			t.Fatalf("%q: path %q, net/http's %q", b[:end], p, r.URL.Path)
		}
		if r.URL.Path == "" || r.URL.Host != "" {
			t.Fatalf("%q: net/http reads the URL %v", b[:end], r.URL)
		}
		hd := h.header()
		for k, vs := range r.Header {
			if !slices.Equal(hd[k], vs) {
				t.Fatalf("%q: %s = %q, net/http's %q", b[:end], k, hd[k], vs)
			}
		}
		if h.chunked != slices.Equal(r.TransferEncoding, []string{"chunked"}) || (!h.chunked && max(h.length, 0) != r.ContentLength) {
			t.Fatalf("%q: length %d chunked %v; net/http's %d %v", b[:end], h.length, h.chunked, r.ContentLength, r.TransferEncoding)
		}
		want, werr := io.ReadAll(r.Body)
		body := b[end:]
		if h.chunked {
			got, over, err := decodeChunked(bufio.NewReader(bytes.NewReader(body)), nil, 16<<20)
			if werr == nil && (err != nil || over != 0 || !bytes.Equal(got, want)) {
				t.Fatalf("%q: chunked body %q (%v), net/http's %q", b, got, err, want)
			}
			body = want
		} else if werr != nil {
			return
		}
		fwd := h.appendForward(nil, len(body), &Route{}, nil)
		fwd = append(fwd, body...)
		r2, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(fwd)))
		if err != nil {
			t.Fatalf("forwarded %q: %v", fwd, err)
		}
		if r2.Method != r.Method || r2.RequestURI != r.RequestURI || r2.Host != r.Host || r2.ContentLength != int64(len(body)) && (h.length >= 0 || h.chunked) {
			t.Fatalf("forwarded %q as %s %s host %q length %d", fwd, r2.Method, r2.RequestURI, r2.Host, r2.ContentLength)
		}
		for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Transfer-Encoding", "Trailer", "Upgrade", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
			if _, ok := r2.Header[k]; ok {
				t.Fatalf("forwarded %q keeps %s", fwd, k)
			}
		}
		var h2 reqHead
		if !h2.parse(fwd[:headEnd(fwd, 0)]) {
			t.Fatalf("the fast path would not take the head it forwards: %q", fwd)
		}
	})
}

// FuzzResponseHead: a response head the fast path relays is one net/http's
// Transport reads the same way (status, framing, whether the connection
// closes), and what it relays is a response net/http reads with no
// hop-by-hop field left.
func FuzzResponseHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close, X-A\r\nX-A: 1\r\nKeep-Alive: timeout=5\r\n\r\nok",
		"HTTP/1.0 404 Not Found\nContent-Length: 3\n\n404",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"HTTP/1.1 200\n\n",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, head bool) {
		end := resHeadEnd(b, 0)
		if end <= 0 {
			return
		}
		var h resHead
		if h.parse(b[:end]) != nil {
			return
		}
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), &http.Request{Method: method})
		if err != nil {
			t.Fatalf("the fast path takes %q; net/http refuses it: %v", b[:end], err)
		}
		chunked := slices.Equal(res.TransferEncoding, []string{"chunked"})
		untilClose := !bodyless(h.status, head) && !h.chunked && h.length < 0 // the relay closes after it
		if res.StatusCode != h.status || chunked != h.chunked || (res.Close && !h.close && !untilClose) {
			t.Fatalf("%q: status %d chunked %v close %v; net/http's %d %v %v", b[:end], h.status, h.chunked, h.close, res.StatusCode, chunked, res.Close)
		}
		if !bodyless(h.status, head) && !h.chunked && h.length != res.ContentLength {
			t.Fatalf("%q: length %d, net/http's %d", b[:end], h.length, res.ContentLength)
		}
		for _, chunkedOut := range []bool{false, true} {
			length := h.length
			if chunkedOut {
				length = -1
			}
			out := h.appendForward(nil, length, chunkedOut, true)
			res2, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), &http.Request{Method: http.MethodHead})
			if err != nil {
				t.Fatalf("relayed %q: %v", out, err)
			}
			if res2.StatusCode != h.status || !res2.Close {
				t.Fatalf("relayed %q as %d close %v", out, res2.StatusCode, res2.Close)
			}
			for _, k := range []string{"Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Upgrade", "Te"} {
				if _, ok := res2.Header[k]; ok {
					t.Fatalf("relayed %q keeps %s", out, k)
				}
			}
		}
	})
}

// FuzzChunkedRelay: a chunked body net/http reads is relayed chunk by
// chunk into one net/http reads the same, trailers included.
func FuzzChunkedRelay(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Sum: 19\r\n\r\n",
		"0\r\n\r\n",
		"1 \r\nx\r\n0\r\n\r\n",
		"3 \r\n000\r\n10\r\n0000000000000000\r\n0\r\n000 0:000\r\n\r\n",
		"0\r\n0:\n 0\r\n\r\n",
		"0\r\n0:0\n \r\n\r\n",
		"\n",
	} {
		f.Add([]byte(s))
	}
	const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	read := func(b []byte) ([]byte, http.Header, error) {
		res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(append([]byte(head), b...))), nil)
		if err != nil {
			return nil, nil, err
		}
		data, err := io.ReadAll(res.Body)
		return data, res.Trailer, err
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantTrailer, err := read(b)
		if err != nil {
			return
		}
		var out bytes.Buffer
		cc := &clientConn{bw: bufio.NewWriter(&out)}
		if upErr, cliErr := cc.relayChunked(bufio.NewReaderSize(bytes.NewReader(b), upstreamBufSize)); upErr != nil || cliErr != nil {
			t.Fatalf("%q: net/http reads it, the relay fails: %v %v", b, upErr, cliErr)
		}
		cc.bw.Flush()
		got, gotTrailer, err := read(out.Bytes())
		// Whitespace around a value means nothing; folding can leave some
		// that no unfolded line carries.
		sameValues := func(a, b []string) bool {
			return slices.EqualFunc(a, b, func(x, y string) bool { return strings.TrimSpace(x) == strings.TrimSpace(y) })
		}
		if err != nil || !bytes.Equal(got, want) || !maps.EqualFunc(gotTrailer, wantTrailer, sameValues) {
			t.Fatalf("%q relayed as %q: %q %v (%v), want %q %v", b, out.Bytes(), got, gotTrailer, err, want, wantTrailer)
		}
		if data, over, err := decodeChunked(bufio.NewReader(bytes.NewReader(b)), nil, 16<<20); err != nil || over != 0 || !bytes.Equal(data, want) {
			t.Fatalf("%q decodes to %q (%v)", b, data, err)
		}
	})
}
