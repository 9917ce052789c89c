package grpcfault

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/gonogo-dev/gonogo/chaos"
)

func pct(v float64) *float64 { return &v }

func TestSpecCheck(t *testing.T) {
	ms := func(d time.Duration) chaos.Duration { return chaos.Duration(d) }
	tests := []struct {
		name       string
		spec       Spec
		kind       string
		field, msg string // msg "" when valid
	}{
		{name: "status", spec: Spec{Status: &StatusFault{Code: "UNAVAILABLE"}}, kind: KindStatus},
		{name: "status lower case", spec: Spec{Status: &StatusFault{Code: "resource_exhausted"}}, kind: KindStatus},
		{name: "status by number", spec: Spec{Status: &StatusFault{Code: "14"}}, kind: KindStatus},
		{name: "status OK", spec: Spec{Status: &StatusFault{Code: "OK"}}, kind: KindStatus, field: "status.code", msg: "OK is not a fault"},
		{name: "status unknown", spec: Spec{Status: &StatusFault{Code: "BUSY"}}, kind: KindStatus, field: "status.code", msg: "not a gRPC status code"},
		{name: "status 17", spec: Spec{Status: &StatusFault{Code: "17"}}, kind: KindStatus, field: "status.code", msg: "not a gRPC status code"},
		{name: "none", spec: Spec{}, field: "", msg: "exactly one of status, delay and abort"},
		{name: "two", spec: Spec{Status: &StatusFault{Code: "INTERNAL"}, Abort: &AbortFault{}}, msg: "exactly one of"},
		{name: "delay constant", spec: Spec{Delay: &DelayFault{Mean: ms(50 * time.Millisecond)}}, kind: KindDelay},
		{name: "delay uniform", spec: Spec{Delay: &DelayFault{Mean: ms(50 * time.Millisecond), Variation: ms(10 * time.Millisecond)}}, kind: KindDelay},
		{name: "delay normal", spec: Spec{Delay: &DelayFault{Mean: ms(50 * time.Millisecond), Variation: ms(80 * time.Millisecond), Distribution: chaos.DistNormal}}, kind: KindDelay},
		{name: "delay exponential", spec: Spec{Delay: &DelayFault{Mean: ms(50 * time.Millisecond), Distribution: chaos.DistExponential}}, kind: KindDelay},
		{name: "delay zero", spec: Spec{Delay: &DelayFault{}}, kind: KindDelay, field: "delay.mean", msg: "want more than 0"},
		{name: "delay huge", spec: Spec{Delay: &DelayFault{Mean: ms(time.Hour)}}, kind: KindDelay, field: "delay.mean", msg: "at most 10m0s"},
		{name: "delay negative variation", spec: Spec{Delay: &DelayFault{Mean: ms(time.Second), Variation: ms(-1)}}, kind: KindDelay, field: "delay.variation", msg: "0 or more"},
		{name: "uniform below zero", spec: Spec{Delay: &DelayFault{Mean: ms(10 * time.Millisecond), Variation: ms(20 * time.Millisecond)}}, kind: KindDelay, field: "delay.variation", msg: "cannot go below 0"},
		{name: "constant with variation", spec: Spec{Delay: &DelayFault{Mean: ms(time.Second), Variation: ms(time.Millisecond), Distribution: chaos.DistConstant}}, kind: KindDelay, field: "delay.variation", msg: "no variation"},
		{name: "exponential with variation", spec: Spec{Delay: &DelayFault{Mean: ms(time.Second), Variation: ms(time.Millisecond), Distribution: chaos.DistExponential}}, kind: KindDelay, field: "delay.variation", msg: "leave variation out"},
		{name: "unknown distribution", spec: Spec{Delay: &DelayFault{Mean: ms(time.Second), Distribution: "pareto"}}, kind: KindDelay, field: "delay.distribution", msg: `"pareto"`},
		{name: "abort", spec: Spec{Abort: &AbortFault{}}, kind: KindAbort},
		{name: "abort close", spec: Spec{Abort: &AbortFault{Mode: AbortClose}}, kind: KindAbort},
		{name: "abort bad mode", spec: Spec{Abort: &AbortFault{Mode: "drop"}}, kind: KindAbort, field: "abort.mode", msg: "want reset or close"},
		{name: "match all", spec: Spec{Abort: &AbortFault{}, Match: Match{Method: "/inference.GRPCInferenceService/*", Headers: map[string]string{"x-tenant": "a"}, Percent: pct(0.5)}}, kind: KindAbort},
		{name: "method without slash", spec: Spec{Abort: &AbortFault{}, Match: Match{Method: "inference.GRPCInferenceService/ModelInfer"}}, kind: KindAbort, field: "match.method", msg: "starts with a slash"},
		{name: "bad glob", spec: Spec{Abort: &AbortFault{}, Match: Match{Method: "/a/[b"}}, kind: KindAbort, field: "match.method", msg: "not a valid glob"},
		{name: "header upper case", spec: Spec{Abort: &AbortFault{}, Match: Match{Headers: map[string]string{"X-Tenant": "a"}}}, kind: KindAbort, field: "match.headers.X-Tenant", msg: "lower case"},
		{name: "percent zero", spec: Spec{Abort: &AbortFault{}, Match: Match{Percent: pct(0)}}, kind: KindAbort, field: "match.percent", msg: "more than 0"},
		{name: "percent over", spec: Spec{Abort: &AbortFault{}, Match: Match{Percent: pct(100.5)}}, kind: KindAbort, field: "match.percent", msg: "at most 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.spec.Kind(); got != tt.kind {
				t.Errorf("Kind = %q, want %q", got, tt.kind)
			}
			field, msg := tt.spec.Check()
			if tt.msg == "" {
				if msg != "" {
					t.Errorf("Check = %s: %s, want valid", field, msg)
				}
				return
			}
			if field != tt.field || !strings.Contains(msg, tt.msg) {
				t.Errorf("Check = %q: %q; want %q: …%s…", field, msg, tt.field, tt.msg)
			}
		})
	}
}

