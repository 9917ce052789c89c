package fuzz

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/rundir"
)

// fixtureConfig is the simulated server with fast model times.
func fixtureConfig() modelserver.Config {
	c := modelserver.DefaultConfig()
	c.StepBase = time.Millisecond
	c.StepPerSeq, c.PrefillPerToken, c.InferLatency, c.InferJitter = 0, 0, 0, 0
	return c
}

// perClassAll is enough requests for every class to send each variant.
func perClassAll(proto string) int {
	n := 0
	for _, c := range ClassesFor(proto) {
		n = max(n, len(Variants(proto, c)))
	}
	return n
}

// TestFuzzFindsTheFixtureWeakness is the truth test: against the
// simulated server, the only finding is its planted weakness (KServe
// nan-inf → accepted-nonsense); every other class of both protocols is
// refused with a 4xx.
func TestFuzzFindsTheFixtureWeakness(t *testing.T) {
	cfg := fixtureConfig()
	cfg.KVTokens = 1 << 16 // a 64 Ki-token context, so that a 256 KiB huge prompt (128 Ki words) is beyond it
	_, url := modelservertest.Start(t, cfg)
	for _, proto := range []string{ProtocolKServe, ProtocolOpenAI} {
		t.Run(proto, func(t *testing.T) {
			o := Options{Target: url, Protocol: proto, PerClass: perClassAll(proto), Concurrency: 4, Timeout: 5 * time.Second, Seed: 1,
				HugePromptBytes: 256 << 10}
			if proto == ProtocolKServe {
				o.Model = "resnet"
			}
			rep, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			var table strings.Builder
			_ = rep.WriteTable(&table)
			t.Logf("\n%s", table.String())
			if rep.Stopped != "" || rep.Sent != o.PerClass*len(ClassesFor(proto)) {
				t.Fatalf("stopped %q after %d requests", rep.Stopped, rep.Sent)
			}
			if proto == ProtocolOpenAI && rep.Model != "gpt-sim" {
				t.Errorf("model %q, want the served gpt-sim found on /v1/models", rep.Model)
			}
			for _, cr := range rep.Classes {
				want := ValidationError
				if proto == ProtocolKServe && cr.Class == NaNInf {
					want = AcceptedNonsense
				}
				if cr.Sent != o.PerClass || cr.Counts[want] != cr.Sent {
					t.Errorf("%s: %v of %d, want all %s; examples %+v", cr.Class, cr.Counts, cr.Sent, want, cr.Examples)
				}
			}
			wantBad := 0
			if proto == ProtocolKServe {
				wantBad = o.PerClass
				for _, f := range rep.Findings {
					if f.Class != NaNInf || f.Outcome != AcceptedNonsense || f.Example.Status != 200 || !strings.Contains(f.Example.Response, "probabilities") {
						t.Errorf("finding %+v, want only nan-inf accepted-nonsense", f)
					}
				}
				if len(rep.Findings) != len(Variants(proto, NaNInf)) {
					t.Errorf("%d findings, want one per nan-inf variant (%d)", len(rep.Findings), len(Variants(proto, NaNInf)))
				}
			}
			if rep.Bad() != wantBad {
				t.Errorf("%d bad answers, want %d: %+v", rep.Bad(), wantBad, rep.Findings)
			}

			// the same seed sends the same requests and gets the same report
			again, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(stripTimes(rep), stripTimes(again)) {
				t.Errorf("two runs with seed 1 differ:\n%+v\n%+v", rep.Classes, again.Classes)
			}
		})
	}
}

// stripTimes leaves what does not depend on timing.
func stripTimes(r *Report) *Report {
	c := *r
	c.Started, c.Elapsed = time.Time{}, 0
	c.Classes = append([]ClassResult(nil), r.Classes...)
	for i := range c.Classes {
		ex := append([]Example(nil), c.Classes[i].Examples...)
		for j := range ex {
			ex[j].LatencyMillis = 0
		}
		c.Classes[i].Examples = ex
	}
	c.Findings = append([]Finding(nil), r.Findings...)
	for i := range c.Findings {
		c.Findings[i].Example.LatencyMillis = 0
	}
	return &c
}

