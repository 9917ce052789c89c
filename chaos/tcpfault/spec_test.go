package tcpfault

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/internal/yamlpos"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		kind      string // of a good block
		field     string // of a bad block
		line      int    // of a bad block, 0 when unknown
		msg       string // part of the message of a bad block
	}{
		{name: "latency", src: "proxy: api\ntoxic: latency\nlatency: 200ms\njitter: 20ms\n", kind: "tcp.latency"},
		{name: "latency upstream", src: "proxy: api\ntoxic: latency\nstream: upstream\ntoxicity: 0.25\nlatency: 1s\n", kind: "tcp.latency"},
		{name: "bandwidth", src: "proxy: api\ntoxic: bandwidth\nrate: 100\n", kind: "tcp.bandwidth"},
		{name: "slow_close", src: "proxy: api\ntoxic: slow_close\ndelay: 500ms\n", kind: "tcp.slow_close"},
		{name: "timeout forever", src: "proxy: api\ntoxic: timeout\n", kind: "tcp.timeout"},
		{name: "timeout 0", src: "proxy: api\ntoxic: timeout\ntimeout: 0\n", kind: "tcp.timeout"},
		{name: "reset_peer", src: "proxy: api\ntoxic: reset_peer\ntimeout: 100ms\n", kind: "tcp.reset_peer"},
		{name: "slicer", src: "proxy: api\ntoxic: slicer\naverageSize: 64\nsizeVariation: 16\ndelay: 250us\n", kind: "tcp.slicer"},
		{name: "limit_data", src: "proxy: api\ntoxic: limit_data\nbytes: 4096\n", kind: "tcp.limit_data"},
		{name: "limit_data 0", src: "proxy: api\ntoxic: limit_data\nbytes: 0\n", kind: "tcp.limit_data"},
		{name: "down", src: "proxy: api\ntoxic: down\n", kind: "tcp.down"},
		{name: "toxicity 0", src: "proxy: api\ntoxic: bandwidth\nrate: 1\ntoxicity: 0\n", kind: "tcp.bandwidth"},

		{name: "empty", src: "  \n", msg: "empty"},
		{name: "not a mapping", src: "[latency]\n", line: 1},
		{name: "unknown field", src: "proxy: api\ntoxic: latency\nlatency: 1s\nlatnecy: 2s\n", field: "latnecy", line: 4, msg: "unknown field"},
		{name: "no proxy", src: "toxic: latency\nlatency: 1s\n", field: "proxy", msg: "required"},
		{name: "no toxic", src: "proxy: api\n", field: "toxic", msg: "required"},
		{name: "unknown toxic", src: "proxy: api\ntoxic: jitter\n", field: "toxic", line: 2, msg: `unknown toxic "jitter"`},
		{name: "attribute of another toxic", src: "proxy: api\ntoxic: bandwidth\nrate: 10\njitter: 5ms\n", field: "jitter", line: 4, msg: "not an attribute of toxic bandwidth"},
		{name: "timeout on latency", src: "proxy: api\ntoxic: latency\nlatency: 5ms\ntimeout: 1s\n", field: "timeout", line: 4, msg: "not an attribute of toxic latency"},
		{name: "attribute on down", src: "proxy: api\ntoxic: down\nbytes: 10\n", field: "bytes", line: 3, msg: "takes none"},
		{name: "stream on down", src: "proxy: api\ntoxic: down\nstream: upstream\n", field: "stream", line: 3},
		{name: "toxicity on down", src: "proxy: api\ntoxic: down\ntoxicity: 0.5\n", field: "toxicity", line: 3},
		{name: "negative rate", src: "proxy: api\ntoxic: bandwidth\nrate: -10\n", field: "rate", line: 3, msg: "> 0"},
		{name: "zero rate", src: "proxy: api\ntoxic: bandwidth\nrate: 0\n", field: "rate", line: 3},
		{name: "fractional rate", src: "proxy: api\ntoxic: bandwidth\nrate: 2.5\n", field: "rate", line: 3, msg: "whole number"},
		{name: "rate not a number", src: "proxy: api\ntoxic: bandwidth\nrate: fast\n", field: "rate", line: 3, msg: "want a whole number (got fast)"},
		{name: "no rate", src: "proxy: api\ntoxic: bandwidth\n", field: "rate", msg: "required"},
		{name: "toxicity over 1", src: "proxy: api\ntoxic: latency\nlatency: 1s\ntoxicity: 1.5\n", field: "toxicity", line: 4, msg: "between 0 and 1"},
		{name: "negative toxicity", src: "proxy: api\ntoxic: latency\nlatency: 1s\ntoxicity: -0.1\n", field: "toxicity", line: 4},
		{name: "toxicity nan", src: "proxy: api\ntoxic: latency\nlatency: 1s\ntoxicity: .nan\n", field: "toxicity", line: 4},
		{name: "bad stream", src: "proxy: api\ntoxic: latency\nlatency: 1s\nstream: both\n", field: "stream", line: 4, msg: "upstream or downstream"},
		{name: "no latency", src: "proxy: api\ntoxic: latency\njitter: 1ms\n", field: "latency", msg: "required"},
		{name: "latency not a duration", src: "proxy: api\ntoxic: latency\nlatency: 200\n", field: "latency", line: 3, msg: "not a duration"},
		{name: "sub-millisecond latency", src: "proxy: api\ntoxic: latency\nlatency: 1500us\n", field: "latency", line: 3, msg: "whole number of milliseconds"},
		{name: "jitter over latency", src: "proxy: api\ntoxic: latency\nlatency: 10ms\njitter: 20ms\n", field: "jitter", line: 4},
		{name: "negative timeout", src: "proxy: api\ntoxic: timeout\ntimeout: -1s\n", field: "timeout", line: 3, msg: "between 0 and"},
		{name: "huge delay", src: "proxy: api\ntoxic: slow_close\ndelay: 25h\n", field: "delay", line: 3},
		{name: "no slow_close delay", src: "proxy: api\ntoxic: slow_close\n", field: "delay", msg: "required"},
		{name: "no averageSize", src: "proxy: api\ntoxic: slicer\nsizeVariation: 3\n", field: "averageSize", msg: "required"},
		{name: "sizeVariation too big", src: "proxy: api\ntoxic: slicer\naverageSize: 10\nsizeVariation: 10\n", field: "sizeVariation", line: 4},
		{name: "sub-microsecond slicer delay", src: "proxy: api\ntoxic: slicer\naverageSize: 10\ndelay: 1500ns\n", field: "delay", line: 4, msg: "microseconds"},
		{name: "negative bytes", src: "proxy: api\ntoxic: limit_data\nbytes: -1\n", field: "bytes", line: 3},
		{name: "no bytes", src: "proxy: api\ntoxic: limit_data\n", field: "bytes", msg: "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSpec([]byte(tc.src))
			if tc.kind != "" {
				if err != nil {
					t.Fatalf("ParseSpec: %v", err)
				}
				if s.Kind() != tc.kind {
					t.Errorf("Kind() = %q, want %q", s.Kind(), tc.kind)
				}
				return
			}
			var ie *chaos.InputError
			if !errors.As(err, &ie) || !errors.Is(err, chaos.ErrInput) {
				t.Fatalf("ParseSpec = %+v, %v; want an InputError", s, err)
			}
			if ie.Field != tc.field {
				t.Errorf("field %q, want %q (%v)", ie.Field, tc.field, err)
			}
			if tc.line != 0 && ie.Line != tc.line {
				t.Errorf("line %d, want %d (%v)", ie.Line, tc.line, err)
			}
			if !strings.Contains(ie.Msg, tc.msg) {
				t.Errorf("message %q, want it to say %q", ie.Msg, tc.msg)
			}
		})
	}
}

