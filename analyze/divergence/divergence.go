// Package divergence compares the outputs of a shadow run: how each
// candidate's answers differ from the primary's, how a secondary copy of
// production differs from the primary (the noise), the noise-corrected
// difference, and where it lies (segments), as docs/divergence.md
// documents. It reads gonogo.Pair records and knows nothing of how they
// were collected; package analyze judges its Report in divergence gates.
package divergence

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gonogo-dev/gonogo"
)

// ErrInvalidOptions is wrapped by every error of Options.Validate.
var ErrInvalidOptions = errors.New("divergence: invalid option")

// OutputKind says how the outputs of a shadow run are compared.
type OutputKind string

// Output kinds. OutputAuto detects the kind per endpoint from the first
// successful primary output (see docs/divergence.md).
const (
	OutputAuto           OutputKind = "auto"
	OutputText           OutputKind = "text"
	OutputClassification OutputKind = "classification"
	OutputScores         OutputKind = "scores"
	OutputRanking        OutputKind = "ranking"
	OutputJSON           OutputKind = "json"
)

// OutputKinds lists every kind Options.Kind accepts.
var OutputKinds = []OutputKind{OutputAuto, OutputText, OutputClassification, OutputScores, OutputRanking, OutputJSON}

// Defaults of Options.
const (
	DefaultTopK             = 10
	DefaultWorst            = 5
	DefaultNoiseRel         = 0.1
	DefaultNoiseAbs         = 0.005
	DefaultTolerance        = 1e-6
	DefaultMaxTokens        = 2000
	DefaultMaxSegmentValues = 50
	DefaultSampleSize       = 10000
	// DefaultSegmentAlpha is the family-wise significance level of the
	// segment tests (see Options.SegmentAlpha).
	DefaultSegmentAlpha = 0.05
	// DefaultSegmentMinPairs is the fewest pairs a segment test takes.
	DefaultSegmentMinPairs = 30
	// RBOPersistence is p of rank-biased overlap.
	RBOPersistence = 0.9
)

// Segment and role names.
const (
	// SegmentInputTokens is the segment key of the input-length bucket,
	// always present.
	SegmentInputTokens = "input_tokens"
	// SegmentOther collects the values of a segment key beyond
	// MaxSegmentValues.
	SegmentOther = "other"
	// SegmentNone is the value of a segment key that a pair has no tag for.
	SegmentNone = "(none)"

	rolePrimary   = "primary"
	roleSecondary = "secondary"
	roleCandidate = "candidate"
)

// Bounds on what an Accumulator keeps.
const (
	maxCandidates  = 16
	maxEndpoints   = 50
	maxLabels      = 1000
	maxMatrixCells = 10000
	maxFields      = 2000
	maxMatrixShown = 20
	exampleBytes   = 1000
	segmentSample  = 512
)

// Options configure an Accumulator. Zero values take the defaults.
type Options struct {
	// Kind is how outputs are compared; "" or "auto" detects it.
	Kind OutputKind `json:"kind"`
	// Segments are tag keys to break every figure down by. The input-length
	// bucket (SegmentInputTokens) is always added.
	Segments []string `json:"segments,omitempty"`
	// InputBuckets are ascending upper bounds (inclusive) of the
	// input-length buckets; empty means powers of two (1, 2-3, 4-7, …).
	InputBuckets []int `json:"input_buckets,omitempty"`
	// TopK is the depth of ranking comparisons (Jaccard@k, RBO).
	TopK int `json:"top_k"`
	// Worst is how many examples are kept per category.
	Worst int `json:"worst"`
	// NoiseRel and NoiseAbs decide when a headline figure or a JSON field
	// exceeds the noise: raw > noise·(1+NoiseRel) and raw − noise >
	// NoiseAbs. Zero takes the default; a negative value means 0.
	NoiseRel float64 `json:"noise_rel"`
	NoiseAbs float64 `json:"noise_abs"`
	// SegmentAlpha is the family-wise significance level at which a
	// segment's divergence exceeds its noise: each of a candidate's m
	// tested segments is flagged when the one-sided exact McNemar test of
	// its pairs gives p < SegmentAlpha/m (Bonferroni). Zero takes the
	// default; it must be below 1.
	SegmentAlpha float64 `json:"segment_alpha"`
	// SegmentMinPairs is the fewest pairs compared for both the candidate
	// and the secondary that a segment needs to be tested; smaller
	// segments are never flagged.
	SegmentMinPairs int `json:"segment_min_pairs"`
	// Tolerance is the relative tolerance (absolute below 1) under which
	// two numbers are equal. Zero takes the default; negative means exact.
	Tolerance float64 `json:"tolerance"`
	// JSONOutput says the text outputs are meant to be JSON: their validity
	// rate is reported. With Kind auto it makes the kind text.
	JSONOutput bool `json:"json_output,omitempty"`
	// MaxTokens caps the words per output that the edit distance reads.
	MaxTokens int `json:"max_tokens"`
	// MaxSegmentValues caps distinct values per segment key; later values
	// go to SegmentOther.
	MaxSegmentValues int `json:"max_segment_values"`
	// SampleSize caps the values kept per distribution (percentiles, drift
	// statistics); beyond it a uniform sample is kept.
	SampleSize int `json:"sample_size"`
}

