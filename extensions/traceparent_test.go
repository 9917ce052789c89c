package extensions

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo"
)

func TestParseTraceparent(t *testing.T) {
	tests := []struct {
		name, v     string
		wantErr     bool
		wantSampled bool
	}{
		{"W3C example sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false, true},
		{"not sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", false, false},
		{"later version with more fields", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what", false, true},
		{"version 00 with more", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", true, false},
		{"version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true, false},
		{"upper case", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", true, false},
		{"zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", true, false},
		{"zero span id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", true, false},
		{"short", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", true, false},
		{"bad separator", "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true, false},
		{"empty", "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, sampled, err := ParseTraceparent(tt.v)
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrBadTraceparent)) {
				t.Fatalf("ParseTraceparent(%q) error %v, want error %v", tt.v, err, tt.wantErr)
			}
			if err == nil && sampled != tt.wantSampled {
				t.Errorf("sampled %v, want %v", sampled, tt.wantSampled)
			}
		})
	}
}

// What a Tracer draws formats as a traceparent that parses back to it;
// ids are unique; a seed repeats the sequence and another seed does not.
func TestTracerRoundTrip(t *testing.T) {
	draw := func(seed int64, n int) []gonogo.Result {
		tr, err := NewTracer(0.5, seed)
		if err != nil {
			t.Fatal(err)
		}
		rs := make([]gonogo.Result, n)
		for i := range rs {
			tr.Next(&rs[i])
		}
		return rs
	}
	const n = 2000
	a, b, c, r := draw(7, n), draw(7, n), draw(8, n), draw(0, n)
	ids := map[[16]byte]bool{}
	sampled := 0
	for i := range a {
		v := string(AppendTraceparent(nil, &a[i]))
		if len(v) != TraceparentLen {
			t.Fatalf("%q: length %d, want %d", v, len(v), TraceparentLen)
		}
		id, span, s, err := ParseTraceparent(v)
		if err != nil || id != a[i].TraceID || span != a[i].SpanID || s != a[i].TraceSampled {
			t.Fatalf("%q parsed to %x %x %v %v", v, id, span, s, err)
		}
		if ids[id] {
			t.Fatalf("trace id %x drawn twice", id)
		}
		ids[id] = true
		if a[i].TraceSampled {
			sampled++
		}
		if a[i].TraceID != b[i].TraceID || a[i].TraceSampled != b[i].TraceSampled {
			t.Fatalf("seed 7 drew %x then %x at %d", a[i].TraceID, b[i].TraceID, i)
		}
		if a[i].TraceID == c[i].TraceID || a[i].TraceID == r[i].TraceID {
			t.Fatalf("seed 7, seed 8 and crypto drew the same id %x at %d", a[i].TraceID, i)
		}
	}
	if sampled < n/2-150 || sampled > n/2+150 { // ±6.7 standard deviations
		t.Errorf("%d of %d sampled at 0.5", sampled, n)
	}
}

func TestNewTracerBadSample(t *testing.T) {
	for _, f := range []float64{-0.01, 1.01} {
		if _, err := NewTracer(f, 1); !errors.Is(err, ErrBadOptions) {
			t.Errorf("NewTracer(%v): %v, want ErrBadOptions", f, err)
		}
	}
}

// WithTraceparent replaces a traceparent (and its tracestate) without
// touching the template's header.
func TestWithTraceparent(t *testing.T) {
	tmpl := &http.Request{Header: http.Header{"Traceparent": {"old"}, "Tracestate": {"x=1"}, "A": {"b"}}}
	var res gonogo.Result
	tr, _ := NewTracer(1, 3)
	tr.Next(&res)
	r := WithTraceparent(tmpl, &res)
	if got, want := r.Header.Get("Traceparent"), string(AppendTraceparent(nil, &res)); got != want || !strings.HasSuffix(got, "-01") {
		t.Errorf("traceparent %q, want %q", got, want)
	}
	if r.Header.Get("Tracestate") != "" || r.Header.Get("A") != "b" || tmpl.Header.Get("Traceparent") != "old" {
		t.Errorf("header %v, template %v", r.Header, tmpl.Header)
	}
}

func FuzzParseTraceparent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what")
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		id, span, sampled, err := ParseTraceparent(v)
		if err != nil {
			return
		}
		// A valid value formats back to its own first 55 bytes, with the
		// flags reduced to the sampled bit.
		res := gonogo.Result{TraceID: id, SpanID: span, TraceSampled: sampled}
		got := string(AppendTraceparent(nil, &res))
		if got[3:52] != v[3:52] {
			t.Errorf("%q formats back as %q", v, got)
		}
	})
}
