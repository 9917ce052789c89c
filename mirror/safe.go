package mirror

import (
	"path"
	"slices"
	"strings"

	"github.com/gonogo-dev/gonogo"
)

// InferencePaths are the request paths (path.Match patterns, matched
// against the path without its query) that a Fanout mirrors whatever their
// method: the OpenAI completions, chat and embeddings endpoints, the KServe
// v2 (Open Inference Protocol) infer endpoint, and the KServe v1 / TF
// Serving predict endpoint. Inference requests are POSTs that change
// nothing; any other POST, PUT, PATCH or DELETE may (place an order, delete
// a user), so it is not mirrored unless Options.AllowUnsafe.
var InferencePaths = []string{
	"/v1/completions",
	"/v1/chat/completions",
	"/v1/embeddings",
	"/v2/models/*/infer",
	"/v2/models/*/versions/*/infer",
	"/v1/models/*:predict",
}

// UnsafeMethods are the methods that a Fanout mirrors only to
// InferencePaths unless Options.AllowUnsafe.
var UnsafeMethods = []string{"POST", "PUT", "PATCH", "DELETE"}

// SafeToMirror reports whether a recorded request may be sent to mirrors
// without AllowUnsafe: its method is not one of UnsafeMethods, or its path
// is one of InferencePaths. A request with no recording (nil) is the
// client's configured request and is mirrored.
func SafeToMirror(rec *gonogo.Recorded) bool {
	if rec == nil || !slices.Contains(UnsafeMethods, strings.ToUpper(rec.Method)) {
		return true
	}
	p, _, _ := strings.Cut(rec.Path, "?")
	for _, pat := range InferencePaths {
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
	}
	return false
}
