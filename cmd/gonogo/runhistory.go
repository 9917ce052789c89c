package main

import (
	"strings"

	"github.com/spf13/pflag"

	"github.com/gonogo-dev/gonogo/reports/history"
)

// defaultHistory is where runs and verdicts are recorded unless --history
// says otherwise: history.DefaultPath, as the environment had it when
// gonogo started.
var defaultHistory = history.DefaultPath()

// recordFlags say how a load or shadow run is labelled and recorded.
type recordFlags struct {
	labels  []string
	history string
}

func (f *recordFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.labels, "label", nil, "label KEY=VALUE of what is tested, e.g. version=v2 or commit=abc123 (repeatable); the run history keys runs by them")
	fs.StringVar(&f.history, "history", defaultHistory, `run history database to record the run in ("" to not record)`)
}

// parseLabels parses KEY=VALUE flags (--label, --baseline-label) into a
// map; nil for none.
func parseLabels(flag string, list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(list))
	for _, l := range list {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, usageError("%s %q: want KEY=VALUE", flag, l)
		}
		m[k] = v
	}
	return m, nil
}