// TestFuzzDetectsCrash: the fixture crashes when model request 6 arrives
// (CrashAfter 5): the run records a crash and stops.
func TestFuzzDetectsCrash(t *testing.T) {
	cfg := fixtureConfig()
	cfg.Knobs.CrashAfter = 5
	srv, url := modelservertest.Start(t, cfg)
	o := Options{Target: url, Protocol: ProtocolKServe, Model: "resnet", PerClass: 5, Concurrency: 2, Timeout: 5 * time.Second, Seed: 1}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !srv.Crashed() {
		t.Fatal("the fixture did not crash")
	}
	crashes := 0
	for _, f := range rep.Findings {
		if f.Outcome == Crash {
			crashes += f.Count
			// the crashing request itself (no answer), or one answered
			// just before whose health check found the server gone
			if f.Example.Error == "" || (f.Example.Status != 0 && !strings.Contains(f.Example.Error, "health check failed")) {
				t.Errorf("crash example %+v: want the connection error", f.Example)
			}
		}
	}
	t.Logf("sent %d, stopped %q, %d crashes", rep.Sent, rep.Stopped, crashes)
	if rep.Stopped != StoppedCrash || crashes < 1 || crashes > o.Concurrency {
		t.Errorf("stopped %q with %d crashes, want %q and 1..%d", rep.Stopped, crashes, StoppedCrash, o.Concurrency)
	}
	// the 5 answered (less those in flight beside the crashing one, cut
	// off with it) and the crashing ones
	if answered := rep.Sent - crashes; answered > 5 || answered < 5-(o.Concurrency-1) {
		t.Errorf("%d requests answered before the crash, want 5 (at least %d)", answered, 5-(o.Concurrency-1))
	}
}

// TestFuzzDetectsHang: while the fixture stalls longer than the timeout,
// every request is a hang, and the run goes on (the server is up).
func TestFuzzDetectsHang(t *testing.T) {
	srv, url := modelservertest.Start(t, fixtureConfig())
	// A stall window can last only as long as the server has run: wait,
	// then make the window that is starting now last about 450 ms.
	time.Sleep(time.Until(srv.StartTime().Add(500 * time.Millisecond)))
	k := srv.Knobs()
	k.StallEvery = time.Since(srv.StartTime()) - 5*time.Millisecond
	k.StallFor = k.StallEvery - time.Nanosecond
	if err := srv.SetKnobs(k); err != nil {
		t.Fatal(err)
	}
	timeout := 50 * time.Millisecond
	o := Options{Target: url, Protocol: ProtocolKServe, Model: "resnet", Classes: []Class{InvalidJSON}, PerClass: 3, Concurrency: 1, Timeout: timeout, Seed: 1}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// end the stall, so that the stalled handlers end before the server stops
	k.StallEvery, k.StallFor = 0, 0
	if err := srv.SetKnobs(k); err != nil {
		t.Fatal(err)
	}
	cr := rep.Class(InvalidJSON)
	if rep.Stopped != "" || cr.Counts[Hang] != 3 {
		t.Fatalf("stopped %q, counts %v; want 3 hangs", rep.Stopped, cr.Counts)
	}
	if f := rep.Findings; len(f) == 0 || f[0].Outcome != Hang || f[0].Example.LatencyMillis < float64(timeout.Milliseconds()) {
		t.Errorf("findings %+v", f)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	for _, tt := range []struct {
		name  string
		o     Options
		field string
	}{
		{"no target", Options{Protocol: ProtocolOpenAI}, "target"},
		{"bad protocol", Options{Target: closed, Protocol: "grpc"}, "protocol"},
		{"kserve without model", Options{Target: closed, Protocol: ProtocolKServe}, "model"},
		{"class of another protocol", Options{Target: closed, Protocol: ProtocolKServe, Model: "m", Classes: []Class{MaxTokens}}, "classes"},
		{"per-class", Options{Target: closed, Protocol: ProtocolOpenAI, PerClass: -1}, "per-class"},
		{"timeout", Options{Target: closed, Protocol: ProtocolOpenAI, Timeout: -time.Second}, "timeout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), tt.o)
			var ie *chaos.InputError
			if !errors.As(err, &ie) || ie.Field != tt.field || !errors.Is(err, chaos.ErrInput) {
				t.Errorf("error %v, want an input error on %q", err, tt.field)
			}
		})
	}
	_, err = Run(context.Background(), Options{Target: closed, Protocol: ProtocolOpenAI, Timeout: time.Second})
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("closed port: %v, want ErrUnreachable", err)
	}
}

