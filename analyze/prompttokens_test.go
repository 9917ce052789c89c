package analyze

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

func TestPromptTokenStats(t *testing.T) {
	r := newRec(t, Config{})
	rec := func(scenario string, intended, reported, cached int, failed bool) {
		res := result(scenario, t0, 0, 10*time.Millisecond)
		res.PromptTokens, res.ReportedPromptTokens, res.CachedPromptTokens = intended, reported, cached
		if failed {
			res.Class, res.Err = gonogo.ErrHTTP5xx, "boom"
		}
		r.Record(res)
	}
	rec("a", 100, 100, 0, false)
	rec("a", 200, 200, 64, false)
	rec("a", 300, 310, 0, false) // a chat template's 10 tokens
	rec("a", 50, 0, 0, false)    // the server said nothing
	rec("a", 0, 40, 0, false)    // intended unknown: not compared
	rec("a", 80, 90, 0, true)    // failed: not compared
	rec("b", 0, 0, 0, false)
	s := r.Summary(t0.Add(time.Second))
	got := s.Overall.PromptTokens
	want := &PromptTokenStats{Requests: 3, IntendedMean: 200, ReportedMean: 203.333, MeanDiff: 3.333,
		Exact: 2, ExactShare: 0.666667, CachedMean: 21.333, CachedShare: 0.104918, Unreported: 1}
	if got == nil || *got != *want {
		t.Fatalf("overall prompt_tokens = %+v, want %+v", got, want)
	}
	if s.Scenarios["b"].PromptTokens != nil {
		t.Fatalf("scenario b compared nothing, got %+v", s.Scenarios["b"].PromptTokens)
	}
	if sa := s.Scenarios["a"].PromptTokens; sa == nil || *sa != *want {
		t.Fatalf("scenario a = %+v", sa)
	}
	b, err := json.Marshal(s.Overall)
	if err != nil {
		t.Fatal(err)
	}
	var back Stats
	if err := json.Unmarshal(b, &back); err != nil || back.PromptTokens == nil || *back.PromptTokens != *want {
		t.Fatalf("JSON round trip: %s → %+v (%v)", b, back.PromptTokens, err)
	}
}
