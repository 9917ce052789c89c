package rollout

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// behaviourConfig is a canary judged only by behaviour gates on every
// response of classifier traffic.
func behaviourConfig(name, stableURL, canaryURL string) string {
	return fmt.Sprintf(`name: %s
listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0}
backends:
  - {name: stable, url: %q, role: stable}
  - {name: canary, url: %q, role: canary}
warmup: {requests: 10, method: POST, path: /v2/models/resnet/infer, body: '{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}'}
analysis:
  interval: 1s
  window: 6s
  minRequests: 50
  behaviour:
    sample: 100
    minSamples: 600
    gates:
      - {name: classes like stable, metric: class_psi, max: 0.25}
      - {name: confidence like stable, metric: confidence_psi, max: 0.25}
      - {name: failed predictions, metric: error_rate, max: 0.05}
strategy:
  canary:
    steps:
      - setWeight: 50
      - analysis: {passes: 3}
`, name, stableURL, canaryURL)
}

// classify sends rps classifier requests a second with random inputs
// through s's proxy until ctx ends.
func classify(ctx context.Context, s *served, rps int) {
	tick := time.NewTicker(time.Second / time.Duration(rps))
	go func() {
		defer tick.Stop()
		for i := uint64(0); ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			go func(i uint64) {
				rng := rand.New(rand.NewPCG(i, 3))
				body := fmt.Sprintf(`{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[%g,%g,%g,%g]}]}`,
					rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64())
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.proxy+"/v2/models/resnet/infer", strings.NewReader(body))
				if resp, err := http.DefaultClient.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}(i)
		}
	}()
}

// The model's behaviour judges the step: a canary answering like stable
// passes the behaviour gates (no false rollback: the symmetry check); one
// whose predictions fail a third of the time is rolled back by the
// failed-predictions gate, with nothing else judging.
func TestBehaviourGates(t *testing.T) {
	if testing.Short() {
		t.Skip("runs rollouts for seconds")
	}
	stable := fixture(t, "v1")
	for _, tc := range []struct {
		name      string
		errorRate float64
		want      string
	}{
		{"same model", 0, PhasePromoted},
		{"failing model", 0.35, PhaseRolledBack},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := modelserver.DefaultConfig()
			cfg.Knobs.LatencyScale = 0.2
			_, canary := modelservertest.Start(t, cfg)
			s := serve(t, behaviourConfig("beh-"+strings.ReplaceAll(tc.name, " ", "-"), stable, canary), filepath.Join(t.TempDir(), "s.db"))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// The failures start once the canary is warm: the warm-up
			// must pass.
			waitStep(t, s, 1)
			if tc.errorRate > 0 {
				k := modelserver.DefaultKnobs()
				k.LatencyScale, k.ErrorRate = 0.2, tc.errorRate
				setKnobs(t, canary, k)
			}
			classify(ctx, s, 300)
			wait(t, s, 60*time.Second)
			if s.st.Phase != tc.want {
				t.Fatalf("phase %s (%s), want %s", s.st.Phase, s.st.Message, tc.want)
			}
			if tc.want == PhaseRolledBack && !strings.Contains(s.st.Message, `behaviour gate "failed predictions" failed`) {
				t.Errorf("rolled back for another reason: %s", s.st.Message)
			}
		})
	}
}

// setKnobs sets the simulated server's knobs through its admin API.
func setKnobs(t *testing.T, url string, k modelserver.Knobs) {
	t.Helper()
	body := fmt.Sprintf(`{"latency_scale": %g, "error_rate": %g}`, k.LatencyScale, k.ErrorRate)
	req, _ := http.NewRequest(http.MethodPut, url+"/admin/knobs", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("knobs: %d", resp.StatusCode)
	}
}
