package container

import (
	"encoding/json"
	"fmt"
	"math"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo/chaos"
)

// Actions: what a fault does to its containers.
const (
	Kill       = "kill"        // send signal (SIGKILL); under a restart policy, as a crash would
	Stop       = "stop"        // stop, the stop signal then SIGKILL after timeout
	Start      = "start"       // start a stopped container
	Restart    = "restart"     // stop (as stop) and start again
	Pause      = "pause"       // freeze every process until Revert
	Disconnect = "disconnect"  // leave network until Revert
	Limit      = "limit"       // lower the CPU and/or memory limits until Revert
	FillMemory = "fill-memory" // a filler process holds bytes of memory
	FillDisk   = "fill-disk"   // a filler process writes a file of bytes at path
)

// actionNames lists the actions in the order error messages give them.
var actionNames = []string{Kill, Stop, Start, Restart, Pause, Disconnect, Limit, FillMemory, FillDisk}

// fields lists the fields each action takes, by YAML key (target, label
// and action aside).
var fields = map[string][]string{
	Kill:       {"signal"},
	Stop:       {"timeout"},
	Start:      nil,
	Restart:    {"timeout"},
	Pause:      nil,
	Disconnect: {"network"},
	Limit:      {"cpus", "memory"},
	FillMemory: {"bytes", "for"},
	FillDisk:   {"path", "bytes", "for"},
}

// validName matches the engine's container and network names (and IDs).
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// Bounds of a Spec's values.
const (
	// MinCPUs is the smallest CPU limit the engine accepts.
	MinCPUs = 0.01
	// MinMemoryBytes is the smallest memory limit the engine accepts.
	MinMemoryBytes = 6 << 20
	// MaxTimeout bounds stop and restart timeouts.
	MaxTimeout = time.Hour
	// MaxFillFor bounds how long a filler may hold what it took.
	MaxFillFor = 24 * time.Hour
)

// Spec is the container block of an experiment's method entry: one action
// on a container named by Target, or on every container whose labels
// match Label. Only the fields of the chosen action may be given.
type Spec struct {
	// Target is a container's name or ID.
	Target string `yaml:"target,omitempty" json:"target,omitempty"`
	// Label selects every container with this label, "key=value".
	Label string `yaml:"label,omitempty" json:"label,omitempty"`
	// Action is one of kill, stop, start, restart, pause, disconnect,
	// limit, fill-memory and fill-disk.
	Action string `yaml:"action" json:"action"`

	// Signal (kill) is the signal sent, by name (SIGKILL, TERM) or
	// number; "" is SIGKILL.
	Signal string `yaml:"signal,omitempty" json:"signal,omitempty"`
	// Timeout (stop, restart) is how long the container gets to exit after
	// its stop signal before it is killed, in whole seconds; nil is the
	// container's own stop timeout (10 s by default).
	Timeout *chaos.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// Network (disconnect) names the network, by name or ID, that the
	// container leaves; "" is the container's only network.
	Network string `yaml:"network,omitempty" json:"network,omitempty"`
	// CPUs (limit) is the CPU limit, in CPUs (0.5 is half of one); 0
	// leaves it.
	CPUs float64 `yaml:"cpus,omitempty" json:"cpus,omitempty"`
	// Memory (limit) is the memory limit ("64MiB"), swap included; 0
	// leaves it.
	Memory Bytes `yaml:"memory,omitempty" json:"memory,omitempty"`
	// Path (fill-disk) is the file the filler writes, an absolute path
	// inside the container that must not exist yet; its directory must.
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
	// Bytes (fill-memory, fill-disk) is how much the filler takes.
	Bytes Bytes `yaml:"bytes,omitempty" json:"bytes,omitempty"`
	// For (fill-memory, fill-disk) bounds how long the filler holds what
	// it took if nobody reverts the fault first; 0 is the Injector's
	// FillFor.
	For chaos.Duration `yaml:"for,omitempty" json:"for,omitempty"`
}

// Kind is "container." followed by the action: container.kill.
func (s *Spec) Kind() string { return "container." + s.Action }

// Selector names the spec's targets the way a Fault's Target does: the
// container's name, or "label=key=value".
func (s *Spec) Selector() string {
	if s.Label != "" {
		return "label=" + s.Label
	}
	return s.Target
}

