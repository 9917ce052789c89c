package kservegrpc

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gonogo-dev/gonogo/extensions"
)

// response is a ModelInferResponse as the client reads it: views into the
// received bytes, reused from call to call so that reading a response
// allocates nothing once the slices have grown.
type response struct {
	outputs []tensor
	raw     [][]byte // raw_output_contents, in output order
}

// tensor is one InferOutputTensor.
type tensor struct {
	name, datatype []byte
	shape          []int64
	contents       [][]byte // every InferTensorContents occurrence (protobuf merges them)
}

// Contents fields of InferTensorContents, by number.
const (
	contentsBool   = 1
	contentsInt    = 2
	contentsInt64  = 3
	contentsUint   = 4
	contentsUint64 = 5
	contentsFP32   = 6
	contentsFP64   = 7
	contentsBytes  = 8
)

// dtype is what the client knows of a v2 datatype: the contents field that
// carries it and the size of one raw element (0 for BYTES, whose raw
// elements are length-prefixed).
type dtype struct {
	field   protowire.Number
	rawSize int
}

var dtypes = map[string]dtype{
	"BOOL":   {contentsBool, 1},
	"INT8":   {contentsInt, 1},
	"INT16":  {contentsInt, 2},
	"INT32":  {contentsInt, 4},
	"INT64":  {contentsInt64, 8},
	"UINT8":  {contentsUint, 1},
	"UINT16": {contentsUint, 2},
	"UINT32": {contentsUint, 4},
	"UINT64": {contentsUint64, 8},
	"FP16":   {0, 2}, // raw only
	"BF16":   {0, 2}, // raw only
	"FP32":   {contentsFP32, 4},
	"FP64":   {contentsFP64, 8},
	"BYTES":  {contentsBytes, 0},
}

// parse reads a ModelInferResponse from b into r, reusing r's slices. It
// checks the protobuf encoding of the fields it reads (unknown fields are
// skipped, as protobuf does) and nothing of the protocol: see check.
func (r *response) parse(b []byte) error {
	r.outputs = r.outputs[:0]
	r.raw = r.raw[:0]
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return wireError("response", n)
		}
		b = b[n:]
		// Fields 1 to 6 (model_name, model_version, id, parameters,
		// outputs, raw_output_contents) are all length-delimited; like
		// protobuf, the reader skips a field of another wire type as
		// unknown.
		if num > respRaw || num < 1 || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return wireError("response field "+strconv.Itoa(int(num)), n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return wireError("response field "+strconv.Itoa(int(num)), n)
		}
		b = b[n:]
		switch num {
		case respRaw:
			r.raw = append(r.raw, v)
		case respOutputs:
			if len(r.outputs) < cap(r.outputs) {
				r.outputs = r.outputs[:len(r.outputs)+1]
			} else {
				r.outputs = append(r.outputs, tensor{})
			}
			if err := r.outputs[len(r.outputs)-1].parse(v); err != nil {
				return fmt.Errorf("outputs[%d]: %w", len(r.outputs)-1, err)
			}
		}
	}
	return nil
}

// parse reads an InferOutputTensor from b into t, reusing t's slices.
func (t *tensor) parse(b []byte) error {
	t.name, t.datatype = nil, nil
	t.shape = t.shape[:0]
	t.contents = t.contents[:0]
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return wireError("tensor", n)
		}
		b = b[n:]
		switch {
		case num == tensorShape && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return wireError("shape", n)
			}
			t.shape = append(t.shape, int64(v))
			b = b[n:]
			continue
		case (num == tensorName || num == tensorDatatype || num == tensorShape || num == tensorContents) &&
			typ == protowire.BytesType:
		default: // an unknown field, or one of another wire type, which protobuf skips
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return wireError("tensor field "+strconv.Itoa(int(num)), n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return wireError("tensor field "+strconv.Itoa(int(num)), n)
		}
		b = b[n:]
		switch num {
		case tensorName:
			t.name = v
		case tensorDatatype:
			t.datatype = v
		case tensorShape:
			for len(v) > 0 {
				x, n := protowire.ConsumeVarint(v)
				if n < 0 {
					return wireError("shape", n)
				}
				t.shape = append(t.shape, int64(x))
				v = v[n:]
			}
		case tensorContents:
			t.contents = append(t.contents, v)
		}
	}
	return nil
}

