package divergence

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

func itoa(i int) string { return strconv.Itoa(i) }

// Limits that keep the work per pair bounded, whatever the outputs hold.
const (
	maxModelValues = 1 << 16 // tensor elements read from one output
	maxJSONDepth   = 64      // nesting walked by the JSON diff
	maxJSONNodes   = 1 << 16 // values walked by the JSON diff per pair
	maxPairDiffs   = 256     // distinct (path, kind) diffs kept per pair
)

// parseStatus says how an output decoded as JSON.
type parseStatus int

const (
	parsedOK parseStatus = iota
	parsedEmpty
	parsedTruncated
	parsedInvalid
)

// decodeJSON decodes one JSON value that must fill s (whitespace aside),
// numbers kept as json.Number.
func decodeJSON(s string) (any, parseStatus) {
	if strings.TrimSpace(s) == "" {
		return nil, parsedEmpty
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, parsedTruncated
		}
		return nil, parsedInvalid
	}
	if strings.TrimSpace(s[dec.InputOffset():]) != "" {
		return nil, parsedInvalid
	}
	return v, parsedOK
}

// words splits s at white space, keeping at most max words; total counts
// them all.
func words(s string, max int) (toks []string, total int) {
	start := -1
	for i, r := range s {
		if unicode.IsSpace(r) {
			if start >= 0 {
				if total < max {
					toks = append(toks, s[start:i])
				}
				total++
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		if total < max {
			toks = append(toks, s[start:])
		}
		total++
	}
	return toks, total
}

// modelOut is a model's answer reduced to what classification, scores and
// rankings compare.
type modelOut struct {
	vals  []float64 // class probabilities, or the score(s)
	shape []int     // tensor shape when the output gave one
	label string    // the predicted label: given, or argmax of vals
	ids   []string  // a ranking: ids in rank order
	empty bool      // an empty array
}

// kind is the output kind the answer looks like.
func (m *modelOut) kind() OutputKind {
	switch {
	case m.ids != nil:
		return OutputRanking
	case len(m.vals) == 1 && m.label == "":
		return OutputScores
	case m.empty:
		return OutputJSON
	}
	return OutputClassification
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// modelFrom reads a model output: a KServe v2 response or its outputs array
// (the first tensor's data), {"probabilities"|"probs"|"scores": [...]},
// {"predictions": [...]} (the first prediction), a plain number array, a
// number, a label string, or an array of ids (strings, or integers when
// ids is set or when any integer exceeds 1). ok is false for anything else.
func modelFrom(v any, ids bool) (m modelOut, ok bool) {
	m, ok = modelFromDepth(v, ids, 0)
	if ok && m.label == "" && len(m.vals) >= 2 {
		best := 0
		for i, x := range m.vals {
			if x > m.vals[best] {
				best = i
			}
		}
		m.label = itoa(best)
	}
	return m, ok
}

func modelFromDepth(v any, ids bool, depth int) (modelOut, bool) {
	if depth > 8 {
		return modelOut{}, false
	}
	switch x := v.(type) {
	case json.Number:
		f, ok := number(x)
		return modelOut{vals: []float64{f}}, ok
	case string:
		return modelOut{label: x}, true
	case []any:
		if len(x) == 0 {
			return modelOut{empty: true}, true
		}
		if t, ok := x[0].(map[string]any); ok {
			if _, isTensor := t["data"]; isTensor {
				return tensorFrom(t)
			}
			return modelOut{}, false
		}
		if _, ok := x[0].([]any); ok { // a batch: its first row
			m, ok := modelFromDepth(x[0], ids, depth+1)
			return m, ok && !m.empty
		}
		return arrayFrom(x, ids)
	case map[string]any:
		var m modelOut
		ok := false
		if outs, isArr := x["outputs"].([]any); isArr && len(outs) > 0 {
			if t, isMap := outs[0].(map[string]any); isMap {
				m, ok = tensorFrom(t)
			}
		} else if _, isTensor := x["data"]; isTensor {
			m, ok = tensorFrom(x)
		} else if preds, isArr := x["predictions"].([]any); isArr && len(preds) > 0 {
			m, ok = modelFromDepth(preds[0], ids, depth+1)
		} else {
			for _, k := range []string{"probabilities", "probs", "scores"} {
				if arr, isArr := x[k].([]any); isArr {
					m, ok = modelFromDepth(arr, ids, depth+1)
					break
				}
			}
		}
		if l, isStr := x["label"].(string); isStr && ok {
			m.label = l
		}
		return m, ok
	}
	return modelOut{}, false
}

// arrayFrom reads a flat array of numbers or strings.
func arrayFrom(x []any, ids bool) (modelOut, bool) {
	if _, isStr := x[0].(string); isStr {
		out := make([]string, 0, min(len(x), maxModelValues))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return modelOut{}, false
			}
			if len(out) < maxModelValues {
				out = append(out, s)
			}
		}
		return modelOut{ids: out}, true
	}
	vals := make([]float64, 0, min(len(x), maxModelValues))
	integers, above1 := true, false
	for _, e := range x {
		f, ok := number(e)
		if !ok {
			return modelOut{}, false
		}
		if f != math.Trunc(f) {
			integers = false
		}
		if f > 1 {
			above1 = true
		}
		if len(vals) < maxModelValues {
			vals = append(vals, f)
		}
	}
	if integers && len(vals) > 1 && (ids || above1) {
		out := make([]string, len(vals))
		for i, f := range vals {
			out[i] = strconv.FormatFloat(f, 'g', -1, 64)
		}
		return modelOut{ids: out}, true
	}
	return modelOut{vals: vals, shape: []int{len(vals)}}, true
}

// tensorFrom reads one KServe v2 tensor {"name", "shape", "datatype",
// "data"}: numbers (nested arrays flattened) or strings (BYTES, the first
// taken as the label). With a batch shape [N, …], N > 1, only the first row
// is kept.
func tensorFrom(t map[string]any) (modelOut, bool) {
	var m modelOut
	if sh, ok := t["shape"].([]any); ok {
		for _, d := range sh {
			f, ok := number(d)
			if !ok || f < 0 || f > math.MaxInt32 || f != math.Trunc(f) {
				return modelOut{}, false
			}
			m.shape = append(m.shape, int(f))
		}
	}
	var strs []string
	bad := false
	var flatten func(v any, depth int)
	flatten = func(v any, depth int) {
		if bad || depth > 8 {
			bad = true
			return
		}
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				flatten(e, depth+1)
			}
		case json.Number:
			if f, ok := number(x); ok && len(m.vals) < maxModelValues {
				m.vals = append(m.vals, f)
			} else if !ok {
				bad = true
			}
		case string:
			if len(strs) < maxModelValues {
				strs = append(strs, x)
			}
		case bool:
			f := 0.0
			if x {
				f = 1
			}
			if len(m.vals) < maxModelValues {
				m.vals = append(m.vals, f)
			}
		default:
			bad = true
		}
	}
	flatten(t["data"], 0)
	if bad || (len(strs) > 0 && len(m.vals) > 0) {
		return modelOut{}, false
	}
	if len(strs) > 0 {
		m.label = strs[0]
		return m, true
	}
	if len(m.vals) == 0 {
		m.empty = true
		return m, true
	}
	if len(m.shape) >= 2 && m.shape[0] > 1 {
		row := 1
		for _, d := range m.shape[1:] {
			row *= d
			if row > maxModelValues {
				break
			}
		}
		if row > 0 && row*m.shape[0] == len(m.vals) {
			m.vals = m.vals[:row]
		}
	}
	return m, true
}

