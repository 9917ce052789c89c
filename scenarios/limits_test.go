package scenarios

import (
	"errors"
	"testing"
)

// Every number has a limit; a value past it, or of the wrong type, is one
// line naming the file, line, column and field.
func TestParseBoundsAndTypes(t *testing.T) {
	const car = "scenarios:\n  a:\n    executor: constant-arrival-rate\n    duration: 1s\n"
	const vus = "scenarios:\n  a:\n    executor: constant-vus\n    duration: 1s\n"
	for _, tc := range []struct {
		name, src, want string
	}{
		{"rate 1e308", car + "    rate: 1e308\n", "t.yaml:5:11: scenarios.a.rate: must be at most 1000000 per second (got 1e+308)"},
		{"rate .inf", car + "    rate: .inf\n", "t.yaml:5:11: scenarios.a.rate: must be at most 1000000 per second (got +Inf)"},
		{"rate .nan", car + "    rate: .nan\n", "t.yaml:5:11: scenarios.a.rate: must be a number (got NaN)"},
		{"rate per ms", car + "    rate: 2000\n    timeUnit: 1ms\n", "t.yaml:5:11: scenarios.a.rate: must be at most 1000000 per second (got 2000 per 1ms, 2e+06 per second)"},
		{"rate fast", car + "    rate: \"fast\"\n", `t.yaml:5:11: scenarios.a.rate: want a number (got "fast")`},
		{"timeUnit 1ns", car + "    rate: 1\n    timeUnit: 1ns\n", "t.yaml:6:15: scenarios.a.timeUnit: must be at least 1ms (got 1ns)"},
		{"timeUnit 2 days", car + "    rate: 1\n    timeUnit: 48h\n", "t.yaml:6:15: scenarios.a.timeUnit: must be at most 1 day (got 48h0m0s)"},
		{"duration 8 days", "scenarios:\n  a: {executor: constant-vus, vus: 1, duration: 192h}\n", "t.yaml:2:49: scenarios.a.duration: must be at most 7 days (got 192h0m0s)"},
		{"duration a number", vus + "    vus: 1\n    gracefulStop: 5\n", "t.yaml:6:19: scenarios.a.gracefulStop: want a duration such as 30s, 1m30s or 2h (got 5)"},
		{"duration soon", "scenarios:\n  a:\n    executor: constant-vus\n    vus: 1\n    duration: soon\n", `t.yaml:5:15: scenarios.a.duration: want a duration such as 30s, 1m30s or 2h (got "soon")`},
		{"gracefulStop 2h", vus + "    vus: 1\n    gracefulStop: 2h\n", "t.yaml:6:19: scenarios.a.gracefulStop: must be at most 1h0m0s (got 2h0m0s)"},
		{"startTime negative", vus + "    vus: 1\n    startTime: -1s\n", "t.yaml:6:16: scenarios.a.startTime: must not be negative (got -1s)"},
		{"vus 10 million", vus + "    vus: 10000000\n", "t.yaml:5:10: scenarios.a.vus: must be at most 100000 VUs (got 10000000)"},
		{"vus 2.5", vus + "    vus: 2.5\n", "t.yaml:5:10: scenarios.a.vus: want a whole number (got 2.5)"},
		{"vus a list", vus + "    vus: [1]\n", "t.yaml:5:10: scenarios.a.vus: want a whole number (got a list)"},
		{"vus 1e30", vus + "    vus: 1e30\n", "t.yaml:5:10: scenarios.a.vus: out of range: want a whole number (got 1e30)"},
		{"maxVUs", car + "    rate: 1\n    maxVUs: 200000\n", "t.yaml:6:13: scenarios.a.maxVUs: must be at most 100000 VUs (got 200000)"},
		{"preAllocatedVUs", car + "    rate: 1\n    preAllocatedVUs: -3\n", "t.yaml:6:22: scenarios.a.preAllocatedVUs: must not be negative (got -3)"},
		{"iterations", "scenarios:\n  a:\n    executor: shared-iterations\n    iterations: 2000000000\n", "t.yaml:4:17: scenarios.a.iterations: must be at most 1000000000 iterations (got 2000000000)"},
		{"maxQueue", car + "    rate: 1\n    saturation: queue\n    maxQueue: 5000000\n", "t.yaml:7:15: scenarios.a.maxQueue: must be at most 1000000 arrivals (got 5000000)"},
		{"burstiness small", car + "    rate: 1\n    arrival: gamma\n    burstiness: 0.001\n", "t.yaml:7:17: scenarios.a.burstiness: must be at least 0.01 (got 0.001)"},
		{"burstiness without gamma", car + "    rate: 1\n    burstiness: 2\n", "t.yaml:6:17: scenarios.a.burstiness: is the shape of arrival: gamma (arrival is constant)"},
		{"stage target rate", "scenarios:\n  a:\n    executor: ramping-arrival-rate\n    stages: [{duration: 1s, target: 5e6}]\n", "t.yaml:4:37: scenarios.a.stages[0].target: must be at most 1000000 per second (got 5e+06)"},
		{"stage target VUs", "scenarios:\n  a:\n    executor: ramping-vus\n    stages: [{duration: 1s, target: 500000}]\n", "t.yaml:4:37: scenarios.a.stages[0].target: must be at most 100000 VUs (got 500000)"},
		{"stage target x", "scenarios:\n  a:\n    executor: ramping-vus\n    stages: [{duration: 1s, target: x}]\n", `t.yaml:4:37: scenarios.a.stages[0].target: want a number (got "x")`},
		{"stages too long", "scenarios:\n  a:\n    executor: ramping-vus\n    stages: [{duration: 100h, target: 1}, {duration: 100h, target: 1}]\n", "t.yaml:4:54: scenarios.a.stages[1].duration: the stages must add up to at most 7 days (got 200h0m0s by stage 2)"},
		{"startVUs", "scenarios:\n  a:\n    executor: ramping-vus\n    startVUs: 100001\n    stages: [{duration: 1s, target: 1}]\n", "t.yaml:4:15: scenarios.a.startVUs: must be at most 100000 VUs (got 100001)"},
		{"speed", "scenarios:\n  a:\n    traffic: {trace: t.csv, speed: 1e9}\n", "t.yaml:3:36: scenarios.a.traffic.speed: must be at most 100000 (got 1e+09)"},
		{"scale", "scenarios:\n  a:\n    traffic: {trace: t.csv, scale: 5000}\n", "t.yaml:3:36: scenarios.a.traffic.scale: must be at most 1000 (got 5000)"},
		{"loop", "scenarios:\n  a:\n    traffic: {trace: t.csv, loop: 20000}\n", "t.yaml:3:35: scenarios.a.traffic.loop: must be at most 10000 loops (got 20000)"},
		{"loop yes", "scenarios:\n  a:\n    traffic: {trace: t.csv, loop: yes}\n", `t.yaml:3:35: scenarios.a.traffic.loop: want a whole number (got "yes")`},
		{"from", "scenarios:\n  a:\n    traffic: {trace: t.csv, from: 9000h}\n", "t.yaml:3:35: scenarios.a.traffic.from: must be at most 366 days (got 9000h0m0s)"},
		{"replay too long", "scenarios:\n  a:\n    traffic: {trace: t.csv, to: 200h, loop: 2}\n", "t.yaml:3:33: scenarios.a.traffic.to: the replay would last 400h0m0s, more than 7 days"},
		{"seed", vus + "    vus: 1\n    seed: 99999999999999999999999\n", "t.yaml:6:11: scenarios.a.seed: out of range: want a whole number (got 99999999999999999999999)"},
		{"tokens", "request: {maxTokens: 20000000}\n" + vus + "    vus: 1\n", "t.yaml:1:22: request.maxTokens: must be at most 10000000 tokens (got 20000000)"},
		{"scenario tokens", vus + "    vus: 1\n    request: {promptTokens: 1.5}\n", "t.yaml:6:29: scenarios.a.request.promptTokens: want a whole number (got 1.5)"},
		{"delayAbortEval", vus + "    vus: 1\nthresholds:\n  errors: [{threshold: rate<0.1, delayAbortEval: 200h}]\n", "t.yaml:7:50: thresholds.errors.delayAbortEval: must be at most 7 days (got 200h0m0s)"},
		{"tags a list", vus + "    vus: 1\n    tags: [a]\n", "t.yaml:6:11: scenarios.a.tags: sequence was used where mapping is expected"},
		{"unknown field", vus + "    vus: 1\n    rat: 3\n", `t.yaml:6:5: scenarios.a: unknown field "rat"`},
		{"open-model warmup", car + "    rate: 1\n    warmup: 5s\n", "t.yaml:6:13: scenarios.a.warmup: constant-arrival-rate is an open-model executor: its arrivals come at their times whatever the server does, so nothing needs warming but the connections, which are opened before time zero; warm-up is for constant-vus, ramping-vus and shared-iterations"},
		{"warmup 2h", vus + "    vus: 1\n    warmup: 2h\n", "t.yaml:6:13: scenarios.a.warmup: must be at most 1h0m0s (got 2h0m0s)"},
		{"ramping-vus warmup from 0", "scenarios:\n  a:\n    executor: ramping-vus\n    warmup: 5s\n    stages: [{duration: 1s, target: 1}]\n", "t.yaml:4:13: scenarios.a.warmup: ramping-vus warms up with its startVUs, which is 0: set startVUs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.src))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v (%T), want *ValidationError", err, err)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n  %s\nwant\n  %s", err, tc.want)
			}
		})
	}
}

// Values at their limits are accepted.
func TestParseAtTheLimits(t *testing.T) {
	for _, src := range []string{
		"scenarios:\n  a: {executor: constant-arrival-rate, rate: 1000000, duration: 168h}\n",
		"scenarios:\n  a: {executor: constant-arrival-rate, rate: 1000, timeUnit: 1ms, duration: 1s, maxVUs: 100000, preAllocatedVUs: 100000}\n",
		"scenarios:\n  a: {executor: constant-arrival-rate, rate: 1, duration: 1s, arrival: gamma, burstiness: 0.01, saturation: queue, maxQueue: 1000000}\n",
		"scenarios:\n  a: {executor: constant-vus, vus: 100000, duration: 1s, warmup: 1h, gracefulStop: 1h, startTime: 168h, seed: -5}\n",
		"scenarios:\n  a: {executor: shared-iterations, iterations: 1000000000, maxDuration: 168h}\n",
		"scenarios:\n  a: {traffic: {trace: t.csv, speed: 0.001, scale: 1000, from: 8784h, loop: 10000}}\n",
		"scenarios:\n  a: {traffic: {trace: t.csv, to: 168h}}\n",
	} {
		if _, err := Parse("t.yaml", []byte(src)); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
}
