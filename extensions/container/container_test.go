package container

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// An image that is not built here is reported as such before anything is
// started, and Docker is never asked to pull it.
func TestStartImageNotBuilt(t *testing.T) {
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		t.Skip("no Docker engine on this machine (/var/run/docker.sock)")
	}
	tests := []struct{ image, want string }{
		{FixtureImage + ":not-built-here", "image gonogo-fixture:not-built-here is not built here: run make fixture-image"},
		{"gonogo-test/none:v0", "image gonogo-test/none:v0 is not built here: build it first (docker build -t gonogo-test/none:v0 …); gonogo never pulls images"},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			sut, err := Start(ctx, tt.image, 8000)
			if err == nil {
				sut.Stop()
				t.Fatal("started an image that is not built")
			}
			if !errors.Is(err, ErrNoImage) || err.Error() != tt.want {
				t.Errorf("error %q (ErrNoImage: %v), want %q", err, errors.Is(err, ErrNoImage), tt.want)
			}
			t.Logf("answered in %s", time.Since(start))
		})
	}
}
