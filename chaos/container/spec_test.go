package container

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/chaos"
)

func dur(d time.Duration) *chaos.Duration { c := chaos.Duration(d); return &c }

func TestParseSpec(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want *Spec
		kind string
	}{
		{"kill default signal", "target: model\naction: kill\n", &Spec{Target: "model", Action: Kill}, "container.kill"},
		{"kill by label with signal", "label: app=model\naction: kill\nsignal: SIGTERM\n",
			&Spec{Label: "app=model", Action: Kill, Signal: "SIGTERM"}, "container.kill"},
		{"stop with timeout", "target: model\naction: stop\ntimeout: 3s\n", &Spec{Target: "model", Action: Stop, Timeout: dur(3 * time.Second)}, "container.stop"},
		{"stop timeout zero", "target: model\naction: stop\ntimeout: 0\n", &Spec{Target: "model", Action: Stop, Timeout: dur(0)}, "container.stop"},
		{"start", "target: /model\naction: start\n", &Spec{Target: "/model", Action: Start}, "container.start"},
		{"restart", "target: 0123456789ab\naction: restart\n", &Spec{Target: "0123456789ab", Action: Restart}, "container.restart"},
		{"pause", "target: model\naction: pause\n", &Spec{Target: "model", Action: Pause}, "container.pause"},
		{"disconnect", "target: model\naction: disconnect\nnetwork: backend\n", &Spec{Target: "model", Action: Disconnect, Network: "backend"}, "container.disconnect"},
		{"disconnect only network", "target: model\naction: disconnect\n", &Spec{Target: "model", Action: Disconnect}, "container.disconnect"},
		{"limit both", "target: model\naction: limit\ncpus: 0.5\nmemory: 64MiB\n", &Spec{Target: "model", Action: Limit, CPUs: 0.5, Memory: 64 << 20}, "container.limit"},
		{"limit memory in bytes", "target: model\naction: limit\nmemory: 67108864\n", &Spec{Target: "model", Action: Limit, Memory: 64 << 20}, "container.limit"},
		{"limit docker shorthand", "target: model\naction: limit\nmemory: 512m\n", &Spec{Target: "model", Action: Limit, Memory: 512 << 20}, "container.limit"},
		{"fill memory", "target: model\naction: fill-memory\nbytes: 1.5GiB\nfor: 30s\n",
			&Spec{Target: "model", Action: FillMemory, Bytes: 3 << 29, For: chaos.Duration(30 * time.Second)}, "container.fill-memory"},
		{"fill disk", "target: model\naction: fill-disk\npath: /data/fill.bin\nbytes: 1GB\n",
			&Spec{Target: "model", Action: FillDisk, Path: "/data/fill.bin", Bytes: 1e9}, "container.fill-disk"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseSpec([]byte(c.src))
			if err != nil {
				t.Fatalf("ParseSpec: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
			if got.Kind() != c.kind {
				t.Errorf("Kind() = %q, want %q", got.Kind(), c.kind)
			}
		})
	}
}

