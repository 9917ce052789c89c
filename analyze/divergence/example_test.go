package divergence_test

import (
	"fmt"
	"os"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze/divergence"
)

// The candidate changes the score on half of the eu answers; the
// secondary, a second copy of production, answers like the primary. The
// eu segment is flagged: its 20 divergent pairs out of 40 are far more
// than its noise (none), which the McNemar test confirms.
func Example() {
	d := divergence.New(divergence.Options{Segments: []string{"region"}, Worst: 1})
	for i := range 80 {
		region := "us"
		if i%2 == 0 {
			region = "eu"
		}
		cand := `{"label": "cat", "score": 0.9}`
		if region == "eu" && i < 40 {
			cand = `{"label": "cat", "score": 0.7}`
		}
		d.Add(&gonogo.Pair{
			ID: uint64(i + 1), Tags: map[string]string{"region": region}, InputTokens: 40,
			Exchanges: []gonogo.Exchange{
				{Target: "primary", Output: `{"label": "cat", "score": 0.9}`, LatencyMicros: 12000, FromIntended: true},
				{Target: "secondary", Output: `{"label": "cat", "score": 0.9}`, LatencyMicros: 12500, FromIntended: true},
				{Target: "candidate", Output: cand, LatencyMicros: 15000, FromIntended: true},
			},
		})
	}
	r := d.Report()
	fmt.Println(r.Candidates[0].Headline[0].Metric, r.Candidates[0].Headline[0].Corrected)
	_ = r.WriteText(os.Stdout)
	// Output:
	// divergence_rate 0.25
	// divergence: 80 pairs (json 80); noise from secondary vs primary
	//
	// candidate vs primary: 80 compared of 80 pairs
	//   metric                        raw      noise  corrected
	//   divergence_rate              0.25          0       0.25  * exceeds noise
	//   error_rate                      0          0          0
	//   json_field_diff_rate         0.25          0       0.25  * exceeds noise
	//   protocol_rate                   0          0          0
	//   segments with the largest divergence (* exceeds noise: McNemar p < 0.0167, 3 tested):
	//     region=eu  n=40  diverged 50 %  noise 0 %  corrected 50 %  errors 0 %  p < 0.001 *
	//     input_tokens=32-63  n=80  diverged 25 %  noise 0 %  corrected 25 %  errors 0 %  p < 0.001 *
	//     region=us  n=40  diverged 0 %  noise 0 %  corrected 0 %  errors 0 %  p = 1.000
	//   JSON fields beyond noise: 1 (0 suppressed as noise or below 0.005)
	//     all $.score  rate 25 %  noise 0 %
	//   worst examples:
	//     [json fields_differing 1] pair 1 ($.score changed)
	//       primary: "{\"label\": \"cat\", \"score\": 0.9}"
	//       candidate: "{\"label\": \"cat\", \"score\": 0.7}"
	//
	// latency ms (p50/p90/p99) and errors:
	//   primary               12        12        12  errors 0 % (0/80)
	//   secondary           12.5      12.5      12.5  errors 0 % (0/80)
	//   candidate             15        15        15  errors 0 % (0/80)
}
