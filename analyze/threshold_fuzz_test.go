package analyze

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzParseSelector checks that ParseSelector never panics, that its errors
// wrap ErrThreshold, that what it accepts names a metric thresholds know,
// and that the selector's canonical form (metric{key:value}) parses to the
// same selector.
func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{
		"latency", " ttft ", "http_req_duration", "errors{scenario:warmup}", "latency{model:llama}",
		"latency{ model : llama 3 }", "tpot{a:b:c}", "latency{", "latency{}", "latency{a}", "latency{:b}",
		"latency{a:b,c:d}", "latency{a:b}}", "nope{a:b}", "{a:b}", "tokens_per_sec{version:v2}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		sel, err := ParseSelector(raw)
		if err != nil {
			if !errors.Is(err, ErrThreshold) {
				t.Fatalf("error %v does not wrap ErrThreshold", err)
			}
			return
		}
		if sel.Raw != raw || allowedAggs(sel.Metric) == nil {
			t.Fatalf("accepted %q as %+v", raw, sel)
		}
		if sel.Scenario != "" && sel.TagKey != "" {
			t.Fatalf("%q names both a scenario and a tag: %+v", raw, sel)
		}
		if (sel.TagKey == "") != (sel.TagValue == "") || sel.TagKey == "scenario" {
			t.Fatalf("%q: bad tag filter %+v", raw, sel)
		}
		canon := sel.Metric
		switch {
		case sel.Scenario != "":
			canon += "{scenario:" + sel.Scenario + "}"
		case sel.TagKey != "":
			canon += "{" + sel.TagKey + ":" + sel.TagValue + "}"
		}
		back, err := ParseSelector(canon)
		if err != nil {
			t.Fatalf("canonical %q of %q: %v", canon, raw, err)
		}
		back.Raw = sel.Raw
		if back != sel {
			t.Fatalf("%q → %+v, canonical %q → %+v", raw, sel, canon, back)
		}
		if g := sel.group(); (g == Overall) != (sel.Scenario == "" && sel.TagKey == "") {
			t.Fatalf("%q: group %q of %+v", raw, g, sel)
		}
	})
}

// FuzzThresholdsJSON decodes arbitrary JSON as a thresholds map (a
// scenario's thresholds: selector to a list of strings or {threshold,
// abortOnFail, delayAbortEval}): it must never panic, an object that is no
// threshold is an error wrapping ErrThreshold, and what decodes encodes
// back to the same thresholds.
func FuzzThresholdsJSON(f *testing.F) {
	for _, s := range []string{
		`{"latency":["p(99)<500"]}`,
		`{"errors{scenario:a}":[{"threshold":"rate<0.01","abortOnFail":true,"delayAbortEval":"10s"}]}`,
		`{"ttft":[{"threshold":"p(90)<200","delayAbortEval":"1h2m3.5s"},"avg<100"]}`,
		`{"latency":[{"threshold":"  "}]}`,
		`{"latency":[{"threshold":"p(99)<1","delayAbortEval":"-1s"}]}`,
		`{"latency":[{"threshold":"p(99)<1","extra":1}]}`,
		`{"latency":[1]}`,
		`{"latency":[null]}`,
		`{"latency":null}`,
		`{"latency":[{"threshold":"x","abortOnFail":"yes"}]}`,
		`{"threshold":"p(99)<1","abortOnFail":true}`,
		`{"threshold":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if json.Valid(data) && strings.HasPrefix(strings.TrimSpace(string(data)), "{") {
			var spec ThresholdSpec
			if err := spec.UnmarshalJSON(data); err != nil && !errors.Is(err, ErrThreshold) {
				t.Fatalf("object %s: error %v does not wrap ErrThreshold", data, err)
			}
		}
		var ts Thresholds
		if err := json.Unmarshal(data, &ts); err != nil {
			return
		}
		for sel, specs := range ts {
			for _, s := range specs {
				if s.DelayAbortEval < 0 {
					t.Fatalf("%q: accepted a negative delayAbortEval %v", sel, s.DelayAbortEval)
				}
			}
		}
		b, err := json.Marshal(ts)
		if err != nil {
			t.Fatalf("%+v does not encode: %v", ts, err)
		}
		var back Thresholds
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s does not decode: %v", b, err)
		}
		if len(back) != len(ts) {
			t.Fatalf("%s read back with %d selectors, want %d", b, len(back), len(ts))
		}
		for sel, specs := range ts {
			got := back[sel]
			if len(got) != len(specs) {
				t.Fatalf("%q: %d thresholds read back as %d", sel, len(specs), len(got))
			}
			for i := range specs {
				if got[i] != specs[i] {
					t.Fatalf("%q: %+v read back as %+v", sel, specs[i], got[i])
				}
			}
		}
	})
}