// label names an output in messages: its name, or #i when it has none.
func (t *tensor) label(i int) string {
	if len(t.name) == 0 {
		return "#" + strconv.Itoa(i)
	}
	return string(t.name)
}

// forEachContent calls fn with the field number, wire type and value of
// every field of t's contents, in order, until fn returns false.
func (t *tensor) forEachContent(fn func(num protowire.Number, typ protowire.Type, v []byte) bool) error {
	for _, b := range t.contents {
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				return wireError("contents", n)
			}
			b = b[n:]
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return wireError("contents field "+strconv.Itoa(int(num)), m)
			}
			v := b[:m]
			if typ == protowire.BytesType {
				v, _ = protowire.ConsumeBytes(b)
			}
			b = b[m:]
			if !fn(num, typ, v) {
				return nil
			}
		}
	}
	return nil
}

// anyField makes contentCount count the elements of every contents field.
const anyField protowire.Number = -1

// contentCount counts the elements of t's contents, which must all be in
// field want (one of the contents* numbers; 0: none allowed; anyField:
// any). A repeated scalar may come packed (one length-delimited field) or
// not.
func (t *tensor) contentCount(want protowire.Number, i int) (int64, error) {
	var count int64
	var bad error
	err := t.forEachContent(func(num protowire.Number, typ protowire.Type, v []byte) bool {
		if !contentsField(num, typ) {
			return true // an unknown field, which protobuf skips
		}
		if num != want && want != anyField {
			if want == 0 {
				bad = fmt.Errorf("output %s: datatype %s must come in raw_output_contents", t.label(i), t.datatype)
			} else {
				bad = fmt.Errorf("output %s: datatype %s but data in contents field %d", t.label(i), t.datatype, num)
			}
			return false
		}
		n, err := elements(num, typ, v)
		if err != nil {
			bad = fmt.Errorf("output %s: %w", t.label(i), err)
			return false
		}
		count += n
		return true
	})
	if err != nil {
		return 0, fmt.Errorf("output %s: %w", t.label(i), err)
	}
	return count, bad
}

// contentsField reports whether field num of InferTensorContents may come
// with wire type typ: bytes_contents length-delimited, every other field
// unpacked (varint, fixed32 for FP32, fixed64 for FP64) or packed
// (length-delimited). A field of another wire type is unknown to protobuf.
func contentsField(num protowire.Number, typ protowire.Type) bool {
	switch num {
	case contentsBytes:
		return typ == protowire.BytesType
	case contentsFP32:
		return typ == protowire.Fixed32Type || typ == protowire.BytesType
	case contentsFP64:
		return typ == protowire.Fixed64Type || typ == protowire.BytesType
	case contentsBool, contentsInt, contentsInt64, contentsUint, contentsUint64:
		return typ == protowire.VarintType || typ == protowire.BytesType
	}
	return false
}

// elements counts the values in one occurrence of contents field num (a
// contentsField).
func elements(num protowire.Number, typ protowire.Type, v []byte) (int64, error) {
	fixed := 0
	switch num {
	case contentsFP32:
		fixed = 4
	case contentsFP64:
		fixed = 8
	}
	switch {
	case num == contentsBytes, typ != protowire.BytesType: // one string or one unpacked scalar
		return 1, nil
	case fixed > 0: // packed fixed-size
		if len(v)%fixed != 0 {
			return 0, fmt.Errorf("packed contents field %d: %d bytes is not a whole number of values", num, len(v))
		}
		return int64(len(v) / fixed), nil
	default: // packed varints
		var n int64
		for len(v) > 0 {
			_, m := protowire.ConsumeVarint(v)
			if m < 0 {
				return 0, wireError("packed contents", m)
			}
			v = v[m:]
			n++
		}
		return n, nil
	}
}

