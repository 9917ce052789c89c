package kservegrpc

import (
	"encoding/json"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gonogo-dev/gonogo/internal/kservepb"
)

// FuzzResponse feeds any bytes to the client's response reader. It must
// not panic; whatever protobuf itself decodes, the reader must read with
// the same tensors; and an answer it accepts must give valid JSON whose
// outputs hold as many values as their shapes say.
func FuzzResponse(f *testing.F) {
	for _, tt := range responseCases {
		f.Add(tt.resp(f))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r response
		perr := r.parse(b)
		var m kservepb.ModelInferResponse
		if proto.Unmarshal(b, &m) == nil {
			if perr != nil {
				t.Fatalf("protobuf decodes it, the reader says %v", perr)
			}
			if len(m.GetOutputs()) != len(r.outputs) || len(m.GetRawOutputContents()) != len(r.raw) {
				t.Fatalf("%d outputs, %d raw; protobuf: %d, %d", len(r.outputs), len(r.raw), len(m.GetOutputs()), len(m.GetRawOutputContents()))
			}
			for i, o := range m.GetOutputs() {
				got := &r.outputs[i]
				if string(got.name) != o.GetName() || string(got.datatype) != o.GetDatatype() || len(got.shape) != len(o.GetShape()) {
					t.Fatalf("output %d: %q %q %v; protobuf: %q %q %v", i, got.name, got.datatype, got.shape, o.GetName(), o.GetDatatype(), o.GetShape())
				}
				if n, err := got.contentCount(anyField, i); err == nil && n != int64(countContents(o.GetContents())) {
					t.Fatalf("output %d: %d content values; protobuf: %d", i, n, countContents(o.GetContents()))
				}
			}
		}
		if perr != nil || r.check() != nil {
			return
		}
		var out []struct {
			Shape []int64 `json:"shape"`
			Data  []any   `json:"data"`
		}
		js := r.appendJSON(nil)
		if err := json.Unmarshal(js, &out); err != nil {
			t.Fatalf("accepted answer gives invalid JSON %s: %v", js, err)
		}
		for i, o := range out {
			if n, _ := shapeSize(o.Shape); len(o.Data) > 0 && int64(len(o.Data)) != n {
				t.Fatalf("output %d: %d values for shape %v in %s", i, len(o.Data), o.Shape, js)
			}
		}
	})
}

func countContents(c *kservepb.InferTensorContents) int {
	return len(c.GetBoolContents()) + len(c.GetIntContents()) + len(c.GetInt64Contents()) + len(c.GetUintContents()) +
		len(c.GetUint64Contents()) + len(c.GetFp32Contents()) + len(c.GetFp64Contents()) + len(c.GetBytesContents())
}

// FuzzAppendFloat checks that numbers are written exactly as encoding/json
// writes them, at both sizes.
func FuzzAppendFloat(f *testing.F) {
	for _, x := range []float64{0, 1, 0.1, 1e-7, 1e21, -3.5e-12, 123456.789} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		want, _ := json.Marshal(x)
		if got := appendFloat(nil, x, 64); string(got) != string(want) {
			t.Fatalf("float64 %v: %s, encoding/json %s", x, got, want)
		}
		if f32 := float32(x); !math.IsInf(float64(f32), 0) {
			want, _ = json.Marshal(f32)
			if got := appendFloat(nil, float64(f32), 32); string(got) != string(want) {
				t.Fatalf("float32 %v: %s, encoding/json %s", f32, got, want)
			}
		}
	})
}
