// Package targets reads vegeta-style targets files, with weights, and
// replays them: each request picks one of the file's targets at random, in
// proportion to its weight.
//
// Two formats are read, told apart by the first line that is neither blank
// nor a comment. vegeta's HTTP format:
//
//	# weight=3
//	# name=chat
//	POST http://127.0.0.1:8000/v1/chat/completions
//	Content-Type: application/json
//	@chat.json
//
//	GET /v1/models
//
// A target is a "METHOD URL" line, optional "Name: value" header lines and
// an optional "@path" line whose file is the body (a relative path is
// relative to the targets file's folder). Targets are separated by blank
// lines or follow one another. Lines starting with # are comments; the
// directives "# weight=N" and "# name=NAME" (or "weight: N") set the
// weight (default 1) and the name of the next target. They stand above
// its METHOD line, after a blank line or the previous target's @body line
// (not among a target's header lines, which vegeta would read as headers):
// there vegeta skips them as comments and reads the file unchanged.
//
// vegeta's JSON format, one object per line, with "weight" and "name"
// added:
//
//	{"method":"GET","url":"http://127.0.0.1:8000/a","header":{"X-A":["1"]},"body":"aGk=","weight":3}
//
// The body is base64, as vegeta writes it. A URL is absolute (http or
// https) or a path from /, joined to the run's target; the absolute URLs
// of one file share one origin (scheme, host and port), which is the
// run's target when none is given. Each request is tagged target=NAME (the
// name, else "METHOD path"), so that results break down by target.
//
// The package registers the replay format "targets" (Format): opened
// through replay.Open, a targets file is an endless trace whose rows are
// the weighted draws (NewReader), meant for a sequential replay at a rate.
package targets

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/replay"
)

// Limits on a targets file; beyond them it is bad input.
const (
	// MaxTargets is the most targets one file may hold.
	MaxTargets = 10_000
	// MaxBodyBytes caps each body (an @file or a JSON body).
	MaxBodyBytes = 16 << 20
	// MaxLineBytes caps one line of the file.
	MaxLineBytes = 1 << 20
	// MaxWeight is the largest weight a target may have.
	MaxWeight = 1e9
)

// TagKey is the tag every request of a targets replay carries: its value
// is the target's name.
const TagKey = "target"

// Methods are the request methods a target may have.
var Methods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace,
}

// Target is one endpoint of a targets file.
type Target struct {
	// Name is the tag value of its requests: the name directive or field,
	// else "METHOD path" (path without its query), numbered " #2", " #3"
	// … when two targets would share it.
	Name   string
	Method string
	// URL is the URL as written.
	URL string
	// Path is the request target sent: path and query, from /.
	Path   string
	Header http.Header
	Body   []byte
	// Weight is its share of the requests, relative to the others' (> 0).
	Weight float64
	// Line is the line of its METHOD URL line (or JSON object), from 1.
	Line int64
}

// File is a parsed targets file.
type File struct {
	// Name is the file's name, as given, for error messages.
	Name    string
	Targets []Target
	// Origin is scheme://host[:port] of the file's absolute URLs; "" when
	// every URL is a path.
	Origin string
	// OriginLine is the line of the first absolute URL; 0 when none.
	OriginLine int64
}

// TotalWeight is the sum of the targets' weights.
func (f *File) TotalWeight() float64 {
	var w float64
	for _, t := range f.Targets {
		w += t.Weight
	}
	return w
}

// ReadFile parses the targets file at path; bodies are read relative to
// its folder. Errors are one line: a *replay.RowError ("file:line: field:
// message") for bad content, or the failure to open the file.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("targets file: %w", err)
	}
	defer fh.Close()
	return Parse(path, fh, filepath.Dir(path))
}

