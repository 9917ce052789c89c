package rollout

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/store"
)

// childEnv names the rollout file a re-executed test binary serves (with
// its store in childStoreEnv) instead of running the tests.
const (
	childEnv      = "GONOGO_ROLLOUT_CHILD_CONFIG"
	childStoreEnv = "GONOGO_ROLLOUT_CHILD_STORE"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(serveChild(path, os.Getenv(childStoreEnv)))
	}
	os.Exit(m.Run())
}

// serveChild serves a rollout until killed, printing its addresses.
func serveChild(path, storePath string) int {
	cfg, err := LoadConfig(path)
	if err != nil {
		fmt.Println("ERROR", err)
		return 2
	}
	db, err := store.Open(storePath)
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	_, err = Serve(context.Background(), ServeOptions{Config: cfg, Store: db, Token: "t0k3n", Log: os.Stderr,
		Ready: func(p, a string) { fmt.Printf("READY http://%s http://%s\n", p, a) }})
	fmt.Println("ERROR", err)
	return 1
}

type child struct {
	cmd          *exec.Cmd
	proxy, admin string
}

func startChild(t *testing.T, cfgPath, storePath string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+cfgPath, childStoreEnv+"="+storePath)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "READY" {
			t.Fatalf("child: %s", l)
		}
		return &child{cmd: cmd, proxy: f[1], admin: f[2]}
	case <-time.After(30 * time.Second):
		t.Fatal("the child did not start in 30 s")
	}
	return nil
}

func (c *child) get(t *testing.T, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.admin+path, nil)
	req.Header.Set("Authorization", "Bearer t0k3n")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// backendOf sends one request as user and returns the backend that
// served it.
func (c *child) backendOf(t *testing.T, user string) string {
	req, _ := http.NewRequest(http.MethodPost, c.proxy+"/v1/completions", strings.NewReader(`{"prompt":"hi","max_tokens":2}`))
	req.Header.Set("X-User", user)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("user %s: %s", user, resp.Status)
	}
	return resp.Header.Get(BackendHeader)
}

// The target: a controller killed with SIGKILL mid-rollout and
// restarted is at the same step with the same weights, every user on the
// same backend, no audit event lost.
func TestSIGKILLMidRolloutResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	cfgPath, storePath := filepath.Join(dir, "rollout.yaml"), filepath.Join(dir, "s.db")
	src := e2eConfig("killed", fixture(t, "v1"), fixture(t, "v2"), `      - setWeight: 10
      - pause: {duration: 1s}
      - setWeight: 30
      - pause: {}
`)
	src = strings.Replace(src, "  minRequests: 15\n", "  minRequests: 15\n  inconclusive: continue\n  srm: {disabled: true}\n", 1)
	src = strings.Replace(src, "  gates:\n", "  maxHold: 1h\n  gates:\n", 1)
	if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, cfgPath, storePath)
	const users = 400
	before := map[string]string{}
	var st Status
	for deadline := time.Now().Add(30 * time.Second); ; {
		for u := range users {
			user := fmt.Sprintf("u%d", u)
			before[user] = c.backendOf(t, user)
		}
		c.get(t, "/v1/status", &st)
		if st.Step == 3 || time.Now().After(deadline) {
			break
		}
	}
	if st.Step != 3 || st.Weights["canary"] != 30 {
		t.Fatalf("not at the last step after 30 s: %+v", st)
	}
	for u := range users { // the assignments at 30 %
		user := fmt.Sprintf("u%d", u)
		before[user] = c.backendOf(t, user)
	}
	var evBefore []Event
	c.get(t, "/v1/events", &evBefore)

	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
	c = startChild(t, cfgPath, storePath)

	var after Status
	c.get(t, "/v1/status", &after)
	if after.Step != st.Step || after.Weights["canary"] != st.Weights["canary"] || after.Weights["stable"] != st.Weights["stable"] || after.Phase != PhaseProgressing {
		t.Fatalf("after the restart: step %d weights %v phase %s; before: step %d weights %v", after.Step, after.Weights, after.Phase, st.Step, st.Weights)
	}
	moved, canary := 0, 0
	for u := range users {
		user := fmt.Sprintf("u%d", u)
		got := c.backendOf(t, user)
		if got != before[user] {
			moved++
		}
		if got == "canary" {
			canary++
		}
	}
	if moved > 0 {
		t.Errorf("%d of %d users changed backend across the restart", moved, users)
	}
	var evAfter []Event
	c.get(t, "/v1/events", &evAfter)
	if len(evAfter) <= len(evBefore) {
		t.Fatalf("%d events after the restart, %d before", len(evAfter), len(evBefore))
	}
	for i, e := range evBefore {
		if evAfter[i].Seq != e.Seq || evAfter[i].Kind != e.Kind {
			t.Fatalf("event %d: %d %s before, %d %s after", i, e.Seq, e.Kind, evAfter[i].Seq, evAfter[i].Kind)
		}
	}
	if k := evAfter[len(evBefore)].Kind; k != "resume-after-restart" {
		t.Errorf("first event after the restart is %s", k)
	}
	t.Logf("step %d, canary %g %%: %d of %d users on the canary, none moved; %d events kept", after.Step, after.Weights["canary"], canary, users, len(evBefore))
}
