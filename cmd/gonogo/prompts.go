package main

import (
	"strings"

	"github.com/spf13/pflag"

	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/dataset"
	"github.com/gonogo-dev/gonogo/extensions/openai"
	"github.com/gonogo-dev/gonogo/extensions/tokenize"
)

// promptFlags say where the prompts of openai requests come from and how
// they are counted; part of requestFlags.
type promptFlags struct {
	dataset, format, tokenizer string
	limit                      int
	seed                       int64
}

func (p *promptFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&p.dataset, "dataset", "", "openai: prompts from a dataset: a ShareGPT .json file, a .jsonl of prompts, messages or Mooncake hash_ids; with --dataset-format random: input=MIN-MAX,output=MIN-MAX[,count=N]")
	fs.StringVar(&p.format, "dataset-format", "", "dataset format: "+strings.Join(dataset.Formats, ", ")+" (default: from the file's extension)")
	fs.IntVar(&p.limit, "dataset-limit", 0, "use this many of the dataset's prompts, drawn by --seed (default all)")
	fs.Int64Var(&p.seed, "seed", 0, "seed of every random choice of the run: the arrival draws of every scenario and the order of the dataset's prompts (the same seed sends the same requests)")
	fs.StringVar(&p.tokenizer, "tokenizer", "", "openai: count prompt tokens with "+strings.Join(tokenize.Builtins, ", ")+" or a tiktoken file; generated prompts are then exactly --prompt-tokens tokens")
}

// options sets o's Dataset and Tokenizer from the flags, after checking
// them: the tokenizer is loaded and the dataset read now, so that a file
// that does not parse is named with its line before anything starts.
func (p *promptFlags) options(fs *pflag.FlagSet, protocol string, o *extensions.Options) error {
	for _, name := range []string{"dataset", "dataset-format", "dataset-limit", "tokenizer"} {
		if fs.Changed(name) && protocol != openai.Name {
			return usageError("--%s: only the openai protocol sends prompts (--protocol is %s)", name, protocol)
		}
	}
	for _, name := range []string{"dataset-format", "dataset-limit"} {
		if fs.Changed(name) && !fs.Changed("dataset") {
			return usageError("--%s needs --dataset (a scenario's dataset block takes format and limit of its own)", name)
		}
	}
	var tok tokenize.Tokenizer
	if fs.Changed("tokenizer") {
		t, err := tokenize.Load(p.tokenizer)
		if err != nil {
			return usageError("--tokenizer: %v", err)
		}
		tok, o.Tokenizer = t, p.tokenizer
	}
	if !fs.Changed("dataset") {
		return nil
	}
	spec := &dataset.Spec{Format: p.format, Limit: p.limit, Seed: p.seed}
	if p.format == dataset.FormatRandom {
		r, err := dataset.ParseRandom(p.dataset)
		if err != nil {
			return usageError("--dataset: random: %v", err)
		}
		spec.Random = r
	} else {
		spec.File = p.dataset
	}
	if field, msg := spec.Validate(); msg != "" {
		flag := map[string]string{"format": "--dataset-format", "limit": "--dataset-limit"}[field]
		if flag == "" {
			flag = "--dataset"
		}
		return usageError("%s: %s", flag, msg)
	}
	if _, err := dataset.Load(*spec, tok, o.API == extensions.APIChat); err != nil {
		return usageError("--dataset: %v", err) // a *dataset.FileError names the file and line
	}
	o.Dataset = spec
	return nil
}