func TestStatusCodes(t *testing.T) {
	for name, want := range map[string]codes.Code{"UNAVAILABLE": codes.Unavailable, "cancelled": codes.Canceled,
		"Canceled": codes.Canceled, " internal ": codes.Internal, "16": codes.Unauthenticated, "1": codes.Canceled} {
		if got, msg := (&StatusFault{Code: name}).code(); msg != "" || got != want {
			t.Errorf("code(%q) = %v, %q; want %v", name, got, msg, want)
		}
	}
	if (&StatusFault{}).message() != DefaultStatusMessage || (&StatusFault{Message: "m"}).message() != "m" {
		t.Error("message default")
	}
}

func TestParseSpec(t *testing.T) {
	src := `match:
  method: /inference.GRPCInferenceService/ModelInfer
  headers:
    x-tenant: blue
  percent: 5
delay:
  mean: 50ms
  variation: 10ms
  distribution: uniform
`
	s, err := ParseSpec("exp.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := &Spec{
		Match: Match{Method: "/inference.GRPCInferenceService/ModelInfer", Headers: map[string]string{"x-tenant": "blue"}, Percent: pct(5)},
		Delay: &DelayFault{Mean: chaos.Duration(50 * time.Millisecond), Variation: chaos.Duration(10 * time.Millisecond), Distribution: chaos.DistUniform},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("ParseSpec = %+v, want %+v", s, want)
	}
	// JSON says the same, and the spec writes itself back as it reads.
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseSpecJSON(b); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("JSON %s reads back %+v, %v", b, got, err)
	}

	bad := []struct {
		name, src   string
		line        int
		field, text string
	}{
		{name: "unknown field", src: "status:\n  code: INTERNAL\n  reason: x\n", line: 3, text: "reason"},
		{name: "bad duration", src: "delay:\n  mean: 50 ms\n", line: 2, text: "not a duration"},
		{name: "percent", src: "match:\n  percent: 150\nabort: {}\n", line: 2, field: "match.percent", text: "at most 100"},
		{name: "status code", src: "status:\n  code: NOPE\n", line: 2, field: "status.code", text: "not a gRPC status code"},
		{name: "nothing", src: "match:\n  method: /a/b\n", field: "", text: "exactly one of"},
		{name: "not a map", src: "- 1\n", text: ""},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSpec("exp.yaml", []byte(tt.src))
			var ie *chaos.InputError
			if !errors.As(err, &ie) || !errors.Is(err, chaos.ErrInput) {
				t.Fatalf("err = %v, want a *chaos.InputError", err)
			}
			if ie.File != "exp.yaml" || (tt.line > 0 && ie.Line != tt.line) || (tt.field != "" && ie.Field != tt.field) || !strings.Contains(ie.Error(), tt.text) {
				t.Errorf("err = %q (file %q line %d field %q); want line %d field %q containing %q", ie, ie.File, ie.Line, ie.Field, tt.line, tt.field, tt.text)
			}
		})
	}
	if _, err := ParseSpecJSON([]byte(`{"abort":{},"extra":1}`)); err == nil || !strings.Contains(err.Error(), "extra") {
		t.Errorf("unknown JSON field: %v", err)
	}
	if _, err := ParseSpecJSON([]byte(`{"abort":{}} {}`)); err == nil {
		t.Error("two JSON values accepted")
	}
}
