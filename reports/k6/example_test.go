package k6_test

import (
	"fmt"
	"os"

	"github.com/gonogo-dev/gonogo/reports/k6"
)

// Import reads k6's --out json output and records every http_req_duration
// point as a request.
func ExampleImport() {
	f, err := os.Open("testdata/sample.ndjson")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	imp, err := k6.Import(f, k6.Options{File: "sample.ndjson"})
	if err != nil {
		panic(err)
	}
	s := imp.Summary()
	fmt.Println("target:", imp.Target)
	fmt.Println("requests:", s.Overall.Requests.Total, "failed:", s.Overall.Requests.Failed, "dropped:", s.Overall.Requests.Dropped)
	fmt.Printf("latency p50 %.0f ms, p99 %.0f ms; scheduling lag %.0f ms\n", s.Overall.Latency.P50, s.Overall.Latency.P99, s.Overall.SchedulingLag.Max)
	fmt.Printf("checks %d/%d passed\n", imp.Stats.ChecksPassed, imp.Stats.Checks)
	// Output:
	// target: http://api.example.test:8080
	// requests: 20 failed: map[connect:1 http_4xx:1 http_5xx:2 timeout:1] dropped: 3
	// latency p50 60 ms, p99 120 ms; scheduling lag 0 ms
	// checks 14/20 passed
}
