package checks

import (
	"encoding/json"
	"reflect"
	"regexp"
	"testing"

	"github.com/gonogo-dev/gonogo"
)

// FuzzCompile holds the expression parser to never panicking, and to
// reading its own canonical form back to the same check.
func FuzzCompile(f *testing.F) {
	for _, s := range []struct {
		kind uint8
		expr string
	}{
		{0, "2xx,304"}, {0, "200"}, {1, "Content-Type ~ ^application/json"}, {1, `X-A == "b\"c"`},
		{1, "Etag missing"}, {2, `choices[0].finish_reason == "length"`}, {2, `$["a.b"][-1] >= 1e3`},
		{2, "$ exists"}, {2, "a['b'].c ~ (?i)x"}, {2, `a == "\u00e9"`}, {3, "~ (?i)hello"}, {3, "!~ x"},
		{4, "done"}, {5, "tokens >= 1"}, {5, "bytes!=0"},
	} {
		f.Add(s.kind, s.expr)
	}
	f.Fuzz(func(t *testing.T, kind uint8, expr string) {
		k := Kinds[int(kind)%len(Kinds)]
		c, err := Compile(spec(k, expr))
		if err != nil {
			return
		}
		canon := c.String()
		again, err := Compile(spec(k, canon))
		if err != nil {
			t.Fatalf("%s %q: canonical form %q does not compile: %v", k, expr, canon, err)
		}
		if again.String() != canon {
			t.Fatalf("%s %q: canonical form %q reads back as %q", k, expr, canon, again.String())
		}
		// Judging any response does not panic.
		s := &Set{}
		s.add(c)
		st := s.State()
		st.Header([]byte(expr), []byte(expr))
		st.Event([]byte(expr))
		st.Finish(&gonogo.Result{Output: []byte(expr), Status: 200})
		st.Release()
	})
}

// refLookup is the reference of lookup: the document decoded by
// encoding/json and walked.
func refLookup(doc []byte, p path) (any, bool, bool) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, false, false
	}
	for _, st := range p {
		if st.isKey {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false, true
			}
			if v, ok = m[st.key]; !ok {
				return nil, false, true
			}
			continue
		}
		a, ok := v.([]any)
		if !ok {
			return nil, false, true
		}
		i := st.index
		if i < 0 {
			i += len(a)
		}
		if i < 0 || i >= len(a) {
			return nil, false, true
		}
		v = a[i]
	}
	return v, true, true
}

// FuzzLookup holds the JSON path walker to encoding/json's reading of
// every valid document.
func FuzzLookup(f *testing.F) {
	for _, s := range [][2]string{
		{`{"choices":[{"text":"a","finish_reason":null}],"usage":{"completion_tokens":2}}`, "choices[0].text"},
		{`{"a":1,"a":2}`, "a"},
		{`{"\u0061":{"b":[1,[2,3],{"c":"d"}]}}`, `a.b[-1]["c"]`},
		{`[ {"data": [0.5, 1e3]} , 2]`, "[0].data[1]"},
		{`{"a\"b":true, "x": "y\\"}`, `["a\"b"]`},
		{` "s" `, "$"},
		{`{"a":{}}`, "a.b"},
		{`{"k\xff":1}`, "[\"k\xff\"]"},
		{`{"a":"x`, "a"},
		{`{"a":[1,2`, "a[-1]"},
		{`{"a" 1}`, "a"},
		{`[1 2]`, "[1]"},
	} {
		f.Add([]byte(s[0]), s[1])
	}
	f.Fuzz(func(t *testing.T, doc []byte, expr string) {
		p, n, err := parsePath(expr)
		if err != nil || n != len(expr) {
			return
		}
		if !validJSON(doc) {
			// Read as far as the path needs, without panicking.
			if raw, ok := lookup(doc, p); ok {
				for _, c := range []*Check{{op: opEq, scalar: scalar{kind: 's', str: "x"}}, {op: opEq, scalar: scalar{kind: 'n', num: 1}},
					{op: opGt, num: 1}, {op: opMatch, re: regexp.MustCompile("x")}} {
					c.valueHolds(raw)
				}
			}
			return
		}
		want, found, decoded := refLookup(doc, p)
		if !decoded {
			return // valid but beyond what encoding/json decodes (1e999)
		}
		raw, ok := lookup(doc, p)
		if ok != found {
			t.Fatalf("lookup(%q, %s) found = %v, encoding/json says %v", doc, p, ok, found)
		}
		if !ok {
			return
		}
		var got any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("lookup(%q, %s) = %q, not a JSON value: %v", doc, p, raw, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("lookup(%q, %s) = %q (%#v), encoding/json says %#v", doc, p, raw, got, want)
		}
		// The comparisons read strings and numbers as encoding/json does.
		switch w := want.(type) {
		case string:
			c := &Check{op: opEq, scalar: scalar{kind: 's', str: w}}
			if !c.valueHolds(raw) {
				t.Fatalf("%q == %q does not hold", raw, w)
			}
		case float64:
			c := &Check{op: opEq, scalar: scalar{kind: 'n', num: w}}
			if !c.valueHolds(raw) {
				t.Fatalf("%q == %g does not hold", raw, w)
			}
		}
	})
}
