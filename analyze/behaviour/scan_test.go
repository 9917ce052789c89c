package behaviour

import (
	"encoding/json"
	"testing"
)

// slowChunk is textState.chunk without the fast path.
func slowChunk(data []byte, st *textState) bool {
	var b oaBody
	return json.Unmarshal(data, &b) == nil && st.add(&b)
}

var chunkSeeds = []string{
	`{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" lorem","logprobs":null,"finish_reason":null}]}`,
	`{"choices":[{"index":0,"delta":{"role":"assistant","content":"h\u00e9\n"},"logprobs":{"content":[{"token":"h","logprob":-0.25,"top_logprobs":[]},null]},"finish_reason":"stop"}],"usage":{"completion_tokens":3}}`,
	`{"choices":[{"text":"a","index":1},{"index":0,"message":{"content":null,"tool_calls":[{"id":"x"}]}}]}`,
	`{"choices":[{"index":0,"text":"b","logprobs":{"token_logprobs":[null,-1e-3,-2.5E+1],"content":[{"logprob":-1}]}}]}`,
	`{"choices":[],"usage":null,"error":null}`,
	`{"error":{"message":"x"}}`,
	`{"Choices":[{"index":0,"text":"case"}]}`,
	`{"choices":[{"index":0,"text":"dup"}],"choices":[]}`,
	`{"choices":[null]}`,
	`{"choices":[{"index":1.0}]} `,
	`{"choices":[{"index":0,"text":"x"}]}` + "\x00",
	`null`,
}

// TestFastChunkAgrees: on every seed the fast path either gives up or
// gives what encoding/json gives.
func TestFastChunkAgrees(t *testing.T) {
	gaveUp := 0
	for _, c := range chunkSeeds {
		if !agree(t, []byte(c)) {
			gaveUp++
		}
	}
	if gaveUp == 0 || gaveUp == len(chunkSeeds) {
		t.Errorf("fast path gave up on %d of %d seeds; the seeds should exercise both", gaveUp, len(chunkSeeds))
	}
}

// agree checks the fast path against encoding/json on data and reports
// whether the fast path answered.
func agree(t *testing.T, data []byte) bool {
	t.Helper()
	// A state with something in it, so that changes show.
	start := textState{f: Features{Tokens: 7, Chars: 3, FinishReason: "x"}, lpSum: -1, lpN: 2}
	fast, slow := start, start
	isErr, ok := fastChunk(data, &fast)
	if !ok {
		if !sameState(fast, start) {
			t.Fatalf("%q: the fast path gave up but changed the state: %+v", data, fast)
		}
		return false
	}
	slowOK := slowChunk(data, &slow)
	switch {
	case slowOK == isErr:
		t.Fatalf("%q: fast error %v, encoding/json ok %v", data, isErr, slowOK)
	case slowOK && !sameState(fast, slow):
		t.Fatalf("%q: fast %+v, encoding/json %+v", data, fast, slow)
	}
	return true
}

func FuzzFastChunk(f *testing.F) {
	for _, c := range chunkSeeds {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) { agree(t, data) })
}

func sameState(a, b textState) bool {
	return a.f.FinishReason == b.f.FinishReason && a.f.Chars == b.f.Chars && a.f.Tokens == b.f.Tokens &&
		a.choice == b.choice && a.content == b.content && a.lpN == b.lpN && a.lpSum == b.lpSum
}