// Validate checks the options; the error names the field.
func (o Options) Validate() error {
	if o.Kind != "" {
		ok := false
		for _, k := range OutputKinds {
			ok = ok || k == o.Kind
		}
		if !ok {
			return fmt.Errorf("%w: kind %q (want auto, text, classification, scores, ranking or json)", ErrInvalidOptions, o.Kind)
		}
	}
	for i := 1; i < len(o.InputBuckets); i++ {
		if o.InputBuckets[i] <= o.InputBuckets[i-1] {
			return fmt.Errorf("%w: input_buckets must ascend, got %v", ErrInvalidOptions, o.InputBuckets)
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"noise_rel", o.NoiseRel}, {"noise_abs", o.NoiseAbs}, {"tolerance", o.Tolerance}, {"segment_alpha", o.SegmentAlpha}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%w: %s is not a number", ErrInvalidOptions, f.name)
		}
	}
	if !(o.SegmentAlpha >= 0 && o.SegmentAlpha < 1) {
		return fmt.Errorf("%w: segment_alpha must be in [0, 1), got %v", ErrInvalidOptions, o.SegmentAlpha)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"top_k", o.TopK}, {"worst", o.Worst}, {"max_tokens", o.MaxTokens}, {"max_segment_values", o.MaxSegmentValues}, {"sample_size", o.SampleSize}, {"segment_min_pairs", o.SegmentMinPairs}} {
		if f.v < 0 {
			return fmt.Errorf("%w: %s must not be negative, got %d", ErrInvalidOptions, f.name, f.v)
		}
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Kind == "" || o.Validate() != nil {
		o.Kind = OutputAuto
	}
	o.Segments = append([]string(nil), o.Segments...)
	o.InputBuckets = append([]int(nil), o.InputBuckets...)
	for i := 1; i < len(o.InputBuckets); i++ {
		if o.InputBuckets[i] <= o.InputBuckets[i-1] {
			o.InputBuckets = nil
			break
		}
	}
	pos := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	pos(&o.TopK, DefaultTopK)
	pos(&o.Worst, DefaultWorst)
	pos(&o.MaxTokens, DefaultMaxTokens)
	pos(&o.MaxSegmentValues, DefaultMaxSegmentValues)
	pos(&o.SampleSize, DefaultSampleSize)
	pos(&o.SegmentMinPairs, DefaultSegmentMinPairs)
	if !(o.SegmentAlpha > 0 && o.SegmentAlpha < 1) {
		o.SegmentAlpha = DefaultSegmentAlpha
	}
	f := func(v *float64, def float64) {
		switch {
		case math.IsNaN(*v) || math.IsInf(*v, 0) || *v == 0:
			*v = def
		case *v < 0:
			*v = 0
		}
	}
	f(&o.NoiseRel, DefaultNoiseRel)
	f(&o.NoiseAbs, DefaultNoiseAbs)
	f(&o.Tolerance, DefaultTolerance)
	return o
}

