package analyze_test

import (
	"fmt"
	"os"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
)

func ExampleDivergence() {
	d := analyze.NewDivergence(analyze.DivergenceOptions{Segments: []string{"region"}, Worst: 1})
	for i := range 8 {
		region := "us"
		if i%2 == 0 {
			region = "eu"
		}
		cand := `{"label": "cat", "score": 0.9}`
		if region == "eu" && i < 4 {
			cand = `{"label": "cat", "score": 0.7}`
		}
		d.Add(&gonogo.Pair{
			ID: uint64(i + 1), Tags: map[string]string{"region": region}, InputTokens: 40,
			Exchanges: []gonogo.Exchange{
				{Target: "primary", Output: `{"label": "cat", "score": 0.9}`, LatencyMicros: 12000},
				{Target: "secondary", Output: `{"label": "cat", "score": 0.9}`, LatencyMicros: 12500},
				{Target: "candidate", Output: cand, LatencyMicros: 15000},
			},
		})
	}
	r := d.Report()
	fmt.Println(r.Candidates[0].Headline[0].Metric, r.Candidates[0].Headline[0].Corrected)
	_ = r.WriteText(os.Stdout)
	// Output:
	// divergence_rate 0.25
	// divergence: 8 pairs (json 8); noise from secondary vs primary
	//
	// candidate vs primary: 8 compared of 8 pairs
	//   metric                        raw      noise  corrected
	//   divergence_rate            0.2500     0.0000     0.2500  * exceeds noise
	//   error_rate                 0.0000     0.0000     0.0000
	//   json_field_diff_rate       0.2500     0.0000     0.2500  * exceeds noise
	//   protocol_rate              0.0000     0.0000     0.0000
	//   segments with the largest divergence:
	//     region=eu  n=4  diverged 0.5000  noise 0.0000  corrected 0.5000  errors 0.0000 *
	//     input_tokens=32-63  n=8  diverged 0.2500  noise 0.0000  corrected 0.2500  errors 0.0000 *
	//     region=us  n=4  diverged 0.0000  noise 0.0000  corrected 0.0000  errors 0.0000
	//   JSON fields beyond noise: 1 (0 suppressed as noise or below 0.005)
	//     all $.score  rate 0.2500  noise 0.0000
	//   worst examples:
	//     [json fields_differing 1] pair 1 ($.score changed)
	//       primary: "{\"label\": \"cat\", \"score\": 0.9}"
	//       candidate: "{\"label\": \"cat\", \"score\": 0.7}"
	//
	// latency ms (p50/p90/p99) and errors:
	//   primary           12.007    12.007    12.007  errors 0.0000 (0/8)
	//   secondary         12.503    12.503    12.503  errors 0.0000 (0/8)
	//   candidate         15.007    15.007    15.007  errors 0.0000 (0/8)
}