// Parse reads a targets file named name from r; @body paths are relative
// to dir. Bad content is a *replay.RowError naming the line and field.
func Parse(name string, r io.Reader, dir string) (*File, error) {
	p := &parser{f: &File{Name: name}, dir: dir, names: map[string]int64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	var n int64
	for sc.Scan() {
		n++
		s := sc.Text()
		if n == 1 {
			s = strings.TrimPrefix(s, "\ufeff") // a byte-order mark
		}
		if err := p.line(n, strings.TrimSpace(s)); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, p.bad(n+1, "", fmt.Errorf("line longer than %d bytes", MaxLineBytes))
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := p.close(); err != nil {
		return nil, err
	}
	if len(p.f.Targets) == 0 {
		return nil, p.bad(max(n, 1), "", errors.New("no target: want METHOD URL lines (vegeta's http format) or JSON objects, one a line"))
	}
	if len(p.pending) > 0 {
		d := p.pending[0]
		return nil, p.bad(d.line, d.key, errors.New("precedes no target"))
	}
	return p.f, nil
}

// directive is a "# weight=3" or "# name=x" comment line.
type directive struct {
	key, value string
	line       int64
}

// parser holds the state of Parse between lines.
type parser struct {
	f       *File
	dir     string
	json    bool // the file is vegeta's JSON format; decided by the first target line
	decided bool
	cur     *Target // the target whose block is open; nil between blocks
	body    bool    // cur's @body line was read
	pending []directive
	set     map[string]int64 // directives cur has, by key, with their line
	names   map[string]int64 // names taken, by line
	named   bool             // cur's name comes from a directive or field
}

func (p *parser) bad(line int64, field string, err error) error {
	return &replay.RowError{File: p.f.Name, Line: line, Field: field, Err: err}
}

// line takes one trimmed line.
func (p *parser) line(n int64, s string) error {
	switch {
	case s == "":
		return p.close()
	case s[0] == '#':
		if d, ok := parseDirective(s, n); ok {
			return p.directive(d)
		}
		return nil
	}
	if !p.decided {
		p.decided, p.json = true, s[0] == '{'
	}
	if p.json {
		return p.jsonLine(n, s)
	}
	if method, rest, ok := targetLine(s); ok {
		if err := p.close(); err != nil {
			return err
		}
		return p.open(n, method, rest)
	}
	if p.cur == nil {
		method, _, _ := strings.Cut(s, " ")
		if slices.Contains(Methods, method) {
			return p.bad(n, "url", errors.New("missing"))
		}
		return p.bad(n, "method", fmt.Errorf("unknown method %q (want %s, then a URL)", method, strings.Join(Methods, ", ")))
	}
	if strings.HasPrefix(s, "@") {
		return p.bodyLine(n, s[1:])
	}
	if p.body {
		return p.bad(n, "header", errors.New("after the @body line: headers come before it"))
	}
	return p.header(n, s)
}

// parseDirective reads "# weight=3", "# weight: 3", "# name=x"; other
// comments are not directives.
func parseDirective(s string, n int64) (directive, bool) {
	s = strings.TrimSpace(strings.TrimLeft(s, "#"))
	i := strings.IndexAny(s, "=:")
	if i < 0 {
		return directive{}, false
	}
	key := strings.ToLower(strings.TrimSpace(s[:i]))
	if key != "weight" && key != "name" {
		return directive{}, false
	}
	return directive{key: key, value: strings.TrimSpace(s[i+1:]), line: n}, true
}

// targetLine reports whether s is "METHOD URL" with a method of Methods,
// or a line shaped like one (an upper-case word and a URL) whose method is
// unknown, which open then refuses.
func targetLine(s string) (method, rest string, ok bool) {
	method, rest, found := strings.Cut(s, " ")
	if !found {
		method, rest, found = strings.Cut(s, "\t")
	}
	if !found {
		return "", "", false
	}
	rest = strings.TrimSpace(rest)
	if slices.Contains(Methods, method) {
		return method, rest, true
	}
	upper := method != "" && strings.IndexFunc(method, func(r rune) bool { return r < 'A' || r > 'Z' }) < 0
	return method, rest, upper && (strings.HasPrefix(rest, "/") || strings.Contains(rest, "://"))
}

// open starts the target of a METHOD URL line.
func (p *parser) open(n int64, method, rawURL string) error {
	if !slices.Contains(Methods, method) {
		return p.bad(n, "method", fmt.Errorf("unknown method %q (want %s)", method, strings.Join(Methods, ", ")))
	}
	t, err := p.newTarget(n, method, rawURL)
	if err != nil {
		return err
	}
	p.cur, p.body, p.set, p.named = t, false, map[string]int64{}, false
	pending := p.pending
	p.pending = nil
	for _, d := range pending {
		if err := p.apply(d); err != nil {
			return err
		}
	}
	return nil
}

// newTarget checks a target's URL, sets the file's origin and returns the
// target, weight 1.
func (p *parser) newTarget(n int64, method, rawURL string) (*Target, error) {
	if len(p.f.Targets) >= MaxTargets {
		return nil, p.bad(n, "", fmt.Errorf("more than %d targets", MaxTargets))
	}
	path, origin, user, err := splitURL(rawURL)
	if err != nil {
		return nil, p.bad(n, "url", err)
	}
	if origin != "" {
		switch {
		case p.f.Origin == "":
			p.f.Origin, p.f.OriginLine = origin, n
		case origin != p.f.Origin:
			return nil, p.bad(n, "url", fmt.Errorf("origin %s differs from %s (line %d): a targets file drives one service", origin, p.f.Origin, p.f.OriginLine))
		}
	}
	t := &Target{Method: method, URL: rawURL, Path: path, Header: http.Header{}, Weight: 1, Line: n}
	if user != nil {
		pw, _ := user.Password()
		t.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user.Username()+":"+pw)))
	}
	return t, nil
}

