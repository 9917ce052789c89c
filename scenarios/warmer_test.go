package scenarios_test

import (
	httpproto "github.com/gonogo-dev/gonogo/extensions/http"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// The plain-HTTP client warms its connections (the check lives here since
// extensions do not import scenarios).
var _ scenarios.Warmer = (*httpproto.Client)(nil)