// Check says which field is wrong and why; msg is "" when s is valid.
func (s *Spec) Check() (field, msg string) {
	switch {
	case s.Target == "" && s.Label == "":
		return "target", "required: a container's name or ID (or label: key=value)"
	case s.Target != "" && s.Label != "":
		return "label", "give target or label, not both"
	}
	if s.Label != "" {
		if _, _, err := ParseLabel(s.Label); err != nil {
			return "label", err.Error()
		}
	}
	if s.Target != "" && !validName.MatchString(strings.TrimPrefix(s.Target, "/")) {
		return "target", fmt.Sprintf("%q is not a container name or ID", s.Target)
	}
	own, ok := fields[s.Action]
	if !ok {
		if s.Action == "" {
			return "action", "required: one of " + strings.Join(actionNames, ", ")
		}
		return "action", fmt.Sprintf("unknown action %q (want one of %s)", s.Action, strings.Join(actionNames, ", "))
	}
	for _, f := range s.given() {
		if !contains(own, f) {
			return f, fmt.Sprintf("not a field of action %s (%s)", s.Action, takes(s.Action))
		}
	}
	switch s.Action {
	case Kill:
		if s.Signal != "" {
			if _, err := ParseSignal(s.Signal); err != nil {
				return "signal", err.Error()
			}
		}
	case Stop, Restart:
		if s.Timeout != nil {
			d := s.Timeout.D()
			switch {
			case d < 0:
				return "timeout", "must not be negative"
			case d > MaxTimeout:
				return "timeout", fmt.Sprintf("at most %v", MaxTimeout)
			case d%time.Second != 0:
				return "timeout", fmt.Sprintf("whole seconds, as the engine takes it (got %v)", d)
			}
		}
	case Disconnect:
		if s.Network != "" && !validName.MatchString(s.Network) {
			return "network", fmt.Sprintf("%q is not a network name or ID", s.Network)
		}
	case Limit:
		switch {
		case s.CPUs == 0 && s.Memory == 0:
			return "cpus", "a limit needs cpus, memory or both"
		case math.IsNaN(s.CPUs) || math.IsInf(s.CPUs, 0) || s.CPUs < 0:
			return "cpus", fmt.Sprintf("must be a positive number of CPUs (got %v)", s.CPUs)
		case s.CPUs != 0 && s.CPUs < MinCPUs:
			return "cpus", fmt.Sprintf("at least %v (got %v)", MinCPUs, s.CPUs)
		case s.CPUs > 1<<20:
			return "cpus", fmt.Sprintf("implausibly many CPUs (got %v)", s.CPUs)
		case s.Memory < 0:
			return "memory", "must not be negative"
		case s.Memory != 0 && s.Memory < MinMemoryBytes:
			return "memory", fmt.Sprintf("at least 6MiB, the engine's minimum (got %d bytes)", s.Memory)
		}
	case FillMemory, FillDisk:
		if s.Action == FillDisk {
			switch {
			case s.Path == "":
				return "path", "required: the file to write, an absolute path inside the container"
			case !path.IsAbs(s.Path) || path.Clean(s.Path) != s.Path || s.Path == "/":
				return "path", fmt.Sprintf("want a clean absolute file path (got %q)", s.Path)
			case strings.ContainsAny(s.Path, "\x00\n"):
				return "path", "must not hold NUL or newline characters"
			}
		}
		switch {
		case s.Bytes <= 0:
			return "bytes", "required: how much to take, e.g. 256MiB"
		case s.For < 0:
			return "for", "must not be negative"
		case s.For.D() > MaxFillFor:
			return "for", fmt.Sprintf("at most %v", MaxFillFor)
		}
	}
	return "", ""
}

// given returns the YAML keys of the action fields s sets.
func (s *Spec) given() []string {
	var out []string
	add := func(set bool, key string) {
		if set {
			out = append(out, key)
		}
	}
	add(s.Signal != "", "signal")
	add(s.Timeout != nil, "timeout")
	add(s.Network != "", "network")
	add(s.CPUs != 0, "cpus")
	add(s.Memory != 0, "memory")
	add(s.Path != "", "path")
	add(s.Bytes != 0, "bytes")
	add(s.For != 0, "for")
	return out
}

