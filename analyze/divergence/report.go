package divergence

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/gonum/stat"

	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// Schema is the version of the Report JSON document.
const Schema = 1

// Report is the outcome of an Accumulator, documented field by field
// in docs/divergence.md. Rates are shares in 0..1; times are milliseconds.
type Report struct {
	Schema  int     `json:"schema"`
	Options Options `json:"options"`
	// Pairs counts every pair added; PairsWithPrimary those with a primary
	// exchange, the base of every comparison.
	Pairs            int64 `json:"pairs"`
	PairsWithPrimary int64 `json:"pairs_with_primary"`
	// Kinds counts pairs by the kind their outputs were compared as;
	// Undecided counts pairs seen before auto detection had a successful
	// primary output to look at.
	Kinds         map[OutputKind]int64  `json:"kinds"`
	EndpointKinds map[string]OutputKind `json:"endpoint_kinds,omitempty"`
	Undecided     int64                 `json:"undecided,omitempty"`
	// NoiseMeasured is set when some pair had a secondary; Noise compares
	// it with the primary.
	NoiseMeasured bool              `json:"noise_measured"`
	Noise         *ComparisonReport `json:"noise,omitempty"`
	Candidates    []CandidateReport `json:"candidates"`
	// CandidateOverflow counts exchanges of candidates beyond the 16th,
	// not analysed.
	CandidateOverflow int64 `json:"candidate_overflow,omitempty"`
	// Latency is side by side: primary, secondary, then each candidate.
	Latency []TargetLatency `json:"latency"`
	// LatencyInvalid says why Latency (and the segments' latency) does not
	// compare like with like; empty when it does. See
	// TargetLatency.invalid.
	LatencyInvalid []string `json:"latency_invalid,omitempty"`
}

// CandidateReport is one candidate against the primary.
type CandidateReport struct {
	Target string `json:"target"`
	// Headline holds the main figures, raw and noise-corrected, highest
	// first in the order of docs/divergence.md.
	Headline []Headline       `json:"headline"`
	Raw      ComparisonReport `json:"raw"`
	// Fields are the JSON fields whose diff rate exceeds the noise;
	// NoisyFields (at most 20) differ but not more than between primary and
	// secondary; FieldsSuppressed counts every field not reported.
	Fields           []FieldDiff     `json:"fields,omitempty"`
	NoisyFields      []FieldDiff     `json:"noisy_fields,omitempty"`
	FieldsSuppressed int             `json:"fields_suppressed,omitempty"`
	Segments         []SegmentReport `json:"segments"`
	// SegmentsTested counts the segments tested against their noise
	// (a secondary ran and they had SegmentMinPairs paired pairs);
	// SegmentPThreshold is the p-value below which one is flagged,
	// SegmentAlpha / SegmentsTested.
	SegmentsTested    int       `json:"segments_tested"`
	SegmentPThreshold float64   `json:"segment_p_threshold,omitempty"`
	Worst             []Example `json:"worst,omitempty"`
}

// Headline is one figure where higher is worse: raw (candidate vs primary),
// noise (secondary vs primary; 0 when not measured), corrected (the
// candidate's own share, see correct and docs/divergence.md), and whether
// raw exceeds noise by both NoiseRel and NoiseAbs.
type Headline struct {
	Metric       string  `json:"metric"`
	Raw          float64 `json:"raw"`
	Noise        float64 `json:"noise"`
	Corrected    float64 `json:"corrected"`
	ExceedsNoise bool    `json:"exceeds_noise"`
}

// ComparisonReport compares one target (candidate or secondary, "other")
// with the primary.
type ComparisonReport struct {
	Target string `json:"target"`
	// Pairs counts pairs with a primary; Compared those where both answered
	// and the primary succeeded; Diverged those that differed (an error of
	// the other target included).
	Pairs          int64   `json:"pairs"`
	Compared       int64   `json:"compared"`
	Diverged       int64   `json:"diverged"`
	DivergenceRate float64 `json:"divergence_rate"`
	MeanDistance   float64 `json:"mean_distance"`
	// Categories are the non-zero divergence categories, rate over Pairs.
	Categories     []CategoryCount  `json:"categories,omitempty"`
	ErrorsByClass  map[string]int64 `json:"errors_by_class,omitempty"`
	Text           *Text            `json:"text,omitempty"`
	Classification *Classification  `json:"classification,omitempty"`
	Scores         *Scores          `json:"scores,omitempty"`
	Ranking        *Ranking         `json:"ranking,omitempty"`
	JSON           *JSON            `json:"json,omitempty"`
	Drift          *Drift           `json:"drift,omitempty"`
}

