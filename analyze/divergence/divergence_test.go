package divergence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo"
)

// ex builds an exchange of role with output out, timed from the intended
// send time as mirror writes them.
func ex(role, out string) gonogo.Exchange {
	return gonogo.Exchange{Target: role, Output: out, LatencyMicros: 1000, ServiceMicros: 900, FromIntended: true}
}

func mkPair(id uint64, tags map[string]string, exs ...gonogo.Exchange) *gonogo.Pair {
	return &gonogo.Pair{ID: id, Tags: tags, InputTokens: 100, Request: fmt.Sprintf("req %d", id), Exchanges: exs}
}

func headline(t *testing.T, c CandidateReport, metric string) Headline {
	t.Helper()
	for _, h := range c.Headline {
		if h.Metric == metric {
			return h
		}
	}
	t.Fatalf("no headline %q in %+v", metric, c.Headline)
	return Headline{}
}

func category(c ComparisonReport, name string) int64 {
	for _, k := range c.Categories {
		if k.Name == name {
			return k.Count
		}
	}
	return 0
}

func segment(t *testing.T, c CandidateReport, key, value string) SegmentReport {
	t.Helper()
	for _, s := range c.Segments {
		if s.Key == key && s.Value == value {
			return s
		}
	}
	t.Fatalf("no segment %s=%s", key, value)
	return SegmentReport{}
}

