// Package all registers every protocol client of gonogo. Import it for its
// side effects:
//
//	import _ "github.com/gonogo-dev/gonogo/extensions/all"
package all

import (
	_ "github.com/gonogo-dev/gonogo/extensions/http"       // "http"
	_ "github.com/gonogo-dev/gonogo/extensions/kserve"     // "kserve"
	_ "github.com/gonogo-dev/gonogo/extensions/kservegrpc" // "kserve-grpc"
	_ "github.com/gonogo-dev/gonogo/extensions/openai"     // "openai"
)