// CategoryCount is one divergence category.
type CategoryCount struct {
	Name  string  `json:"name"`
	Class string  `json:"class"`
	Count int64   `json:"count"`
	Rate  float64 `json:"rate"`
}

// Text compares generated text. Edit distances are Levenshtein
// distances over whitespace-separated words (the first MaxTokens of each
// output), divided by the longer output's word count; lengths are in words.
type Text struct {
	Pairs          int64   `json:"pairs"`
	ExactMatchRate float64 `json:"exact_match_rate"`
	EditUnit       string  `json:"edit_unit"`
	EditDistance   Dist    `json:"edit_distance"`
	// Capped counts pairs where an output exceeded MaxTokens words.
	Capped          int64   `json:"capped,omitempty"`
	LengthPrimary   Dist    `json:"length_primary"`
	LengthOther     Dist    `json:"length_other"`
	LengthMeanShift float64 `json:"length_mean_shift"`
	LengthKSD       float64 `json:"length_ks_d"`
	// JSON validity rates, with JSONOutput only.
	JSONValidPrimary *float64 `json:"json_valid_primary,omitempty"`
	JSONValidOther   *float64 `json:"json_valid_other,omitempty"`
}

// Classification compares predicted labels.
type Classification struct {
	Pairs    int64   `json:"pairs"` // pairs with a label on both sides
	Flips    int64   `json:"flips"`
	FlipRate float64 `json:"flip_rate"`
	// FlipMatrix counts primary label (row) → other label (column).
	FlipMatrix FlipMatrix `json:"flip_matrix"`
	// Labelled counts pairs with a ground-truth "label" tag; negative flips
	// turn a right primary answer wrong, positive flips the reverse.
	Labelled         int64    `json:"labelled,omitempty"`
	NegativeFlips    int64    `json:"negative_flips,omitempty"`
	PositiveFlips    int64    `json:"positive_flips,omitempty"`
	NegativeFlipRate float64  `json:"negative_flip_rate,omitempty"`
	PositiveFlipRate float64  `json:"positive_flip_rate,omitempty"`
	PrimaryAccuracy  *float64 `json:"primary_accuracy,omitempty"`
	OtherAccuracy    *float64 `json:"other_accuracy,omitempty"`
}

// FlipMatrix holds the 20 most frequent labels and, when there are more,
// a last row and column "other".
type FlipMatrix struct {
	Labels []string  `json:"labels"`
	Counts [][]int64 `json:"counts"`
}

// Scores compares probabilities or scores element by element.
// Relative differences are |a−b|/max(|a|,|b|) (0 when both are 0).
type Scores struct {
	Pairs      int64 `json:"pairs"`
	Elements   int64 `json:"elements"`
	AbsDiff    Dist  `json:"abs_diff"`
	RelDiff    Dist  `json:"rel_diff"`
	PairMaxAbs Dist  `json:"pair_max_abs_diff"`
	// TopPrimary and TopOther are the top-class probability (or the
	// score) of each side, which Drift compares.
	TopPrimary Dist `json:"top_primary"`
	TopOther   Dist `json:"top_other"`
}

// Ranking compares top-K rankings: id lists, or class indices by
// decreasing probability.
type Ranking struct {
	Pairs         int64   `json:"pairs"`
	K             int     `json:"k"`
	FromScores    bool    `json:"from_scores"`
	JaccardMean   float64 `json:"jaccard_mean"`
	RBOMean       float64 `json:"rbo_mean"`
	RBOP          float64 `json:"rbo_p"`
	IdenticalRate float64 `json:"identical_rate"`
}

// JSON compares JSON documents structurally.
type JSON struct {
	Pairs    int64            `json:"pairs"`
	DiffRate float64          `json:"diff_rate"`
	Fields   int              `json:"fields"`
	Overflow int64            `json:"field_overflow,omitempty"`
	Compared map[string]int64 `json:"compared_by_endpoint"`
}

// FieldDiff is one JSON path of one endpoint: the share of compared pairs
// where the candidate differs there (Rate) and where the secondary does
// (NoiseRate), with counts per kind of difference.
type FieldDiff struct {
	Endpoint   string  `json:"endpoint"`
	Path       string  `json:"path"`
	Pairs      int64   `json:"pairs"`
	Rate       float64 `json:"rate"`
	NoiseRate  float64 `json:"noise_rate"`
	Corrected  float64 `json:"corrected"`
	Changed    int64   `json:"changed,omitempty"`
	Missing    int64   `json:"missing,omitempty"`
	Extra      int64   `json:"extra,omitempty"`
	TypeChange int64   `json:"type_change,omitempty"`
	Order      int64   `json:"order_change,omitempty"`
}

