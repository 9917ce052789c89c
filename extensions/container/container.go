// Package container starts a system under test from a local Docker image
// with testcontainers-go, the way a nightly CI gate tests a freshly built
// model-server image: start it, wait until its port listens, hand back its
// base URL, and remove it afterwards.
//
// Images are never pulled: this package is meant for images built on the
// same machine. The Ryuk reaper is turned off (TESTCONTAINERS_RYUK_DISABLED)
// unless the environment says otherwise, because it needs an image from a
// registry; containers are removed by Stop instead.
package container

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// DefaultStartupTimeout bounds how long Start waits for the port to listen.
const DefaultStartupTimeout = 60 * time.Second

// SUT is a running system under test.
type SUT struct {
	// URL is the base URL on the host, e.g. http://127.0.0.1:32771.
	URL string
	c   testcontainers.Container
}

// Start runs image (which must exist locally) with port exposed on a
// loopback host port, and waits until that port accepts connections. args,
// when given, replace the image's command arguments.
func Start(ctx context.Context, image string, port int, args ...string) (*SUT, error) {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	p := strconv.Itoa(port) + "/tcp"
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts(p),
		// Scratch images have no shell for the in-container check.
		testcontainers.WithWaitStrategy(wait.ForListeningPort(p).SkipInternalCheck().WithStartupTimeout(DefaultStartupTimeout)),
	}
	if len(args) > 0 {
		opts = append(opts, testcontainers.WithCmdArgs(args...))
	}
	c, err := testcontainers.Run(ctx, image, opts...)
	if err != nil {
		if c != nil {
			_ = testcontainers.TerminateContainer(c)
		}
		return nil, fmt.Errorf("container: start %s: %w", image, err)
	}
	host, err := c.Host(ctx)
	if err == nil {
		var mp interface{ Port() string }
		mp, err = c.MappedPort(ctx, p)
		if err == nil {
			return &SUT{URL: "http://" + net.JoinHostPort(host, mp.Port()), c: c}, nil
		}
	}
	_ = testcontainers.TerminateContainer(c)
	return nil, fmt.Errorf("container: %s: find mapped port: %w", image, err)
}

// Stop removes the container.
func (s *SUT) Stop() error {
	return testcontainers.TerminateContainer(s.c)
}