// Accumulator accumulates, pair by pair, how each candidate's outputs differ
// from the primary's ("raw") and how a secondary copy of production differs
// from the primary ("noise"), and reports both with the noise-corrected
// difference. Memory is bounded whatever the number of pairs: every sample,
// map and example list has a cap. Its methods are safe for concurrent use.
type Accumulator struct {
	mu  sync.Mutex
	o   Options
	rng *rand.Rand

	pairs        int64 // pairs added
	withPrimary  int64 // pairs with a primary exchange
	kinds        map[OutputKind]int64
	undecided    int64
	endpointKind map[string]OutputKind
	endpoints    map[string]bool
	segVals      map[string]map[string]bool
	noise        *cmpAcc
	cands        map[string]*cmpAcc
	candOverflow int64
	targets      map[string]*targetAcc
	differ       differ
}

// New returns an empty accumulator. Invalid options (see
// Validate) fall back to their defaults.
func New(o Options) *Accumulator {
	return &Accumulator{
		o:            o.withDefaults(),
		rng:          rand.New(rand.NewPCG(0x676f6e6f, 0x676f)),
		kinds:        map[OutputKind]int64{},
		endpointKind: map[string]OutputKind{},
		endpoints:    map[string]bool{},
		segVals:      map[string]map[string]bool{},
		cands:        map[string]*cmpAcc{},
		targets:      map[string]*targetAcc{},
		differ:       differ{seen: map[string]uint8{}},
	}
}

// segKey is one segment: a key and one of its values.
type segKey struct{ key, value string }

// segAcc counts one segment of one comparison. For a candidate, paired
// counts the pairs compared for both it and the secondary, candOnly those
// of them where only the candidate diverged and noiseOnly those where only
// the secondary did: the discordant pairs of the segment's McNemar test.
type segAcc struct {
	pairs, compared, diverged, errors int64
	distSum                           float64
	paired, candOnly, noiseOnly       int64
}

// targetAcc is one target's latency and errors. untimed counts answers
// whose latency is not timed from the intended send time.
type targetAcc struct {
	requests, errors, dropped int64
	untimed                   int64
	classes                   map[string]int64
	lat, ttft                 *hdr.Histogram
	segs                      map[segKey]*targetSeg
}

type targetSeg struct {
	requests, errors int64
	lat, ttft        *reservoir
}

// Latency histograms: microseconds, 1 µs … 1 h, 3 significant digits.
const (
	latMinMicros = 1
	latMaxMicros = 3_600_000_000
)

func (d *Accumulator) target(name string) *targetAcc {
	t := d.targets[name]
	if t == nil {
		t = &targetAcc{
			classes: map[string]int64{},
			lat:     hdr.New(latMinMicros, latMaxMicros, 3),
			ttft:    hdr.New(latMinMicros, latMaxMicros, 3),
			segs:    map[segKey]*targetSeg{},
		}
		d.targets[name] = t
	}
	return t
}

func clampLat(v int64) int64 { return min(max(v, latMinMicros), latMaxMicros) }

func (t *targetAcc) record(d *Accumulator, e *gonogo.Exchange, segs []segKey) {
	if e.Dropped {
		t.dropped++
		return
	}
	t.requests++
	if !e.FromIntended {
		t.untimed++
	}
	ss := make([]*targetSeg, len(segs))
	for i, k := range segs {
		s := t.segs[k]
		if s == nil {
			s = &targetSeg{lat: newReservoir(segmentSample, d.rng), ttft: newReservoir(segmentSample, d.rng)}
			t.segs[k] = s
		}
		s.requests++
		ss[i] = s
	}
	if e.Class != gonogo.ErrNone {
		t.errors++
		t.classes[string(e.Class)]++
		for _, s := range ss {
			s.errors++
		}
		return
	}
	if e.LatencyMicros >= 0 {
		_ = t.lat.RecordValue(clampLat(e.LatencyMicros))
		for _, s := range ss {
			s.lat.add(float64(e.LatencyMicros) / 1000)
		}
	}
	if e.TTFTMicros > 0 {
		_ = t.ttft.RecordValue(clampLat(e.TTFTMicros))
		for _, s := range ss {
			s.ttft.add(float64(e.TTFTMicros) / 1000)
		}
	}
}