// reportOf adds the pairs and checks that the report encodes and prints.
func reportOf(t *testing.T, o Options, pairs []*gonogo.Pair) *Report {
	t.Helper()
	d := New(o)
	for _, p := range pairs {
		d.Add(p)
	}
	r := d.Report()
	if _, err := json.Marshal(r); err != nil {
		t.Fatalf("report does not encode: %v", err)
	}
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTextExactMatch(t *testing.T) {
	base := "the cat sat on the mat"
	var pairs []*gonogo.Pair
	for i := range 10 {
		cand, sec := base, base
		if i < 3 { // 3 of 10 differ for the candidate
			cand = "the cat sat on a mat"
		}
		if i == 9 { // 1 of 10 for the secondary
			sec = "the cat sat on the mat ."
		}
		pairs = append(pairs, mkPair(uint64(i+1), nil, ex("primary", base), ex("secondary", sec), ex("candidate", cand)))
	}
	r := reportOf(t, Options{}, pairs)
	if r.Kinds[OutputText] != 10 || !r.NoiseMeasured || len(r.Candidates) != 1 {
		t.Fatalf("kinds %v noise %v candidates %d", r.Kinds, r.NoiseMeasured, len(r.Candidates))
	}
	c := r.Candidates[0]
	tx := c.Raw.Text
	if tx == nil || tx.ExactMatchRate != 0.7 || tx.Pairs != 10 || tx.EditUnit != "word" {
		t.Fatalf("text = %+v", tx)
	}
	if !divNear(tx.EditDistance.Max, 1.0/6, 1e-6) || !divNear(tx.EditDistance.Mean, 0.3/6, 1e-6) || tx.EditDistance.P50 != 0 {
		t.Errorf("edit distance = %+v, want max 1/6 mean 0.05 p50 0", tx.EditDistance)
	}
	if tx.LengthMeanShift != 0 || tx.LengthKSD != 0 || tx.LengthPrimary.Mean != 6 {
		t.Errorf("length = %+v / %+v shift %v", tx.LengthPrimary, tx.LengthOther, tx.LengthMeanShift)
	}
	// corrected = (raw − noise)/(1 − noise) = 0.2/0.9
	h := headline(t, c, "text_mismatch_rate")
	if !divNear(h.Raw, 0.3, 1e-9) || !divNear(h.Noise, 0.1, 1e-9) || !divNear(h.Corrected, 2.0/9, 1e-6) || !h.ExceedsNoise {
		t.Errorf("headline = %+v, want raw 0.3 noise 0.1 corrected 2/9", h)
	}
	if n := r.Noise.Text; n == nil || n.ExactMatchRate != 0.9 || !divNear(n.LengthMeanShift, 0.1, 1e-9) {
		t.Errorf("noise text = %+v", n)
	}
	if len(c.Worst) != 3 || c.Worst[0].Category != "text" || c.Worst[0].PairID != 1 || c.Worst[0].Request != "req 1" {
		t.Errorf("worst = %+v", c.Worst)
	}
}

func TestJSONOutputValidity(t *testing.T) {
	var pairs []*gonogo.Pair
	for i := range 4 {
		cand := `{"answer": 1}`
		if i == 0 {
			cand = `{"answer": 1` // truncated
		}
		pairs = append(pairs, mkPair(uint64(i+1), nil, ex("primary", `{"answer": 1}`), ex("candidate", cand)))
	}
	r := reportOf(t, Options{JSONOutput: true}, pairs)
	tx := r.Candidates[0].Raw.Text
	if tx == nil || *tx.JSONValidPrimary != 1 || *tx.JSONValidOther != 0.75 {
		t.Fatalf("text = %+v", tx)
	}
	if h := headline(t, r.Candidates[0], "json_invalid_rate"); h.Raw != 0.25 {
		t.Errorf("json_invalid_rate = %+v", h)
	}
}

// kserve writes a KServe v2 response with one probability tensor.
func kserve(probs ...float64) string {
	b, _ := json.Marshal(probs)
	return fmt.Sprintf(`{"model_name":"m","outputs":[{"name":"probs","shape":[1,%d],"datatype":"FP32","data":%s}]}`, len(probs), b)
}

func TestClassificationFlips(t *testing.T) {
	// 20 pairs, 3 classes. The candidate flips pairs 0-4 (5 of 20), the
	// secondary flips pair 0 only. Truth: the primary is right on every
	// pair except 10-11, where the candidate is right too — no flip — and
	// pair 4, where the primary is wrong and the candidate right.
	var pairs []*gonogo.Pair
	for i := range 20 {
		prim := kserve(0.1, 0.7, 0.2) // label 1
		cand, sec := prim, prim
		truth := "1"
		if i < 5 {
			cand = kserve(0.6, 0.3, 0.1) // label 0
		}
		if i == 0 {
			sec = kserve(0.2, 0.2, 0.6) // label 2
		}
		if i == 4 {
			truth = "0" // positive flip
		}
		if i == 10 || i == 11 {
			truth = "2"
		}
		pairs = append(pairs, mkPair(uint64(i+1), map[string]string{"label": truth}, ex("primary", prim), ex("secondary", sec), ex("candidate", cand)))
	}
	r := reportOf(t, Options{}, pairs)
	if r.Kinds[OutputClassification] != 20 {
		t.Fatalf("kinds = %v", r.Kinds)
	}
	c := r.Candidates[0]
	cl := c.Raw.Classification
	if cl == nil || cl.Flips != 5 || cl.FlipRate != 0.25 || cl.NegativeFlips != 4 || cl.PositiveFlips != 1 || cl.Labelled != 20 {
		t.Fatalf("classification = %+v", cl)
	}
	if *cl.PrimaryAccuracy != 0.85 || *cl.OtherAccuracy != 0.7 {
		t.Errorf("accuracy %v / %v, want 0.85 / 0.7", *cl.PrimaryAccuracy, *cl.OtherAccuracy)
	}
	fm := cl.FlipMatrix
	if strings.Join(fm.Labels, ",") != "0,1" || fm.Counts[1][0] != 5 || fm.Counts[1][1] != 15 || fm.Counts[0][0] != 0 {
		t.Errorf("flip matrix = %+v", fm)
	}
	h := headline(t, c, "flip_rate") // corrected = (raw − noise)/(1 − 2·noise)
	if h.Raw != 0.25 || h.Noise != 0.05 || !divNear(h.Corrected, 0.2/0.9, 1e-6) || !h.ExceedsNoise {
		t.Errorf("flip headline = %+v", h)
	}
	if r.Noise.Classification.Flips != 1 {
		t.Errorf("noise flips = %d", r.Noise.Classification.Flips)
	}
	s := c.Raw.Scores
	if s == nil || s.Elements != 60 || !divNear(s.AbsDiff.Max, 0.5, 1e-9) || !divNear(s.PairMaxAbs.Mean, 0.25*0.5, 1e-9) {
		t.Errorf("scores = %+v", s)
	}
	if rk := c.Raw.Ranking; rk == nil || !rk.FromScores || rk.K != 10 || rk.IdenticalRate != 0.75 {
		t.Errorf("ranking = %+v", rk)
	}
	if c.Raw.Drift == nil {
		t.Error("no drift")
	}
}

func TestClassificationForms(t *testing.T) {
	// Plain number arrays, {"predictions": ...} and label strings.
	pairs := []*gonogo.Pair{
		mkPair(1, nil, ex("primary", `[0.2, 0.8]`), ex("candidate", `[0.9, 0.1]`)),
		mkPair(2, nil, ex("primary", `[0.2, 0.8]`), ex("candidate", `[0.3, 0.7]`)),
	}
	r := reportOf(t, Options{}, pairs)
	if cl := r.Candidates[0].Raw.Classification; cl == nil || cl.Flips != 1 || cl.Pairs != 2 {
		t.Errorf("number arrays: %+v", cl)
	}
	pairs = []*gonogo.Pair{
		mkPair(1, nil, ex("primary", `"cat"`), ex("candidate", `"dog"`)),
		mkPair(2, nil, ex("primary", `"cat"`), ex("candidate", `"cat"`)),
		mkPair(3, nil, ex("primary", `"cat"`), ex("candidate", `"cat"`)),
	}
	r = reportOf(t, Options{Kind: OutputClassification}, pairs)
	if cl := r.Candidates[0].Raw.Classification; cl == nil || cl.Flips != 1 || cl.Pairs != 3 || r.Candidates[0].Raw.Scores != nil {
		t.Errorf("labels: %+v", cl)
	}
	pairs = []*gonogo.Pair{
		mkPair(1, nil, ex("primary", `{"predictions": [[0.1, 0.9]]}`), ex("candidate", `{"predictions": [[0.6, 0.4]]}`)),
	}
	r = reportOf(t, Options{}, pairs)
	if cl := r.Candidates[0].Raw.Classification; cl == nil || cl.Flips != 1 {
		t.Errorf("predictions: %+v", cl)
	}
}

func TestScoresDrift(t *testing.T) {
	// Regression scores: the candidate adds 1 to every score. The drift
	// figures must match the "shift" reference case.
	var pairs []*gonogo.Pair
	for i := 1; i <= 10; i++ {
		pairs = append(pairs, mkPair(uint64(i), nil, ex("primary", fmt.Sprint(i)), ex("candidate", fmt.Sprint(i+1))))
	}
	r := reportOf(t, Options{}, pairs)
	if r.Kinds[OutputScores] != 10 {
		t.Fatalf("kinds = %v", r.Kinds)
	}
	c := r.Candidates[0]
	if s := c.Raw.Scores; s.AbsDiff.Mean != 1 || s.AbsDiff.P99 != 1 || !divNear(s.RelDiff.Max, 0.5, 1e-9) {
		t.Errorf("scores = %+v", s)
	}
	d := c.Raw.Drift
	if d == nil || !divNear(d.PSI, 0.759399, 1e-6) || !divNear(d.KSD, 0.1, 1e-9) || d.Wasserstein != 1 || !divNear(d.JS, 0.062256, 1e-6) {
		t.Fatalf("drift = %+v", d)
	}
	if d.PSILevel != DriftSignificant || d.JSLevel != DriftSignificant || d.KSLevel != DriftNone || d.WassersteinLvl != DriftModerate || d.Verdict != DriftSignificant {
		t.Errorf("levels = %+v", d)
	}
	if h := headline(t, c, "divergence_rate"); h.Raw != 1 || h.Noise != 0 || !h.ExceedsNoise {
		t.Errorf("divergence headline = %+v", h)
	}
}

func TestRankingIDs(t *testing.T) {
	pairs := []*gonogo.Pair{
		mkPair(1, nil, ex("primary", `["a","b","c","d"]`), ex("candidate", `["b","a","d","c"]`)),
		mkPair(2, nil, ex("primary", `["a","b","c"]`), ex("candidate", `["d","e","f"]`)),
		mkPair(3, nil, ex("primary", `["a","b"]`), ex("candidate", `["a","b"]`)),
	}
	r := reportOf(t, Options{}, pairs)
	rk := r.Candidates[0].Raw.Ranking
	if r.Kinds[OutputRanking] != 3 || rk == nil || rk.FromScores {
		t.Fatalf("kinds %v ranking %+v", r.Kinds, rk)
	}
	if !divNear(rk.RBOMean, (0.873+0+1)/3, 1e-6) || !divNear(rk.JaccardMean, 2.0/3, 1e-6) || !divNear(rk.IdenticalRate, 1.0/3, 1e-6) {
		t.Errorf("ranking = %+v", rk)
	}
	// TopK 2 truncates: pair 1 becomes [a b] vs [b a].
	r = reportOf(t, Options{TopK: 2}, pairs[:1])
	if rk := r.Candidates[0].Raw.Ranking; !divNear(rk.RBOMean, 0.9, 1e-9) || rk.JaccardMean != 1 {
		t.Errorf("top 2 ranking = %+v", rk)
	}
}

// doc builds a JSON document for the noise cancellation test.
func doc(ts, reqID, score, extra bool) string {
	m := map[string]any{
		"model": "m1",
		"ts":    "2024-01-01T00:00:00Z",
		"id":    "r-1",
		"items": []any{map[string]any{"id": 1, "score": 0.5}, map[string]any{"id": 2, "score": 0.25}},
	}
	if ts {
		m["ts"] = "2024-01-01T00:00:01Z"
	}
	if reqID {
		m["id"] = "r-2"
	}
	if score {
		m["items"].([]any)[1].(map[string]any)["score"] = 0.75
	}
	if extra {
		m["debug"] = true
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestJSONNoiseCancellation(t *testing.T) {
	// 100 pairs. "ts" differs on every pair for both secondary and
	// candidate; "id" on the same 40% for both: noise, not reported.
	// $.items[*].score changes on 30% for the candidate only, "debug" is
	// added on 10% by the candidate only: both reported.
	var pairs []*gonogo.Pair
	for i := range 100 {
		prim := doc(false, false, false, false)
		sec := doc(true, i%5 < 2, false, false)
		cand := doc(true, i%5 < 2, i%10 < 3, i%10 == 9)
		pairs = append(pairs, mkPair(uint64(i+1), map[string]string{"endpoint": "/v1/predict"},
			ex("primary", prim), ex("secondary", sec), ex("candidate", cand)))
	}
	r := reportOf(t, Options{}, pairs)
	if r.Kinds[OutputJSON] != 100 {
		t.Fatalf("kinds = %v", r.Kinds)
	}
	c := r.Candidates[0]
	got := map[string]FieldDiff{}
	for _, f := range c.Fields {
		got[f.Path] = f
	}
	if len(got) != 2 {
		t.Fatalf("reported fields = %+v, want $.items[*].score and $.debug", c.Fields)
	}
	if f := got["$.items[*].score"]; f.Rate != 0.3 || f.NoiseRate != 0 || f.Changed != 30 || f.Endpoint != "/v1/predict" {
		t.Errorf("score field = %+v", f)
	}
	if f := got["$.debug"]; f.Rate != 0.1 || f.Extra != 10 {
		t.Errorf("debug field = %+v", f)
	}
	if c.FieldsSuppressed != 2 || len(c.NoisyFields) != 2 {
		t.Errorf("suppressed %d noisy %+v", c.FieldsSuppressed, c.NoisyFields)
	}
	for _, f := range c.NoisyFields {
		if f.Rate != f.NoiseRate {
			t.Errorf("noisy field %+v: rate differs from noise", f)
		}
	}
	if h := headline(t, c, "json_field_diff_rate"); h.Raw != 1 || h.Noise != 1 || h.ExceedsNoise {
		t.Errorf("json headline = %+v", h)
	}
}

func TestJSONDiffKinds(t *testing.T) {
	d := differ{seen: map[string]uint8{}, tol: 1e-6}
	a, _ := decodeJSON(`{"a": 1, "b": [1, 2, 3], "c": {"x": "s"}, "d": 1.0, "e": [{"k": 1}, {"k": 2}], "weird key": 1, "m": 1}`)
	b, _ := decodeJSON(`{"a": "1", "b": [3, 2, 1], "c": {"y": "s"}, "d": 1.0000000001, "e": [{"k": 1}], "weird key": 2, "n": 1}`)
	d.diff(a, b, "$", 0)
	want := map[string]uint8{
		"$.a": 1 << diffType, "$.b": 1 << diffOrder, "$.c.x": 1 << diffMissing, "$.c.y": 1 << diffExtra,
		"$.e[*]": 1 << diffMissing, `$["weird key"]`: 1 << diffChanged, "$.m": 1 << diffMissing, "$.n": 1 << diffExtra,
	}
	if len(d.seen) != len(want) {
		t.Errorf("diffs = %v, want %v", d.seen, want)
	}
	for p, k := range want {
		if d.seen[p] != k {
			t.Errorf("%s: kinds %b, want %b", p, d.seen[p], k)
		}
	}
}

func TestSegmentRegression(t *testing.T) {
	// The candidate is perfect for region us and wrong on every eu pair;
	// the secondary is always right. Long inputs (≥ 1024 tokens) are slower
	// on the candidate.
	var pairs []*gonogo.Pair
	for i := range 160 {
		region := "us"
		if i%4 == 0 {
			region = "eu"
		}
		cand := `[0.1, 0.9]`
		if region == "eu" {
			cand = `[0.9, 0.1]`
		}
		p := mkPair(uint64(i+1), map[string]string{"region": region},
			ex("primary", `[0.1, 0.9]`), ex("secondary", `[0.1, 0.9]`), ex("candidate", cand))
		if i%2 == 0 {
			p.InputTokens = 1500
			p.Exchanges[2].LatencyMicros = 9000
		}
		pairs = append(pairs, p)
	}
	r := reportOf(t, Options{Segments: []string{"region", "absent"}}, pairs)
	c := r.Candidates[0]
	if h := headline(t, c, "flip_rate"); h.Raw != 0.25 {
		t.Errorf("overall flip rate = %v, want 0.25", h.Raw)
	}
	eu, us := segment(t, c, "region", "eu"), segment(t, c, "region", "us")
	if eu.Compared != 40 || eu.DivergedRate != 1 || eu.Corrected != 1 || !eu.ExceedsNoise || eu.PValue == nil || *eu.PValue > 1e-9 {
		t.Errorf("eu = %+v", eu)
	}
	if us.Compared != 120 || us.DivergedRate != 0 || us.ExceedsNoise || us.PValue == nil || *us.PValue != 1 {
		t.Errorf("us = %+v", us)
	}
	if s := segment(t, c, "absent", SegmentNone); s.Pairs != 160 {
		t.Errorf("absent tag segment = %+v", s)
	}
	long, short := segment(t, c, SegmentInputTokens, "1024-2047"), segment(t, c, SegmentInputTokens, "64-127")
	if long.CandidateLatencyMs.P50 != 9 || long.PrimaryLatencyMs.P50 != 1 || short.CandidateLatencyMs.P50 != 1 {
		t.Errorf("latency by input length: long %+v / %+v short %+v", long.CandidateLatencyMs, long.PrimaryLatencyMs, short.CandidateLatencyMs)
	}
	var buf bytes.Buffer
	_ = r.WriteText(&buf)
	if !strings.Contains(buf.String(), "region=eu") {
		t.Errorf("text summary does not name region=eu:\n%s", buf.String())
	}
}

func TestSegmentCap(t *testing.T) {
	d := New(Options{Segments: []string{"user"}, MaxSegmentValues: 3})
	for i := range 10 {
		d.Add(mkPair(uint64(i), map[string]string{"user": fmt.Sprint(i)}, ex("primary", "a"), ex("candidate", "a")))
	}
	r := d.Report()
	n := 0
	for _, s := range r.Candidates[0].Segments {
		if s.Key == "user" {
			n++
			if s.Value == SegmentOther && s.Pairs != 7 {
				t.Errorf("other = %+v", s)
			}
		}
	}
	if n != 4 {
		t.Errorf("user segments = %d, want 3 + other", n)
	}
}

func TestMalformed(t *testing.T) {
	prim := kserve(0.1, 0.9)
	timeout := ex("candidate", "")
	timeout.Class, timeout.Err = gonogo.ErrTimeout, "deadline"
	fail := ex("candidate", "")
	fail.Class = gonogo.ErrHTTP5xx
	dropped := ex("candidate", "")
	dropped.Dropped = true
	primFail := ex("primary", "")
	primFail.Class = gonogo.ErrConnect
	pairs := []*gonogo.Pair{
		mkPair(1, nil, ex("primary", prim), ex("candidate", prim)),
		mkPair(2, nil, ex("primary", prim), ex("candidate", `{"outputs":[{"data":[0.1,`)),
		mkPair(3, nil, ex("primary", prim), ex("candidate", `not json`)),
		mkPair(4, nil, ex("primary", prim), ex("candidate", kserve(0.2, 0.3, 0.5))),
		mkPair(5, nil, ex("primary", prim), ex("candidate", `{"hello": "world"}`)),
		mkPair(6, nil, ex("primary", prim), ex("candidate", "")),
		mkPair(7, nil, ex("primary", prim), timeout),
		mkPair(8, nil, ex("primary", prim), fail),
		mkPair(9, nil, ex("primary", prim), dropped),
		mkPair(10, nil, ex("primary", prim)),
		mkPair(11, nil, primFail, ex("candidate", prim)),
		mkPair(12, nil, ex("primary", `garbage`), ex("candidate", prim)),
		mkPair(13, nil, ex("candidate", prim)),
		nil,
	}
	r := reportOf(t, Options{}, pairs)
	c := r.Candidates[0].Raw
	want := map[string]int64{
		"truncated": 1, "invalid_json": 1, "shape_mismatch": 1, "schema_mismatch": 1, "empty_output": 1,
		"candidate_timeout": 1, "candidate_error": 1, "candidate_dropped": 1, "candidate_missing": 1,
		"primary_error": 1, "primary_invalid": 1,
	}
	for name, n := range want {
		if got := category(c, name); got != n {
			t.Errorf("category %s = %d, want %d", name, got, n)
		}
	}
	if r.Pairs != 13 || r.PairsWithPrimary != 12 || c.Pairs != 12 {
		t.Errorf("pairs %d with primary %d compared base %d", r.Pairs, r.PairsWithPrimary, c.Pairs)
	}
	if c.Compared != 8 || c.Diverged != 7 {
		t.Errorf("compared %d diverged %d, want 8 and 7", c.Compared, c.Diverged)
	}
	if c.ErrorsByClass["timeout"] != 1 || c.ErrorsByClass["http_5xx"] != 1 {
		t.Errorf("errors by class = %v", c.ErrorsByClass)
	}
	if h := headline(t, r.Candidates[0], "error_rate"); h.Raw != 0.25 {
		t.Errorf("error rate = %+v", h)
	}
	var cand *TargetLatency
	for i := range r.Latency {
		if r.Latency[i].Target == "candidate" {
			cand = &r.Latency[i]
		}
	}
	if cand == nil || cand.Requests != 11 || cand.Errors != 2 || cand.Dropped != 1 {
		t.Errorf("candidate latency = %+v", cand)
	}
}

func TestLatency(t *testing.T) {
	var pairs []*gonogo.Pair
	for i := 1; i <= 100; i++ {
		p := ex("primary", "x")
		p.LatencyMicros, p.TTFTMicros = int64(i)*1000, int64(i)*100
		c := ex("candidate-2", "x")
		c.LatencyMicros = int64(i) * 2000
		c2 := ex("candidate", "x")
		pairs = append(pairs, mkPair(uint64(i), nil, p, c, c2))
	}
	r := reportOf(t, Options{}, pairs)
	if len(r.Latency) != 3 || r.Latency[0].Target != "primary" || r.Latency[1].Target != "candidate" || r.Latency[2].Target != "candidate-2" {
		t.Fatalf("latency order = %+v", r.Latency)
	}
	p, c := r.Latency[0], r.Latency[2]
	if !divNear(p.LatencyMs.P50, 50, 0.05) || !divNear(p.LatencyMs.P99, 99, 0.1) || !divNear(c.LatencyMs.P50, 100, 0.1) {
		t.Errorf("latency p50 %v p99 %v candidate p50 %v", p.LatencyMs.P50, p.LatencyMs.P99, c.LatencyMs.P50)
	}
	if p.TTFTMs == nil || !divNear(p.TTFTMs.P90, 9, 0.01) || c.TTFTMs != nil {
		t.Errorf("ttft = %+v / %+v", p.TTFTMs, c.TTFTMs)
	}
	if len(r.Candidates) != 2 || r.Candidates[1].Target != "candidate-2" {
		t.Errorf("candidates = %d", len(r.Candidates))
	}
}

// The latency side by side is flagged invalid when a mirror did not get
// every request or its answers are not timed from the intended send.
func TestLatencyInvalid(t *testing.T) {
	dropped := ex("candidate", "")
	dropped.Dropped, dropped.Err = true, "not mirrored: in-flight cap reached"
	unanswered := ex("candidate", "")
	unanswered.Class, unanswered.FromIntended = gonogo.ErrCanceled, false
	old := func(role string) gonogo.Exchange {
		e := ex(role, "x")
		e.FromIntended, e.ServiceMicros = false, 0
		return e
	}
	for _, tc := range []struct {
		name  string
		pairs []*gonogo.Pair
		want  []string // substrings, one per reason; none: valid
	}{
		{"every answer timed", []*gonogo.Pair{
			mkPair(1, nil, ex("primary", "x"), ex("secondary", "x"), ex("candidate", "x")),
			mkPair(2, nil, ex("primary", "x"), ex("secondary", "x"), ex("candidate", "y")),
		}, nil},
		{"candidate dropped", []*gonogo.Pair{
			mkPair(1, nil, ex("primary", "x"), ex("candidate", "x")),
			mkPair(2, nil, ex("primary", "x"), dropped),
		}, []string{"candidate: 1 of 2 requests not sent to it"}},
		{"candidate never answered", []*gonogo.Pair{
			mkPair(1, nil, ex("primary", "x"), ex("candidate", "x")),
			mkPair(2, nil, ex("primary", "x"), unanswered),
		}, []string{"candidate: 1 of 2 answers not timed from the intended send time"}},
		{"older pair store", []*gonogo.Pair{
			mkPair(1, nil, old("primary"), old("secondary")),
		}, []string{"primary: 1 of 1 answers not timed", "secondary: 1 of 1 answers not timed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := reportOf(t, Options{}, tc.pairs)
			if len(r.LatencyInvalid) != len(tc.want) {
				t.Fatalf("latency_invalid = %q, want %d reasons %q", r.LatencyInvalid, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(r.LatencyInvalid[i], w) {
					t.Errorf("reason %d = %q, want it to say %q", i, r.LatencyInvalid[i], w)
				}
			}
			var buf bytes.Buffer
			_ = r.WriteText(&buf)
			if flagged := strings.Contains(buf.String(), "latency comparison invalid"); flagged != (len(tc.want) > 0) {
				t.Errorf("text flags the latency comparison invalid: %v, want %v:\n%s", flagged, len(tc.want) > 0, buf.String())
			}
		})
	}
}

func TestWorstBounded(t *testing.T) {
	d := New(Options{Worst: 2})
	for i := range 50 {
		cand := strings.Repeat("b ", i%7) + "a"
		d.Add(mkPair(uint64(i+1), nil, ex("primary", "a"), ex("candidate", cand)))
	}
	w := d.Report().Candidates[0].Worst
	if len(w) != 2 || w[0].PairID != 7 || w[1].PairID != 14 || w[0].Value != w[1].Value {
		t.Errorf("worst = %+v, want pairs 7 and 14 (edit distance 6/7)", w)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{{Kind: "tensor"}, {TopK: -1}, {InputBuckets: []int{10, 5}},
		{SegmentAlpha: 1}, {SegmentAlpha: -0.01}, {SegmentMinPairs: -1}} {
		if err := o.Validate(); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%+v: error %v, want ErrInvalidOptions", o, err)
		}
	}
	if err := (Options{Kind: OutputJSON, InputBuckets: []int{128, 512}}).Validate(); err != nil {
		t.Error(err)
	}
	o := New(Options{NoiseRel: -1, SegmentAlpha: 2}).o
	if o.NoiseRel != 0 || o.NoiseAbs != DefaultNoiseAbs || o.TopK != DefaultTopK || o.Kind != OutputAuto ||
		o.SegmentAlpha != DefaultSegmentAlpha || o.SegmentMinPairs != DefaultSegmentMinPairs {
		t.Errorf("defaults = %+v", o)
	}
}