// splitURL checks a target URL and returns its request target (path and
// query), its origin ("" for a path) and its user information.
func splitURL(raw string) (path, origin string, user *url.Userinfo, err error) {
	if raw == "" {
		return "", "", nil, errors.New("missing")
	}
	if strings.ContainsAny(raw, " \t\r\n\x00") {
		return "", "", nil, fmt.Errorf("%q holds white space or a control character", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", nil, fmt.Errorf("bad URL %q", raw)
	}
	switch {
	case strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//"):
	case u.Scheme != "http" && u.Scheme != "https":
		return "", "", nil, fmt.Errorf("%q: want an http:// or https:// URL, or a path from /", raw)
	default:
		base, err := extensions.BaseURL(u.Scheme + "://" + u.Host)
		if err != nil || u.Hostname() == "" {
			return "", "", nil, fmt.Errorf("%q: no host", raw)
		}
		origin = strings.ToLower(base)
	}
	return u.RequestURI(), origin, u.User, nil
}

// directive keeps d for the next target. Among the header lines of a
// target it is refused: vegeta would read it as a header.
func (p *parser) directive(d directive) error {
	if p.cur != nil && !p.body {
		return p.bad(d.line, d.key, fmt.Errorf("among the lines of line %d's target: put it above the METHOD line of its target, after a blank line", p.cur.Line))
	}
	p.pending = append(p.pending, d)
	return nil
}

// apply sets d on the open target.
func (p *parser) apply(d directive) error {
	if at, dup := p.set[d.key]; dup {
		return p.bad(d.line, d.key, fmt.Errorf("given twice for the target of line %d (first on line %d)", p.cur.Line, at))
	}
	p.set[d.key] = d.line
	if d.key == "weight" {
		w, err := parseWeight(d.value)
		if err != nil {
			return p.bad(d.line, "weight", err)
		}
		p.cur.Weight = w
		return nil
	}
	if err := checkName(d.value); err != nil {
		return p.bad(d.line, "name", err)
	}
	p.cur.Name, p.named = d.value, true
	return nil
}

// parseWeight reads a weight: a finite number above 0, at most MaxWeight.
func parseWeight(s string) (float64, error) {
	w, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(w) || math.IsInf(w, 0) || w <= 0 || w > MaxWeight {
		return 0, fmt.Errorf("%q: want a number above 0, at most %g", s, float64(MaxWeight))
	}
	return w, nil
}

// checkName refuses a name that a threshold's {target:NAME} could not
// select: empty, or with braces, commas or control characters.
func checkName(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if strings.ContainsAny(s, "{},") || strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return fmt.Errorf("%q: no braces, commas or control characters", s)
	}
	return nil
}

// header takes a "Name: value" line of the open target.
func (p *parser) header(n int64, s string) error {
	k, v, ok := strings.Cut(s, ":")
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if !ok || k == "" {
		return p.bad(n, "header", fmt.Errorf("%q: want Name: value", s))
	}
	if err := extensions.CheckHeader(k, v); err != nil {
		return p.bad(n, "header", err)
	}
	p.cur.Header.Add(k, v)
	return nil
}

