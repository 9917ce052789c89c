package kservegrpc

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/internal/kservepb"
)

type outT = kservepb.ModelInferResponse_InferOutputTensor

func marshal(t testing.TB, r *kservepb.ModelInferResponse) []byte {
	t.Helper()
	b, err := proto.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fp32Raw(v ...float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, f := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

func bytesRaw(s ...string) []byte {
	var b []byte
	for _, x := range s {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(x)))
		b = append(b, x...)
	}
	return b
}

// responseCases are ModelInfer answers with the error check gives them
// ("" when valid) and, for valid ones, the JSON a keeping client records.
var responseCases = []struct {
	name string
	resp func(t testing.TB) []byte
	err  string
	json string
}{
	{name: "fp32 contents", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{Outputs: []*outT{{Name: "p", Datatype: "FP32", Shape: []int64{1, 3},
			Contents: &kservepb.InferTensorContents{Fp32Contents: []float32{0.5, 1e-7, -2}}}}})
	}, json: `[{"name":"p","shape":[1,3],"datatype":"FP32","data":[0.5,1e-7,-2]}]`},
	{name: "fp32 raw", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{Outputs: []*outT{{Name: "p", Datatype: "FP32", Shape: []int64{2}}},
			RawOutputContents: [][]byte{fp32Raw(0.25, 3)}})
	}, json: `[{"name":"p","shape":[2],"datatype":"FP32","data":[0.25,3]}]`},
	{name: "several types", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{Outputs: []*outT{
			{Name: "i", Datatype: "INT64", Shape: []int64{2}, Contents: &kservepb.InferTensorContents{Int64Contents: []int64{-5, 1 << 40}}},
			{Name: "b", Datatype: "BOOL", Shape: []int64{2}, Contents: &kservepb.InferTensorContents{BoolContents: []bool{true, false}}},
			{Name: "s", Datatype: "BYTES", Shape: []int64{2}, Contents: &kservepb.InferTensorContents{BytesContents: [][]byte{[]byte("cat"), []byte(`a"<b`)}}},
			{Name: "u", Datatype: "UINT8", Shape: []int64{1}, Contents: &kservepb.InferTensorContents{UintContents: []uint32{255}}},
			{Name: "d", Datatype: "FP64", Shape: []int64{1}, Contents: &kservepb.InferTensorContents{Fp64Contents: []float64{0.1}}},
		}})
	}, json: `[{"name":"i","shape":[2],"datatype":"INT64","data":[-5,1099511627776]},` +
		`{"name":"b","shape":[2],"datatype":"BOOL","data":[true,false]},` +
		`{"name":"s","shape":[2],"datatype":"BYTES","data":["cat","a\"\u003cb"]},` +
		`{"name":"u","shape":[1],"datatype":"UINT8","data":[255]},` +
		`{"name":"d","shape":[1],"datatype":"FP64","data":[0.1]}]`},
	{name: "raw of several types", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{
			Outputs: []*outT{{Name: "s", Datatype: "BYTES", Shape: []int64{2}}, {Name: "h", Datatype: "FP16", Shape: []int64{2}},
				{Name: "n", Datatype: "INT16", Shape: []int64{1}}},
			RawOutputContents: [][]byte{bytesRaw("x", ""), {0x00, 0x3c, 0x00, 0xc0}, {0xfe, 0xff}},
		})
	}, json: `[{"name":"s","shape":[2],"datatype":"BYTES","data":["x",""]},{"name":"h","shape":[2],"datatype":"FP16","data":[1,-2]},` +
		`{"name":"n","shape":[1],"datatype":"INT16","data":[-2]}]`},
	{name: "second output carries data", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{Outputs: []*outT{{Name: "a", Datatype: "FP32", Shape: []int64{0}},
			{Name: "b", Datatype: "FP32", Shape: []int64{1}, Contents: &kservepb.InferTensorContents{Fp32Contents: []float32{1}}}}})
	}, json: `[{"name":"a","shape":[0],"datatype":"FP32","data":[]},{"name":"b","shape":[1],"datatype":"FP32","data":[1]}]`},
	{name: "unpacked shape and contents", resp: func(t testing.TB) []byte {
		var c []byte
		for _, f := range []float32{1, 2} {
			c = protowire.AppendTag(c, contentsFP32, protowire.Fixed32Type)
			c = protowire.AppendFixed32(c, math.Float32bits(f))
		}
		var o []byte
		o = protowire.AppendTag(o, tensorName, protowire.BytesType)
		o = protowire.AppendString(o, "p")
		o = protowire.AppendTag(o, tensorDatatype, protowire.BytesType)
		o = protowire.AppendString(o, "FP32")
		for _, d := range []uint64{1, 2} {
			o = protowire.AppendTag(o, tensorShape, protowire.VarintType)
			o = protowire.AppendVarint(o, d)
		}
		o = protowire.AppendTag(o, 99, protowire.VarintType) // unknown field
		o = protowire.AppendVarint(o, 7)
		o = protowire.AppendTag(o, tensorContents, protowire.BytesType)
		o = protowire.AppendBytes(o, c)
		var b []byte
		b = protowire.AppendTag(b, respOutputs, protowire.BytesType)
		return protowire.AppendBytes(b, o)
	}, json: `[{"name":"p","shape":[1,2],"datatype":"FP32","data":[1,2]}]`},

	{name: "not protobuf", resp: func(testing.TB) []byte { return []byte("<html>oops</html>") }, err: "invalid protobuf response"},
	{name: "truncated", resp: func(t testing.TB) []byte { b := fixedResponse(t); return b[:len(b)-3] }, err: "invalid protobuf response"},
	{name: "no outputs", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{ModelName: "m"})
	}, err: "response has no outputs"},
	{name: "no data", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{Outputs: []*outT{{Name: "o", Datatype: "FP32", Shape: []int64{1}}}})
	}, err: "no output carries data"},
	{name: "shape mismatch", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{Outputs: []*outT{{Name: "o", Datatype: "FP32", Shape: []int64{1, 3},
			Contents: &kservepb.InferTensorContents{Fp32Contents: []float32{1, 2}}}}})
	}, err: "output o: shape [1 3] holds 3 elements but data has 2"},
	{name: "raw shape mismatch", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{Outputs: []*outT{{Name: "o", Datatype: "FP32", Shape: []int64{3}}},
			RawOutputContents: [][]byte{fp32Raw(1, 2)}})
	}, err: "holds 3 elements but data has 2"},
	{name: "raw not whole elements", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{Outputs: []*outT{{Name: "o", Datatype: "FP32", Shape: []int64{1}}},
			RawOutputContents: [][]byte{{1, 2, 3}}})
	}, err: "not a whole number of 4-byte elements"},
	{name: "raw count", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{Outputs: []*outT{{Name: "a", Datatype: "FP32", Shape: []int64{1}}, {Name: "b", Datatype: "FP32"}},
			RawOutputContents: [][]byte{fp32Raw(1)}})
	}, err: "raw_output_contents has 1 entries for 2 outputs"},
	{name: "raw and contents", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{Outputs: []*outT{{Name: "o", Datatype: "FP32", Shape: []int64{1},
			Contents: &kservepb.InferTensorContents{Fp32Contents: []float32{1}}}}, RawOutputContents: [][]byte{fp32Raw(1)}})
	}, err: "contents and raw_output_contents are both set"},
	{name: "wrong contents field", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{Outputs: []*outT{{Name: "o", Datatype: "FP32", Shape: []int64{1},
			Contents: &kservepb.InferTensorContents{IntContents: []int32{1}}}}})
	}, err: "datatype FP32 but data in contents field 2"},
	{name: "fp16 in contents", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{Outputs: []*outT{{Name: "o", Datatype: "FP16", Shape: []int64{1},
			Contents: &kservepb.InferTensorContents{Fp32Contents: []float32{1}}}}})
	}, err: "datatype FP16 must come in raw_output_contents"},
	{name: "unknown datatype", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{Outputs: []*outT{{Name: "o", Datatype: "FLOAT", Shape: []int64{1},
			Contents: &kservepb.InferTensorContents{Fp32Contents: []float32{1}}}}})
	}, err: `unknown datatype "FLOAT"`},
	{name: "bytes raw cut", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{Outputs: []*outT{{Name: "o", Datatype: "BYTES", Shape: []int64{1}}},
			RawOutputContents: [][]byte{bytesRaw("abc")[:5]}})
	}, err: "runs past the contents"},
	{name: "negative dimension", resp: func(t testing.TB) []byte {
		return marshal(t, &kservepb.ModelInferResponse{Outputs: []*outT{{Name: "o", Datatype: "FP32", Shape: []int64{-1},
			Contents: &kservepb.InferTensorContents{Fp32Contents: []float32{1}}}}})
	}, err: "negative dimension"},
	{name: "outputs with wrong wire type", resp: func(testing.TB) []byte {
		b := protowire.AppendTag(nil, respOutputs, protowire.VarintType)
		return protowire.AppendVarint(b, 1)
	}, err: "response has no outputs"}, // protobuf skips it as unknown
}

