package main

import (
	"strings"

	"github.com/spf13/pflag"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/reports"
)

// figureFlags choose the figures a run's summary reports: the percentiles
// of its tables (--percentiles) and the SLOs whose goodput it counts
// (--slo), without a gates file.
type figureFlags struct {
	percentiles string
	slos        []string
}

func (f *figureFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.percentiles, "percentiles", "", "percentiles the text summary and HTML report show, e.g. 50,90,99,99.9 (default 50,90,99 and max)")
	f.registerSLO(fs)
}

// registerSLO registers --slo alone, for commands that print no summary
// table of their own.
func (f *figureFlags) registerSLO(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.slos, "slo", nil, "count goodput against this SLO METRIC=DURATION,... e.g. ttft=300ms,tpot=50ms (repeatable; metrics: "+strings.Join(analyze.GoodputMetrics, ", ")+")")
}

// parse checks the flags: nil percentiles means the default set.
func (f *figureFlags) parse() (pcts []float64, slos []analyze.SLO, err error) {
	if f.percentiles != "" {
		if pcts, err = reports.ParsePercentiles(f.percentiles); err != nil {
			return nil, nil, usageError("--percentiles %q: %v", f.percentiles, err)
		}
	}
	for _, s := range f.slos {
		slo, err := analyze.ParseSLO(s)
		if err != nil {
			return nil, nil, usageError("--slo %q: %v", s, err)
		}
		slos = append(slos, slo)
	}
	if len(slos) > analyze.MaxSLOs {
		return nil, nil, usageError("--slo: %d SLOs, at most %d", len(slos), analyze.MaxSLOs)
	}
	return pcts, slos, nil
}
