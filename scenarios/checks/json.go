package checks

import (
	"bytes"
	"encoding/json"
)

// validJSON reports whether doc is one JSON value, white space around it
// allowed, as encoding/json would read it.
func validJSON(doc []byte) bool { return json.Valid(doc) }

// lookup returns the value at p in doc as its bytes; ok is false when the
// path is not there. It reads doc where it lies, allocating only for
// member names with escapes or invalid UTF-8, and on a valid document
// (validJSON) answers as encoding/json's decoding into any would: the last
// of two members with one name wins, names match exactly. A document that
// is not valid JSON is read as far as the path needs, without panicking.
func lookup(doc []byte, p path) (v []byte, ok bool) {
	v = trim(doc)
	for _, st := range p {
		if len(v) == 0 {
			return nil, false
		}
		if st.isKey {
			if v[0] != '{' {
				return nil, false
			}
			v, ok = member(v, st.key)
		} else {
			if v[0] != '[' {
				return nil, false
			}
			v, ok = element(v, st.index)
		}
		if !ok {
			return nil, false
		}
	}
	return v, true
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// trim drops JSON white space around b.
func trim(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// space returns the index of the first byte at or after i that is not
// white space.
func space(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skip returns the index just past the JSON value that starts at i, and
// always more than i (when i < len(b)). On a document that is not valid it
// stops somewhere without panicking.
func skip(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	// A number or a literal: up to the next delimiter.
	j := i + 1
	for j < len(b) && !isSpace(b[j]) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ':' {
		j++
	}
	return j
}

// skipString returns the index just past the string that starts at i;
// len(b) when it is not closed.
func skipString(b []byte, i int) int {
	for i++; i < len(b); {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			break
		}
		q := i + j
		k := q // an odd run of backslashes escapes the quote
		for k > i && b[k-1] == '\\' {
			k--
		}
		if (q-k)%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
	return len(b)
}

// isString reports whether raw is a whole quoted string.
func isString(raw []byte) bool { return len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' }

// member returns the value of the last member named key of the object obj;
// ok is false when there is none, or when obj is not an object.
func member(obj []byte, key string) (v []byte, ok bool) {
	i := space(obj, 1)
	for i < len(obj) && obj[i] != '}' {
		if obj[i] != '"' {
			return nil, false
		}
		end := skipString(obj, i)
		name := obj[i:end]
		i = space(obj, end)
		if !isString(name) || i >= len(obj) || obj[i] != ':' {
			return nil, false
		}
		i = space(obj, i+1)
		if i >= len(obj) {
			return nil, false
		}
		vend := skip(obj, i)
		if nameIs(name, key) {
			v, ok = obj[i:vend], true
		}
		i = space(obj, vend)
		switch {
		case i >= len(obj):
			return nil, false
		case obj[i] == ',':
			i = space(obj, i+1)
		case obj[i] != '}':
			return nil, false
		}
	}
	return v, ok
}

// nameIs reports whether the JSON string raw (quotes included) decodes to
// key.
func nameIs(raw []byte, key string) bool {
	inner := raw[1 : len(raw)-1]
	if plainString(inner) {
		return string(inner) == key
	}
	s, ok := decodeString(raw)
	return ok && s == key
}

// element returns element index of the array arr; a negative index counts
// from the end.
func element(arr []byte, index int) ([]byte, bool) {
	if index < 0 {
		n := 0
		if !each(arr, func([]byte) bool { n++; return true }) {
			return nil, false
		}
		index += n
		if index < 0 {
			return nil, false
		}
	}
	var v []byte
	k := 0
	each(arr, func(e []byte) bool {
		if k == index {
			v = e
			return false
		}
		k++
		return true
	})
	return v, v != nil
}

// each calls f with every element of the array arr until f returns false.
// It reports false when arr turned out not to be an array.
func each(arr []byte, f func([]byte) bool) bool {
	i := space(arr, 1)
	for i < len(arr) && arr[i] != ']' {
		end := skip(arr, i)
		if !f(arr[i:end]) {
			return true
		}
		i = space(arr, end)
		switch {
		case i >= len(arr):
			return false
		case arr[i] == ',':
			i = space(arr, i+1)
		case arr[i] != ']':
			return false
		}
	}
	return i < len(arr)
}
