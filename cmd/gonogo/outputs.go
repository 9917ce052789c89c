package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/gonogo-dev/gonogo/outputs"
	_ "github.com/gonogo-dev/gonogo/outputs/all" // register every output
	"github.com/gonogo-dev/gonogo/outputs/annotations"
	"github.com/gonogo-dev/gonogo/outputs/otlp"
	"github.com/gonogo-dev/gonogo/outputs/otlptraces"
	"github.com/gonogo-dev/gonogo/outputs/remotewrite"
)

// outputFlags are the flags that send a run's live metrics and events to
// dashboards (docs/outputs.md).
type outputFlags struct {
	remoteWrite, remoteWriteToken string
	otlp, otlpToken               string
	otlpTraces, otlpTracesToken   string
	grafana, grafanaToken         string
	interval                      time.Duration
}

func (f *outputFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.remoteWrite, "out-remote-write", "", "push live metrics with Prometheus remote-write to this URL, e.g. http://127.0.0.1:9090/api/v1/write")
	fs.StringVar(&f.remoteWriteToken, "out-remote-write-token-file", "", "file holding a bearer token for --out-remote-write")
	fs.StringVar(&f.otlp, "out-otlp", "", "push live metrics as OpenTelemetry metrics over OTLP/HTTP to this URL, e.g. http://127.0.0.1:4318/v1/metrics")
	fs.StringVar(&f.otlpToken, "out-otlp-token-file", "", "file holding a bearer token for --out-otlp")
	fs.StringVar(&f.otlpTraces, "out-otlp-traces", "", "when the run ends, send the slowest requests (--samples --traceparent) as OTLP/HTTP client spans to this URL, e.g. http://127.0.0.1:4318/v1/traces")
	fs.StringVar(&f.otlpTracesToken, "out-otlp-traces-token-file", "", "file holding a bearer token for --out-otlp-traces")
	fs.DurationVar(&f.interval, "out-interval", outputs.DefaultInterval, "how often --out-remote-write and --out-otlp push")
	fs.StringVar(&f.grafana, "grafana-url", "", "post the run's events (annotations.json) to this Grafana's /api/annotations when the run ends, e.g. http://127.0.0.1:3000")
	fs.StringVar(&f.grafanaToken, "grafana-token-file", "", "file holding a Grafana service account token for --grafana-url")
}

// build checks the flags and builds the outputs they ask for; bad input
// is a usage error naming the flag. The slowest requests' spans need the
// samples and the trace ids: samples and traced say whether the run keeps
// them.
func (f *outputFlags) build(samples, traced bool) ([]outputs.Output, error) {
	if f.interval <= 0 {
		return nil, usageError("--out-interval: must be > 0 (got %s)", f.interval)
	}
	if f.otlpTraces != "" && (!samples || !traced) {
		return nil, usageError("--out-otlp-traces sends the slowest requests' spans: it needs --samples and --traceparent")
	}
	var outs []outputs.Output
	for _, o := range []struct {
		name, url, urlFlag, token, tokenFlag string
	}{
		{remotewrite.Name, f.remoteWrite, "--out-remote-write", f.remoteWriteToken, "--out-remote-write-token-file"},
		{otlp.Name, f.otlp, "--out-otlp", f.otlpToken, "--out-otlp-token-file"},
		{otlptraces.Name, f.otlpTraces, "--out-otlp-traces", f.otlpTracesToken, "--out-otlp-traces-token-file"},
		{annotations.Name, f.grafana, "--grafana-url", f.grafanaToken, "--grafana-token-file"},
	} {
		if o.url == "" {
			if o.token != "" {
				return nil, usageError("%s needs %s", o.tokenFlag, o.urlFlag)
			}
			continue
		}
		out, err := outputs.New(o.name, outputs.Config{URL: o.url, URLFlag: o.urlFlag, TokenFile: o.token, TokenFlag: o.tokenFlag})
		if err != nil {
			for _, done := range outs {
				_ = done.Close()
			}
			return nil, &exitError{code: exitUsage, err: err}
		}
		outs = append(outs, out)
	}
	return outs, nil
}