func sameShape(a, b *modelOut) bool {
	if len(a.vals) != len(b.vals) {
		return false
	}
	if a.shape == nil || b.shape == nil {
		return true
	}
	if len(a.shape) != len(b.shape) {
		return false
	}
	for i := range a.shape {
		if a.shape[i] != b.shape[i] {
			return false
		}
	}
	return true
}

// Kinds of structural JSON difference.
const (
	diffChanged = iota
	diffMissing
	diffExtra
	diffType
	diffOrder
	numDiffKinds
)

var diffKindNames = [numDiffKinds]string{"changed", "missing", "extra", "type", "order"}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

// numbersEqual compares two JSON numbers: equal as written, or within tol
// relative to the larger magnitude (absolute below 1).
func numbersEqual(a, b json.Number, tol float64) bool {
	if a == b {
		return true
	}
	x, ex := a.Float64()
	y, ey := b.Float64()
	if ex != nil || ey != nil {
		return false
	}
	return math.Abs(x-y) <= tol*math.Max(1, math.Max(math.Abs(x), math.Abs(y)))
}

// jsonEqual is deep equality with number tolerance.
func jsonEqual(a, b any, tol float64, depth int) bool {
	if depth > maxJSONDepth {
		return false
	}
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numbersEqual(x, y, tol)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i], tol, depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w, tol, depth+1) {
				return false
			}
		}
		return true
	}
	return a == b
}