func TestParseSpecErrors(t *testing.T) {
	cases := []struct {
		name      string
		src       string
		field     string
		line      int
		msgSubstr string
	}{
		{"empty", "", "", 0, "empty"},
		{"no target", "action: kill\n", "target", 0, "required"},
		{"both target and label", "target: a\nlabel: app=x\naction: kill\n", "label", 2, "not both"},
		{"bad label", "label: app\naction: kill\n", "label", 1, "key=value"},
		{"empty label key", "label: =x\naction: kill\n", "label", 1, "key non-empty"},
		{"bad target", "target: a b\naction: kill\n", "target", 1, "not a container name"},
		{"no action", "target: a\n", "action", 0, "required"},
		{"unknown action", "target: a\naction: explode\n", "action", 2, "unknown action"},
		{"unknown field", "target: a\naction: kill\nsignall: TERM\n", "signall", 3, "unknown field"},
		{"other action's field", "target: a\naction: pause\nsignal: TERM\n", "signal", 3, "not a field of action pause"},
		{"stop with cpus", "target: a\naction: stop\ncpus: 1\n", "cpus", 3, "not a field of action stop"},
		{"kill with network", "target: a\naction: kill\nnetwork: n\n", "network", 3, "it takes signal"},
		{"fill with memory", "target: a\naction: fill-memory\nbytes: 1MiB\nmemory: 1MiB\n", "memory", 4, "not a field"},
		{"bad signal", "target: a\naction: kill\nsignal: SIGFOO\n", "signal", 3, "unknown signal"},
		{"signal out of range", "target: a\naction: kill\nsignal: 99\n", "signal", 3, "1 to 64"},
		{"timeout fraction", "target: a\naction: stop\ntimeout: 1500ms\n", "timeout", 3, "whole seconds"},
		{"timeout negative", "target: a\naction: restart\ntimeout: -1s\n", "timeout", 3, "negative"},
		{"timeout not a duration", "target: a\naction: restart\ntimeout: soon\n", "timeout", 3, "not a duration"},
		{"limit nothing", "target: a\naction: limit\n", "cpus", 0, "needs cpus, memory or both"},
		{"limit tiny cpus", "target: a\naction: limit\ncpus: 0.001\n", "cpus", 3, "at least 0.01"},
		{"limit negative cpus", "target: a\naction: limit\ncpus: -1\n", "cpus", 3, "positive"},
		{"limit tiny memory", "target: a\naction: limit\nmemory: 1MiB\n", "memory", 3, "6MiB"},
		{"limit bad memory", "target: a\naction: limit\nmemory: lots\n", "memory", 3, "not a size"},
		{"limit fractional bytes", "target: a\naction: limit\nmemory: 1.5\n", "memory", 3, "whole number of bytes"},
		{"fill no bytes", "target: a\naction: fill-memory\n", "bytes", 0, "required"},
		{"fill disk no path", "target: a\naction: fill-disk\nbytes: 1MiB\n", "path", 0, "required"},
		{"fill disk relative path", "target: a\naction: fill-disk\nbytes: 1MiB\npath: data/x\n", "path", 4, "absolute"},
		{"fill disk root", "target: a\naction: fill-disk\nbytes: 1MiB\npath: /\n", "path", 4, "absolute"},
		{"fill for too long", "target: a\naction: fill-memory\nbytes: 1MiB\nfor: 48h\n", "for", 4, "at most"},
		{"bad network", "target: a\naction: disconnect\nnetwork: a/b\n", "network", 3, "not a network name"},
		{"not a mapping", "- a\n- b\n", "", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(c.src))
			var ie *chaos.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v (%T), want a *chaos.InputError", err, err)
			}
			if !errors.Is(err, chaos.ErrInput) {
				t.Errorf("err does not match chaos.ErrInput")
			}
			if ie.Field != c.field {
				t.Errorf("field = %q, want %q (%v)", ie.Field, c.field, err)
			}
			if c.line != 0 && ie.Line != c.line {
				t.Errorf("line = %d, want %d (%v)", ie.Line, c.line, err)
			}
			if !strings.Contains(ie.Msg, c.msgSubstr) {
				t.Errorf("msg = %q, want it to contain %q", ie.Msg, c.msgSubstr)
			}
		})
	}
}

func TestSpecJSON(t *testing.T) {
	in := `{"label":"app=model","action":"limit","cpus":0.25,"memory":"128MiB"}`
	var s Spec
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if s.Memory != 128<<20 || s.CPUs != 0.25 || s.Selector() != "label=app=model" {
		t.Fatalf("decoded %+v, selector %q", s, s.Selector())
	}
	b, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	var back Spec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("re-decoding %s: %v", b, err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("round trip through %s: got %+v, want %+v", b, back, s)
	}
}