func TestReadSeedsAndRunThem(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "requests.jsonl")
	lines := `{"ts":0,"method":"POST","path":"/v1/chat/completions","headers":{"Authorization":"Bearer secret-token"},"body":{"model":"gpt-sim","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello there"}],"max_tokens":8}}
{"ts":0.5,"method":"GET","path":"/v1/models"}
{"ts":1,"method":"POST","path":"/v1/completions","body":"{\"model\":\"gpt-sim\",\"prompt\":\"once upon a time\",\"max_tokens\":4}"}
{"ts":2,"method":"POST","path":"/v2/models/resnet/infer","body":{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}}
`
	if err := os.WriteFile(log, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	oa, err := ReadSeeds(log, ProtocolOpenAI)
	if err != nil || len(oa) != 2 || oa[0].Line != 1 || oa[1].Line != 3 || !strings.Contains(string(oa[1].Body), "once upon") {
		t.Fatalf("openai seeds %+v, %v", oa, err)
	}
	ks, err := ReadSeeds(log, ProtocolKServe)
	if err != nil || len(ks) != 1 || ks[0].Path != "/v2/models/resnet/infer" {
		t.Fatalf("kserve seeds %+v, %v", ks, err)
	}

	cfg := fixtureConfig()
	cfg.KVTokens = 8192 // a context the 64 KiB huge prompt (32 Ki words) exceeds
	_, url := modelservertest.Start(t, cfg)
	rep, err := Run(context.Background(), Options{Target: url, Protocol: ProtocolOpenAI, Seeds: oa, SeedSource: log,
		PerClass: 4, Seed: 9, HugePromptBytes: 1 << 16, Header: map[string][]string{"Authorization": {"Bearer secret-token"}}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Bad() != 0 || rep.SeedRequests != 2 || rep.SeedSource != log {
		t.Errorf("recorded seeds: %d bad, %d seeds from %q: %+v", rep.Bad(), rep.SeedRequests, rep.SeedSource, rep.Findings)
	}
	out := rundir.Dir(filepath.Join(dir, "out"))
	if err := rep.Write(out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out.Path(rundir.Fuzz))
	if err != nil || strings.Contains(string(b), "secret-token") {
		t.Fatalf("fuzz.json holds a header value (or %v)", err)
	}
	back, err := ReadReport(out)
	if err != nil || !reflect.DeepEqual(stripTimes(back), stripTimes(rep)) {
		t.Errorf("fuzz.json does not read back (%v)", err)
	}

	for _, tt := range []struct{ name, body, says string }{
		{"missing.jsonl", "", "missing.jsonl"},
		{"bad.jsonl", `{"ts":0,"method":"POST","path":"/v1/completions","body":{}}` + "\n" + `{"ts":1,"method":"","path":"/x"}` + "\n", "bad.jsonl:2: method"},
		{"none.jsonl", `{"ts":0,"method":"GET","path":"/v1/models"}` + "\n", "no openai request"},
	} {
		p := filepath.Join(dir, tt.name)
		if tt.body != "" {
			if err := os.WriteFile(p, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := ReadSeeds(p, ProtocolOpenAI)
		if !errors.Is(err, chaos.ErrInput) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: %v, want an input error saying %q", tt.name, err, tt.says)
		}
	}
}