// pathKey appends an object key to a JSON path: $.a for identifiers,
// $["a b"] otherwise.
func pathKey(path, k string) string {
	ident := k != ""
	for i, r := range k {
		if !(r == '_' || r == '$' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			ident = false
			break
		}
	}
	if ident {
		return path + "." + k
	}
	b, _ := json.Marshal(k)
	return path + "[" + string(b) + "]"
}

// differ walks two JSON values and reports each structural difference once
// per (path, kind), array indices wildcarded as [*].
type differ struct {
	tol   float64
	nodes int
	seen  map[string]uint8 // path → bit set of kinds already emitted
	order []string         // paths in emission order
	count int
}

func (d *differ) reset() {
	clear(d.seen)
	d.order = d.order[:0]
	d.nodes, d.count = 0, 0
}

func (d *differ) emit(path string, kind int) {
	bits, ok := d.seen[path]
	if bits&(1<<kind) != 0 {
		return
	}
	if !ok {
		if len(d.seen) >= maxPairDiffs {
			return
		}
		d.order = append(d.order, path)
	}
	d.seen[path] = bits | 1<<kind
	d.count++
}

func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func (d *differ) diff(a, b any, path string, depth int) {
	d.nodes++
	if d.nodes > maxJSONNodes || depth > maxJSONDepth {
		return
	}
	ta, tb := jsonType(a), jsonType(b)
	if ta != tb {
		d.emit(path, diffType)
		return
	}
	switch x := a.(type) {
	case map[string]any:
		y := b.(map[string]any)
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if w, ok := y[k]; ok {
				d.diff(x[k], w, pathKey(path, k), depth+1)
			} else {
				d.emit(pathKey(path, k), diffMissing)
			}
		}
		extra := keys[:0:0]
		for k := range y {
			if _, ok := x[k]; !ok {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		for _, k := range extra {
			d.emit(pathKey(path, k), diffExtra)
		}
	case []any:
		y := b.([]any)
		if jsonEqual(x, y, d.tol, depth) {
			return
		}
		if len(x) == len(y) && len(x) > 1 && d.nodes+2*len(x) < maxJSONNodes {
			cx, cy := make([]string, len(x)), make([]string, len(y))
			for i := range x {
				cx[i], cy[i] = canonical(x[i]), canonical(y[i])
			}
			sort.Strings(cx)
			sort.Strings(cy)
			same := true
			for i := range cx {
				if cx[i] != cy[i] {
					same = false
					break
				}
			}
			d.nodes += 2 * len(x)
			if same {
				d.emit(path, diffOrder)
				return
			}
		}
		el := path + "[*]"
		for i := 0; i < min(len(x), len(y)); i++ {
			d.diff(x[i], y[i], el, depth+1)
		}
		switch {
		case len(x) > len(y):
			d.emit(el, diffMissing)
		case len(y) > len(x):
			d.emit(el, diffExtra)
		}
	case json.Number:
		if !numbersEqual(x, b.(json.Number), d.tol) {
			d.emit(path, diffChanged)
		}
	default:
		if a != b {
			d.emit(path, diffChanged)
		}
	}
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return strings.Clone(s)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.Clone(s[:cut]) + "…"
}