// rawCount counts the elements of one raw_output_contents entry of
// datatype dt.
func rawCount(dt dtype, b []byte) (int64, error) {
	if dt.rawSize > 0 {
		if len(b)%dt.rawSize != 0 {
			return 0, fmt.Errorf("raw contents of %d bytes is not a whole number of %d-byte elements", len(b), dt.rawSize)
		}
		return int64(len(b) / dt.rawSize), nil
	}
	var n int64
	for len(b) > 0 { // BYTES: each element is a 4-byte little-endian length and the bytes
		if len(b) < 4 {
			return 0, fmt.Errorf("raw BYTES contents cut inside a length prefix")
		}
		l := binary.LittleEndian.Uint32(b)
		if uint64(l) > uint64(len(b)-4) {
			return 0, fmt.Errorf("raw BYTES element of %d bytes runs past the contents", l)
		}
		b = b[4+l:]
		n++
	}
	return n, nil
}

// check validates the parsed response: at least one output; raw contents,
// when given, one per output and never beside contents of the same output;
// every output's datatype known when it carries data; every output's
// element count equal to the product of its shape; and at least one output
// carrying data. It mirrors the kserve client's checks of a REST answer.
func (r *response) check() error {
	if len(r.outputs) == 0 {
		return extensions.Protocolf("response has no outputs")
	}
	if len(r.raw) > 0 && len(r.raw) != len(r.outputs) {
		return extensions.Protocolf("raw_output_contents has %d entries for %d outputs", len(r.raw), len(r.outputs))
	}
	withData := 0
	for i := range r.outputs {
		t := &r.outputs[i]
		dt, known := dtypes[string(t.datatype)]
		hasRaw := len(r.raw) > 0 && len(r.raw[i]) > 0
		var n int64
		var err error
		switch {
		case !known:
			if n, err = t.contentCount(anyField, i); err == nil && (n > 0 || hasRaw) {
				err = fmt.Errorf("output %s: unknown datatype %q", t.label(i), t.datatype)
			}
		case len(r.raw) > 0:
			n, err = t.contentCount(dt.field, i)
			if err == nil && n > 0 {
				err = fmt.Errorf("output %s: contents and raw_output_contents are both set", t.label(i))
			}
			if err == nil {
				if n, err = rawCount(dt, r.raw[i]); err != nil {
					err = fmt.Errorf("output %s: %w", t.label(i), err)
				}
			}
		default:
			n, err = t.contentCount(dt.field, i)
		}
		if err != nil {
			return &extensions.ProtocolError{Msg: err.Error()}
		}
		if n == 0 {
			continue
		}
		want, err := shapeSize(t.shape)
		if err != nil {
			return extensions.Protocolf("output %s: %v", t.label(i), err)
		}
		if n != want {
			return extensions.Protocolf("output %s: shape %v holds %d elements but data has %d", t.label(i), t.shape, want, n)
		}
		withData++
	}
	if withData == 0 {
		return extensions.Protocolf("no output carries data")
	}
	return nil
}

// shapeSize is the number of elements of a shape; [] is a scalar.
func shapeSize(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= d
	}
	return n, nil
}

// appendJSON appends the outputs of a checked response to dst as the
// compact JSON array a KServe v2 REST server sends,
// [{"name":…,"shape":[…],"datatype":…,"data":[…]}], numbers formatted as
// encoding/json formats them, so that the same tensors give the same bytes
// over REST and gRPC. FP16 and BF16 values are written as numbers,
// BYTES as JSON strings.
func (r *response) appendJSON(dst []byte) []byte {
	dst = append(dst, '[')
	for i := range r.outputs {
		t := &r.outputs[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = appendString(dst, t.name)
		dst = append(dst, `,"shape":[`...)
		for j, d := range t.shape {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendInt(dst, d, 10)
		}
		dst = append(dst, `],"datatype":`...)
		dst = appendString(dst, t.datatype)
		dst = append(dst, `,"data":[`...)
		dt := dtypes[string(t.datatype)]
		if len(r.raw) > 0 {
			dst = appendRaw(dst, string(t.datatype), dt, r.raw[i])
		} else {
			dst = t.appendContents(dst)
		}
		dst = append(dst, "]}"...)
	}
	return append(dst, ']')
}

// appendRaw appends the comma-separated JSON values of raw contents.
func appendRaw(dst []byte, datatype string, dt dtype, b []byte) []byte {
	first := true
	sep := func() {
		if !first {
			dst = append(dst, ',')
		}
		first = false
	}
	if dt.rawSize == 0 { // BYTES
		for len(b) >= 4 {
			l := binary.LittleEndian.Uint32(b)
			sep()
			dst = appendString(dst, b[4:4+l])
			b = b[4+l:]
		}
		return dst
	}
	for ; len(b) >= dt.rawSize; b = b[dt.rawSize:] {
		sep()
		switch datatype {
		case "BOOL":
			dst = strconv.AppendBool(dst, b[0] != 0)
		case "INT8":
			dst = strconv.AppendInt(dst, int64(int8(b[0])), 10)
		case "INT16":
			dst = strconv.AppendInt(dst, int64(int16(binary.LittleEndian.Uint16(b))), 10)
		case "INT32":
			dst = strconv.AppendInt(dst, int64(int32(binary.LittleEndian.Uint32(b))), 10)
		case "INT64":
			dst = strconv.AppendInt(dst, int64(binary.LittleEndian.Uint64(b)), 10)
		case "UINT8":
			dst = strconv.AppendUint(dst, uint64(b[0]), 10)
		case "UINT16":
			dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint16(b)), 10)
		case "UINT32":
			dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b)), 10)
		case "UINT64":
			dst = strconv.AppendUint(dst, binary.LittleEndian.Uint64(b), 10)
		case "FP16":
			dst = appendFloat(dst, float64(halfToFloat(binary.LittleEndian.Uint16(b))), 32)
		case "BF16":
			dst = appendFloat(dst, float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b))<<16)), 32)
		case "FP32":
			dst = appendFloat(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 32)
		case "FP64":
			dst = appendFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(b)), 64)
		}
	}
	return dst
}