// SegmentReport is one segment (a tag value or input-length bucket) of one
// candidate, with the noise in the same segment. Paired counts the pairs
// compared for both the candidate and the secondary, the n of the test;
// PValue is the one-sided exact McNemar p-value that the candidate
// diverges more often than the secondary on them, absent when the segment
// was not tested (no secondary, or fewer than SegmentMinPairs paired
// pairs); ExceedsNoise is PValue < CandidateReport.SegmentPThreshold.
type SegmentReport struct {
	Key          string   `json:"key"`
	Value        string   `json:"value"`
	Pairs        int64    `json:"pairs"`
	Compared     int64    `json:"compared"`
	DivergedRate float64  `json:"diverged_rate"`
	NoiseRate    float64  `json:"noise_rate"`
	Corrected    float64  `json:"corrected"`
	Paired       int64    `json:"paired"`
	PValue       *float64 `json:"p_value,omitempty"`
	ExceedsNoise bool     `json:"exceeds_noise"`
	MeanDistance float64  `json:"mean_distance"`
	// ErrorRate is the candidate's failures over Compared.
	ErrorRate          float64 `json:"error_rate"`
	PrimaryLatencyMs   *Dist   `json:"primary_latency_ms,omitempty"`
	CandidateLatencyMs *Dist   `json:"candidate_latency_ms,omitempty"`
	PrimaryTTFTMs      *Dist   `json:"primary_ttft_ms,omitempty"`
	CandidateTTFTMs    *Dist   `json:"candidate_ttft_ms,omitempty"`
}

// Example is one of the worst pairs of a category, outputs cut to 1000
// bytes.
type Example struct {
	Category string  `json:"category"`
	Metric   string  `json:"metric"`
	Value    float64 `json:"value"`
	PairID   uint64  `json:"pair_id"`
	Row      int64   `json:"row,omitempty"`
	Request  string  `json:"request,omitempty"`
	Primary  string  `json:"primary"`
	Other    string  `json:"other"`
	Detail   string  `json:"detail,omitempty"`
}

// TargetLatency is one target's latency (successful answers only) and
// errors.
type TargetLatency struct {
	Target        string           `json:"target"`
	Requests      int64            `json:"requests"`
	Errors        int64            `json:"errors"`
	ErrorRate     float64          `json:"error_rate"`
	Dropped       int64            `json:"dropped,omitempty"`
	ErrorsByClass map[string]int64 `json:"errors_by_class,omitempty"`
	LatencyMs     Dist             `json:"latency_ms"`
	TTFTMs        *Dist            `json:"ttft_ms,omitempty"`
	// Untimed counts answers (Requests) whose latency is not timed from
	// the intended send time: never answered, or from an older pair store.
	Untimed int64 `json:"untimed,omitempty"`
}

// invalid says why t's latency cannot stand beside the primary's: a
// secondary or candidate that was not sent every request (dropped at its
// in-flight cap or on close, or not mirrored) carried another load than
// the primary; answers not timed from the intended send time are not on
// the primary's base.
func (t TargetLatency) invalid() []string {
	var out []string
	if t.Dropped > 0 && t.Target != rolePrimary {
		out = append(out, fmt.Sprintf("%s: %d of %d requests not sent to it (dropped or not mirrored), so it carried less load than the primary",
			t.Target, t.Dropped, t.Dropped+t.Requests))
	}
	if t.Untimed > 0 {
		out = append(out, fmt.Sprintf("%s: %d of %d answers not timed from the intended send time (never answered, or an older pair store)",
			t.Target, t.Untimed, t.Requests))
	}
	return out
}

func rate(n, d int64) float64 {
	if d == 0 {
		return 0
	}
	return divRound(float64(n)/float64(d), 6)
}

func exceeds(raw, noise, rel, abs float64) bool {
	return raw > noise*(1+rel) && raw-noise > abs
}

