// Package analyze turns the results of a run into numbers: a Recorder (a
// gonogo.Sink) keeps HDR histograms per metric for the whole run, per
// scenario and per tag, writes interval histograms to an HdrHistogram
// interval log on disk, and produces a Summary; thresholds in k6 syntax
// (p(99)<500, rate<0.01) are parsed and evaluated against a Summary after the
// run, or against the live Recorder during it (abortOnFail). Divergence
// gates judge the report of package divergence, which measures how a
// shadow run's candidates' outputs and latencies differ from the
// primary's, with the primary-vs-secondary noise corrected.
//
// Units: time metrics are recorded in whole microseconds and reported in
// milliseconds; output_tokens in tokens. Memory stays flat however long the
// run: cumulative histograms are bounded in number (overall, one per
// scenario, at most MaxTagGroups tag groups), and interval histograms leave
// RAM at every Flush.
package analyze