// validate runs a response through the client's parse and check, as Do
// does.
func validate(b []byte) error {
	var r response
	if err := r.parse(b); err != nil {
		return &extensions.ProtocolError{Msg: "invalid protobuf response", Err: err}
	}
	return r.check()
}

func TestResponses(t *testing.T) {
	for _, tt := range responseCases {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.resp(t)
			err := validate(b)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("check = %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("check = %v", err)
			}
			var r response
			_ = r.parse(b)
			if got := string(r.appendJSON(nil)); got != tt.json {
				t.Errorf("JSON\n got %s\nwant %s", got, tt.json)
			}
		})
	}
}

// TestResponsesOverTheWire sends every case through a real call: invalid
// answers are protocol errors with status OK, valid ones keep their JSON.
func TestResponsesOverTheWire(t *testing.T) {
	var answer atomic.Pointer[[]byte]
	addr := rawServer(t, func(context.Context, string, []byte) ([]byte, error) { return *answer.Load(), nil })
	c := newClient(t, extensions.Options{Target: addr, KeepOutput: true})
	for _, tt := range responseCases {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.resp(t)
			answer.Store(&b)
			res := do(context.Background(), c, 1)
			if res.Status != 0 || res.BytesIn != int64(len(b)) {
				t.Errorf("status %d, BytesIn %d (answer %d bytes)", res.Status, res.BytesIn, len(b))
			}
			if tt.err != "" {
				if res.Class != gonogo.ErrProtocol || !strings.Contains(res.Err, tt.err) || len(res.Output) != 0 {
					t.Errorf("class %q err %q output %q; want protocol containing %q", res.Class, res.Err, res.Output, tt.err)
				}
				return
			}
			if res.Failed() || string(res.Output) != tt.json {
				t.Errorf("class %q err %q output %s", res.Class, res.Err, res.Output)
			}
		})
	}
}

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.1, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789, 3.4e38, 5e-324, 0.3333333333333333} {
		want, _ := json.Marshal(f)
		if got := appendFloat(nil, f, 64); string(got) != string(want) {
			t.Errorf("float64 %v: got %s, want %s", f, got, want)
		}
		want, _ = json.Marshal(float32(f))
		if got := appendFloat(nil, float64(float32(f)), 32); string(got) != string(want) {
			t.Errorf("float32 %v: got %s, want %s", float32(f), got, want)
		}
	}
	if got := string(appendFloat(nil, math.NaN(), 32)); got != "null" {
		t.Errorf("NaN: %s", got)
	}
}

