package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/chaos/fuzz"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/rundir"
)

// runChaosFuzz runs `gonogo chaos fuzz ARGS` through its constructor, as
// the root command would (flag and argument errors are usage errors).
func runChaosFuzz(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	o := &options{Out: &out, Err: &errb}
	cmd := newChaosFuzzCmd(o)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: exitUsage, err: err} })
	usageArgs(cmd)
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		errb.WriteString("error: " + err.Error() + "\n")
	}
	return exitCode(err), out.String(), errb.String()
}

func fastFixture() modelserver.Config {
	c := modelserver.DefaultConfig()
	c.StepBase = time.Millisecond
	c.StepPerSeq, c.PrefillPerToken, c.InferLatency, c.InferJitter = 0, 0, 0, 0
	return c
}

func TestChaosFuzzCmd(t *testing.T) {
	_, url := modelservertest.Start(t, fastFixture())
	tmp := t.TempDir()

	t.Run("kserve finds the weakness", func(t *testing.T) {
		out := filepath.Join(tmp, "kserve")
		code, stdout, stderr := runChaosFuzz("--target", url, "--protocol", "kserve", "--model", "resnet",
			"--classes", "nan-inf,wrong-shape", "--per-class", "6", "--out", out)
		if code != exitNoGo {
			t.Fatalf("exit %d, want %d\n%s%s", code, exitNoGo, stdout, stderr)
		}
		plan, table := strings.Index(stdout, "fuzz: kserve "+url), strings.Index(stdout, "accepted-nonsense")
		if plan != 0 || table < plan || !strings.Contains(stdout, "nan-inf/NaN: accepted-nonsense") {
			t.Errorf("want the plan first, then the table and findings:\n%s", stdout)
		}
		if !strings.Contains(stderr, "6 bad answers") {
			t.Errorf("stderr %q", stderr)
		}
		rep, err := fuzz.ReadReport(rundir.Dir(out))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Class(fuzz.NaNInf).Counts[fuzz.AcceptedNonsense] != 6 || rep.Class(fuzz.WrongShape).Counts[fuzz.ValidationError] != 6 {
			t.Errorf("fuzz.json classes %+v", rep.Classes)
		}
	})

	t.Run("openai clean", func(t *testing.T) {
		out := filepath.Join(tmp, "openai")
		code, stdout, stderr := runChaosFuzz("--target", url, "--protocol", "openai",
			"--classes", "invalid-json,max-tokens,unknown-model", "--per-class", "7", "--seed", "3", "--out", out)
		if code != exitOK {
			t.Fatalf("exit %d, want 0\n%s%s", code, stdout, stderr)
		}
		if !strings.Contains(stdout, "21 requests in") || !strings.Contains(stdout, "no bad finding") {
			t.Errorf("stdout:\n%s", stdout)
		}
		if _, err := os.Stat(filepath.Join(out, rundir.Fuzz)); err != nil {
			t.Error(err)
		}
	})

	t.Run("crash", func(t *testing.T) {
		cfg := fastFixture()
		cfg.Knobs.CrashAfter = 3
		_, crashURL := modelservertest.Start(t, cfg)
		code, stdout, _ := runChaosFuzz("--target", crashURL, "--protocol", "kserve", "--model", "resnet",
			"--classes", "invalid-json", "--per-class", "10", "--concurrency", "1", "--out", filepath.Join(tmp, "crash"))
		if code != exitNoGo || !strings.Contains(stdout, "stopped: the target crashed") || !strings.Contains(stdout, "crash × 1") {
			t.Errorf("exit %d, want %d with a crash\n%s", code, exitNoGo, stdout)
		}
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	badLog := filepath.Join(tmp, "bad.jsonl")
	if err := os.WriteFile(badLog, []byte(`{"ts":0,"method":"POST","path":"/v1/completions","body":{}}`+"\n"+`{"ts":"x","method":"POST","path":"/v1/completions"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		says string
	}{
		{"unknown class", []string{"--target", url, "--protocol", "kserve", "--model", "resnet", "--classes", "nan-inf,bogus"}, `--classes: unknown class "bogus"`},
		{"class of the other protocol", []string{"--target", url, "--protocol", "kserve", "--model", "resnet", "--classes", "max-tokens"}, "--classes: class \"max-tokens\" does not apply to kserve"},
		{"missing requests file", []string{"--target", url, "--protocol", "openai", "--requests", filepath.Join(tmp, "nope.jsonl")}, "--requests " + filepath.Join(tmp, "nope.jsonl")},
		{"malformed requests file", []string{"--target", url, "--protocol", "openai", "--requests", badLog}, "bad.jsonl:2: ts"},
		{"no target", []string{"--protocol", "openai"}, "--target is required"},
		{"bad protocol", []string{"--target", url, "--protocol", "grpc"}, `--protocol "grpc"`},
		{"kserve without model", []string{"--target", url, "--protocol", "kserve"}, "--model: kserve needs the model"},
		{"per-class 0", []string{"--target", url, "--protocol", "openai", "--per-class", "0"}, "--per-class 0"},
		{"unreachable", []string{"--target", dead, "--protocol", "openai", "--timeout", "1s"}, "unreachable"},
		{"bad flag", []string{"--target", url, "--protocol", "openai", "--timeout", "soon"}, "invalid argument"},
		{"argument", []string{"--target", url, "--protocol", "openai", "extra"}, "unknown command"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append(tt.args, "--out", filepath.Join(tmp, "bad"))
			code, stdout, stderr := runChaosFuzz(args...)
			if code != exitUsage || !strings.Contains(stderr, tt.says) {
				t.Errorf("exit %d, stderr %q; want %d saying %q (stdout %q)", code, stderr, exitUsage, tt.says, stdout)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(tmp, "bad", rundir.Fuzz)); err == nil {
		t.Error("bad input wrote fuzz.json")
	}
}