// targetLess orders candidate names naturally: candidate, candidate-2, …,
// candidate-10.
func targetLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// Report computes the report of everything added so far.
func (d *Accumulator) Report() *Report {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := &Report{
		Schema: Schema, Options: d.o, Pairs: d.pairs, PairsWithPrimary: d.withPrimary,
		Kinds: map[OutputKind]int64{}, Undecided: d.undecided, CandidateOverflow: d.candOverflow,
		Candidates: []CandidateReport{}, Latency: []TargetLatency{},
	}
	for k, v := range d.kinds {
		r.Kinds[k] = v
	}
	if d.o.Kind == OutputAuto && len(d.endpointKind) > 0 {
		r.EndpointKinds = map[string]OutputKind{}
		for k, v := range d.endpointKind {
			r.EndpointKinds[k] = v
		}
	}
	var noiseMetrics map[string]float64
	if d.noise != nil {
		r.NoiseMeasured = true
		n := d.comparison(roleSecondary, d.noise)
		r.Noise = &n
		noiseMetrics = d.noise.metrics(d)
	}
	names := make([]string, 0, len(d.cands))
	for n := range d.cands {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return targetLess(names[i], names[j]) })
	for _, name := range names {
		c := d.cands[name]
		cr := CandidateReport{Target: name, Raw: d.comparison(name, c), Segments: []SegmentReport{}}
		raw := c.metrics(d)
		for _, m := range Metrics {
			v, ok := raw[m]
			if !ok {
				continue
			}
			nv := noiseMetrics[m]
			cr.Headline = append(cr.Headline, Headline{
				Metric: m, Raw: divRound(v, 6), Noise: divRound(nv, 6),
				Corrected: divRound(correct(m, v, nv), 6), ExceedsNoise: exceeds(v, nv, d.o.NoiseRel, d.o.NoiseAbs),
			})
		}
		d.fields(&cr, c)
		cr.Segments = d.segmentReports(&cr, c)
		cr.Worst = c.examples()
		r.Candidates = append(r.Candidates, cr)
	}
	roles := []string{rolePrimary, roleSecondary}
	roles = append(roles, names...)
	for _, role := range roles {
		if t := d.targets[role]; t != nil {
			tl := t.report(role)
			r.Latency = append(r.Latency, tl)
			r.LatencyInvalid = append(r.LatencyInvalid, tl.invalid()...)
		}
	}
	return r
}

// Metrics names the headline figures (CandidateReport.Headline), in
// their order; higher is worse for all.
var Metrics = []string{
	"divergence_rate", "error_rate", "text_mismatch_rate", "edit_distance_mean",
	"json_invalid_rate", "flip_rate", "negative_flip_rate", "abs_diff_mean",
	"top_k_jaccard_gap", "rbo_gap", "json_field_diff_rate", "protocol_rate",
}

// metrics returns the headline figures that c has data for.
func (c *cmpAcc) metrics(d *Accumulator) map[string]float64 {
	m := map[string]float64{}
	if c.compared > 0 {
		m["divergence_rate"] = float64(c.diverged) / float64(c.compared)
		m["error_rate"] = float64(c.cats[catOtherError]+c.cats[catOtherTimeout]) / float64(c.compared)
		m["protocol_rate"] = float64(c.cats[catInvalidJSON]+c.cats[catTruncated]+c.cats[catSchema]+c.cats[catShape]) / float64(c.compared)
	}
	if t := c.text; t != nil && t.pairs > 0 {
		m["text_mismatch_rate"] = 1 - float64(t.exact)/float64(t.pairs)
		m["edit_distance_mean"] = t.edit.mean()
		if d.o.JSONOutput {
			m["json_invalid_rate"] = 1 - float64(t.validO)/float64(t.pairs)
		}
	}
	if x := c.model; x != nil {
		if x.labelled > 0 {
			m["flip_rate"] = float64(x.flips) / float64(x.labelled)
		}
		if x.truth > 0 {
			m["negative_flip_rate"] = float64(x.negFlips) / float64(x.truth)
		}
		if x.abs.n > 0 {
			m["abs_diff_mean"] = x.abs.mean()
		}
		if x.ranked > 0 {
			m["top_k_jaccard_gap"] = 1 - x.jaccardSum/float64(x.ranked)
			m["rbo_gap"] = 1 - x.rboSum/float64(x.ranked)
		}
	}
	if j := c.json; j != nil && j.pairs > 0 {
		m["json_field_diff_rate"] = float64(j.anyDiff) / float64(j.pairs)
	}
	return m
}

