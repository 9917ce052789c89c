package kserve

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// FuzzCheckResponse checks that CheckResponse never panics, that every
// rejection is a protocol error, and that an accepted response is valid JSON
// that stays accepted after a round trip through the response type.
func FuzzCheckResponse(f *testing.F) {
	for _, s := range []string{
		`{"model_name":"m","outputs":[{"name":"output","shape":[1,4],"datatype":"FP32","data":[0.5,-1,2.25,3]}]}`,
		`{"outputs":[{"name":"o","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]}]}`,
		`{"outputs":[{"name":"s","shape":[],"datatype":"FP32","data":[7]}]}`,
		`{"outputs":[{"name":"a","shape":[1],"data":null},{"name":"b","shape":[1,1],"data":[1]}]}`,
		`{"outputs":[{"name":"o","shape":[1,3],"data":[1,2]}]}`,
		`{"outputs":[{"name":"o","shape":[-1],"data":[1]}]}`,
		`{"outputs":[{"name":"o","shape":[4294967296,4294967296],"data":[1]}]}`,
		`{"outputs":[{"name":"o","shape":[1],"data":"x"}]}`,
		`{"outputs":[]}`,
		`{"error":"model not loaded"}`,
		`[]`,
		`null`,
	} {
		f.Add([]byte(s))
		f.Add([]byte(s[:len(s)/2]))
		f.Add([]byte(s[:len(s)-1]))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := CheckResponse(b)
		if err != nil {
			var pe *extensions.ProtocolError
			if !errors.As(err, &pe) || extensions.Classify(err, 200) != gonogo.ErrProtocol {
				t.Fatalf("error %v (%T) is not a protocol error", err, err)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		var r inferResponse
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if r.Error != "" || len(r.Outputs) == 0 {
			t.Fatalf("accepted %q with error %q and %d outputs", b, r.Error, len(r.Outputs))
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckResponse(again); err != nil {
			t.Fatalf("%q accepted but its round trip %q is not: %v", b, again, err)
		}
	})
}
