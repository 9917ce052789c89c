package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// The fast path's HTTP/1.1 wire format: request and response heads parsed
// in place, as far as a forwarding proxy needs them, and chunked bodies.
// A request head the parser does not fully understand is not an error:
// the connection goes to net/http (see Server), which answers it as it
// always did.

// maxHeadLines bounds the lines of a head the fast path handles (the
// start line included); a longer head goes to net/http.
const maxHeadLines = 64

// maxChunkLine bounds a chunk-size or trailer line.
const maxChunkLine = 4096

// headLine is one header line of a head: offsets into its bytes.
type headLine struct {
	start, end int32 // the line without its CRLF
	drop       bool  // not forwarded (hop-by-hop, or framing the proxy writes itself)
}

// Header names the fast path acts on.
const (
	hOther = iota
	hHost
	hContentLength
	hTransferEncoding
	hConnection
	hExpect
	hUpgrade
	hTE
	hHop // hop-by-hop, dropped: Keep-Alive, Proxy-*, Trailer
	hForwarded
	hContentType
	hContentEncoding
	hTrailer
)

// headerKind classifies a header name (ASCII, any case).
func headerKind(name []byte) int {
	switch len(name) {
	case 2:
		if bytes.EqualFold(name, []byte("TE")) {
			return hTE
		}
	case 4:
		if bytes.EqualFold(name, []byte("Host")) {
			return hHost
		}
	case 6:
		if bytes.EqualFold(name, []byte("Expect")) {
			return hExpect
		}
	case 7:
		switch {
		case bytes.EqualFold(name, []byte("Upgrade")):
			return hUpgrade
		case bytes.EqualFold(name, []byte("Trailer")):
			return hTrailer
		}
	case 9:
		if bytes.EqualFold(name, []byte("Forwarded")) {
			return hForwarded
		}
	case 10:
		switch {
		case bytes.EqualFold(name, []byte("Connection")):
			return hConnection
		case bytes.EqualFold(name, []byte("Keep-Alive")):
			return hHop
		}
	case 12:
		if bytes.EqualFold(name, []byte("Content-Type")) {
			return hContentType
		}
	case 14:
		if bytes.EqualFold(name, []byte("Content-Length")) {
			return hContentLength
		}
	case 15:
		if bytes.EqualFold(name, []byte("X-Forwarded-For")) {
			return hForwarded
		}
	case 16:
		switch {
		case bytes.EqualFold(name, []byte("Proxy-Connection")):
			return hHop
		case bytes.EqualFold(name, []byte("X-Forwarded-Host")):
			return hForwarded
		case bytes.EqualFold(name, []byte("Content-Encoding")):
			return hContentEncoding
		}
	case 17:
		switch {
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return hTransferEncoding
		case bytes.EqualFold(name, []byte("X-Forwarded-Proto")):
			return hForwarded
		}
	case 18:
		if bytes.EqualFold(name, []byte("Proxy-Authenticate")) {
			return hHop
		}
	case 19:
		if bytes.EqualFold(name, []byte("Proxy-Authorization")) {
			return hHop
		}
	}
	return hOther
}

// tokenChars are the bytes of an RFC 9110 token (header names, methods).
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenChars[c] {
			return false
		}
	}
	return true
}

// validValue reports whether b may be a header value: no control bytes
// but horizontal tab.
func validValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// trimOWS trims optional whitespace (spaces, tabs) at both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseLength parses a Content-Length value: decimal digits, at most 15.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// connTokens calls fn with each comma-separated token of a Connection
// (or TE) value, trimmed; it stops when fn returns false.
func connTokens(v []byte, fn func(tok []byte) bool) {
	for len(v) > 0 {
		tok := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if tok = trimOWS(tok); len(tok) > 0 && !fn(tok) {
			return
		}
	}
}