func TestSpecDefaults(t *testing.T) {
	s, err := ParseSpec([]byte("proxy: api\ntoxic: latency\nlatency: 5ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Direction() != Downstream || s.ToxicityOrDefault() != 1 {
		t.Errorf("Direction, Toxicity = %s, %v; want downstream, 1", s.Direction(), s.ToxicityOrDefault())
	}
	if s.Latency.D() != 5*time.Millisecond {
		t.Errorf("latency %v, want 5ms", s.Latency.D())
	}
}

// TestSpecJSON checks that a Spec survives the ledger and the journal,
// which write it as JSON, with the same keys as in YAML.
func TestSpecJSON(t *testing.T) {
	for _, src := range []string{
		"proxy: api\ntoxic: latency\nstream: upstream\ntoxicity: 0.5\nlatency: 200ms\njitter: 20ms\n",
		"proxy: api\ntoxic: slicer\naverageSize: 64\nsizeVariation: 16\ndelay: 250us\n",
		"proxy: api\ntoxic: down\n",
	} {
		s, err := ParseSpec([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Spec
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(&back, s) {
			t.Errorf("JSON round trip: %s gives %+v, want %+v", b, back, *s)
		}
		// The JSON, read as YAML (a superset), is the same block.
		again, err := ParseSpec(b)
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Errorf("JSON %s read as a tcp block: %+v, %v", b, again, err)
		}
	}
}

func FuzzSpec(f *testing.F) {
	for _, seed := range []string{
		"proxy: api\ntoxic: latency\nlatency: 200ms\njitter: 20ms\n",
		"proxy: api\ntoxic: slicer\naverageSize: 64\nsizeVariation: 16\ndelay: 250us\n",
		"proxy: api\ntoxic: bandwidth\nrate: -1\ntoxicity: 2\n",
		"proxy: api\ntoxic: down\nstream: upstream\n",
		"toxic: timeout\ntimeout: 0\n",
		"rate: !!str\n",
		"{proxy: [a], toxic: {b: c}}",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		var s Spec
		if err := yamlpos.Decode(src, &s); err != nil {
			return
		}
		field, msg := s.Check()
		if msg == "" && field != "" {
			t.Fatalf("Check named field %q without a message", field)
		}
		if msg != "" {
			return
		}
		// A valid Spec other than down makes a toxic.
		if s.Toxic != Down {
			_, _, key, err := toxicJSON("fuzz", &s)
			if err != nil {
				t.Fatalf("valid spec %+v: %v", s, err)
			}
			if key != "" {
				unbind(key)
			}
		}
		if _, err := ParseSpec(src); err != nil && !strings.Contains(err.Error(), "whole number") {
			t.Fatalf("Check accepts %q but ParseSpec says %v", src, err)
		}
	})
}
