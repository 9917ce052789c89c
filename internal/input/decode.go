// Package input is the one shape of bad input in gonogo's YAML files: an
// Error naming file, line and field, matched by ErrInput (the CLI exits 2
// on it), and a strict YAML decoder that produces it.
package input

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/gonogo-dev/gonogo/internal/yamlpos"
)

// DecodeYAML decodes src into v strictly: an unknown field, a value of the
// wrong type and a fractional number where a whole one belongs are each
// an *Error naming file, the line and the field's path.
func DecodeYAML(file string, src []byte, v any) error {
	if len(bytes.TrimSpace(src)) == 0 {
		return &Error{File: file, Msg: "empty"}
	}
	if err := yamlpos.Decode(src, v); err != nil {
		return decodeError(file, src, err)
	}
	if path, line, _, text := yamlpos.Parse(src).Fractional(v); path != "" {
		return &Error{File: file, Line: line, Field: strings.TrimPrefix(path, "$."), Msg: fmt.Sprintf("want a whole number (got %s)", text)}
	}
	return nil
}

// Checker is a block that checks itself: field is the key path
// of what is wrong within the block, msg what; "" when nothing is.
type Checker interface {
	Check() (field, msg string)
}

// ParseBlock decodes one block from YAML with
// DecodeYAML and checks it, placing the check's finding on its line.
func ParseBlock(file string, src []byte, v Checker) error {
	if err := DecodeYAML(file, src, v); err != nil {
		return err
	}
	if field, msg := v.Check(); msg != "" {
		line, _ := yamlpos.Parse(src).Find("$." + field)
		return &Error{File: file, Line: line, Field: field, Msg: msg}
	}
	return nil
}

// decodeError turns a go-yaml error into an Error with its line and
// the path of the field, its message in the words of a YAML file.
func decodeError(file string, src []byte, err error) error {
	msg, line, col := yamlpos.OfError(src, err)
	field := strings.TrimPrefix(yamlpos.Parse(src).PathAt(line, col), "$")
	field = strings.TrimPrefix(field, ".")
	var (
		ue *yaml.UnknownFieldError
		te *yaml.TypeError
		oe *yaml.OverflowError
	)
	switch {
	case errors.As(err, &ue):
		if _, rest, ok := strings.Cut(msg, `"`); ok && field == "" {
			field, _, _ = strings.Cut(rest, `"`)
		}
		msg = "unknown field"
	case errors.As(err, &te):
		msg = wantType(te.DstType)
		if te.Token != nil {
			msg += fmt.Sprintf(" (got %s)", te.Token.Value)
		}
	case errors.As(err, &oe):
		msg = fmt.Sprintf("out of range: %s (got %s)", wantType(oe.DstType), oe.SrcNum)
	}
	return &Error{File: file, Line: line, Field: field, Msg: msg}
}

// wantType says what a value of type t is, in the words of a YAML file.
func wantType(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "wrong type"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "want a whole number"
	case reflect.Float32, reflect.Float64:
		return "want a number"
	case reflect.String:
		return "want a string"
	case reflect.Bool:
		return "want true or false"
	case reflect.Struct, reflect.Map:
		return "want a mapping"
	case reflect.Slice, reflect.Array:
		return "want a list"
	}
	return "want a " + t.Kind().String()
}
