package ndjson

import (
	"bytes"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	t0 := time.Unix(1000, 0)
	w := New(&buf, t0)
	req := &gonogo.Request{ID: 7, Row: 42, Scenario: "replay", Intended: t0.Add(1500 * time.Millisecond), Tags: map[string]string{"segment": "eu"}}
	w.Record(&gonogo.Result{Request: req, Sent: req.Intended.Add(2 * time.Millisecond), Done: req.Intended.Add(52 * time.Millisecond),
		Status: 503, Class: gonogo.ErrHTTP5xx, Err: "HTTP 503", TTFT: 10 * time.Millisecond, OutputTokens: 3,
		PromptTokens: 120, ReportedPromptTokens: 127, CachedPromptTokens: 64})
	w.Drop(&gonogo.Request{ID: 8, Row: 43, Scenario: "replay", Intended: t0.Add(2 * time.Second)})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []Sample
	if err := Read(&buf, func(s *Sample) bool { got = append(got, *s); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d samples", len(got))
	}
	s := got[0]
	if s.ID != 7 || s.Row != 42 || s.Tags["segment"] != "eu" || s.AtMs != 1500 || s.LagMs != 2 || s.LatencyMs != 52 ||
		s.ServiceMs != 50 || s.Class != "http_5xx" || s.TTFTMs != 10 || s.TPOTMs != 20 || s.Dropped ||
		s.PromptTokens != 120 || s.ReportedPromptTokens != 127 || s.CachedPromptTokens != 64 {
		t.Errorf("sample %+v", s)
	}
	if d := got[1]; !d.Dropped || d.Row != 43 || d.AtMs != 2000 {
		t.Errorf("drop %+v", d)
	}
}