// headEnd finds the end of the head at the start of buf (the index past
// its blank line), searching from from. It returns 0 when buf holds no
// whole head yet, and -1 when lines end in a bare LF: such a head is
// net/http's to read.
func headEnd(buf []byte, from int) int {
	for i := from; i < len(buf); {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j
		if i == 0 || buf[i-1] != '\r' {
			return -1
		}
		switch {
		case i+2 < len(buf) && buf[i+1] == '\r' && buf[i+2] == '\n':
			return i + 3
		case i+1 < len(buf) && buf[i+1] == '\n':
			return -1
		case i+2 >= len(buf) && i+1 < len(buf) && buf[i+1] == '\r':
			return 0 // "\n\r" at the end: wait for the rest
		}
		i++
	}
	return 0
}

// resHeadEnd finds the end of a response head in buf, searching from
// from: the index past its blank line (CRLF or, as net/http reads
// responses too, a bare LF), or 0 when buf holds no whole head yet.
func resHeadEnd(buf []byte, from int) int {
	for i := from; i < len(buf); {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		switch {
		case i < len(buf) && buf[i] == '\n':
			return i + 1
		case i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n':
			return i + 2
		}
	}
	return 0
}

// reqHead is a request head the fast path forwards, parsed in place: its
// slices point into raw, which is valid until the reader moves on.
type reqHead struct {
	raw     []byte
	lines   [maxHeadLines]headLine
	n       int // lines, the request line included
	method  []byte
	target  []byte
	length  int64 // Content-Length; -1 without one
	chunked bool
	close   bool // Connection: close
	te      bool // TE: trailers
}

// parseRequest parses raw, a whole head (blank line included), into h. It
// reports false for anything the fast path leaves to net/http: another
// version than HTTP/1.1, a target that is not a path, Expect, Upgrade,
// Connection options, a framing other than one Content-Length or
// chunked, no single Host, malformed or too many lines.
func (h *reqHead) parse(raw []byte) bool {
	h.raw, h.n, h.length, h.chunked, h.close, h.te = raw, 0, -1, false, false, false
	hosts := 0
	for pos := 0; pos < len(raw); {
		i := bytes.IndexByte(raw[pos:], '\n')
		if i < 1 || raw[pos+i-1] != '\r' {
			return false
		}
		end := pos + i - 1
		line := raw[pos:end]
		next := pos + i + 1
		if len(line) == 0 {
			return next == len(raw) && h.n > 0 && hosts == 1 && !(h.chunked && h.length >= 0)
		}
		if h.n == maxHeadLines {
			return false
		}
		l := &h.lines[h.n]
		l.start, l.end, l.drop = int32(pos), int32(end), false
		h.n++
		pos = next
		if h.n == 1 {
			if !h.requestLine(line) {
				return false
			}
			continue
		}
		c := bytes.IndexByte(line, ':')
		if c <= 0 || !isToken(line[:c]) || !validValue(line[c+1:]) {
			return false // obs-fold, a bad name or value
		}
		v := trimOWS(line[c+1:])
		switch headerKind(line[:c]) {
		case hHost:
			hosts++
			if !validHost(v) {
				return false
			}
		case hContentLength:
			n, ok := parseLength(v)
			if !ok || h.length >= 0 {
				return false
			}
			h.length, l.drop = n, true
		case hTransferEncoding:
			if h.chunked || !bytes.EqualFold(v, []byte("chunked")) {
				return false
			}
			h.chunked, l.drop = true, true
		case hConnection:
			ok := true
			connTokens(v, func(tok []byte) bool {
				switch {
				case bytes.EqualFold(tok, []byte("close")):
					h.close = true
				case bytes.EqualFold(tok, []byte("keep-alive")):
				default:
					ok = false
				}
				return ok
			})
			if !ok {
				return false
			}
			l.drop = true
		case hExpect, hUpgrade:
			return false
		case hTE:
			connTokens(v, func(tok []byte) bool {
				if len(tok) >= 8 && bytes.EqualFold(tok[:8], []byte("trailers")) && (len(tok) == 8 || tok[8] == ';' || tok[8] == ' ') {
					h.te = true
				}
				return true
			})
			l.drop = true
		case hHop, hForwarded, hTrailer:
			l.drop = true
		}
	}
	return false
}

