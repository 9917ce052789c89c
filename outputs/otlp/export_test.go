package otlp

// The official-schema decoder and its JSON walkers, for the external
// tests.
var (
	DecodeOfficial = decodeOfficial
	Path           = path
	Attrs          = attrs
)