func (d *Accumulator) comparison(target string, c *cmpAcc) ComparisonReport {
	r := ComparisonReport{
		Target: target, Pairs: d.withPrimary, Compared: c.compared, Diverged: c.diverged,
		DivergenceRate: rate(c.diverged, c.compared),
	}
	if c.compared > 0 {
		r.MeanDistance = divRound(c.distSum/float64(c.compared), 6)
	}
	cats := c.cats
	cats[catOtherMissing] = max(0, d.withPrimary-c.pairs)
	for i, n := range cats {
		if n > 0 {
			r.Categories = append(r.Categories, CategoryCount{Name: catInfo[i].name, Class: catInfo[i].class, Count: n, Rate: rate(n, d.withPrimary)})
		}
	}
	if len(c.classes) > 0 {
		r.ErrorsByClass = map[string]int64{}
		for k, v := range c.classes {
			r.ErrorsByClass[k] = v
		}
	}
	if t := c.text; t != nil {
		tr := &Text{
			Pairs: t.pairs, ExactMatchRate: rate(t.exact, t.pairs), EditUnit: "word",
			EditDistance: t.edit.dist(6), Capped: t.capped,
			LengthPrimary: t.lenP.dist(3), LengthOther: t.lenO.dist(3),
			LengthMeanShift: divRound(t.lenO.mean()-t.lenP.mean(), 3),
		}
		if p, q := t.lenP.sorted(), t.lenO.sorted(); len(p) > 0 && len(q) > 0 {
			tr.LengthKSD = divRound(stat.KolmogorovSmirnov(p, nil, q, nil), 6)
		}
		if d.o.JSONOutput {
			vp, vo := rate(t.validP, t.pairs), rate(t.validO, t.pairs)
			tr.JSONValidPrimary, tr.JSONValidOther = &vp, &vo
		}
		r.Text = tr
	}
	if m := c.model; m != nil {
		if m.labelled > 0 {
			cr := &Classification{
				Pairs: m.labelled, Flips: m.flips, FlipRate: rate(m.flips, m.labelled),
				FlipMatrix: m.matrix(), Labelled: m.truth, NegativeFlips: m.negFlips, PositiveFlips: m.posFlips,
				NegativeFlipRate: rate(m.negFlips, m.truth), PositiveFlipRate: rate(m.posFlips, m.truth),
			}
			if m.truth > 0 {
				pa, oa := rate(m.primaryCorrect, m.truth), rate(m.otherCorrect, m.truth)
				cr.PrimaryAccuracy, cr.OtherAccuracy = &pa, &oa
			}
			r.Classification = cr
		}
		if m.valued > 0 {
			r.Scores = &Scores{
				Pairs: m.valued, Elements: m.elements, AbsDiff: m.abs.dist(6), RelDiff: m.rel.dist(6),
				PairMaxAbs: m.pairMax.dist(6), TopPrimary: m.topP.dist(6), TopOther: m.topO.dist(6),
			}
			r.Drift = computeDrift(m.topP.sorted(), m.topO.sorted())
		}
		if m.ranked > 0 {
			r.Ranking = &Ranking{
				Pairs: m.ranked, K: d.o.TopK, FromScores: !m.rankIDs, RBOP: RBOPersistence,
				JaccardMean:   divRound(m.jaccardSum/float64(m.ranked), 6),
				RBOMean:       divRound(m.rboSum/float64(m.ranked), 6),
				IdenticalRate: rate(m.rankSame, m.ranked),
			}
		}
	}
	if j := c.json; j != nil {
		jr := &JSON{Pairs: j.pairs, DiffRate: rate(j.anyDiff, j.pairs), Fields: len(j.fields), Overflow: j.overflow, Compared: map[string]int64{}}
		for k, v := range j.endpoints {
			jr.Compared[k] = v
		}
		r.JSON = jr
	}
	return r
}

// matrix keeps the maxMatrixShown most frequent labels, the rest as other.
func (m *modelAcc) matrix() FlipMatrix {
	labels := make([]string, 0, len(m.labelCount))
	for l := range m.labelCount {
		labels = append(labels, l)
	}
	sort.Slice(labels, func(i, j int) bool {
		a, b := m.labelCount[labels[i]], m.labelCount[labels[j]]
		if a != b {
			return a > b
		}
		return labels[i] < labels[j]
	})
	other := len(labels) > maxMatrixShown || m.labelOverflow > 0 || m.cellOverflow > 0
	if len(labels) > maxMatrixShown {
		labels = labels[:maxMatrixShown]
	}
	sort.Strings(labels)
	idx := map[string]int{}
	for i, l := range labels {
		idx[l] = i
	}
	n := len(labels)
	if other {
		labels = append(labels, SegmentOther)
	}
	counts := make([][]int64, len(labels))
	for i := range counts {
		counts[i] = make([]int64, len(labels))
	}
	at := func(l string) int {
		if i, ok := idx[l]; ok {
			return i
		}
		return n
	}
	for k, v := range m.cells {
		counts[at(k[0])][at(k[1])] += v
	}
	if m.cellOverflow > 0 {
		counts[n][n] += m.cellOverflow
	}
	return FlipMatrix{Labels: labels, Counts: counts}
}