// takes says which fields action takes, for error messages.
func takes(action string) string {
	own := fields[action]
	if len(own) == 0 {
		return "it takes none"
	}
	return "it takes " + strings.Join(own, ", ")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ParseLabel splits a label selector "key=value" into its key and value.
func ParseLabel(sel string) (key, value string, err error) {
	key, value, ok := strings.Cut(sel, "=")
	switch {
	case !ok:
		return "", "", fmt.Errorf("want key=value (got %q)", sel)
	case strings.TrimSpace(key) == "":
		return "", "", fmt.Errorf("want key=value, the key non-empty (got %q)", sel)
	case strings.ContainsAny(sel, "\n\x00"):
		return "", "", fmt.Errorf("must not hold newline or NUL characters (got %q)", sel)
	}
	return key, value, nil
}

// signals are the Linux signals by name (without SIG), as containers
// receive them whatever the machine gonogo runs on.
var signals = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7,
	"FPE": 8, "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14,
	"TERM": 15, "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21,
	"TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28,
	"IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
}

// maxSignal is the largest Linux signal number (SIGRTMAX).
const maxSignal = 64

// Signal is a Linux signal: its number and the name the engine takes.
type Signal struct {
	Num  int
	Name string
}

// ParseSignal reads a signal by name, with or without SIG and in any case
// (SIGKILL, term), or by number (9); "" is SIGKILL.
func ParseSignal(s string) (Signal, error) {
	if s == "" {
		return Signal{Num: 9, Name: "SIGKILL"}, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > maxSignal {
			return Signal{}, fmt.Errorf("signal numbers run from 1 to %d (got %d)", maxSignal, n)
		}
		for name, num := range signals {
			if num == n && name != "IOT" && name != "POLL" {
				return Signal{Num: n, Name: "SIG" + name}, nil
			}
		}
		return Signal{Num: n, Name: strconv.Itoa(n)}, nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	n, ok := signals[name]
	if !ok {
		return Signal{}, fmt.Errorf("unknown signal %q (want a name such as SIGKILL, SIGTERM, or a number)", s)
	}
	return Signal{Num: n, Name: "SIG" + name}, nil
}

// Bytes is a size in bytes, written as a whole number of bytes or a number
// and a unit: KiB, MiB, GiB, TiB (powers of 1024, as are Docker's k, m,
// g, t) or KB, MB, GB, TB (powers of 1000). "64MiB", "1.5GiB", "512m".
type Bytes int64

// units maps a unit to its size in bytes.
var units = map[string]float64{
	"": 1, "B": 1,
	"k": 1 << 10, "K": 1 << 10, "KiB": 1 << 10, "KB": 1e3, "kB": 1e3,
	"m": 1 << 20, "M": 1 << 20, "MiB": 1 << 20, "MB": 1e6,
	"g": 1 << 30, "G": 1 << 30, "GiB": 1 << 30, "GB": 1e9,
	"t": 1 << 40, "T": 1 << 40, "TiB": 1 << 40, "TB": 1e12,
}

// maxBytes bounds a Bytes: 1 PiB is far beyond any container.
const maxBytes = 1 << 50

// ParseBytes reads a size: "67108864", "64MiB", "1.5GiB", "512m".
func ParseBytes(s string) (Bytes, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	mult, ok := units[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("not a size (want bytes or a number and unit: 64MiB, 1.5GiB, 512m): %q", s)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("not a size (want bytes or a number and unit: 64MiB, 1.5GiB, 512m): %q", s)
	}
	b := v * mult
	switch {
	case b > maxBytes:
		return 0, fmt.Errorf("size too large (at most 1 PiB): %q", s)
	case b != math.Trunc(b):
		return 0, fmt.Errorf("not a whole number of bytes: %q", s)
	}
	return Bytes(b), nil
}

// UnmarshalText reads a size written as ParseBytes reads it.
func (b *Bytes) UnmarshalText(text []byte) error {
	v, err := ParseBytes(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// UnmarshalJSON reads a number of bytes or a string ParseBytes reads.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		return b.UnmarshalText([]byte(s))
	}
	if string(data) == "null" {
		return nil
	}
	return b.UnmarshalText(data)
}

// String writes b with the largest binary unit that divides it, "64MiB",
// or in bytes, "1000B".
func (b Bytes) String() string {
	for _, u := range []struct {
		name string
		size Bytes
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// ParseSpec decodes a container block from YAML, strictly (an unknown
// field is an error), and checks it. Bad input is a *chaos.InputError
// naming the line and the field.
func ParseSpec(src []byte) (*Spec, error) {
	s := &Spec{}
	if err := chaos.ParseBlock("", src, s); err != nil {
		return nil, err
	}
	return s, nil
}
