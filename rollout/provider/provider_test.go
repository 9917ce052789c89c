package provider

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/internal/input"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		name      string
		yaml      string
		wantField string // "" when the block is valid
		wantLine  int
		wantMsg   string
	}{
		{name: "prometheus", yaml: "name: errors\nprometheus:\n  address: http://127.0.0.1:9090\n  query: sum(rate(x[1m]))\n  condition: '< 0.05'\n  timeout: 3s\ncritical: true\n"},
		{name: "localhost and a path prefix", yaml: "name: e\nprometheus: {address: 'http://localhost:9090/prom/', query: up, condition: '== 1'}\n"},
		{name: "ipv6 loopback", yaml: "name: e\nprometheus: {address: 'http://[::1]:9090', query: up, condition: '>= 1'}\n"},
		{name: "remote allowed", yaml: "name: e\nallowRemote: true\nprometheus: {address: 'https://prom.example.com', query: up, condition: '!= 0'}\n"},
		{name: "verdict file", yaml: "name: v\nverdict:\n  file: out/verdict.json\n  maxAge: 10m\n"},
		{name: "verdict url", yaml: "name: v\nverdict: {url: 'http://127.0.0.1:8081/verdict', timeout: 2s}\n"},

		{name: "no name", yaml: "prometheus: {address: 'http://127.0.0.1:9090', query: up, condition: '== 1'}\n", wantField: "name", wantMsg: "required"},
		{name: "neither", yaml: "name: x\ncritical: true\n", wantField: "prometheus", wantMsg: "want one of"},
		{name: "both", yaml: "name: x\nprometheus: {address: 'http://127.0.0.1:9090', query: up, condition: '== 1'}\nverdict:\n  file: v.json\n", wantField: "verdict", wantLine: 4, wantMsg: "not both"},
		{name: "remote address", yaml: "name: x\nprometheus:\n  address: http://10.0.0.7:9090\n  query: up\n  condition: '== 1'\n", wantField: "prometheus.address", wantLine: 3, wantMsg: "not loopback"},
		{name: "credentials in address", yaml: "name: x\nprometheus:\n  address: http://u:p@127.0.0.1:9090\n  query: up\n  condition: '== 1'\n", wantField: "prometheus.address", wantLine: 3, wantMsg: "tokenFile"},
		{name: "no scheme", yaml: "name: x\nprometheus: {address: '127.0.0.1:9090', query: up, condition: '== 1'}\n", wantField: "prometheus.address", wantMsg: "http"},
		{name: "no query", yaml: "name: x\nprometheus:\n  address: http://127.0.0.1:9090\n  condition: '== 1'\n", wantField: "prometheus.query", wantMsg: "required"},
		{name: "no condition", yaml: "name: x\nprometheus:\n  address: http://127.0.0.1:9090\n  query: up\n", wantField: "prometheus.condition", wantMsg: "required"},
		{name: "bad condition", yaml: "name: x\nprometheus:\n  address: http://127.0.0.1:9090\n  query: up\n  condition: '=< 1'\n", wantField: "prometheus.condition", wantLine: 5, wantMsg: "want an operator"},
		{name: "infinite threshold", yaml: "name: x\nprometheus:\n  address: http://127.0.0.1:9090\n  query: up\n  condition: '< Inf'\n", wantField: "prometheus.condition", wantLine: 5, wantMsg: "finite"},
		{name: "negative timeout", yaml: "name: x\nprometheus:\n  address: http://127.0.0.1:9090\n  query: up\n  condition: '< 1'\n  timeout: -1s\n", wantField: "prometheus.timeout", wantLine: 6, wantMsg: "want 0"},
		{name: "unknown field", yaml: "name: x\nprometheus:\n  adress: http://127.0.0.1:9090\n", wantField: "prometheus.adress", wantLine: 3, wantMsg: "unknown field"},
		{name: "timeout not a duration", yaml: "name: x\nprometheus:\n  address: http://127.0.0.1:9090\n  query: up\n  condition: '< 1'\n  timeout: soon\n", wantLine: 6},
		{name: "verdict empty", yaml: "name: v\nverdict: {maxAge: 1m}\n", wantField: "verdict.file", wantMsg: "want one of file or url"},
		{name: "verdict both", yaml: "name: v\nverdict: {file: a, url: 'http://127.0.0.1/'}\n", wantField: "verdict.url", wantMsg: "not both"},
		{name: "verdict remote url", yaml: "name: v\nverdict: {url: 'http://ci.example.com/verdict.json'}\n", wantField: "verdict.url", wantMsg: "allowRemote"},
		{name: "verdict token with file", yaml: "name: v\nverdict: {file: a, tokenFile: t}\n", wantField: "verdict.tokenFile", wantMsg: "only with url"},
		{name: "verdict negative maxAge", yaml: "name: v\nverdict: {file: a, maxAge: -1m}\n", wantField: "verdict.maxAge", wantMsg: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Spec
			err := input.ParseBlock("rollout.yaml", []byte(tt.yaml), &s)
			if tt.wantField == "" && tt.wantLine == 0 {
				if err != nil {
					t.Fatalf("ParseBlock: %v", err)
				}
				if _, err := New(s); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			var ie *input.Error
			if !errors.As(err, &ie) || !errors.Is(err, input.ErrInput) {
				t.Fatalf("err = %v, want an *input.Error", err)
			}
			if tt.wantField != "" && ie.Field != tt.wantField {
				t.Errorf("field = %q, want %q (%v)", ie.Field, tt.wantField, err)
			}
			if tt.wantLine != 0 && ie.Line != tt.wantLine {
				t.Errorf("line = %d, want %d (%v)", ie.Line, tt.wantLine, err)
			}
			if !strings.Contains(ie.Msg, tt.wantMsg) {
				t.Errorf("msg = %q, want it to contain %q", ie.Msg, tt.wantMsg)
			}
			if ie.File != "rollout.yaml" {
				t.Errorf("file = %q", ie.File)
			}
		})
	}
}