// inputBucket names the input-length bucket of n tokens.
func inputBucket(n int, bounds []int) string {
	if n <= 0 {
		return "unknown"
	}
	if len(bounds) > 0 {
		lo := 1
		for _, b := range bounds {
			if n <= b {
				return fmt.Sprintf("%d-%d", lo, b)
			}
			lo = b + 1
		}
		return fmt.Sprintf("%d+", lo)
	}
	k := bits.Len(uint(n)) - 1
	lo, hi := 1<<k, 1<<(k+1)-1
	if lo == hi {
		return "1"
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// segValue caps the distinct values of a segment key.
func (d *Accumulator) segValue(key, v string) string {
	vals := d.segVals[key]
	if vals == nil {
		vals = map[string]bool{}
		d.segVals[key] = vals
	}
	if vals[v] {
		return v
	}
	if len(vals) >= d.o.MaxSegmentValues {
		return SegmentOther
	}
	vals[v] = true
	return v
}

func (d *Accumulator) segments(p *gonogo.Pair) []segKey {
	out := make([]segKey, 0, len(d.o.Segments)+1)
	for _, k := range d.o.Segments {
		if k == SegmentInputTokens {
			continue
		}
		v, ok := p.Tags[k]
		if !ok {
			v = SegmentNone
		}
		out = append(out, segKey{k, d.segValue(k, v)})
	}
	return append(out, segKey{SegmentInputTokens, d.segValue(SegmentInputTokens, inputBucket(p.InputTokens, d.o.InputBuckets))})
}

// endpoint names the pair's endpoint: its "endpoint" tag, else its "path"
// tag, else "all"; at most maxEndpoints names, then SegmentOther.
func (d *Accumulator) endpoint(p *gonogo.Pair) string {
	ep := p.Tags["endpoint"]
	if ep == "" {
		ep = p.Tags["path"]
	}
	if ep == "" {
		ep = "all"
	}
	if d.endpoints[ep] {
		return ep
	}
	if len(d.endpoints) >= maxEndpoints {
		return SegmentOther
	}
	d.endpoints[ep] = true
	return ep
}

// detectKind is the kind an output looks like.
func detectKind(out string) OutputKind {
	v, st := decodeJSON(out)
	if st != parsedOK {
		return OutputText
	}
	if m, ok := modelFrom(v, false); ok {
		return m.kind()
	}
	switch v.(type) {
	case map[string]any, []any:
		return OutputJSON
	}
	return OutputText
}

// kindFor returns the kind of the pair's outputs; "" while auto detection
// has seen no successful primary output for the endpoint.
func (d *Accumulator) kindFor(ep string, prim *gonogo.Exchange) OutputKind {
	switch {
	case d.o.Kind != OutputAuto:
		return d.o.Kind
	case d.o.JSONOutput:
		return OutputText
	}
	if k, ok := d.endpointKind[ep]; ok {
		return k
	}
	if prim.Dropped || prim.Class != gonogo.ErrNone {
		return ""
	}
	k := detectKind(prim.Output)
	d.endpointKind[ep] = k
	return k
}

// prepared is the primary's output, parsed once per pair.
type prepared struct {
	kind      OutputKind
	toks      []string
	total     int
	jsonValid bool
	val       any
	status    parseStatus
	model     modelOut
	modelOK   bool
}

func (d *Accumulator) prepare(kind OutputKind, out string) *prepared {
	pp := &prepared{kind: kind}
	switch kind {
	case OutputText:
		pp.toks, pp.total = words(out, d.o.MaxTokens)
		if d.o.JSONOutput {
			_, st := decodeJSON(out)
			pp.jsonValid = st == parsedOK
		}
	case OutputJSON:
		pp.val, pp.status = decodeJSON(out)
	default:
		pp.val, pp.status = decodeJSON(out)
		if pp.status == parsedOK {
			pp.model, pp.modelOK = modelFrom(pp.val, kind == OutputRanking)
		}
	}
	return pp
}

// Add takes one pair. Malformed or missing exchanges and outputs are
// counted as divergence categories; Add never fails.
func (d *Accumulator) Add(p *gonogo.Pair) {
	if p == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pairs++
	segs := d.segments(p)
	var prim, sec *gonogo.Exchange
	var cands []*gonogo.Exchange
	seen := make(map[string]bool, len(p.Exchanges))
	for i := range p.Exchanges {
		e := &p.Exchanges[i]
		if seen[e.Target] {
			continue
		}
		switch {
		case e.Target == rolePrimary:
			prim = e
		case e.Target == roleSecondary:
			sec = e
		case strings.HasPrefix(e.Target, roleCandidate):
			if d.cands[e.Target] == nil && len(d.cands) >= maxCandidates {
				d.candOverflow++
				continue
			}
			cands = append(cands, e)
		default:
			continue
		}
		seen[e.Target] = true
		d.target(e.Target).record(d, e, segs)
	}
	if prim == nil {
		return
	}
	d.withPrimary++
	ep := d.endpoint(p)
	kind := d.kindFor(ep, prim)
	var pp *prepared
	if kind != "" {
		d.kinds[kind]++
		pp = d.prepare(kind, prim.Output)
	} else {
		d.undecided++
	}
	var noise outcome
	if sec != nil {
		if d.noise == nil {
			d.noise = d.newCmp(false)
		}
		noise = d.noise.add(d, p, prim, pp, sec, segs, ep)
	}
	for _, e := range cands {
		c := d.cands[e.Target]
		if c == nil {
			c = d.newCmp(true)
			d.cands[e.Target] = c
		}
		if cand := c.add(d, p, prim, pp, e, segs, ep); cand.compared && noise.compared {
			c.pair(segs, cand.diverged, noise.diverged)
		}
	}
}

// outcome is how one comparison of a pair ended.
type outcome struct{ compared, diverged bool }

// pair counts a pair compared for both the candidate and the secondary in
// the candidate's segments.
func (c *cmpAcc) pair(segs []segKey, cand, noise bool) {
	for _, k := range segs {
		s := c.segs[k]
		s.paired++
		switch {
		case cand && !noise:
			s.candOnly++
		case noise && !cand:
			s.noiseOnly++
		}
	}
}

// Divergence categories: why a pair's answers were not compared, or
// differed in form rather than content. In the noise comparison "other"
// is the secondary.
const (
	catOtherError = iota
	catOtherTimeout
	catOtherDropped
	catOtherMissing
	catPrimaryError
	catPrimaryDropped
	catBothError
	catPrimaryInvalid
	catInvalidJSON
	catTruncated
	catEmpty
	catSchema
	catShape
	numCats
)

var catInfo = [numCats]struct{ name, class string }{
	{"candidate_error", "error"},
	{"candidate_timeout", "error"},
	{"candidate_dropped", "dropped"},
	{"candidate_missing", "dropped"},
	{"primary_error", "error"},
	{"primary_dropped", "dropped"},
	{"both_error", "error"},
	{"primary_invalid", "protocol"},
	{"invalid_json", "protocol"},
	{"truncated", "protocol"},
	{"empty_output", "protocol"},
	{"schema_mismatch", "protocol"},
	{"shape_mismatch", "shape"},
}

// cmpAcc compares one target's answers with the primary's.
type cmpAcc struct {
	pairs, compared, diverged int64
	distSum                   float64
	cats                      [numCats]int64
	classes                   map[string]int64
	text                      *textAcc
	model                     *modelAcc
	json                      *jsonAcc
	segs                      map[segKey]*segAcc
	worst                     map[string]*worstList // nil: keep no examples
}

type textAcc struct {
	pairs, exact, capped, validP, validO int64
	edit, lenP, lenO                     *reservoir
}

type modelAcc struct {
	pairs int64
	// labels
	labelled, flips                    int64
	labelCount                         map[string]int64
	cells                              map[[2]string]int64
	truth, negFlips, posFlips          int64
	primaryCorrect, otherCorrect       int64
	valued, elements                   int64
	abs, rel, pairMax, topP, topO      *reservoir
	ranked, rankSame                   int64
	jaccardSum, rboSum                 float64
	rankIDs                            bool
	kinds                              map[OutputKind]int64
	labelOverflow, cellOverflow, extra int64
}

type jsonAcc struct {
	pairs, anyDiff, overflow int64
	endpoints                map[string]int64
	fields                   map[[2]string]*fieldAcc
}

type fieldAcc struct {
	pairs int64
	kinds [numDiffKinds]int64
}

func (d *Accumulator) newCmp(examples bool) *cmpAcc {
	c := &cmpAcc{classes: map[string]int64{}, segs: map[segKey]*segAcc{}}
	if examples {
		c.worst = map[string]*worstList{}
	}
	return c
}

func (d *Accumulator) res() *reservoir { return newReservoir(d.o.SampleSize, d.rng) }

func (c *cmpAcc) add(d *Accumulator, p *gonogo.Pair, prim *gonogo.Exchange, pp *prepared, o *gonogo.Exchange, segs []segKey, ep string) outcome {
	c.pairs++
	ss := make([]*segAcc, len(segs))
	for i, k := range segs {
		s := c.segs[k]
		if s == nil {
			s = &segAcc{}
			c.segs[k] = s
		}
		s.pairs++
		ss[i] = s
	}
	switch {
	case prim.Dropped:
		c.cats[catPrimaryDropped]++
		return outcome{}
	case o.Dropped:
		c.cats[catOtherDropped]++
		return outcome{}
	case prim.Class != gonogo.ErrNone && o.Class != gonogo.ErrNone:
		c.cats[catBothError]++
		return outcome{}
	case prim.Class != gonogo.ErrNone:
		c.cats[catPrimaryError]++
		return outcome{}
	case pp == nil:
		return outcome{}
	case pp.kind != OutputText && (pp.status != parsedOK || (pp.kind != OutputJSON && !pp.modelOK)):
		c.cats[catPrimaryInvalid]++
		return outcome{}
	}
	c.compared++
	for _, s := range ss {
		s.compared++
	}
	var diverged bool
	var dist float64
	if o.Class != gonogo.ErrNone {
		cat := catOtherError
		if o.Class == gonogo.ErrTimeout {
			cat = catOtherTimeout
		}
		c.cats[cat]++
		c.classes[string(o.Class)]++
		for _, s := range ss {
			s.errors++
		}
		diverged, dist = true, 1
		c.example(d, catInfo[cat].name, "error", 1, p, prim, o, func() string { return string(o.Class) + ": " + o.Err })
	} else {
		switch pp.kind {
		case OutputText:
			diverged, dist = c.compareText(d, p, prim, pp, o)
		case OutputJSON:
			diverged, dist = c.compareJSON(d, p, prim, pp, o, ep)
		default:
			diverged, dist = c.compareModel(d, p, prim, pp, o)
		}
	}
	if math.IsNaN(dist) || math.IsInf(dist, 0) {
		dist = 1
	}
	c.distSum += dist
	if diverged {
		c.diverged++
	}
	for _, s := range ss {
		s.distSum += dist
		if diverged {
			s.diverged++
		}
	}
	return outcome{compared: true, diverged: diverged}
}

// unparsed counts an output that did not decode and keeps it as an example.
func (c *cmpAcc) unparsed(d *Accumulator, st parseStatus, p *gonogo.Pair, prim, o *gonogo.Exchange) (bool, float64) {
	cat := catInvalidJSON
	switch st {
	case parsedTruncated:
		cat = catTruncated
	case parsedEmpty:
		cat = catEmpty
	}
	c.cats[cat]++
	c.example(d, catInfo[cat].name, "invalid", 1, p, prim, o, nil)
	return true, 1
}

func (c *cmpAcc) compareText(d *Accumulator, p *gonogo.Pair, prim *gonogo.Exchange, pp *prepared, o *gonogo.Exchange) (bool, float64) {
	t := c.text
	if t == nil {
		t = &textAcc{edit: d.res(), lenP: d.res(), lenO: d.res()}
		c.text = t
	}
	t.pairs++
	exact := prim.Output == o.Output
	toks, total := words(o.Output, d.o.MaxTokens)
	ed := 0.0
	if exact {
		t.exact++
	} else {
		ed = normEdit(pp.toks, toks)
	}
	if pp.total > d.o.MaxTokens || total > d.o.MaxTokens {
		t.capped++
	}
	t.edit.add(ed)
	t.lenP.add(float64(pp.total))
	t.lenO.add(float64(total))
	if d.o.JSONOutput {
		if pp.jsonValid {
			t.validP++
		}
		if _, st := decodeJSON(o.Output); st == parsedOK {
			t.validO++
		}
	}
	if strings.TrimSpace(o.Output) == "" && strings.TrimSpace(prim.Output) != "" {
		c.cats[catEmpty]++
	}
	if !exact {
		c.example(d, "text", "edit_distance", ed, p, prim, o, nil)
	}
	return !exact, ed
}

func (c *cmpAcc) compareJSON(d *Accumulator, p *gonogo.Pair, prim *gonogo.Exchange, pp *prepared, o *gonogo.Exchange, ep string) (bool, float64) {
	v, st := decodeJSON(o.Output)
	if st != parsedOK {
		return c.unparsed(d, st, p, prim, o)
	}
	j := c.json
	if j == nil {
		j = &jsonAcc{endpoints: map[string]int64{}, fields: map[[2]string]*fieldAcc{}}
		c.json = j
	}
	j.pairs++
	j.endpoints[ep]++
	df := &d.differ
	df.reset()
	df.tol = d.o.Tolerance
	df.diff(pp.val, v, "$", 0)
	if df.count == 0 {
		return false, 0
	}
	j.anyDiff++
	for _, path := range df.order {
		key := [2]string{ep, path}
		f := j.fields[key]
		if f == nil {
			if len(j.fields) >= maxFields {
				j.overflow++
				continue
			}
			f = &fieldAcc{}
			j.fields[key] = f
		}
		f.pairs++
		b := df.seen[path]
		for k := range numDiffKinds {
			if b&(1<<k) != 0 {
				f.kinds[k]++
			}
		}
	}
	c.example(d, "json", "fields_differing", float64(len(df.order)), p, prim, o, func() string {
		var parts []string
		for i, path := range df.order {
			if i == 5 {
				parts = append(parts, "…")
				break
			}
			var ks []string
			for k := range numDiffKinds {
				if df.seen[path]&(1<<k) != 0 {
					ks = append(ks, diffKindNames[k])
				}
			}
			parts = append(parts, path+" "+strings.Join(ks, ","))
		}
		return strings.Join(parts, "; ")
	})
	return true, 1
}

func topValue(v []float64) float64 {
	m := v[0]
	for _, x := range v[1:] {
		m = max(m, x)
	}
	return m
}

func (c *cmpAcc) compareModel(d *Accumulator, p *gonogo.Pair, prim *gonogo.Exchange, pp *prepared, o *gonogo.Exchange) (bool, float64) {
	v, st := decodeJSON(o.Output)
	if st != parsedOK {
		return c.unparsed(d, st, p, prim, o)
	}
	om, ok := modelFrom(v, pp.kind == OutputRanking)
	if !ok {
		c.cats[catSchema]++
		c.example(d, catInfo[catSchema].name, "invalid", 1, p, prim, o, nil)
		return true, 1
	}
	m := c.model
	if m == nil {
		m = &modelAcc{
			labelCount: map[string]int64{}, cells: map[[2]string]int64{}, kinds: map[OutputKind]int64{},
			abs: d.res(), rel: d.res(), pairMax: d.res(), topP: d.res(), topO: d.res(),
		}
		c.model = m
	}
	m.pairs++
	pm := &pp.model
	m.kinds[pm.kind()]++
	diverged, dist := false, 0.0

	if pm.label != "" && om.label != "" {
		m.labelled++
		flipped := pm.label != om.label
		m.countLabels(pm.label, om.label)
		if truth := p.Tags["label"]; truth != "" {
			m.truth++
			pr, or := pm.label == truth, om.label == truth
			if pr {
				m.primaryCorrect++
			}
			if or {
				m.otherCorrect++
			}
			if pr && !or {
				m.negFlips++
			}
			if !pr && or {
				m.posFlips++
			}
		}
		if flipped {
			m.flips++
			diverged, dist = true, 1
			c.example(d, "flip", "flip", 1, p, prim, o, func() string { return pm.label + " → " + om.label })
		}
	}

	if (pm.ids == nil) != (om.ids == nil) {
		c.cats[catSchema]++
		c.example(d, catInfo[catSchema].name, "invalid", 1, p, prim, o, nil)
		return true, 1
	}
	if len(pm.vals) > 0 || len(om.vals) > 0 || pm.empty != om.empty {
		if !sameShape(pm, &om) || pm.empty != om.empty {
			c.cats[catShape]++
			c.example(d, catInfo[catShape].name, "shape", 1, p, prim, o, func() string {
				return fmt.Sprintf("shape %v (%d values) → %v (%d values)", pm.shape, len(pm.vals), om.shape, len(om.vals))
			})
			return true, 1
		}
		m.valued++
		maxAbs := 0.0
		for i, a := range pm.vals {
			b := om.vals[i]
			ad := math.Abs(a - b)
			rel := 0.0
			if den := math.Max(math.Abs(a), math.Abs(b)); den > 0 {
				rel = ad / den
			}
			m.abs.add(ad)
			m.rel.add(rel)
			if !math.IsInf(ad, 0) {
				maxAbs = max(maxAbs, ad)
			}
		}
		m.elements += int64(len(pm.vals))
		m.pairMax.add(maxAbs)
		m.topP.add(topValue(pm.vals))
		m.topO.add(topValue(om.vals))
		if maxAbs > d.o.Tolerance*math.Max(1, math.Abs(topValue(pm.vals))) {
			diverged = true
			dist = max(dist, maxAbs)
			c.example(d, "scores", "max_abs_diff", maxAbs, p, prim, o, nil)
		}
	}

	var ra, rb []string
	switch {
	case pm.ids != nil:
		ra, rb = dedupe(pm.ids, d.o.TopK), dedupe(om.ids, d.o.TopK)
		m.rankIDs = true
	case len(pm.vals) >= 2:
		ra, rb = topIndices(pm.vals, d.o.TopK), topIndices(om.vals, d.o.TopK)
	}
	if ra != nil {
		m.ranked++
		j, r := jaccard(ra, rb), rbo(ra, rb, RBOPersistence)
		m.jaccardSum += j
		m.rboSum += r
		same := len(ra) == len(rb)
		for i := 0; same && i < len(ra); i++ {
			same = ra[i] == rb[i]
		}
		if same {
			m.rankSame++
		} else {
			c.example(d, "ranking", "rbo_gap", 1-r, p, prim, o, func() string {
				return fmt.Sprintf("jaccard@%d %.3f rbo %.3f", d.o.TopK, j, r)
			})
			if pm.ids != nil {
				diverged = true
				dist = max(dist, 1-r)
			}
		}
	}
	return diverged, dist
}

// countLabels adds one (primary label, other label) cell, bounded.
func (m *modelAcc) countLabels(a, b string) {
	for _, l := range []string{a, b} {
		if _, ok := m.labelCount[l]; ok || len(m.labelCount) < maxLabels {
			m.labelCount[l]++
		} else {
			m.labelOverflow++
		}
	}
	k := [2]string{a, b}
	if _, ok := m.cells[k]; ok || len(m.cells) < maxMatrixCells {
		m.cells[k]++
	} else {
		m.cellOverflow++
	}
}

// worstList keeps the examples with the largest value, earlier pairs first
// on ties.
type worstList struct {
	items []Example
	vals  []float64
}

func (w *worstList) weakest() int {
	wi := 0
	for i := range w.items {
		if w.vals[i] < w.vals[wi] || (w.vals[i] == w.vals[wi] && w.items[i].PairID > w.items[wi].PairID) {
			wi = i
		}
	}
	return wi
}

// example keeps one example of a category if it is among the worst.
func (c *cmpAcc) example(d *Accumulator, cat, metric string, v float64, p *gonogo.Pair, prim, o *gonogo.Exchange, detail func() string) {
	if c.worst == nil || math.IsNaN(v) {
		return
	}
	w := c.worst[cat]
	if w == nil {
		w = &worstList{}
		c.worst[cat] = w
	}
	slot := len(w.items)
	if slot >= d.o.Worst {
		slot = w.weakest()
		if !(v > w.vals[slot] || (v == w.vals[slot] && p.ID < w.items[slot].PairID)) {
			return
		}
	}
	ex := Example{
		Category: cat, Metric: metric, PairID: p.ID, Row: p.Row,
		Request: clip(p.Request, exampleBytes), Primary: clip(prim.Output, exampleBytes),
		Other: clip(o.Output, exampleBytes),
	}
	if detail != nil {
		ex.Detail = clip(detail(), exampleBytes)
	}
	if slot == len(w.items) {
		w.items = append(w.items, ex)
		w.vals = append(w.vals, v)
		return
	}
	w.items[slot], w.vals[slot] = ex, v
}

// sortedSegKeys orders segments by key, then value.
func sortedSegKeys[V any](m map[segKey]V) []segKey {
	keys := make([]segKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].key != keys[j].key {
			return keys[i].key < keys[j].key
		}
		return keys[i].value < keys[j].value
	})
	return keys
}
