package chaos

import "github.com/gonogo-dev/gonogo/internal/input"

// DecodeYAML decodes src into v strictly (input.DecodeYAML).
func DecodeYAML(file string, src []byte, v any) error { return input.DecodeYAML(file, src, v) }

// Checker is a fault's block that checks itself (input.Checker).
type Checker = input.Checker

// ParseBlock decodes one fault block and checks it (input.ParseBlock).
func ParseBlock(file string, src []byte, v Checker) error { return input.ParseBlock(file, src, v) }