func TestParseSpecValues(t *testing.T) {
	var s Spec
	src := "name: errors\nprometheus:\n  address: http://127.0.0.1:9090\n  query: sum(x)\n  condition: '<= 1.5'\n  timeout: 1500ms\n  tokenFile: /run/token\ncritical: true\n"
	if err := input.ParseBlock("r.yaml", []byte(src), &s); err != nil {
		t.Fatal(err)
	}
	p := s.Prometheus
	if s.Name != "errors" || !s.Critical || p.Query != "sum(x)" || p.Timeout != 1500*time.Millisecond || p.TokenFile != "/run/token" {
		t.Errorf("decoded %+v %+v", s, *p)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctrl := filepath.Join(dir, "ctrl")
	if err := os.WriteFile(ctrl, []byte("abc\x01def"), 0o600); err != nil {
		t.Fatal(err)
	}
	prom := func(tokenFile string) Spec {
		return Spec{Name: "p", Prometheus: &PromSpec{Address: "http://127.0.0.1:9090", Query: "up", Condition: "== 1", TokenFile: tokenFile}}
	}
	tests := []struct {
		name      string
		spec      Spec
		wantField string
		wantMsg   string
	}{
		{"bad spec", Spec{Name: "p"}, "prometheus", "want one of"},
		{"missing token file", prom(filepath.Join(dir, "nope")), "prometheus.tokenFile", "no such file"},
		{"empty token file", prom(empty), "prometheus.tokenFile", "empty"},
		{"control character in token", prom(ctrl), "prometheus.tokenFile", "control character"},
		{"verdict token", Spec{Name: "v", Verdict: &VerdictSpec{URL: "http://127.0.0.1:1/", TokenFile: empty}}, "verdict.tokenFile", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.spec)
			var ie *input.Error
			if p != nil || !errors.As(err, &ie) {
				t.Fatalf("New = %v, %v; want an *input.Error", p, err)
			}
			if ie.Field != tt.wantField || !strings.Contains(ie.Msg, tt.wantMsg) {
				t.Errorf("err = %v, want field %s and %q", err, tt.wantField, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "abc") {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

// TestClientRefusesRemote checks the loopback rule at connection time:
// the dialer refuses a non-loopback address before any packet is sent.
func TestClientRefusesRemote(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// 192.0.2.1 is TEST-NET-1: never routed.
	_, _, err := fetch(ctx, newClient(false), "http://192.0.2.1:9090/api/v1/query", "")
	if err == nil || !strings.Contains(err.Error(), "non-loopback") {
		t.Fatalf("err = %v, want a refusal of the non-loopback address", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the refusal waited for the timeout")
	}
}

func TestMeasurementJSONWritesInfinity(t *testing.T) {
	for v, want := range map[float64]string{math.Inf(1): `"value":"+Inf"`, math.Inf(-1): `"value":"-Inf"`, 0.5: `"value":0.5`} {
		b, err := json.Marshal(Measurement{Name: "q", Value: v, Status: Pass})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) || strings.Count(string(b), `"value"`) != 1 {
			t.Errorf("%g: %s, want %s once", v, b, want)
		}
	}
}
