package main

import (
	"testing"

	"github.com/spf13/pflag"
)

// Request flags with a bad value are exit 2 with one line naming the flag
// and what it accepts.
func TestRequestFlagsErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		protocol string
		want     string // "" when accepted
	}{
		{"api responses", []string{"--api", "responses"}, "openai", `--api "responses": unknown openai endpoint; one of completions, chat`},
		{"api chat", []string{"--api", "chat"}, "openai", ""},
		{"api completions", []string{"--api", "completions"}, "openai", ""},
		{"unknown protocol", nil, "grpc", `--protocol: unknown protocol "grpc"; one of http, kserve, kserve-grpc, openai`},
		{"zero timeout", []string{"--timeout", "0s"}, "http", "--timeout: must be > 0 (got 0s)"},
		{"bad header, value not shown", []string{"-H", "Authorization Bearer sk-secret"}, "http", `--header "Authorization …": want 'Name: value'`},
		{"bad header, one long word", []string{"-H", "sk-0123456789abcdef0123456789abcdef"}, "http", `--header "…": want 'Name: value'`},
		{"empty header", []string{"-H", ""}, "http", `--header "": want 'Name: value'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r requestFlags
			fs := pflag.NewFlagSet("load", pflag.ContinueOnError)
			r.register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			_, err := r.options(fs, tt.protocol)
			if tt.want == "" {
				if err != nil {
					t.Errorf("error %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want || exitCode(err) != exitUsage {
				t.Errorf("error %v (exit %d), want %q (exit 2)", err, exitCode(err), tt.want)
			}
		})
	}
}
