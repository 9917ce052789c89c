// Package container starts a system under test from a local Docker image
// with testcontainers-go, the way a nightly CI gate tests a freshly built
// model-server image: start it, wait until its port listens, hand back its
// base URL, and remove it afterwards.
//
// Images are never pulled: this package is meant for images built on the
// same machine. Start inspects the image first (Docker's image inspect) and
// returns a *NoImageError, which matches ErrNoImage, when it is not there,
// instead of letting Docker try a registry. The Ryuk reaper is turned off (TESTCONTAINERS_RYUK_DISABLED)
// unless the environment says otherwise, because it needs an image from a
// registry; containers are removed by Stop instead.
//
// The port is published on 127.0.0.1 only, and the SUT is reached there
// (TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 unless set): load stays on
// loopback even when gonogo itself runs inside a container, where
// testcontainers would otherwise pick the Docker gateway address.
package container

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	dcontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"
)

// DefaultStartupTimeout bounds how long Start waits for the port to listen.
const DefaultStartupTimeout = 60 * time.Second

// ErrNoImage is matched by the error of Start when the image is not built
// on this machine: bad input, since Start never pulls.
var ErrNoImage = errors.New("container: image not built here")

// FixtureImage is the repository name of the simulated server's image,
// which `make fixture-image` builds (as gonogo-fixture:dev).
const FixtureImage = "gonogo-fixture"

// NoImageError says that Image is not among the local Docker images.
type NoImageError struct {
	Image string
}

// Error reads "image gonogo-fixture:dev is not built here: run make
// fixture-image", or for another image, how to build it.
func (e *NoImageError) Error() string {
	repo, _, _ := strings.Cut(e.Image, ":")
	if repo == FixtureImage {
		return "image " + e.Image + " is not built here: run make fixture-image"
	}
	return "image " + e.Image + " is not built here: build it first (docker build -t " + e.Image + " …); gonogo never pulls images"
}

// Unwrap returns ErrNoImage.
func (e *NoImageError) Unwrap() error { return ErrNoImage }

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
	for k, v := range map[string]string{"TESTCONTAINERS_RYUK_DISABLED": "true", "TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1"} {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	// Its chatty progress lines would break gonogo's output; errors are
	// returned instead.
	tclog.SetDefault(tclog.NewNoopLogger())
	if err := checkImage(ctx, image); err != nil {
		return nil, err
	}
	p := strconv.Itoa(port) + "/tcp"
	np, err := network.ParsePort(p)
	if err != nil {
		return nil, fmt.Errorf("container: port %d: %w", port, err)
	}
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts(p),
		testcontainers.WithHostConfigModifier(func(hc *dcontainer.HostConfig) {
			hc.PortBindings = network.PortMap{np: {{HostIP: netip.MustParseAddr("127.0.0.1")}}}
		}),
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

// checkImage returns a *NoImageError when image is not a local image.
func checkImage(ctx context.Context, image string) error {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("container: cannot reach the Docker engine: %w", err)
	}
	defer cli.Close()
	_, err = cli.ImageInspect(ctx, image)
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsNotFound(err):
		return &NoImageError{Image: image}
	}
	return fmt.Errorf("container: inspect image %s: %w", image, err)
}

// Stop removes the container.
func (s *SUT) Stop() error {
	return testcontainers.TerminateContainer(s.c)
}
