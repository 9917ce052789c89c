package mirror_test

import (
	"testing"

	"github.com/gonogo-dev/gonogo/analyze/divergence"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
)

// TestShadowTruthNoiseCorrection runs shadow replays where every fixture
// server (primary, secondary, candidate) answers noisily, as copies of one
// serving stack do, and checks the noise-corrected figures against the
// fixture's truth: a v2 candidate differs on the configured share of
// inputs; a v1 candidate differs on none, so its corrected figure is ≈ 0
// however noisy the answers (the symmetry check). The segments follow the
// same truth: the v2 candidate's input-length segment is flagged, the v1
// candidate's not. The segment test runs at α = 0.001 here: at the default
// 0.05 one run in 20 of two identical versions flags a segment by design,
// and the seeded fixtures realise their noise shares alike run after run
// (the v1 candidate's p-value is 0.03–0.2 with these seeds).
func TestShadowTruthNoiseCorrection(t *testing.T) {
	if testing.Short() {
		t.Skip("4 × 20 000 requests")
	}
	const (
		n     = 20000
		noise = 0.1 // share of each server's answers with sampling noise
		diff  = 0.2 // share of inputs on which v2 differs from v1
		tol   = 0.015
		alpha = 0.001
	)
	text := extensions.Options{MaxTokens: 2, PromptTokens: 16}
	kserve := extensions.Options{Model: "resnet"}
	for _, tc := range []struct {
		name      string
		protocol  string
		opts      extensions.Options
		kind      divergence.OutputKind
		candidate string
		metrics   []string
		truth     float64
	}{
		{"text v2", "openai", text, divergence.OutputText, modelserver.VersionV2, []string{"text_mismatch_rate", "divergence_rate"}, diff},
		{"text v1", "openai", text, divergence.OutputText, modelserver.VersionV1, []string{"text_mismatch_rate", "divergence_rate"}, 0},
		{"labels v2", "kserve", kserve, divergence.OutputAuto, modelserver.VersionV2, []string{"flip_rate"}, diff},
		{"labels v1", "kserve", kserve, divergence.OutputAuto, modelserver.VersionV1, []string{"flip_rate", "divergence_rate"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := shadowTruth(t, truthShadow{protocol: tc.protocol, n: n, opts: tc.opts, kind: tc.kind,
				candidate: tc.candidate, secondary: true, noise: noise, diff: diff, segmentAlpha: alpha})
			c := rep.Candidates[0]
			for _, m := range tc.metrics {
				var h *divergence.Headline
				for i := range c.Headline {
					if c.Headline[i].Metric == m {
						h = &c.Headline[i]
					}
				}
				if h == nil {
					t.Fatalf("no headline %s in %+v", m, c.Headline)
				}
				t.Logf("%s: raw %.4f noise %.4f corrected %.4f (raw − noise %.4f), truth %.4f", m, h.Raw, h.Noise, h.Corrected, h.Raw-h.Noise, tc.truth)
				if d := h.Corrected - tc.truth; d < -tol || d > tol {
					t.Errorf("%s corrected %.4f, truth %.4f ± %v", m, h.Corrected, tc.truth, tol)
				}
			}
			for _, s := range c.Segments {
				p := -1.0 // not tested
				if s.PValue != nil {
					p = *s.PValue
				}
				t.Logf("segment %s=%s: n %d, diverged %.4f noise %.4f corrected %.4f p %.3g flagged %v", s.Key, s.Value, s.Paired, s.DivergedRate, s.NoiseRate, s.Corrected, p, s.ExceedsNoise)
				if s.Paired >= divergence.DefaultSegmentMinPairs && s.ExceedsNoise != (tc.truth > 0) {
					t.Errorf("segment %s=%s flagged %v, truth %v", s.Key, s.Value, s.ExceedsNoise, tc.truth)
				}
			}
		})
	}
}