// fields applies the noise cancellation to the candidate's JSON fields.
func (d *Accumulator) fields(cr *CandidateReport, c *cmpAcc) {
	j := c.json
	if j == nil {
		return
	}
	var nj *jsonAcc
	if d.noise != nil {
		nj = d.noise.json
	}
	var noisy []FieldDiff
	for key, f := range j.fields {
		fd := FieldDiff{
			Endpoint: key[0], Path: key[1], Pairs: f.pairs, Rate: rate(f.pairs, j.endpoints[key[0]]),
			Changed: f.kinds[diffChanged], Missing: f.kinds[diffMissing], Extra: f.kinds[diffExtra],
			TypeChange: f.kinds[diffType], Order: f.kinds[diffOrder],
		}
		if nj != nil {
			if nf := nj.fields[key]; nf != nil {
				fd.NoiseRate = rate(nf.pairs, nj.endpoints[key[0]])
			}
		}
		fd.Corrected = divRound(correctShare(fd.Rate, fd.NoiseRate), 6)
		switch {
		case exceeds(fd.Rate, fd.NoiseRate, d.o.NoiseRel, d.o.NoiseAbs):
			cr.Fields = append(cr.Fields, fd)
		case fd.NoiseRate > 0:
			noisy = append(noisy, fd)
			cr.FieldsSuppressed++
		default:
			cr.FieldsSuppressed++
		}
	}
	sortFields := func(fs []FieldDiff, by func(FieldDiff) float64) {
		sort.Slice(fs, func(a, b int) bool {
			x, y := by(fs[a]), by(fs[b])
			if x != y {
				return x > y
			}
			if fs[a].Endpoint != fs[b].Endpoint {
				return fs[a].Endpoint < fs[b].Endpoint
			}
			return fs[a].Path < fs[b].Path
		})
	}
	sortFields(cr.Fields, func(f FieldDiff) float64 { return f.Corrected })
	sortFields(noisy, func(f FieldDiff) float64 { return f.Rate })
	if len(noisy) > 20 {
		noisy = noisy[:20]
	}
	cr.NoisyFields = noisy
}

// segmentReports reports c's segments and flags those that the McNemar
// test finds above the noise (see Options.SegmentAlpha); it sets the
// candidate's SegmentsTested and SegmentPThreshold.
func (d *Accumulator) segmentReports(cr *CandidateReport, c *cmpAcc) []SegmentReport {
	out := []SegmentReport{}
	prim, cand := d.targets[rolePrimary], d.targets[cr.Target]
	tested := func(s *segAcc) bool { return d.noise != nil && s.paired >= int64(d.o.SegmentMinPairs) }
	for _, s := range c.segs {
		if tested(s) {
			cr.SegmentsTested++
		}
	}
	if cr.SegmentsTested > 0 {
		cr.SegmentPThreshold = d.o.SegmentAlpha / float64(cr.SegmentsTested)
	}
	for _, k := range sortedSegKeys(c.segs) {
		s := c.segs[k]
		sr := SegmentReport{
			Key: k.key, Value: k.value, Pairs: s.pairs, Compared: s.compared,
			DivergedRate: rate(s.diverged, s.compared), ErrorRate: rate(s.errors, s.compared),
		}
		if s.compared > 0 {
			sr.MeanDistance = divRound(s.distSum/float64(s.compared), 6)
		}
		if d.noise != nil {
			if ns := d.noise.segs[k]; ns != nil {
				sr.NoiseRate = rate(ns.diverged, ns.compared)
			}
		}
		sr.Corrected = divRound(correctShare(sr.DivergedRate, sr.NoiseRate), 6)
		sr.Paired = s.paired
		if tested(s) {
			pv := mcNemarGreater(s.candOnly, s.noiseOnly)
			sr.ExceedsNoise = pv < cr.SegmentPThreshold
			pv = divRound(pv, 6)
			sr.PValue = &pv
		}
		sr.PrimaryLatencyMs, sr.PrimaryTTFTMs = prim.segDists(k)
		sr.CandidateLatencyMs, sr.CandidateTTFTMs = cand.segDists(k)
		out = append(out, sr)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Corrected > out[j].Corrected
	})
	return out
}

