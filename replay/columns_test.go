package replay_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/replay"
)

func TestParseColumns(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // fmt of the map, or the error's text
		wantErr  bool
	}{
		{"azure", "timestamp=TIMESTAMP,input_tokens=ContextTokens,output_tokens=GeneratedTokens",
			"map[input_tokens:ContextTokens output_tokens:GeneratedTokens timestamp:TIMESTAMP]", false},
		{"spaces and tags", " timestamp = t , tag:user=User ID", "map[tag:user:User ID timestamp:t]", false},
		{"empty", "", "map[]", false},
		{"no equals", "timestamp=t,input_tokens", `"input_tokens" is not field=column`, true},
		{"unknown field", "timestamp=t,prompt=p", `"prompt=p": unknown field "prompt"`, true},
		{"no column", "timestamp=", `"timestamp=": no column name`, true},
		{"empty tag name", "tag:=x", `"tag:=x": tag field needs a name`, true},
		{"twice", "timestamp=a,timestamp=b", `"timestamp=b": field timestamp mapped twice`, true},
		{"empty pair", "timestamp=a,,input_tokens=b", `"" is not field=column`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := replay.ParseColumns(tt.in)
			if tt.wantErr {
				if !errors.Is(err, replay.ErrFormat) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("ParseColumns(%q) error = %v, want ErrFormat containing %s", tt.in, err, tt.want)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != tt.want {
				t.Errorf("ParseColumns(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestPresets(t *testing.T) {
	p, ok := replay.LookupPreset("azure-llm")
	if !ok || p.Format != replay.FormatCSV || p.Columns["timestamp"] != "TIMESTAMP" ||
		p.Columns["input_tokens"] != "ContextTokens" || p.Columns["output_tokens"] != "GeneratedTokens" {
		t.Errorf("azure-llm = %+v", p)
	}
	p.Columns["timestamp"] = "changed"
	if q, _ := replay.LookupPreset("azure-llm"); q.Columns["timestamp"] != "TIMESTAMP" {
		t.Error("LookupPreset returns the shared map")
	}
	if d, ok := replay.DetectPreset(replay.FormatCSV, []string{"TIMESTAMP", "ContextTokens", "GeneratedTokens"}); !ok || d.Name != "azure-llm" {
		t.Errorf("DetectPreset = %+v, %v", d, ok)
	}
	if _, ok := replay.DetectPreset(replay.FormatCSV, []string{"TIMESTAMP", "ContextTokens"}); ok {
		t.Error("DetectPreset matched a partial header")
	}
	for _, p := range replay.Presets() {
		if err := replay.ValidateColumns(p.Columns); err != nil || replay.CheckTimeFormat(p.TimeFormat) != nil {
			t.Errorf("preset %s: %v", p.Name, err)
		}
	}
}

func TestCheckTimeFormat(t *testing.T) {
	for _, f := range append([]string{"", "2006-01-02 15:04"}, replay.TimeFormats...) {
		if err := replay.CheckTimeFormat(f); err != nil {
			t.Errorf("CheckTimeFormat(%q) = %v", f, err)
		}
	}
	if err := replay.CheckTimeFormat("unix"); !errors.Is(err, replay.ErrFormat) || !strings.Contains(err.Error(), "epoch-ms") {
		t.Errorf("CheckTimeFormat(unix) = %v", err)
	}
}
