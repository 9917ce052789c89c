package scenarios

import (
	"path/filepath"
	"slices"

	"github.com/gonogo-dev/gonogo/extensions/tokenize"
)

// checkPrompts checks a request's dataset block and tokenizer (the
// dataset's defaults filled); it returns the field under the request and
// the problem. The dataset's file is read when the run builds its
// clients, which reports its errors with their lines.
func (r *RequestSpec) checkPrompts() (field, msg string) {
	if r.Dataset != nil {
		if f, m := r.Dataset.Validate(); m != "" {
			return "dataset." + f, m
		}
	}
	if r.Tokenizer != "" {
		if _, err := tokenize.Load(r.Tokenizer); err != nil {
			return "tokenizer", err.Error()
		}
	}
	return "", ""
}

// resolvePromptPaths makes the request blocks' dataset files and
// tokenizer files relative to dir (the scenario file's folder) when they
// are relative.
func (f *File) resolvePromptPaths(dir string) {
	specs := []*RequestSpec{f.Request}
	for _, s := range f.Scenarios {
		if s != nil && !slices.Contains(specs, s.Request) {
			specs = append(specs, s.Request)
		}
	}
	for _, r := range specs {
		if r == nil {
			continue
		}
		if d := r.Dataset; d != nil && d.File != "" && !filepath.IsAbs(d.File) {
			d.File = filepath.Join(dir, d.File)
		}
		if t := r.Tokenizer; t != "" && !slices.Contains(tokenize.Builtins, t) && !filepath.IsAbs(t) {
			r.Tokenizer = filepath.Join(dir, t)
		}
	}
}
