package grpcfault

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/gonogo-dev/gonogo/chaos"
)

var specSeeds = []string{
	"status: {code: UNAVAILABLE, message: busy}\n",
	"match:\n  method: /inference.GRPCInferenceService/*\n  headers: {x-tenant: blue}\n  percent: 5\nabort: {mode: close}\n",
	"delay:\n  mean: 50ms\n  variation: 10ms\n  distribution: normal\n",
	"delay: {mean: 1s, distribution: exponential}\n",
	"match: {percent: 0}\nstatus: {code: 14}\n",
	"status:\n  code: OK\n",
	"- a\n",
	"delay: {mean: 5}\n",
	"match: {headers: {}}\nabort: {}\n",
}

// FuzzParseSpec decodes any YAML as a grpc block: it never panics, every
// error is a *chaos.InputError, and a spec it accepts is valid, has a
// kind, and reads back the same from its JSON.
func FuzzParseSpec(f *testing.F) {
	for _, s := range specSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		s, err := ParseSpec("f.yaml", []byte(src))
		if err != nil {
			var ie *chaos.InputError
			if !errors.As(err, &ie) || ie.Msg == "" {
				t.Fatalf("error %v is not an input error with a message", err)
			}
			return
		}
		roundTrip(t, s)
	})
}

// FuzzParseSpecJSON is FuzzParseSpec for the JSON form.
func FuzzParseSpecJSON(f *testing.F) {
	for _, s := range []string{`{"status":{"code":"UNAVAILABLE"}}`, `{"match":{"method":"/a/*","percent":50},"abort":{}}`,
		`{"delay":{"mean":"50ms","variation":"10ms"}}`, `{"delay":{"mean":"1h"}}`, `[]`, `{"abort":{"mode":"close"},"x":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		s, err := ParseSpecJSON([]byte(src))
		if err != nil {
			if !errors.Is(err, chaos.ErrInput) {
				t.Fatalf("error %v is not an input error", err)
			}
			return
		}
		roundTrip(t, s)
	})
}

func roundTrip(t *testing.T, s *Spec) {
	t.Helper()
	if field, msg := s.Check(); msg != "" || s.Kind() == "" {
		t.Fatalf("accepted an invalid spec: %s: %s (kind %q)", field, msg, s.Kind())
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSpecJSON(b)
	if err != nil || !reflect.DeepEqual(back, s) {
		t.Fatalf("JSON %s reads back %+v, %v; want %+v", b, back, err, s)
	}
}