func TestHalfToFloat(t *testing.T) {
	for _, tt := range []struct {
		h    uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x3555, 0.33325195}, {0x7bff, 65504}, {0x0001, 5.9604645e-08}, {0x8000, float32(math.Copysign(0, -1))},
		{0x7c00, float32(math.Inf(1))},
	} {
		if got := halfToFloat(tt.h); got != tt.want || math.Signbit(float64(got)) != math.Signbit(float64(tt.want)) {
			t.Errorf("halfToFloat(%#04x) = %v, want %v", tt.h, got, tt.want)
		}
	}
	if !math.IsNaN(float64(halfToFloat(0x7e00))) {
		t.Error("0x7e00 is not NaN")
	}
}

// TestRequestWire checks the hand-encoded request against the generated
// message type.
func TestRequestWire(t *testing.T) {
	c := newClient(t, extensions.Options{Target: "127.0.0.1:1", Model: "resnet", InputLen: 5})
	var m kservepb.ModelInferRequest
	if err := proto.Unmarshal(c.appendRequest(nil, 42), &m); err != nil {
		t.Fatal(err)
	}
	in := m.GetInputs()
	if m.GetModelName() != "resnet" || len(in) != 1 || in[0].GetName() != InputName || in[0].GetDatatype() != "FP32" ||
		len(in[0].GetShape()) != 2 || in[0].GetShape()[0] != 1 || in[0].GetShape()[1] != 5 || len(m.GetRawInputContents()) != 1 {
		t.Fatalf("request %v", &m)
	}
	if got, want := m.GetRawInputContents()[0], fp32Raw(Input(42, 5)...); string(got) != string(want) {
		t.Errorf("raw input % x, want % x", got, want)
	}
}
