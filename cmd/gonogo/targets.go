package main

import (
	"net/url"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/kservegrpc"
	"github.com/gonogo-dev/gonogo/replay/targets"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// targetsFlag is the flag that replays a vegeta-style targets file.
const targetsFlag = "targets"

// registerTargets adds --targets to a command that takes load's workload
// flags.
func (f *loadFlags) registerTargets(fs *pflag.FlagSet) {
	fs.StringVar(&f.targetsFile, targetsFlag, "", "vegeta-style targets file (METHOD URL lines, headers, @body, \"# weight=N\"; or vegeta's JSON targets with \"weight\"): each request picks a target by weight, tagged target=NAME; absolute URLs make --target optional (docs/vegeta.md)")
}

// targetsOverrides makes --targets a sequential replay of the targets
// file: the arrival process is the scenario's (--rate, --arrival,
// --stages), each arrival draws the next target.
func (f *loadFlags) targetsOverrides(fs *pflag.FlagSet, t *scenarios.TrafficOverrides) error {
	if !fs.Changed(targetsFlag) {
		return nil
	}
	for _, flag := range []string{"trace", "replay", "trace-format", "columns", "preset", "time-format", "speed", "scale", "from", "to", "loop"} {
		if fs.Changed(flag) {
			return usageError("--%s: not with --targets, which replays the targets file in order at --rate", flag)
		}
	}
	format, mode := targets.Format, scenarios.ReplaySequential
	t.Trace, t.Format, t.Replay = &f.targetsFile, &format, &mode
	return nil
}

// checkTargets checks the targets files that the scenarios of file
// replay (--targets, or a traffic block of format targets) against the
// service under test, and returns the run's target: target (--target)
// when given, else the origin of the files' absolute URLs. A targets
// file is replayed in order at a rate, over HTTP; its absolute URLs must
// name --target's origin (a path goes to --target); a file of paths alone
// needs --target or --image, and absolute URLs go with no --image. Bad
// files are one line, file:line: field: message, and exit 2.
func checkTargets(file *scenarios.File, protocol, target string, image bool) (string, error) {
	for _, name := range file.Names() {
		t := file.Scenarios[name].Traffic
		if t == nil || t.Format != targets.Format {
			continue
		}
		if protocol == kservegrpc.Name {
			return "", usageError("--protocol: %s sends no HTTP request: a targets file needs http, openai or kserve", protocol)
		}
		if t.Replay != scenarios.ReplaySequential {
			return "", usageError("scenario %s: traffic.replay: a targets file is replayed in order at a rate: want sequential (got %s)", name, t.Replay)
		}
		tf, err := targets.ReadFile(t.Trace)
		if err != nil {
			return "", usageError("%v", err)
		}
		switch {
		case tf.Origin == "" && target == "" && !image:
			return "", usageError("--target: required: the URLs of %s are paths", t.Trace)
		case tf.Origin == "":
		case image:
			return "", usageError("%s:%d: url: names %s, not the --image started: give paths", t.Trace, tf.OriginLine, tf.Origin)
		case target == "":
			target = tf.Origin
		case origin(target) != tf.Origin:
			return "", usageError("%s:%d: url: origin %s differs from --target %s", t.Trace, tf.OriginLine, tf.Origin, target)
		}
	}
	return target, nil
}

// origin is scheme://host[:port] of a target URL, lower-cased as
// targets.File.Origin is; "" when it does not parse.
func origin(target string) string {
	base, err := extensions.BaseURL(target)
	if err != nil {
		return ""
	}
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}
