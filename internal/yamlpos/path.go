package yamlpos

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// PathAt returns the YAML path ("$.scenarios.a.rate", "$.stages[1]") of the
// value or key at line:col, the outermost when several start there; "" when
// none does. It names the field of a decode error, which go-yaml reports by
// position only.
func (s Source) PathAt(line, col int) string {
	if s.file == nil || line <= 0 {
		return ""
	}
	at := func(n ast.Node) bool {
		if n == nil {
			return false
		}
		tk := n.GetToken()
		return tk != nil && tk.Position != nil && tk.Position.Line == line && tk.Position.Column == col
	}
	var found string
	for _, doc := range s.file.Docs {
		walk(doc.Body, "$", func(path string, key, value ast.Node) bool {
			if at(key) || at(value) {
				found = path
				return false
			}
			return true
		})
		if found != "" {
			break
		}
	}
	return found
}

// Fractional finds the first number with a fractional part (2.5, "2.5")
// where the type of v, a pointer to what Decode filled, holds an integer.
// go-yaml truncates such a number without a word; Fractional lets the
// caller refuse it. It returns the value's path, position and text; path
// is "" when there is none.
func (s Source) Fractional(v any) (path string, line, col int, text string) {
	if s.file == nil {
		return "", 0, 0, ""
	}
	durationType := reflect.TypeOf(time.Duration(0))
	var visit func(p string, n ast.Node, t reflect.Type) bool
	visit = func(p string, n ast.Node, t reflect.Type) bool {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		n = unwrap(n)
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if t == durationType {
				return true
			}
			if tk := fractional(n); tk != nil {
				path, text = p, tk.Value
				if tk.Position != nil {
					line, col = tk.Position.Line, tk.Position.Column
				}
				return false
			}
		case reflect.Struct:
			m, ok := n.(*ast.MappingNode)
			if !ok {
				return true
			}
			for _, mv := range m.Values {
				name := keyName(mv.Key)
				f, ok := fieldByTag(t, name)
				if ok && !visit(p+"."+name, mv.Value, f.Type) {
					return false
				}
			}
		case reflect.Map:
			m, ok := n.(*ast.MappingNode)
			if !ok {
				return true
			}
			for _, mv := range m.Values {
				if !visit(p+"."+keyName(mv.Key), mv.Value, t.Elem()) {
					return false
				}
			}
		case reflect.Slice, reflect.Array:
			sq, ok := n.(*ast.SequenceNode)
			if !ok {
				return true
			}
			for i, item := range sq.Values {
				if !visit(p+"["+strconv.Itoa(i)+"]", item, t.Elem()) {
					return false
				}
			}
		}
		return true
	}
	t := reflect.TypeOf(v)
	if t == nil {
		return "", 0, 0, ""
	}
	for _, doc := range s.file.Docs {
		if !visit("$", doc.Body, t) {
			return path, line, col, text
		}
	}
	return "", 0, 0, ""
}

// fractional returns the token of n when n is a finite number with a
// fractional part, written plain or quoted; nil otherwise.
func fractional(n ast.Node) *token.Token {
	var x float64
	switch v := n.(type) {
	case *ast.FloatNode:
		x = v.Value
	case *ast.StringNode:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.Value), 64)
		if err != nil {
			return nil
		}
		x = f
	default:
		return nil
	}
	if math.IsInf(x, 0) || math.IsNaN(x) || x == math.Trunc(x) {
		return nil
	}
	return n.GetToken()
}

// fieldByTag finds the struct field whose yaml tag (or, untagged, its
// lower-cased name) is name.
func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// walk calls fn with the path, key and value of every mapping value and
// sequence item under n, parents first; fn returns false to stop the walk,
// and so does walk.
func walk(n ast.Node, path string, fn func(path string, key, value ast.Node) bool) bool {
	switch n := unwrap(n).(type) {
	case *ast.MappingNode:
		for _, mv := range n.Values {
			if !walkValue(mv, path, fn) {
				return false
			}
		}
	case *ast.MappingValueNode:
		return walkValue(n, path, fn)
	case *ast.SequenceNode:
		for i, item := range n.Values {
			p := path + "[" + strconv.Itoa(i) + "]"
			if !fn(p, nil, item) || !walk(item, p, fn) {
				return false
			}
		}
	}
	return true
}

func walkValue(mv *ast.MappingValueNode, path string, fn func(path string, key, value ast.Node) bool) bool {
	p := path + "." + keyName(mv.Key)
	return fn(p, mv.Key, mv.Value) && walk(mv.Value, p, fn)
}

// keyName is the text of a mapping key.
func keyName(k ast.MapKeyNode) string {
	if k == nil {
		return ""
	}
	if tk := k.GetToken(); tk != nil {
		return tk.Value
	}
	return k.String()
}

// unwrap looks through anchors and tags to the node they decorate.
func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
}
