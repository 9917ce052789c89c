package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"gonogo": main,
	})
}

// TestScripts runs the CLI end to end from testdata/script/*.txtar: output,
// files and exit codes. Each script gets free loopback ports in $PORT1 and
// $PORT2 for fixture servers it starts in the background.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			for _, name := range []string{"PORT1", "PORT2", "PORT3", "PORT4", "DEADPORT"} {
				p, err := freePort()
				if err != nil {
					return err
				}
				env.Setenv(name, strconv.Itoa(p))
			}
			env.Setenv("CI", "true")
			// A home of the script's own (testscript's /no-home would be
			// created as root): the run history's default,
			// $HOME/.local/state/gonogo/history.db, stays in $WORK.
			env.Setenv("HOME", filepath.Join(env.WorkDir, "home"))
			// The real traces kept in the repository (fixtures/traces).
			traces, _ := filepath.Abs(filepath.Join("..", "..", "fixtures", "traces"))
			env.Setenv("TRACES", traces)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitport": waitPort,
			"httpget":  httpGet,
			"sleep": func(ts *testscript.TestScript, _ bool, args []string) {
				d, err := time.ParseDuration(args[0])
				ts.Check(err)
				time.Sleep(d)
			},
		},
	})
}

// waitPort waits (up to 10 s) until 127.0.0.1:PORT accepts connections:
// waitport $PORT1
func waitPort(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: waitport PORT")
	}
	addr := net.JoinHostPort("127.0.0.1", args[0])
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	ts.Fatalf("nothing listens on %s after 10s", addr)
}

// freePort returns a loopback port free now, below Linux's ephemeral range
// (32768–60999): a port the kernel picked (:0) is one it also hands out
// as the local port of outgoing connections, and one of those (another
// package's tests run beside these) can take it before the script's
// server binds it.
func freePort() (int, error) {
	var err error
	for range 100 {
		p := 20000 + rand.IntN(12000)
		var ln net.Listener
		if ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p))); err == nil {
			ln.Close()
			return p, nil
		}
	}
	return 0, err
}

// httpGet fetches a loopback URL and writes the body to the script's
// stdout: httpget http://127.0.0.1:$PORT2/metrics
func httpGet(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: httpget URL")
	}
	resp, err := http.Get(args[0])
	if err == nil {
		defer resp.Body.Close()
		var body []byte
		body, err = io.ReadAll(resp.Body)
		ts.Stdout().Write(body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %s", resp.Status)
		}
	}
	if (err != nil) != neg {
		ts.Fatalf("httpget %s: %v", args[0], err)
	}
}