func (t *targetAcc) segDists(k segKey) (lat, ttft *Dist) {
	if t == nil {
		return nil, nil
	}
	s := t.segs[k]
	if s == nil {
		return nil, nil
	}
	if s.lat.n > 0 {
		x := s.lat.dist(3)
		lat = &x
	}
	if s.ttft.n > 0 {
		x := s.ttft.dist(3)
		ttft = &x
	}
	return lat, ttft
}

func hdrDist(h *hdr.Histogram) Dist {
	if h.TotalCount() == 0 {
		return Dist{}
	}
	ms := func(v int64) float64 { return numfmt.Round(float64(v)/1000, 3) }
	return Dist{
		Count: h.TotalCount(), Mean: numfmt.Round(h.Mean()/1000, 3),
		P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P99: ms(h.ValueAtQuantile(99)),
		Min: ms(h.Min()), Max: ms(h.Max()),
	}
}

func (t *targetAcc) report(name string) TargetLatency {
	r := TargetLatency{
		Target: name, Requests: t.requests, Errors: t.errors, ErrorRate: rate(t.errors, t.requests),
		Dropped: t.dropped, Untimed: t.untimed, LatencyMs: hdrDist(t.lat),
	}
	if len(t.classes) > 0 {
		r.ErrorsByClass = map[string]int64{}
		for k, v := range t.classes {
			r.ErrorsByClass[k] = v
		}
	}
	if t.ttft.TotalCount() > 0 {
		x := hdrDist(t.ttft)
		r.TTFTMs = &x
	}
	return r
}

// examples lists the kept examples by category, worst first.
func (c *cmpAcc) examples() []Example {
	var out []Example
	cats := make([]string, 0, len(c.worst))
	for k := range c.worst {
		cats = append(cats, k)
	}
	sort.Strings(cats)
	for _, k := range cats {
		w := c.worst[k]
		idx := make([]int, len(w.items))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool {
			x, y := idx[a], idx[b]
			if w.vals[x] != w.vals[y] {
				return w.vals[x] > w.vals[y]
			}
			return w.items[x].PairID < w.items[y].PairID
		})
		for _, i := range idx {
			e := w.items[i]
			e.Value = divRound(w.vals[i], 6)
			out = append(out, e)
		}
	}
	return out
}

