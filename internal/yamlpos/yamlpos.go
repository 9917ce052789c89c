// Package yamlpos finds positions in YAML sources, so that errors in
// scenario and gates files can name the line and column of the offending
// field.
package yamlpos

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
)

// OfError returns the message and the position of a go-yaml decode error.
// Errors without a position (a bad duration) are located by finding the
// quoted offending value in src; line 0 means unknown.
func OfError(src []byte, err error) (msg string, line, col int) {
	var ye yaml.Error
	if errors.As(err, &ye) {
		msg = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			line, col = tk.Position.Line, tk.Position.Column
		}
		return msg, line, col
	}
	msg = err.Error()
	if _, quoted, ok := strings.Cut(msg, `"`); ok {
		bad, _, _ := strings.Cut(quoted, `"`)
		line, col = Locate(src, bad)
	}
	return msg, line, col
}

// Locate returns the position of the first token of src whose value is
// value; 0, 0 when there is none.
func Locate(src []byte, value string) (line, col int) {
	for _, tk := range lexer.Tokenize(string(src)) {
		if tk.Value == value && tk.Position != nil {
			return tk.Position.Line, tk.Position.Column
		}
	}
	return 0, 0
}

// Source is a parsed YAML document whose node positions can be looked up.
type Source struct {
	file *ast.File
}

// Parse parses src for Find; a source that does not parse finds nothing.
func Parse(src []byte) Source {
	if len(src) == 0 {
		return Source{}
	}
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return Source{}
	}
	return Source{file: f}
}

// Find returns the line and column of a YAML path such as
// "$.gates[2].expr", walking up to the nearest existing parent when the
// node itself is absent; 0, 0 when nothing is found.
func (s Source) Find(path string) (line, col int) {
	if s.file == nil {
		return 0, 0
	}
	for p := path; p != "" && p != "$"; p = parent(p) {
		yp, err := yaml.PathString(p)
		if err != nil {
			continue
		}
		node, err := yp.FilterFile(s.file)
		if err != nil || node == nil {
			continue
		}
		if tk := node.GetToken(); tk != nil && tk.Position != nil {
			return tk.Position.Line, tk.Position.Column
		}
	}
	return 0, 0
}

func parent(p string) string {
	if i := strings.LastIndexAny(p, ".["); i > 0 {
		return p[:i]
	}
	return ""
}

// Decode decodes src into v strictly (unknown fields are errors). A panic
// of the YAML library on malformed input (seen with go-yaml 1.19 on a bare
// tag where a list belongs) is returned as an error: bad input must get a
// message, not a crash.
func Decode(src []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed YAML (%v)", r)
		}
	}()
	return yaml.NewDecoder(bytes.NewReader(src), yaml.DisallowUnknownField()).Decode(v)
}

// DecodeAt decodes the node at the YAML path at of src into v strictly,
// as Decode does a whole document. A missing node is an error naming at.
func DecodeAt(src []byte, at string, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed YAML (%v)", r)
		}
	}()
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return err
	}
	p, err := yaml.PathString(at)
	if err != nil {
		return err
	}
	node, err := p.FilterFile(f)
	if err != nil || node == nil {
		return fmt.Errorf("%s: missing", strings.TrimPrefix(at, "$."))
	}
	return yaml.NodeToValue(node, v, yaml.DisallowUnknownField())
}