// appendContents appends the comma-separated JSON values of t's contents.
func (t *tensor) appendContents(dst []byte) []byte {
	first := true
	sep := func() {
		if !first {
			dst = append(dst, ',')
		}
		first = false
	}
	one := func(num protowire.Number, x uint64) {
		sep()
		switch num {
		case contentsBool:
			dst = strconv.AppendBool(dst, x != 0)
		case contentsInt:
			dst = strconv.AppendInt(dst, int64(int32(x)), 10)
		case contentsInt64:
			dst = strconv.AppendInt(dst, int64(x), 10)
		case contentsUint:
			dst = strconv.AppendUint(dst, uint64(uint32(x)), 10)
		case contentsUint64:
			dst = strconv.AppendUint(dst, x, 10)
		case contentsFP32:
			dst = appendFloat(dst, float64(math.Float32frombits(uint32(x))), 32)
		case contentsFP64:
			dst = appendFloat(dst, math.Float64frombits(x), 64)
		}
	}
	_ = t.forEachContent(func(num protowire.Number, typ protowire.Type, v []byte) bool {
		switch {
		case !contentsField(num, typ):
		case num == contentsBytes:
			sep()
			dst = appendString(dst, v)
		case typ == protowire.VarintType:
			x, _ := protowire.ConsumeVarint(v)
			one(num, x)
		case typ == protowire.Fixed32Type:
			one(num, uint64(binary.LittleEndian.Uint32(v)))
		case typ == protowire.Fixed64Type:
			one(num, binary.LittleEndian.Uint64(v))
		case num == contentsFP32:
			for ; len(v) >= 4; v = v[4:] {
				one(num, uint64(binary.LittleEndian.Uint32(v)))
			}
		case num == contentsFP64:
			for ; len(v) >= 8; v = v[8:] {
				one(num, binary.LittleEndian.Uint64(v))
			}
		default:
			for len(v) > 0 {
				x, n := protowire.ConsumeVarint(v)
				if n < 0 {
					break
				}
				one(num, x)
				v = v[n:]
			}
		}
		return true
	})
	return dst
}

// appendFloat formats f as encoding/json does a float of the given bit
// size: the shortest representation, exponent form only for very small or
// large magnitudes, without a leading zero in the exponent. NaN and
// infinities, which JSON cannot hold, are written as null.
func appendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		n := len(dst) // clean up e-09 to e-9
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it (invalid UTF-8 becomes U+FFFD).
func appendString(dst, s []byte) []byte {
	simple := true
	for _, c := range s {
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			simple = false
			break
		}
	}
	if simple {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	q, _ := json.Marshal(string(s))
	return append(dst, q...)
}

// halfToFloat converts an IEEE 754 half-precision value to float32.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(frac) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}
