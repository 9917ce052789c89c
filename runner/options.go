package runner

import (
	"maps"

	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// ScenarioOptions fills the options that base leaves zero from a
// scenario's request block (the caller's headers win), as a run does;
// a dry run prints what it gives.
func ScenarioOptions(base extensions.Options, spec *scenarios.RequestSpec) extensions.Options {
	o := base
	if spec == nil {
		return o
	}
	str := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	str(&o.Method, spec.Method)
	str(&o.Path, spec.Path)
	str(&o.Model, spec.Model)
	str(&o.API, spec.API)
	if o.Body == nil && spec.Body != "" {
		o.Body = []byte(spec.Body)
	}
	if o.PromptTokens == 0 {
		o.PromptTokens = spec.PromptTokens
	}
	if o.MaxTokens == 0 {
		o.MaxTokens = spec.MaxTokens
	}
	if o.Dataset == nil {
		o.Dataset = spec.Dataset
	}
	str(&o.Tokenizer, spec.Tokenizer)
	if len(spec.Headers) > 0 {
		h := maps.Clone(spec.Headers)
		maps.Copy(h, o.Headers) // the caller's headers win
		o.Headers = h
	}
	return o
}
