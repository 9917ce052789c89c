// Package all registers every built-in trace format with package replay:
// import it for its side effect.
//
//	import _ "github.com/gonogo-dev/gonogo/replay/all"
package all

import (
	_ "github.com/gonogo-dev/gonogo/replay/csv"        // "csv"
	_ "github.com/gonogo-dev/gonogo/replay/har"        // "har"
	_ "github.com/gonogo-dev/gonogo/replay/jsonl"      // "jsonl"
	_ "github.com/gonogo-dev/gonogo/replay/requestlog" // "requestlog"
)
