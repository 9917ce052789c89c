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

// FuzzParseColumns checks that the column-mapping parser never panics,
// that its errors are one line wrapping ErrFormat, and that what it accepts
// is a valid mapping that reads back the same once written out again.
func FuzzParseColumns(f *testing.F) {
	for _, s := range []string{
		"timestamp=TIMESTAMP,input_tokens=ContextTokens,output_tokens=GeneratedTokens",
		" timestamp = t , tag:user=User ID",
		"timestamp=a=b,tag:x=",
		"tag:=x", "timestamp=a,timestamp=b", ",", "=", "tag: =x", "timestamp=\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := replay.ParseColumns(s)
		if err != nil {
			if !errors.Is(err, replay.ErrFormat) || !strings.HasPrefix(err.Error(), "replay: bad trace: columns: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("ParseColumns(%q) error %q: want one line wrapping ErrFormat", s, err)
			}
			return
		}
		if strings.TrimSpace(s) == "" {
			if m != nil {
				t.Fatalf("ParseColumns(%q) = %v, want nil", s, m)
			}
			return
		}
		if err := replay.ValidateColumns(m); err != nil {
			t.Fatalf("ParseColumns(%q) = %v, which ValidateColumns refuses: %v", s, m, err)
		}
		pairs := make([]string, 0, len(m))
		for field, column := range m {
			pairs = append(pairs, field+"="+column)
		}
		again, err := replay.ParseColumns(strings.Join(pairs, ","))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(m) {
			t.Fatalf("ParseColumns(%q) = %v; written out and read again: %v, %v", s, m, again, err)
		}
	})
}
