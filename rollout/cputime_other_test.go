//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package rollout

import "time"

// processCPU cannot read the process's CPU time here.
func processCPU() (time.Duration, bool) { return 0, false }
