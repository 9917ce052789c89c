package httpproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/gonogo-dev/gonogo/extensions"
)

// RequestFile is the request the http protocol sends, as read from a request
// file. A request file is YAML or JSON (JSON is YAML) with these fields, all
// optional:
//
//	method: POST                 # default GET
//	path: /v1/predict?x=1        # default /; must start with /
//	headers: {Authorization: Bearer xyz}
//	body: '{"raw": "text"}'      # a string is sent as is
//	# body: {inputs: [1, 2]}     # anything else is sent as JSON, and
//	                             # Content-Type defaults to application/json
//
// Unknown fields are errors.
type RequestFile struct {
	// Method is the HTTP method, GET when the file gives none.
	Method string
	// Path is the request path and query, / when the file gives none.
	Path string
	// Headers are the request headers, never nil.
	Headers map[string]string
	// Body is the request body, nil when the file gives none.
	Body []byte
}

// fileSpec is the on-disk shape of a request file.
type fileSpec struct {
	Method  string            `yaml:"method"`
	Path    string            `yaml:"path"`
	Headers map[string]string `yaml:"headers"`
	Body    any               `yaml:"body"`
}

// LoadRequestFile reads and parses the request file at path. Errors name the
// file and the line or field at fault.
func LoadRequestFile(path string) (*RequestFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("request file: %w", err)
	}
	return ParseRequestFile(path, data)
}

// ParseRequestFile parses request file contents; name is used in errors
// ("req.yaml:3:1: unknown field \"foo\"", "req.yaml: method: ...").
func ParseRequestFile(name string, data []byte) (rf *RequestFile, err error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s: request file is empty", name)
	}
	defer func() {
		// The YAML parser is third-party code fed user input; a panic in it
		// must become an error, not a crashed run.
		if p := recover(); p != nil {
			rf, err = nil, fmt.Errorf("%s: cannot parse request file: %v", name, p)
		}
	}()
	var spec fileSpec
	if err := yaml.UnmarshalWithOptions(data, &spec, yaml.DisallowUnknownField()); err != nil {
		return nil, yamlError(name, err)
	}
	rf = &RequestFile{Method: spec.Method, Path: spec.Path, Headers: map[string]string{}}
	if rf.Method == "" {
		rf.Method = http.MethodGet
	}
	if rf.Path == "" {
		rf.Path = "/"
	}
	if err := extensions.CheckMethod(rf.Method); err != nil {
		return nil, fmt.Errorf("%s: method: %v", name, err)
	}
	if !strings.HasPrefix(rf.Path, "/") {
		return nil, fmt.Errorf("%s: path: %q must start with /", name, rf.Path)
	}
	if i := strings.IndexFunc(rf.Path, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
		return nil, fmt.Errorf("%s: path: %q contains a space or control character", name, rf.Path)
	}
	for k, v := range spec.Headers {
		if err := extensions.CheckHeader(k, v); err != nil {
			return nil, fmt.Errorf("%s: headers: %v", name, err)
		}
		rf.Headers[k] = v
	}
	switch b := spec.Body.(type) {
	case nil:
	case string:
		rf.Body = []byte(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("%s: body: cannot encode as JSON: %v", name, err)
		}
		rf.Body = js
		if http.Header(canonical(rf.Headers)).Get("Content-Type") == "" {
			rf.Headers["Content-Type"] = "application/json"
		}
	}
	return rf, nil
}

// yamlError turns a goccy/go-yaml error into "name:line:col: message".
func yamlError(name string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		if tok := ye.GetToken(); tok != nil && tok.Position != nil {
			return fmt.Errorf("%s:%d:%d: %s", name, tok.Position.Line, tok.Position.Column, ye.GetMessage())
		}
		return fmt.Errorf("%s: %s", name, ye.GetMessage())
	}
	return fmt.Errorf("%s: %v", name, err)
}

func canonical(h map[string]string) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		out[http.CanonicalHeaderKey(k)] = []string{v}
	}
	return out
}

// Options returns o with the request file's method, path, headers and body
// set (file headers are added to those already in o).
func (rf *RequestFile) Options(o extensions.Options) extensions.Options {
	o.Method, o.Path, o.Body = rf.Method, rf.Path, rf.Body
	h := make(map[string]string, len(o.Headers)+len(rf.Headers))
	for k, v := range o.Headers {
		h[k] = v
	}
	for k, v := range rf.Headers {
		h[k] = v
	}
	o.Headers = h
	return o
}
