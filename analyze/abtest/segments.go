package abtest

import (
	"fmt"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// Segment is one segment's users (a tag, a region, a user tier) in the
// control and the treatment.
type Segment struct {
	Name      string  `json:"name"`
	Control   Summary `json:"control"`
	Treatment Summary `json:"treatment"`
}

// SegmentResult is one segment's comparison.
type SegmentResult struct {
	Name   string `json:"name"`
	Result Result `json:"result"`
	// AdjustedP is the lift's p-value corrected over the segments.
	AdjustedP   float64 `json:"adjusted_p"`
	Significant bool    `json:"significant"`
}

// SegmentReport is the same test in every segment, with the caveat of
// comparing many.
type SegmentReport struct {
	Segments []SegmentResult `json:"segments"`
	// Count is the number of segments compared; Correction how their
	// p-values were adjusted.
	Count      int        `json:"count"`
	Correction Correction `json:"correction"`
	// Caveat says, in a sentence or two, what comparing Count segments
	// means for reading them.
	Caveat string `json:"caveat"`
}

// CompareSegments runs Compare in every segment and corrects the
// p-values (of the lift, or of the difference where the lift is
// undefined) over the segments by cfg.Correction. A segment is
// significant when its adjusted p-value is below α. Bad summaries, an
// empty or repeated name and no segments at all are errors wrapping
// input.ErrInput.
func CompareSegments(segs []Segment, kind Kind, cfg Config) (*SegmentReport, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return nil, &input.Error{Field: "segments", Msg: "none given"}
	}
	seen := map[string]bool{}
	rep := &SegmentReport{Count: len(segs), Correction: cfg.Correction}
	p := make([]float64, len(segs))
	for i, s := range segs {
		if s.Name == "" || seen[s.Name] {
			return nil, &input.Error{Field: fmt.Sprintf("segments[%d].name", i), Msg: fmt.Sprintf("empty or repeated (%q)", s.Name)}
		}
		seen[s.Name] = true
		for _, side := range []struct {
			name string
			s    Summary
		}{{"control", s.Control}, {"treatment", s.Treatment}} {
			if err := side.s.checkAt(kind, func() string { return fmt.Sprintf("segments[%s].%s.", s.Name, side.name) }); err != nil {
				return nil, err
			}
		}
		r := compare(s.Control, s.Treatment, kind, cfg)
		p[i] = liftP(r)
		rep.Segments = append(rep.Segments, SegmentResult{Name: s.Name, Result: r})
	}
	adj, err := Adjust(p, cfg.Correction)
	if err != nil {
		return nil, err
	}
	for i := range rep.Segments {
		rep.Segments[i].AdjustedP = adj[i]
		rep.Segments[i].Significant = adj[i] < cfg.Alpha
	}
	rep.Caveat = segmentCaveat(len(segs), cfg)
	return rep, nil
}

func segmentCaveat(n int, cfg Config) string {
	const lead = "A lift in one segment alone is a lead to confirm in a new experiment, not a result."
	if n == 1 {
		return "1 segment compared: no correction needed."
	}
	switch cfg.Correction {
	case NoCorrection:
		return fmt.Sprintf("%d segments compared without correction: about %.2g of them would look significant at α = %g with no effect at all. %s",
			n, float64(n)*cfg.Alpha, cfg.Alpha, lead)
	case BH:
		return fmt.Sprintf("%d segments compared: p-values Benjamini–Hochberg-adjusted over %d, so about %g of the significant segments may be false. %s",
			n, n, cfg.Alpha, lead)
	default:
		return fmt.Sprintf("%d segments compared: p-values Holm-adjusted over %d, so the chance of any false significant segment stays below %g. %s",
			n, n, cfg.Alpha, lead)
	}
}
