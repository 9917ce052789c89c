package dataset

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
)

// Formats of a dataset.
const (
	// FormatShareGPT is a JSON array of conversations, as in the
	// ShareGPT_V3 dump that vLLM's benchmark reads.
	FormatShareGPT = "sharegpt"
	// FormatJSONL is one JSON object a line: a prompt, chat messages, or a
	// prompt length with optional shared-prefix hash ids (Mooncake).
	FormatJSONL = "jsonl"
	// FormatRandom is prompts of random lengths in a range; no file.
	FormatRandom = "random"
)

// Formats lists the dataset formats.
var Formats = []string{FormatShareGPT, FormatJSONL, FormatRandom}

// Defaults and bounds of a Spec.
const (
	// DefaultBlockTokens is the length of one shared-prefix block, as in
	// Mooncake's traces.
	DefaultBlockTokens = 512
	// DefaultRandomCount is the number of prompts a random dataset makes.
	DefaultRandomCount = 1000
	// MaxEntries bounds the prompts of a dataset (after Limit).
	MaxEntries = 1 << 20
	// MaxTokens bounds any token count a dataset asks for.
	MaxTokens = 1 << 20
)

// Spec says where prompts come from. In a scenario file it is the
// request's dataset block:
//
//	dataset:
//	  file: prompts.jsonl          # relative to the scenario file
//	  format: jsonl                # sharegpt, jsonl or random; "" from the extension
//	  seed: 7                      # order of the prompts; 0 means 1
//	  limit: 500                   # use 500 prompts drawn by the seed; 0: all
//	  maxInputTokens: 2048         # cut longer prompts to this many tokens; 0: no cut
//	  blockTokens: 512             # tokens per hash_ids block
//	  random: {input: 100-400, output: 50-200, count: 1000}
type Spec struct {
	File           string  `yaml:"file" json:"file,omitempty"`
	Format         string  `yaml:"format" json:"format,omitempty"`
	Seed           int64   `yaml:"seed" json:"seed,omitempty"`
	Limit          int     `yaml:"limit" json:"limit,omitempty"`
	MaxInputTokens int     `yaml:"maxInputTokens" json:"max_input_tokens,omitempty"`
	BlockTokens    int     `yaml:"blockTokens" json:"block_tokens,omitempty"`
	Random         *Random `yaml:"random" json:"random,omitempty"`
}

// Random describes a random dataset: Count prompts whose input and output
// lengths are drawn uniformly from the ranges (both ends included), by
// Spec.Seed.
type Random struct {
	Input  Range `yaml:"input" json:"input"`
	Output Range `yaml:"output" json:"output"`
	Count  int   `yaml:"count" json:"count,omitempty"`
}

// Range is a closed range of token counts: "100-400", or one number.
type Range struct{ Min, Max int }

// ParseRange reads "MIN-MAX" or "N".
func ParseRange(s string) (Range, error) {
	s = strings.TrimSpace(s)
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		hi = lo
	}
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b, err2 := strconv.Atoi(strings.TrimSpace(hi))
	switch {
	case err1 != nil || err2 != nil:
		return Range{}, fmt.Errorf("want MIN-MAX or a number of tokens, such as 100-400 (got %q)", s)
	case a < 1 || b < a || b > MaxTokens:
		return Range{}, fmt.Errorf("want 1 ≤ MIN ≤ MAX ≤ %d (got %q)", MaxTokens, s)
	}
	return Range{a, b}, nil
}

// String writes r as ParseRange reads it.
func (r Range) String() string {
	if r.Min == r.Max {
		return strconv.Itoa(r.Min)
	}
	return fmt.Sprintf("%d-%d", r.Min, r.Max)
}

