package kserve

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// With KeepOutput the "outputs" array is kept as compact JSON, as sent;
// a failed request keeps nothing.
func TestKeepOutput(t *testing.T) {
	body := "{\n  \"model_name\": \"m\",\n  \"outputs\": [ {\"name\": \"probabilities\", \"shape\": [1, 3],\n   \"datatype\": \"FP32\", \"data\": [0.25, 0.5, 0.25], \"parameters\": {\"x\": 1}} ]\n}"
	want := `[{"name":"probabilities","shape":[1,3],"datatype":"FP32","data":[0.25,0.5,0.25],"parameters":{"x":1}}]`
	for _, tc := range []struct {
		name    string
		respond func(http.ResponseWriter, *inferRequest)
		keep    bool
		want    string
	}{
		{"kept", reply(body), true, want},
		{"off", reply(body), false, ""},
		{"invalid response", reply(`{"outputs":[]}`), true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, tc.respond)
			c, err := New(extensions.Options{Target: srv.URL, Model: "m", KeepOutput: tc.keep})
			if err != nil {
				t.Fatal(err)
			}
			req := &gonogo.Request{ID: 1}
			res := &gonogo.Result{Request: req, Sent: time.Now()}
			if tc.keep {
				res.Output = append(make([]byte, 0, 256), "stale"...)
			}
			c.Do(context.Background(), req, res)
			if string(res.Output) != tc.want {
				t.Errorf("Output %q, want %q (class %q %s)", res.Output, tc.want, res.Class, res.Err)
			}
		})
	}
}

// Against the fixture, the kept outputs parse back to the truth's class
// probabilities.
func TestKeepOutputMatchesFixture(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	_, url := modelservertest.Start(t, cfg)
	c, err := New(extensions.Options{Target: url, Model: cfg.ClassifierModel, KeepOutput: true, InputLen: 8})
	if err != nil {
		t.Fatal(err)
	}
	req := &gonogo.Request{ID: 3}
	res := &gonogo.Result{Request: req, Sent: time.Now()}
	c.Do(context.Background(), req, res)
	if res.Class != gonogo.ErrNone {
		t.Fatalf("%s: %s", res.Class, res.Err)
	}
	var outs []struct {
		Name  string    `json:"name"`
		Shape []int     `json:"shape"`
		Data  []float32 `json:"data"`
	}
	if err := json.Unmarshal(res.Output, &outs); err != nil || len(outs) == 0 {
		t.Fatalf("Output %q: %v", res.Output, err)
	}
	var in struct {
		Inputs []struct {
			Data []float32 `json:"data"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal(c.Body(req), &in); err != nil {
		t.Fatal(err)
	}
	want := modelserver.Classify(modelserver.VersionV1, in.Inputs[0].Data)
	got := outs[0].Data
	if len(got) != len(want) {
		t.Fatalf("got %d probabilities, want %d: %s", len(got), len(want), res.Output)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("probability %d = %v, want %v (%s)", i, got[i], want[i], res.Output)
		}
	}
}
