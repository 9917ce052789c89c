package reports

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// tagMaxRows bounds the values the "By tag" section lists per tag key;
// the others are counted.
const tagMaxRows = 20

// internalTagKeys are tag keys gonogo sets that the "By tag" section
// leaves out: a rollout tags each mirrored copy mirrored=true, and the
// copy is already counted under its backend and role. run.json keeps
// them.
var internalTagKeys = []string{"mirrored"}

// tagRow is one tag value of the "By tag" section.
type tagRow struct {
	Value string
	// Cells are the value's figures, in the order of byTagSection.Head.
	Cells []string
}

// tagTable is one tag key of the "By tag" section: its values in
// natural order, at most tagMaxRows.
type tagTable struct {
	Key  string
	Rows []tagRow
	// More counts the values left out.
	More int
}

// byTagSection is the "By tag" section of the reports: per tag key (the
// request's target, a rollout's backend and role, --tag values, trace
// tags) one table with a row per value.
type byTagSection struct {
	Tables []tagTable
	// Head names the figures of every row, after the value.
	Head []string
	// Overflow counts the tagged results not grouped because the run
	// reached its cap on tag groups (run.json's tag_overflow).
	Overflow int64
}

// newByTagSection makes the section from run.json's tags (keyed
// "key=value"), latency at the percentiles pcts, and TTFT p50 when any
// group has TTFT. Tags with a key of internalTagKeys are left out.
func newByTagSection(tags map[string]analyze.Stats, overflow int64, pcts []float64) byTagSection {
	byKey := map[string][]string{}
	ttft := false
	for kv, st := range tags {
		k, v, _ := strings.Cut(kv, "=")
		if slices.Contains(internalTagKeys, k) {
			continue
		}
		byKey[k] = append(byKey[k], v)
		ttft = ttft || st.TTFT != nil
	}
	s := byTagSection{Overflow: overflow, Head: []string{"requests", "ok", "failed", "error rate", "rate/s"}}
	for _, p := range pcts {
		s.Head = append(s.Head, pctHeader(p)+" ms")
	}
	if ttft {
		s.Head = append(s.Head, "ttft p50 ms")
	}
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		values := byKey[k]
		slices.SortFunc(values, func(a, b string) int {
			switch {
			case naturalLess(a, b):
				return -1
			case naturalLess(b, a):
				return 1
			}
			return strings.Compare(a, b)
		})
		t := tagTable{Key: k}
		if len(values) > tagMaxRows {
			values, t.More = values[:tagMaxRows], len(values)-tagMaxRows
		}
		for _, v := range values {
			st := tags[k+"="+v]
			t.Rows = append(t.Rows, tagRow{Value: v, Cells: tagCells(&st, pcts, ttft)})
		}
		s.Tables = append(s.Tables, t)
	}
	return s
}

// tagCells are the figures of one tag group, as byTagSection.Head names
// them: counts, error rate, achieved rate, latency percentiles in ms with
// the scenario table's decimals, then TTFT p50 when ttft.
func tagCells(st *analyze.Stats, pcts []float64, ttft bool) []string {
	rq := st.Requests
	c := []string{numfmt.Thousands(rq.Total), numfmt.Thousands(rq.OK), numfmt.Thousands(rq.FailedTotal()),
		fmtShare(rq.FailedTotal(), rq.Total), fmtNum(st.Rate.AchievedPerSec, 1)}
	for _, p := range pcts {
		c = append(c, pctCell(st, analyze.MetricLatency, p, 2))
	}
	if ttft {
		c = append(c, pctCell(st, analyze.MetricTTFT, 50, 2))
	}
	return c
}

// Cols is the number of columns of each table: the value and the figures.
func (s byTagSection) Cols() int { return 1 + len(s.Head) }

// OverflowNote says how many tagged results were not grouped, "" when
// none.
func (s byTagSection) OverflowNote() string {
	if s.Overflow == 0 {
		return ""
	}
	return numfmt.Thousands(s.Overflow) + " tagged results not grouped: the run reached its cap on tag groups"
}

// moreNote counts the values a table leaves out.
func (t tagTable) moreNote() string {
	return "… " + strconv.Itoa(t.More) + " more values in run.json"
}

// shownValue is a tag value as the text and Markdown tables show it: on
// one line, "" quoted.
func shownValue(v string) string {
	if v = mdInline(v); v == "" {
		return `""`
	}
	return v
}

// writeByTagText writes the section in the text summary: a table per
// key, the value left-aligned and the figures right-aligned.
func writeByTagText(ew *errWriter, s byTagSection) {
	if len(s.Tables) == 0 {
		return
	}
	ew.printf("\nby tag\n")
	for i, t := range s.Tables {
		if i > 0 {
			ew.printf("\n")
		}
		first := []string{shownValue(t.Key)} // the key, then the values
		for _, r := range t.Rows {
			first = append(first, shownValue(r.Value))
		}
		width := 0
		for _, c := range first {
			width = max(width, utf8.RuneCountInString(c))
		}
		pad := func(c string) string { return c + strings.Repeat(" ", width-utf8.RuneCountInString(c)) }
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "  %s\t%s\t\n", pad(first[0]), strings.Join(s.Head, "\t"))
		for j, r := range t.Rows {
			fmt.Fprintf(tw, "  %s\t%s\t\n", pad(first[j+1]), strings.Join(r.Cells, "\t"))
		}
		_ = tw.Flush()
		if t.More > 0 {
			ew.printf("  %s\n", t.moreNote())
		}
	}
	if n := s.OverflowNote(); n != "" {
		ew.printf("  %s\n", n)
	}
}

// writeByTagMarkdown writes the section in the Markdown summary.
func writeByTagMarkdown(ew *errWriter, s byTagSection) {
	if len(s.Tables) == 0 {
		return
	}
	ew.printf("\n#### By tag\n")
	align := "l" + strings.Repeat("r", len(s.Head))
	for _, t := range s.Tables {
		rows := make([][]string, len(t.Rows))
		for i, r := range t.Rows {
			rows[i] = append([]string{shownValue(r.Value)}, r.Cells...)
		}
		mdTable(ew, align, append([]string{t.Key}, s.Head...), rows)
		if t.More > 0 {
			ew.printf("\n%s\n", t.moreNote())
		}
	}
	if n := s.OverflowNote(); n != "" {
		ew.printf("\n%s\n", n)
	}
}
