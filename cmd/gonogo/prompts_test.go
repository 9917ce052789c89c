package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// readPromptTokens reads run.json's overall prompt_tokens.
func readPromptTokens(t *testing.T, dir string) *analyze.PromptTokenStats {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	var run struct {
		Overall analyze.Stats `json:"overall"`
	}
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatal(err)
	}
	if run.Overall.PromptTokens == nil {
		t.Fatalf("run.json has no overall.prompt_tokens")
	}
	return run.Overall.PromptTokens
}

// TestTokenizerExactPrompts is the target of tokenizer-exact prompts: the
// prompt tokens the server reports equal the ones intended for ≥ 99 % of
// requests, with the fixture counting in the same vocabulary. It runs
// prompts of random lengths (completions), ShareGPT prompts (chat: the
// fixture counts message contents, as the client does) and generated
// prompts of a fixed length.
func TestTokenizerExactPrompts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs load against the fixture")
	}
	dir := t.TempDir()
	for _, vocab := range []string{"cl100k_base", "o200k_base"} {
		cfg := modelserver.DefaultConfig()
		cfg.Tokenizer = vocab
		_, url := modelservertest.Start(t, cfg)
		for _, tc := range []struct {
			name string
			args []string
		}{
			{"random", []string{"--dataset-format", "random", "--dataset", "input=100-400,output=4-8,count=500"}},
			{"sharegpt-chat", []string{"--api", "chat", "--dataset", "../../fixtures/datasets/sharegpt-sample.json", "--max-tokens", "6"}},
			{"generated", []string{"--prompt-tokens", "333", "--max-tokens", "6"}},
		} {
			t.Run(vocab+"/"+tc.name, func(t *testing.T) {
				out := filepath.Join(dir, vocab+"-"+tc.name)
				args := append([]string{"load", "--target", url, "--protocol", "openai", "--tokenizer", vocab,
					"--rate", "100", "--duration", "3s", "--out", out, "--history", "", "-q"}, tc.args...)
				o := quiet()
				if code := run(context.Background(), o, args); code != 0 {
					t.Fatalf("exit %d: %s", code, o.Err.(*bytes.Buffer))
				}
				p := readPromptTokens(t, out)
				t.Logf("%s %s: server-reported prompt tokens equal the intended ones for %d of %d requests (%.2f%%), intended mean %.1f, reported mean %.1f",
					vocab, tc.name, p.Exact, p.Requests, 100*p.ExactShare, p.IntendedMean, p.ReportedMean)
				if p.Requests < 250 || p.ExactShare < 0.99 {
					t.Fatalf("exact for %d of %d requests (%.4f), want ≥ 0.99 of ≥ 250", p.Exact, p.Requests, p.ExactShare)
				}
				if tc.name == "generated" && p.IntendedMean != 333 {
					t.Fatalf("intended mean %v, want 333", p.IntendedMean)
				}
				if !strings.Contains(o.Out.(*bytes.Buffer).String(), "prompt tokens intended") {
					t.Fatalf("the summary does not show the prompt tokens:\n%s", o.Out.(*bytes.Buffer))
				}
			})
		}
	}
}

// TestPromptFlagsBadInput checks that bad datasets, formats and
// tokenizer files exit 2 naming the flag, the file and the line.
func TestPromptFlagsBadInput(t *testing.T) {
	_, url := modelservertest.Start(t, modelserver.DefaultConfig())
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badJSONL := write("bad.jsonl", "{\"prompt\": \"hi\"}\n{\"prompt\": 3}\n")
	var vocab strings.Builder
	for c := range 256 {
		fmt.Fprintf(&vocab, "%s %d\n", base64.StdEncoding.EncodeToString([]byte{byte(c)}), c)
	}
	badVocab := write("bad.tiktoken", vocab.String()+"aGk= x\n")
	badScenario := write("s.yaml", "scenarios:\n  a:\n    executor: constant-arrival-rate\n    rate: 5\n    duration: 1s\n    request:\n      dataset:\n        file: p.jsonl\n        format: csv\n")
	badScenarioFile := write("s2.yaml", "request:\n  dataset: {file: bad.jsonl}\nscenarios:\n  a:\n    executor: constant-arrival-rate\n    rate: 5\n    duration: 1s\n")
	load := func(extra ...string) []string {
		return append([]string{"load", "--target", url, "--protocol", "openai", "--rate", "5", "--duration", "1s",
			"--out", filepath.Join(dir, "out"), "--history", "", "-q"}, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown format", load("--dataset", badJSONL, "--dataset-format", "csv"), `--dataset-format: unknown dataset format "csv"`},
		{"no format", load("--dataset", write("p.txt", "x")), "--dataset-format: cannot tell the format"},
		{"jsonl field", load("--dataset", badJSONL), "bad.jsonl:2: prompt: want a string"},
		{"missing file", load("--dataset", filepath.Join(dir, "none.jsonl")), "none.jsonl: open"},
		{"random spec", load("--dataset-format", "random", "--dataset", "input=400-100,output=5"), "--dataset: random: input: want 1 ≤ MIN ≤ MAX"},
		{"limit alone", load("--dataset-limit", "3"), "--dataset-limit needs --dataset"},
		{"seed zero", load("--seed", "0"), "--seed: must be > 0"},
		{"not openai", append(load("--dataset", badJSONL), "--protocol", "http"), "only the openai protocol"},
		{"tokenizer file", load("--tokenizer", badVocab), "bad.tiktoken:257: rank"},
		{"tokenizer name", load("--tokenizer", "llama-9"), `unknown tokenizer "llama-9"`},
		{"scenario format", load("--scenario", badScenario), "s.yaml:9:17: scenarios.a.request.dataset.format: unknown dataset format"},
		{"scenario file", load("--scenario", badScenarioFile), "bad.jsonl:2: prompt: want a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := quiet()
			code := run(context.Background(), o, tc.args)
			stderr := o.Err.(*bytes.Buffer).String()
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

// TestScenarioDataset runs a scenario whose request block names a
// dataset relative to the scenario file, a tokenizer and a seed.
func TestScenarioDataset(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	cfg.Tokenizer = "cl100k_base"
	_, url := modelservertest.Start(t, cfg)
	dir := t.TempDir()
	data, err := os.ReadFile("../../fixtures/datasets/prompts-sample.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "p.jsonl"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	sc := filepath.Join(dir, "s.yaml")
	yaml := "request:\n  api: chat\n  tokenizer: cl100k_base\n  maxTokens: 4\n  dataset: {file: data/p.jsonl, seed: 9}\n" +
		"scenarios:\n  a:\n    executor: constant-arrival-rate\n    rate: 40\n    duration: 1s\n"
	if err := os.WriteFile(sc, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	o := quiet()
	if code := run(context.Background(), o, []string{"load", "--target", url, "--protocol", "openai", "--scenario", sc,
		"--out", out, "--history", "", "-q", "--samples"}); code != 0 {
		t.Fatalf("exit %d: %s", code, o.Err.(*bytes.Buffer))
	}
	p := readPromptTokens(t, out)
	if p.Requests != 40 || p.Exact != 40 {
		t.Fatalf("prompt_tokens %+v, want 40 requests all exact", p)
	}
}