// oneLine shortens s to n runes on one line, for WriteText.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// WriteText writes a compact human summary: per candidate the
// noise-corrected headline figures, categories and drift, the segments with
// the largest divergence (with the test's n and p-value), the reported JSON
// fields, the worst examples, and the latency side by side, headed by why
// it is invalid when it is. Numbers are written as package numfmt writes
// them everywhere: rates as percentages, other figures with three
// significant digits.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	sig, pct := numfmt.Sig, numfmt.Percent
	kinds := make([]string, 0, len(r.Kinds))
	for k, v := range r.Kinds {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(kinds)
	noise := "no secondary: raw figures are not noise-corrected"
	if r.NoiseMeasured {
		noise = "noise from secondary vs primary"
	}
	p("divergence: %d pairs (%s); %s\n", r.Pairs, strings.Join(kinds, ", "), noise)
	for _, c := range r.Candidates {
		p("\n%s vs primary: %d compared of %d pairs\n", c.Target, c.Raw.Compared, c.Raw.Pairs)
		p("  %-22s %10s %10s %10s\n", "metric", "raw", "noise", "corrected")
		for _, h := range c.Headline {
			mark := ""
			if h.ExceedsNoise {
				mark = "  * exceeds noise"
			}
			p("  %-22s %10s %10s %10s%s\n", h.Metric, sig(h.Raw), sig(h.Noise), sig(h.Corrected), mark)
		}
		if len(c.Raw.Categories) > 0 {
			var parts []string
			for _, k := range c.Raw.Categories {
				parts = append(parts, fmt.Sprintf("%s %d (%s)", k.Name, k.Count, pct(k.Rate)))
			}
			p("  categories: %s\n", strings.Join(parts, ", "))
		}
		if t := c.Raw.Text; t != nil {
			p("  text: exact %s, edit distance (words) p50 %s p90 %s p99 %s, length mean %s words, length KS D %s\n",
				pct(t.ExactMatchRate), sig(t.EditDistance.P50), sig(t.EditDistance.P90), sig(t.EditDistance.P99), signed(t.LengthMeanShift), sig(t.LengthKSD))
		}
		if cl := c.Raw.Classification; cl != nil {
			p("  labels: flip rate %s (%d of %d)", pct(cl.FlipRate), cl.Flips, cl.Pairs)
			if cl.Labelled > 0 {
				p(", negative flips %d, positive flips %d of %d labelled", cl.NegativeFlips, cl.PositiveFlips, cl.Labelled)
			}
			p("\n")
		}
		if s := c.Raw.Scores; s != nil {
			p("  scores: abs diff p50 %s p90 %s p99 %s max %s\n", sig(s.AbsDiff.P50), sig(s.AbsDiff.P90), sig(s.AbsDiff.P99), sig(s.AbsDiff.Max))
		}
		if rk := c.Raw.Ranking; rk != nil {
			p("  ranking@%d: jaccard %s, rbo %s, identical %s\n", rk.K, sig(rk.JaccardMean), sig(rk.RBOMean), pct(rk.IdenticalRate))
		}
		if dr := c.Raw.Drift; dr != nil {
			p("  drift: %s (psi %s %s, ks D %s %s %s, js %s %s, w1/sd %s %s)\n", dr.Verdict,
				sig(dr.PSI), dr.PSILevel, sig(dr.KSD), numfmt.P(dr.KSPValue), dr.KSLevel, sig(dr.JS), dr.JSLevel, sig(dr.WassersteinNorm), dr.WassersteinLvl)
		}
		segs := append([]SegmentReport(nil), c.Segments...)
		sort.SliceStable(segs, func(i, j int) bool {
			if segs[i].Corrected != segs[j].Corrected {
				return segs[i].Corrected > segs[j].Corrected
			}
			return segs[i].Compared > segs[j].Compared
		})
		if len(segs) > 0 {
			p("  segments with the largest divergence")
			switch {
			case !r.NoiseMeasured:
				p(" (no secondary: not tested against noise)")
			case c.SegmentsTested > 0:
				p(" (* exceeds noise: McNemar p < %s, %d tested)", numfmt.Sig(c.SegmentPThreshold), c.SegmentsTested)
			}
			p(":\n")
			for _, s := range segs[:min(5, len(segs))] {
				test := ""
				switch {
				case s.PValue != nil:
					test = "  " + numfmt.P(*s.PValue)
				case r.NoiseMeasured:
					test = fmt.Sprintf("  untested: %d paired < %d", s.Paired, r.Options.SegmentMinPairs)
				}
				if s.ExceedsNoise {
					test += " *"
				}
				p("    %s=%s  n=%d  diverged %s  noise %s  corrected %s  errors %s%s\n",
					s.Key, oneLine(s.Value, 40), s.Compared, pct(s.DivergedRate), pct(s.NoiseRate), pct(s.Corrected), pct(s.ErrorRate), test)
			}
		}
		if len(c.Fields) > 0 || c.FieldsSuppressed > 0 {
			p("  JSON fields beyond noise: %d (%d suppressed as noise or below %s)\n", len(c.Fields), c.FieldsSuppressed, sig(r.Options.NoiseAbs))
			for _, f := range c.Fields[:min(10, len(c.Fields))] {
				p("    %s %s  rate %s  noise %s\n", f.Endpoint, f.Path, pct(f.Rate), pct(f.NoiseRate))
			}
		}
		if len(c.Worst) > 0 {
			p("  worst examples:\n")
			for _, e := range c.Worst[:min(10, len(c.Worst))] {
				p("    [%s %s %s] pair %d", e.Category, e.Metric, sig(e.Value), e.PairID)
				if e.Detail != "" {
					p(" (%s)", oneLine(e.Detail, 80))
				}
				p("\n      primary: %q\n      %s: %q\n", oneLine(e.Primary, 100), c.Target, oneLine(e.Other, 100))
			}
		}
	}
	if len(r.Latency) > 0 {
		p("\nlatency ms (p50/p90/p99) and errors:\n")
		if len(r.LatencyInvalid) > 0 {
			p("  ! latency comparison invalid:\n")
			for _, why := range r.LatencyInvalid {
				p("    %s\n", why)
			}
		}
		for _, t := range r.Latency {
			p("  %-14s %9s %9s %9s", t.Target, sig(t.LatencyMs.P50), sig(t.LatencyMs.P90), sig(t.LatencyMs.P99))
			if t.TTFTMs != nil {
				p("  ttft %s/%s/%s", sig(t.TTFTMs.P50), sig(t.TTFTMs.P90), sig(t.TTFTMs.P99))
			}
			p("  errors %s (%d/%d)\n", pct(t.ErrorRate), t.Errors, t.Requests)
		}
	}
	return bw.Flush()
}

// signed is numfmt.Sig with a + on positive values.
func signed(v float64) string {
	if v > 0 {
		return "+" + numfmt.Sig(v)
	}
	return numfmt.Sig(v)
}
