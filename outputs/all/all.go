// Package all registers every output of gonogo. Import it for its side
// effects:
//
//	import _ "github.com/gonogo-dev/gonogo/outputs/all"
package all

import (
	_ "github.com/gonogo-dev/gonogo/outputs/annotations" // "grafana"
	_ "github.com/gonogo-dev/gonogo/outputs/otlp"        // "otlp"
	_ "github.com/gonogo-dev/gonogo/outputs/otlptraces"  // "otlp-traces"
	_ "github.com/gonogo-dev/gonogo/outputs/remotewrite" // "remote-write"
)
