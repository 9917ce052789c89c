package replay_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/replay/csv"
)

func ExampleInspect() {
	trace := `TIMESTAMP,ContextTokens,GeneratedTokens
2023-11-16 18:17:03.0000000,100,10
2023-11-16 18:17:03.2500000,200,20
2023-11-16 18:17:03.5000000,300,40
2023-11-16 18:17:05.0000000,not a number,1
2023-11-16 18:17:05.0000000,400,30
`
	r, err := csv.NewReader("trace.csv", strings.NewReader(trace), replay.Options{}) // preset azure-llm detected
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := replay.Inspect(r)
	if err != nil {
		fmt.Println(err)
		return
	}
	s.WriteText(os.Stdout)
	// Output:
	// rows         4  (1 malformed row skipped)
	// timestamps   datetime
	// span         2.0 s
	// mean rate    2.000 req/s
	// burstiness   0.88  (CV of inter-arrival times: 0 even, 1 Poisson, >1 bursty)
	// peak 1 s     3 in an aligned bin, 3 in a sliding window  (1.5× the mean rate)
	//
	// tokens             min       p50       p90       p99       max        mean
	// input              100       200       400       400       400       250.0
	// output              10        20        40        40        40        25.0
	// spearman ρ   +0.800  (rank correlation of input and output tokens)
	//
	// input tokens
	//    64–127  1  25.0%  ████████████████████
	//   128–255  1  25.0%  ████████████████████
	//   256–511  2  50.0%  ████████████████████████████████████████
	//
	// output tokens
	//    8–15  1  25.0%  ████████████████████
	//   16–31  2  50.0%  ████████████████████████████████████████
	//   32–63  1  25.0%  ████████████████████
	//
	// skipped rows (first 1 of 1):
	//   trace.csv:5: ContextTokens: bad token count "not a number": not a whole number
}
