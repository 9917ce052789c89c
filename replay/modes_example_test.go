package replay_test

import (
	"fmt"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/replay"
)

// Replay the window [1 s, 5 s) of a trace twice as fast, twice over.
func ExampleNewTimestamps() {
	trace := &modesReader{rows: modesRows(0, 1, 2, 4.5, 6)}
	src := replay.NewTimestamps(trace, replay.TimestampOptions{Speed: 2, From: time.Second, To: 5 * time.Second, Loop: 2})
	for {
		var req gonogo.Request
		off, ok := src.Next(&req)
		if !ok {
			break
		}
		fmt.Printf("%-6s line %d, %d→%d tokens\n", off, req.Row, req.InputTokens, req.OutputTokens)
	}
	fmt.Println("err:", src.Err())
	// Output:
	// 0s     line 3, 101→11 tokens
	// 500ms  line 4, 102→12 tokens
	// 1.75s  line 5, 103→13 tokens
	// 2s     line 3, 101→11 tokens
	// 2.5s   line 4, 102→12 tokens
	// 3.75s  line 5, 103→13 tokens
	// err: <nil>
}

// Draw a trace's payloads and burstiness at a rate of one's own choosing:
// scenarios.NewSchedule(sc, scenarios.WithGaps(d.Gap), scenarios.WithPayload(d.Fill)).
func ExampleNewDistribution() {
	trace := &modesReader{rows: modesRows(0, 0.1, 0.2, 3, 4)}
	d, err := replay.NewDistribution(trace, replay.DistributionOptions{Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	d.Gap() // the first: from a random moment to the first arrival
	var sum float64
	for range d.Rows() - 1 { // then one pass of draws uses every gap once
		sum += d.Gap()
	}
	fmt.Printf("%d rows, mean rate %.2f/s, mean normalised gap %.2f\n", d.Rows(), d.MeanRate(), sum/float64(d.Rows()-1))
	// Output:
	// 5 rows, mean rate 1.00/s, mean normalised gap 1.00
}