// UnmarshalYAML reads "100-400" or 250.
func (r *Range) UnmarshalYAML(b []byte) error {
	var raw any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return err
	}
	var s string
	switch v := raw.(type) {
	case string:
		s = v
	case uint64, int64, int:
		s = fmt.Sprint(v)
	default:
		return fmt.Errorf("want MIN-MAX or a number of tokens, such as 100-400 (got %s)", strings.TrimSpace(string(b)))
	}
	v, err := ParseRange(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalYAML writes r as a string.
func (r Range) MarshalYAML() (any, error) { return r.String(), nil }

// MarshalText writes r as a string (JSON).
func (r Range) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads r from a string (JSON).
func (r *Range) UnmarshalText(b []byte) error {
	v, err := ParseRange(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// ParseRandom reads the flag form of a random dataset:
// "input=100-400,output=50-200[,count=1000]".
func ParseRandom(s string) (*Random, error) {
	r := &Random{}
	var haveIn, haveOut bool
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return nil, fmt.Errorf("%q: want input=MIN-MAX,output=MIN-MAX[,count=N]", kv)
		}
		var err error
		switch k {
		case "input":
			r.Input, err = ParseRange(v)
			haveIn = true
		case "output":
			r.Output, err = ParseRange(v)
			haveOut = true
		case "count":
			r.Count, err = strconv.Atoi(v)
			if err == nil && (r.Count < 1 || r.Count > MaxEntries) {
				err = fmt.Errorf("want 1..%d (got %d)", MaxEntries, r.Count)
			}
		default:
			return nil, fmt.Errorf("unknown key %q: want input, output or count", k)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	if !haveIn || !haveOut {
		return nil, errors.New("want both input=MIN-MAX and output=MIN-MAX")
	}
	return r, nil
}

// Validate checks s and fills its defaults: the format from the file's
// extension (.json: sharegpt; .jsonl, .ndjson: jsonl) or from Random, a
// random dataset's count, the seed (0 means 1) and the block length. It
// returns the field (its YAML name, as "random.input") and the problem.
func (s *Spec) Validate() (field, msg string) {
	if s.Format == "" {
		switch {
		case s.Random != nil && s.File == "":
			s.Format = FormatRandom
		case s.File != "":
			switch strings.ToLower(filepath.Ext(s.File)) {
			case ".json":
				s.Format = FormatShareGPT
			case ".jsonl", ".ndjson":
				s.Format = FormatJSONL
			default:
				return "format", fmt.Sprintf("cannot tell the format of %s from its extension: set one of %s", s.File, strings.Join(Formats, ", "))
			}
		default:
			return "file", "missing: a dataset file (or random: {input, output})"
		}
	}
	switch s.Format {
	case FormatShareGPT, FormatJSONL:
		if strings.TrimSpace(s.File) == "" {
			return "file", fmt.Sprintf("missing: a %s dataset reads a file", s.Format)
		}
		if s.Random != nil {
			return "random", fmt.Sprintf("is for format random (format is %s)", s.Format)
		}
	case FormatRandom:
		if s.Random == nil {
			return "random", "missing: {input: MIN-MAX, output: MIN-MAX}"
		}
		if s.File != "" {
			return "file", "a random dataset reads no file"
		}
		r := s.Random
		if r.Input.Min < 1 {
			return "random.input", "missing: MIN-MAX tokens, such as 100-400"
		}
		if r.Output.Min < 1 {
			return "random.output", "missing: MIN-MAX tokens, such as 50-200"
		}
		if r.Count == 0 {
			r.Count = DefaultRandomCount
		}
		if r.Count < 1 || r.Count > MaxEntries {
			return "random.count", fmt.Sprintf("want 1..%d (got %d)", MaxEntries, r.Count)
		}
	default:
		return "format", fmt.Sprintf("unknown dataset format %q; one of %s", s.Format, strings.Join(Formats, ", "))
	}
	switch {
	case s.Limit < 0 || s.Limit > MaxEntries:
		return "limit", fmt.Sprintf("want 0..%d (got %d)", MaxEntries, s.Limit)
	case s.MaxInputTokens < 0 || s.MaxInputTokens > MaxTokens:
		return "maxInputTokens", fmt.Sprintf("want 0..%d (got %d)", MaxTokens, s.MaxInputTokens)
	case s.BlockTokens < 0 || s.BlockTokens > math.MaxInt32 || s.BlockTokens > MaxTokens:
		return "blockTokens", fmt.Sprintf("want 0..%d (got %d)", MaxTokens, s.BlockTokens)
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	if s.BlockTokens == 0 {
		s.BlockTokens = DefaultBlockTokens
	}
	return "", ""
}

// key identifies what Load builds from s, for its cache.
func (s *Spec) key() string {
	r := ""
	if s.Random != nil {
		r = fmt.Sprintf("%s/%s/%d", s.Random.Input, s.Random.Output, s.Random.Count)
	}
	f := s.File
	if abs, err := filepath.Abs(f); err == nil && f != "" {
		f = abs
	}
	return fmt.Sprintf("%s|%s|%d|%d|%d|%d|%s", s.Format, f, s.Seed, s.Limit, s.MaxInputTokens, s.BlockTokens, r)
}