func TestParseBytes(t *testing.T) {
	cases := []struct {
		in   string
		want Bytes
		ok   bool
	}{
		{"0", 0, true},
		{"1024", 1024, true},
		{"64MiB", 64 << 20, true},
		{"64 MiB", 64 << 20, true},
		{"1.5GiB", 3 << 29, true},
		{"512m", 512 << 20, true},
		{"2g", 2 << 30, true},
		{"1KB", 1000, true},
		{"1kB", 1000, true},
		{"1KiB", 1024, true},
		{"3TB", 3e12, true},
		{"100B", 100, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"1.5", 0, false},
		{"1.0000001KiB", 0, false},
		{"-1", 0, false},
		{"1 PiB", 0, false},
		{"2000TiB", 0, false},
		{"1..2", 0, false},
		{"12 parsecs", 0, false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseBytes(c.in)
			if (err == nil) != c.ok {
				t.Fatalf("ParseBytes(%q) = %d, %v; want ok=%v", c.in, got, err, c.ok)
			}
			if c.ok && got != c.want {
				t.Errorf("ParseBytes(%q) = %d, want %d", c.in, got, c.want)
			}
		})
	}
}

func TestParseSignal(t *testing.T) {
	cases := []struct {
		in   string
		num  int
		name string
		ok   bool
	}{
		{"", 9, "SIGKILL", true},
		{"SIGKILL", 9, "SIGKILL", true},
		{"kill", 9, "SIGKILL", true},
		{"sigterm", 15, "SIGTERM", true},
		{"TERM", 15, "SIGTERM", true},
		{"15", 15, "SIGTERM", true},
		{"6", 6, "SIGABRT", true},
		{"40", 40, "40", true},
		{"0", 0, "", false},
		{"65", 0, "", false},
		{"SIGFOO", 0, "", false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseSignal(c.in)
			if (err == nil) != c.ok {
				t.Fatalf("ParseSignal(%q) = %+v, %v; want ok=%v", c.in, got, err, c.ok)
			}
			if c.ok && (got.Num != c.num || got.Name != c.name) {
				t.Errorf("ParseSignal(%q) = %+v, want %d %s", c.in, got, c.num, c.name)
			}
		})
	}
}

// FuzzParseSpec checks that any YAML either decodes to a spec that passes
// Check and survives a JSON round trip, or fails with one InputError.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"target: model\naction: kill\nsignal: TERM\n",
		"label: app=model\naction: pause\n",
		"target: m\naction: limit\ncpus: 0.5\nmemory: 64MiB\n",
		"target: m\naction: fill-disk\npath: /x\nbytes: 1MiB\nfor: 1s\n",
		"target: m\naction: stop\ntimeout: 2s\n",
		"target: m\naction: disconnect\nnetwork: n\n",
		"action: [kill]\n",
		"target: !!binary AAAA\n",
		"{",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := ParseSpec(src)
		if err != nil {
			var ie *chaos.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is a %T, want *chaos.InputError", err, err)
			}
			return
		}
		if field, msg := s.Check(); msg != "" {
			t.Fatalf("ParseSpec accepted a spec Check refuses: %s: %s", field, msg)
		}
		if !strings.HasPrefix(s.Kind(), "container.") || s.Selector() == "" {
			t.Fatalf("kind %q, selector %q", s.Kind(), s.Selector())
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Spec
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("JSON %s does not decode: %v", b, err)
		}
		if !reflect.DeepEqual(&back, s) {
			t.Fatalf("JSON round trip: got %+v, want %+v", back, *s)
		}
	})
}

// FuzzParseBytes checks that a size that parses writes back (String) to
// text that parses to the same size.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"0", "64MiB", "1.5GiB", "512m", "1KB", "7", "1e3", ".5k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBytes(s)
		if err != nil {
			return
		}
		if b < 0 || b > maxBytes {
			t.Fatalf("ParseBytes(%q) = %d, out of range", s, b)
		}
		back, err := ParseBytes(b.String())
		if err != nil || back != b {
			t.Fatalf("ParseBytes(%q) = %d, written %q, read back %d, %v", s, b, b.String(), back, err)
		}
	})
}

// FuzzParseSignal checks that a signal that parses has a number in range
// and a name that parses to the same number.
func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"", "KILL", "sigterm", "9", "64", "SIG", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSignal(s)
		if err != nil {
			return
		}
		if sig.Num < 1 || sig.Num > maxSignal {
			t.Fatalf("ParseSignal(%q) = %+v", s, sig)
		}
		back, err := ParseSignal(sig.Name)
		if err != nil || back.Num != sig.Num {
			t.Fatalf("ParseSignal(%q) = %+v, its name reads %+v, %v", s, sig, back, err)
		}
	})
}
