package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/testcontainers/testcontainers-go"

	"github.com/gonogo-dev/gonogo/reports"
)

// TestLoadImage builds the simulated server's FROM-scratch image with
// testcontainers-go (FromDockerfile, Ryuk disabled) on the local Docker
// engine, then load-tests it the way a nightly gate tests a freshly built
// model-server image: gonogo load --image starts it, waits, measures and
// removes it.
func TestLoadImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Docker image")
	}
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		t.Skip("no Docker engine on this machine (/var/run/docker.sock)")
	}
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	ctx := context.Background()

	buildCtx := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(buildCtx, "fixture-server"), "./cmd/fixture-server")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build fixture-server: %v\n%s", err, out)
	}
	df, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(buildCtx, "Dockerfile"), df, 0o644); err != nil {
		t.Fatal(err)
	}
	const repo, tag = "gonogo-fixture", "itest"
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			FromDockerfile: testcontainers.FromDockerfile{Context: buildCtx, Repo: repo, Tag: tag, KeepImage: true},
		},
		Started: false,
	})
	if err != nil {
		t.Fatalf("build image: %v", err)
	}
	if err := testcontainers.TerminateContainer(c); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	o := &options{Out: &stdout, Err: &stderr}
	code := run(ctx, o, []string{"load", "--history", "", "--image", repo + ":" + tag, "--port", "8000",
		"--protocol", "kserve", "--model", "resnet", "--rate", "50", "--duration", "2s", "--out", dir})
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	run, err := reports.ReadRunJSON(dir)
	if err != nil {
		t.Fatal(err)
	}
	if run.Overall.Requests.OK != 100 || !strings.HasPrefix(run.Target, "http://") {
		t.Errorf("run: target %s, requests %+v; want 100 ok", run.Target, run.Overall.Requests)
	}
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "ancestor="+repo+":"+tag).Output()
	if err != nil {
		t.Fatal(err)
	}
	if ids := strings.TrimSpace(string(out)); ids != "" {
		t.Errorf("containers of %s:%s left behind: %s", repo, tag, ids)
	}
}