// requestLine parses "METHOD /path HTTP/1.1".
func (h *reqHead) requestLine(line []byte) bool {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !isToken(line[:sp]) {
		return false
	}
	rest := line[sp+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 || string(rest[sp2+1:]) != "HTTP/1.1" {
		return false
	}
	target := rest[:sp2]
	if target[0] != '/' {
		return false // absolute-form, authority-form, "*": net/http's
	}
	for _, c := range target {
		if c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	if !validEscapes(target) {
		return false // net/http answers 400
	}
	h.method, h.target = line[:sp], target
	return true
}

// validEscapes reports whether every '%' of the target's path (before a
// '?') begins an escape of two hex digits, as net/http's request parsing
// requires.
func validEscapes(target []byte) bool {
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		target = target[:i]
	}
	for i := 0; i < len(target); i++ {
		if target[i] == '%' {
			if i+2 >= len(target) || !isHex(target[i+1]) || !isHex(target[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// hostChars are the bytes net/http's server accepts in a Host value
// (golang.org/x/net/http/httpguts.ValidHostHeader).
var hostChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!$%&'()*+,-.:;=[]_~" {
		t[c] = true
	}
	return t
}()

// validHost reports whether net/http's server takes v as a Host value.
func validHost(v []byte) bool {
	for _, c := range v {
		if !hostChars[c] {
			return false
		}
	}
	return true
}

// line returns header line i (1…n-1) as name and trimmed value.
func (h *reqHead) line(i int) (name, value []byte) {
	l := h.lines[i]
	line := h.raw[l.start:l.end]
	c := bytes.IndexByte(line, ':')
	return line[:c], trimOWS(line[c+1:])
}

// methodString returns the method as a string, without allocating for
// the common ones.
func methodString(m []byte) string {
	switch string(m) {
	case "GET":
		return http.MethodGet
	case "POST":
		return http.MethodPost
	case "PUT":
		return http.MethodPut
	case "HEAD":
		return http.MethodHead
	case "DELETE":
		return http.MethodDelete
	case "PATCH":
		return http.MethodPatch
	case "OPTIONS":
		return http.MethodOptions
	}
	return string(m)
}

// path returns the request's path as net/http's URL.Path has it: the
// target before its query, unescaped.
func (h *reqHead) path() (string, bool) {
	p := h.target
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if bytes.IndexByte(p, '%') < 0 {
		return string(p), true
	}
	s, err := url.PathUnescape(string(p))
	return s, err == nil
}

// header builds the request's header as net/http would: hop-by-hop
// fields included (the reverse proxy removes them itself), Host not (it
// is the request's Host).
func (h *reqHead) header() http.Header {
	hd := make(http.Header, h.n)
	for i := 1; i < h.n; i++ {
		name, v := h.line(i)
		if headerKind(name) == hHost {
			continue
		}
		k := http.CanonicalHeaderKey(string(name))
		hd[k] = append(hd[k], string(v))
	}
	return hd
}

// host returns the Host header's value.
func (h *reqHead) host() string {
	for i := 1; i < h.n; i++ {
		if name, v := h.line(i); headerKind(name) == hHost {
			return string(v)
		}
	}
	return ""
}

// appendForward appends the head to send upstream: the request line and
// the header lines but the dropped ones (the Host line replaced when
// rt.Host is set; X-Forwarded-* added when rt.Forwarded), then the
// framing of a body of bodyLen bytes (Content-Length when the client
// sent a body or a length), and "TE: trailers" when the client asked for
// trailers.
func (h *reqHead) appendForward(dst []byte, bodyLen int, rt *Route, cc *clientConn) []byte {
	for i := 0; i < h.n; i++ {
		l := h.lines[i]
		if l.drop {
			continue
		}
		if rt.Host != "" && i > 0 {
			if name, _ := h.line(i); headerKind(name) == hHost {
				dst = append(dst, "Host: "...)
				dst = append(dst, rt.Host...)
				dst = append(dst, "\r\n"...)
				continue
			}
		}
		dst = append(dst, h.raw[l.start:l.end]...)
		dst = append(dst, "\r\n"...)
	}
	if rt.Forwarded {
		dst = h.appendXForwarded(dst, cc.remoteIP())
	}
	if h.length >= 0 || h.chunked {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(bodyLen), 10)
		dst = append(dst, "\r\n"...)
	}
	if h.te {
		dst = append(dst, "Te: trailers\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// appendXForwarded appends X-Forwarded-For (the values the request
// carried, then ip), X-Forwarded-Host (the request's Host) and
// X-Forwarded-Proto, as httputil.ProxyRequest.SetXForwarded sets them.
func (h *reqHead) appendXForwarded(dst []byte, ip string) []byte {
	dst = append(dst, "X-Forwarded-For: "...)
	for i := 1; i < h.n; i++ {
		if name, v := h.line(i); len(name) == 15 && bytes.EqualFold(name, []byte("X-Forwarded-For")) {
			dst = append(dst, v...)
			dst = append(dst, ", "...)
		}
	}
	dst = append(dst, ip...)
	dst = append(dst, "\r\nX-Forwarded-Host: "...)
	for i := 1; i < h.n; i++ {
		if name, v := h.line(i); headerKind(name) == hHost {
			dst = append(dst, v...)
			break
		}
	}
	return append(dst, "\r\nX-Forwarded-Proto: http\r\n"...)
}

// idempotent reports whether the request may be sent again after a
// reused upstream connection failed under it, by net/http's rule.
func (h *reqHead) idempotent() bool {
	switch string(h.method) {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	for i := 1; i < h.n; i++ {
		name, _ := h.line(i)
		if bytes.EqualFold(name, []byte("Idempotency-Key")) || bytes.EqualFold(name, []byte("X-Idempotency-Key")) {
			return true
		}
	}
	return false
}

// errBadResponse is an upstream response the proxy cannot forward.
type errBadResponse string

func (e errBadResponse) Error() string { return "malformed response: " + string(e) }

// resHead is an upstream response head, parsed in place.
type resHead struct {
	raw     []byte
	lines   [maxHeadLines]headLine
	n       int
	status  int
	minor   int   // HTTP/1.minor
	length  int64 // Content-Length; -1 without one
	chunked bool
	close   bool // the upstream closes the connection after this response
	conn    int  // Connection options (other than close, keep-alive) to drop
	// consumed says the head was read out of the reader (a long one),
	// not left in it.
	consumed bool
}

// parse parses raw, a whole response head, into h.
func (h *resHead) parse(raw []byte) error {
	h.raw, h.n, h.length, h.chunked, h.close, h.conn = raw, 0, -1, false, false, 0
	var opts [8][]byte // Connection options: headers to drop
	te := false
	for pos := 0; pos < len(raw); {
		i := bytes.IndexByte(raw[pos:], '\n')
		if i < 0 {
			return errBadResponse("unterminated head")
		}
		end := pos + i
		if end > pos && raw[end-1] == '\r' {
			end--
		}
		line := raw[pos:end]
		next := pos + i + 1
		if len(line) == 0 {
			if h.n == 0 {
				return errBadResponse("no status line")
			}
			break
		}
		if h.n == maxHeadLines {
			return errBadResponse("too many header lines")
		}
		l := &h.lines[h.n]
		l.start, l.end, l.drop = int32(pos), int32(end), false
		h.n++
		pos = next
		if h.n == 1 {
			if err := h.statusLine(line); err != nil {
				return err
			}
			continue
		}
		c := bytes.IndexByte(line, ':')
		if c <= 0 || !isToken(line[:c]) || !validValue(line[c+1:]) {
			return errBadResponse(fmt.Sprintf("header line %q", snip(line)))
		}
		v := trimOWS(line[c+1:])
		switch headerKind(line[:c]) {
		case hContentLength:
			n, ok := parseLength(v)
			if !ok || (h.length >= 0 && n != h.length) {
				return errBadResponse(fmt.Sprintf("Content-Length %q", snip(v)))
			}
			h.length, l.drop = n, true
		case hTransferEncoding:
			// As net/http's Transport reads it: ignored in HTTP/1.0, else
			// one "chunked" and nothing else.
			l.drop = true
			if h.minor == 0 {
				continue
			}
			if te || !bytes.EqualFold(v, []byte("chunked")) {
				return errBadResponse(fmt.Sprintf("unsupported Transfer-Encoding %q", snip(v)))
			}
			te, h.chunked = true, true
		case hConnection:
			connTokens(v, func(tok []byte) bool {
				switch {
				case bytes.EqualFold(tok, []byte("close")):
					h.close = true
				case bytes.EqualFold(tok, []byte("keep-alive")):
				case h.conn < len(opts):
					opts[h.conn] = tok
					h.conn++
				}
				return true
			})
			l.drop = true
		case hHop, hTE, hUpgrade, hTrailer:
			l.drop = true
		}
	}
	if h.minor == 0 {
		h.close = true // HTTP/1.0 keep-alive is not worth the trouble
	}
	if h.chunked {
		h.length = -1
	}
	for k := 0; k < h.conn; k++ {
		for i := 1; i < h.n; i++ {
			name, _ := h.line(i)
			if bytes.EqualFold(name, opts[k]) {
				h.lines[i].drop = true
			}
		}
	}
	return nil
}

// statusLine parses "HTTP/1.x SSS reason".
func (h *resHead) statusLine(line []byte) error {
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || (line[7] != '0' && line[7] != '1') || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return errBadResponse(fmt.Sprintf("status line %q", snip(line)))
	}
	h.status = 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return errBadResponse(fmt.Sprintf("status line %q", snip(line)))
		}
		h.status = h.status*10 + int(c-'0')
	}
	if h.status < 100 {
		return errBadResponse(fmt.Sprintf("status %d", h.status))
	}
	h.minor = int(line[7] - '0')
	return nil
}

func (h *resHead) line(i int) (name, value []byte) {
	l := h.lines[i]
	line := h.raw[l.start:l.end]
	c := bytes.IndexByte(line, ':')
	return line[:c], trimOWS(line[c+1:])
}

// bodyless reports whether a response with this status to this request
// has no body, whatever its header says.
func bodyless(status int, head bool) bool {
	return head || status < 200 || status == http.StatusNoContent || status == http.StatusNotModified
}

// statusLines are the status lines the proxy writes, by code: net/http's
// own (the upstream's reason phrase is not passed on).
var statusLines = func() (t [600][]byte) {
	for code := 100; code < 600; code++ {
		text := http.StatusText(code)
		if text == "" {
			text = "status code " + strconv.Itoa(code)
		}
		t[code] = []byte("HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n")
	}
	return t
}()

func appendStatusLine(dst []byte, code int) []byte {
	if code >= 100 && code < 600 {
		return append(dst, statusLines[code]...)
	}
	return fmt.Appendf(dst, "HTTP/1.1 %03d status code %d\r\n", code, code)
}

// appendForward appends the head to send the client: net/http's status
// line, the header lines but the dropped ones, the framing (length ≥ 0:
// Content-Length; chunked: Transfer-Encoding; else none) and, when close,
// "Connection: close". A chunked relay keeps the Trailer field.
func (h *resHead) appendForward(dst []byte, length int64, chunked, close bool) []byte {
	dst = appendStatusLine(dst, h.status)
	for i := 1; i < h.n; i++ {
		l := h.lines[i]
		if l.drop {
			if !chunked || !h.chunked {
				continue
			}
			if name, _ := h.line(i); headerKind(name) != hTrailer {
				continue
			}
		}
		dst = append(dst, h.raw[l.start:l.end]...)
		dst = append(dst, "\r\n"...)
	}
	switch {
	case length >= 0:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, length, 10)
		dst = append(dst, "\r\n"...)
	case chunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	if close {
		dst = append(dst, "Connection: close\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// errChunk is a malformed chunked body.
var errChunk = errors.New("malformed chunked encoding")

// readLine reads one line from br without its line end (CRLF or LF); the
// slice is valid until the next read. A line longer than max is errChunk.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, errChunk
	case err == io.EOF:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	line = line[:len(line)-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, nil
}

// readChunkSize reads a chunk-size line as net/http does: ending in
// CRLF, no other CR, shorter than maxChunkLine, trailing whitespace and
// extensions ignored, at most 16 hex digits.
func readChunkSize(br *bufio.Reader) (int64, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return 0, errChunk
	case err == io.EOF:
		return 0, io.ErrUnexpectedEOF
	case err != nil:
		return 0, err
	}
	if i := bytes.IndexByte(line, '\r'); len(line) < 2 || i != len(line)-2 {
		return 0, errChunk
	}
	line = line[:len(line)-2]
	if len(line) >= maxChunkLine {
		return 0, errChunk
	}
	for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t') {
		line = line[:len(line)-1]
	}
	line, _, _ = bytes.Cut(line, []byte(";"))
	if len(line) == 0 || len(line) > 16 {
		return 0, errChunk
	}
	var n uint64
	for _, c := range line {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | uint64(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | uint64(c-'A'+10)
		default:
			return 0, errChunk
		}
	}
	if n > 1<<62 {
		return 0, errChunk // no body is that long
	}
	return int64(n), nil
}

// readCRLF reads the CRLF after a chunk's data.
func readCRLF(br *bufio.Reader) error {
	b, err := br.Peek(2)
	switch {
	case err == io.EOF:
		return io.ErrUnexpectedEOF
	case err != nil:
		return err
	case b[0] != '\r' || b[1] != '\n':
		return errChunk
	}
	br.Discard(2)
	return nil
}

// decodeChunked reads a chunked body from br, appending its data to dst,
// up to and including its trailers (discarded). It stops before a chunk
// that would take the data past limit bytes: over is then that chunk's
// size, its data still unread.
func decodeChunked(br *bufio.Reader, dst []byte, limit int64) (body []byte, over int64, err error) {
	for {
		size, err := readChunkSize(br)
		if err != nil {
			return dst, 0, err
		}
		if size == 0 {
			_, err := readTrailers(br, nil)
			return dst, 0, err
		}
		if int64(len(dst))+size > limit {
			return dst, size, nil
		}
		n := len(dst)
		dst = slices.Grow(dst, int(size))[:n+int(size)]
		if _, err := io.ReadFull(br, dst[n:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return dst[:n], 0, err
		}
		if err := readCRLF(br); err != nil {
			return dst, 0, err
		}
	}
}

// readTrailers reads the trailer lines after the last chunk up to the
// blank line, appending to dst (CRLF-terminated) those net/http reads:
// a name of token bytes — spaces let through, as net/http does — a
// colon, a value, which lines folded onto it (obs-fold) continue.
func readTrailers(br *bufio.Reader, dst []byte) ([]byte, error) {
	kept := false // the last line went to dst
	for range maxHeadLines {
		line, err := readLine(br)
		if err != nil {
			return dst, err
		}
		switch c := bytes.IndexByte(line, ':'); {
		case len(line) == 0:
			return dst, nil
		case line[0] == ' ' || line[0] == '\t':
			if kept && validValue(line) {
				dst = trimOWS(dst[:len(dst)-2]) // the previous line, unended
				dst = append(dst, ' ')
				dst = append(dst, trimOWS(line)...)
				dst = append(dst, "\r\n"...)
			}
		case c > 0 && validValue(line[c+1:]) && !slices.ContainsFunc(line[:c], func(b byte) bool { return !tokenChars[b] && b != ' ' }):
			dst = append(dst, line...)
			dst = append(dst, "\r\n"...)
			kept = true
		default:
			kept = false
		}
	}
	return dst, errChunk
}

// appendChunkHeader appends the size line of a chunk of n bytes.
func appendChunkHeader(dst []byte, n int) []byte {
	dst = strconv.AppendInt(dst, int64(n), 16)
	return append(dst, "\r\n"...)
}

func snip(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}