// bodyLine reads the @file body of the open target.
func (p *parser) bodyLine(n int64, path string) error {
	if p.body {
		return p.bad(n, "body", errors.New("a second @body line"))
	}
	path = strings.TrimSpace(path)
	if path == "" {
		return p.bad(n, "body", errors.New("@ names no file"))
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.dir, path)
	}
	b, err := readBody(path)
	if err != nil {
		return p.bad(n, "body", err)
	}
	p.cur.Body, p.body = b, true
	return nil
}

// readBody reads a body file: a regular file of at most MaxBodyBytes
// (never a device or a pipe, which could block or never end).
func readBody(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	if st, err := fh.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(fh, MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(b) > MaxBodyBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxBodyBytes)
	}
	return b, nil
}

// close ends the open target's block and adds the target.
func (p *parser) close() error {
	t := p.cur
	if t == nil {
		return nil
	}
	p.cur = nil
	if p.named {
		if at, dup := p.names[t.Name]; dup {
			return p.bad(p.set["name"], "name", fmt.Errorf("%q is the name of line %d's target too", t.Name, at))
		}
	} else {
		path, _, _ := strings.Cut(t.Path, "?")
		base := t.Method + " " + path
		t.Name = base
		for k := 2; p.names[t.Name] != 0; k++ {
			t.Name = base + " #" + strconv.Itoa(k)
		}
	}
	p.names[t.Name] = t.Line
	p.f.Targets = append(p.f.Targets, *t)
	return nil
}

// jsonTarget is one line of vegeta's JSON format, with weight and name.
type jsonTarget struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Body   []byte              `json:"body"` // base64
	Header map[string][]string `json:"header"`
	Weight *float64            `json:"weight"`
	Name   *string             `json:"name"`
}

// jsonLine takes one JSON object.
func (p *parser) jsonLine(n int64, s string) error {
	if len(p.pending) > 0 {
		d := p.pending[0]
		return p.bad(d.line, d.key, errors.New("a JSON targets file gives weight and name as fields of the object"))
	}
	if s[0] != '{' {
		return p.bad(n, "", errors.New("not a JSON object: a file of JSON targets holds one object a line"))
	}
	var j jsonTarget
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return p.bad(n, jsonField(err), jsonMessage(err))
	}
	if dec.More() {
		return p.bad(n, "", errors.New("more than one JSON value on the line"))
	}
	if !slices.Contains(Methods, j.Method) {
		return p.bad(n, "method", fmt.Errorf("unknown method %q (want %s)", j.Method, strings.Join(Methods, ", ")))
	}
	t, err := p.newTarget(n, j.Method, j.URL)
	if err != nil {
		return err
	}
	for k, vs := range j.Header {
		for _, v := range vs {
			if err := extensions.CheckHeader(k, v); err != nil {
				return p.bad(n, "header", err)
			}
			t.Header.Add(k, v)
		}
	}
	if len(j.Body) > MaxBodyBytes {
		return p.bad(n, "body", fmt.Errorf("larger than %d bytes", MaxBodyBytes))
	}
	t.Body = j.Body
	p.cur, p.body, p.set, p.named = t, true, map[string]int64{}, false
	if j.Weight != nil {
		if err := p.apply(directive{key: "weight", value: strconv.FormatFloat(*j.Weight, 'g', -1, 64), line: n}); err != nil {
			return err
		}
	}
	if j.Name != nil {
		if err := p.apply(directive{key: "name", value: *j.Name, line: n}); err != nil {
			return err
		}
	}
	return p.close()
}

// jsonField names the field a JSON decoding error is about; "" when none.
func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return strings.Trim(f, `"`)
	}
	if strings.Contains(err.Error(), "base64") {
		return "body"
	}
	return ""
}

// jsonMessage says what was wrong with a JSON line.
func jsonMessage(err error) error {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		return fmt.Errorf("is a JSON %s, want %s", te.Value, te.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return errors.New("unknown field (fields: method, url, header, body, weight, name)")
	case strings.Contains(err.Error(), "base64"):
		return fmt.Errorf("not base64: %v", err)
	}
	return fmt.Errorf("not a JSON object: %v", err)
}

// Recorded is the request a target sends.
func (t *Target) Recorded() *gonogo.Recorded {
	return &gonogo.Recorded{Method: t.Method, Path: t.Path, Header: t.Header, Body: t.Body}
}
