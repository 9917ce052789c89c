package reports

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"image/color"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// Figure geometry in points; the page scales every SVG to its width.
const (
	figureWidth  = 760
	panelHeight  = 200
	figurePad    = 8
	legendGap    = 14 // between legend entries
	laneHeight   = 13 // one row of event labels
	legendThumb  = 22 // width of a legend entry's sample
	maxLanes     = 3
	maxLabelRune = 36
)

var (
	sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	inkColor = color.RGBA{R: 0x24, G: 0x29, B: 0x2f, A: 0xff}
	mutedInk = color.RGBA{R: 0x57, G: 0x60, B: 0x6a, A: 0xff}
	gridGrey = color.RGBA{R: 0xe4, G: 0xe7, B: 0xeb, A: 0xff}
	axisGrey = color.RGBA{R: 0x8c, G: 0x95, B: 0x9f, A: 0xff}
)

// palette holds the series colours (matplotlib's tab10, which stays
// distinct for most colour-blind readers).
var palette = struct{ blue, paleBlue, green, orange, red, purple, brown, pink, cyan, grey color.Color }{
	blue:     color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	paleBlue: color.RGBA{R: 0xae, G: 0xc7, B: 0xe8, A: 0xff},
	green:    color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	orange:   color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	red:      color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	purple:   color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	brown:    color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
	pink:     color.RGBA{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff},
	cyan:     color.RGBA{R: 0x17, G: 0xbe, B: 0xcf, A: 0xff},
	grey:     color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
}

// chartLegendEntry is one entry of a figure's legend.
type chartLegendEntry struct {
	name  string
	thumb plot.Thumbnailer
}

// eventMarker is an event drawn across every panel of a time figure and
// labelled above the top panel: an instant as a dashed vertical line, a
// span (an event with an end) as a shaded band between two solid edges.
type eventMarker struct {
	// x is where the event starts and x1 where a span ends (x1 == x for
	// an instant), in the time axis' unit, clipped to the axis.
	x, x1 float64
	span  bool
	kind  string
	label string
	color color.Color
}

// chartFigure is one chart: a title, a legend row, optional event labels, and
// panels stacked vertically with aligned axes.
type chartFigure struct {
	title   string
	caption string
	panels  []*plot.Plot
	legend  []chartLegendEntry
	markers []eventMarker
	// panelH is the height of each panel; zero means panelHeight.
	panelH vg.Length
}

// textStyle is the plain sans style of every chart text.
func textStyle(size vg.Length, weight xfont.Weight) text.Style {
	f := font.From(sansFont, size)
	f.Weight = weight
	return text.Style{Color: inkColor, Font: f, Handler: plot.DefaultTextHandler}
}

// newPlot returns a panel with the report's fonts, light axes, short tick
// labels and a grid.
func newPlot(xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sansFont, 10)
		a.Label.TextStyle.Color = inkColor
		a.Tick.Label.Font = font.From(sansFont, 9)
		a.Tick.Label.Color = mutedInk
		a.Tick.Marker = sigTicks{}
		a.Color, a.Tick.Color = axisGrey, axisGrey
		a.Width, a.Tick.Width = 0.6, 0.6
		a.Tick.Length = 4
		a.Padding = 2
	}
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	// The figure is white: a transparent panel lets event spans, drawn
	// before it, show beneath the grid and the lines.
	p.BackgroundColor = nil
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = gridGrey, gridGrey
	g.Vertical.Width, g.Horizontal.Width = 0.5, 0.5
	p.Add(g)
	return p
}

// sigTicks are gonum's default ticks labelled with fmtSig3: "25", not
// "25.00".
type sigTicks struct{}

var _ plot.Ticker = sigTicks{}

// Ticks returns the default ticks between lo and hi, relabelled.
func (sigTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ts {
		if t.Label != "" {
			ts[i].Label = numfmt.Sig(t.Value)
		}
	}
	return ts
}

// headroom raises p's y range by 8 %, so that no line runs along the top
// edge.
func headroom(p *plot.Plot) {
	if p.Y.Max > p.Y.Min {
		p.Y.Max += 0.08 * (p.Y.Max - p.Y.Min)
	}
}

// addLine adds a line series to p and its legend entry to f.
func (f *chartFigure) addLine(p *plot.Plot, name string, pts plotter.XYs, c color.Color, width vg.Length, dashed bool) error {
	if len(pts) == 0 {
		return nil
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return fmt.Errorf("reports: chart %q: %s: %w", f.title, name, err)
	}
	l.Color, l.Width = c, width
	if dashed {
		l.Dashes = []vg.Length{5, 3}
	}
	p.Add(l)
	f.legend = append(f.legend, chartLegendEntry{name, l})
	return nil
}

// svg renders f as an inline <svg> element that scales to its container.
func (f *chartFigure) svg() (template.HTML, error) {
	ph := f.panelH
	if ph == 0 {
		ph = panelHeight
	}
	hdr := f.headerHeight()
	lanes := f.layoutLanes()
	h := hdr + vg.Length(len(lanes))*laneHeight + ph*vg.Length(len(f.panels)) + figurePad
	c := vgsvg.New(figureWidth, h)
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	f.drawHeader(dc)
	area := draw.Crop(dc, 0, 0, 0, -hdr-vg.Length(len(lanes))*laneHeight)
	tiles := f.align(area)
	for i, p := range f.panels {
		f.shadeSpans(p, tiles[i])
		p.Draw(tiles[i])
	}
	if len(f.markers) > 0 {
		f.drawMarkers(tiles, lanes)
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("reports: chart %q: %w", f.title, err)
	}
	return inlineSVG(buf.String(), f.title), nil
}

// align lays out the panels top to bottom in area with aligned data
// areas.
func (f *chartFigure) align(area draw.Canvas) []draw.Canvas {
	rows := make([][]*plot.Plot, len(f.panels))
	for i, p := range f.panels {
		rows[i] = []*plot.Plot{p}
	}
	t := draw.Tiles{Rows: len(f.panels), Cols: 1, PadY: 10, PadLeft: figurePad, PadRight: 2 * figurePad, PadBottom: figurePad}
	out := make([]draw.Canvas, len(f.panels))
	for i, row := range plot.Align(rows, t, area) {
		out[i] = row[0]
	}
	return out
}

// headerHeight is the height of the title and the legend rows.
func (f *chartFigure) headerHeight() vg.Length {
	title := textStyle(13, xfont.WeightBold)
	h := figurePad + title.Height(f.title) + 4
	return h + vg.Length(len(f.legendRows()))*legendRowHeight() + 4
}

// spanAlpha is the opacity of a span's shading.
const spanAlpha = 0x2e

// shadeSpans fills the band of every span marker across p's data area,
// before p is drawn, so that grid and lines stay on top.
func (f *chartFigure) shadeSpans(p *plot.Plot, tile draw.Canvas) {
	data := p.DataCanvas(tile)
	tx, _ := p.Transforms(&data)
	for _, m := range f.markers {
		if !m.span {
			continue
		}
		x0, x1 := max(tx(m.x), data.Min.X), min(tx(m.x1), data.Max.X)
		if x1 <= x0 {
			x1 = x0 + 1 // a span shorter than a point stays visible
		}
		data.SetColor(translucent(m.color, spanAlpha))
		data.Fill(vg.Rectangle{Min: vg.Point{X: x0, Y: data.Min.Y}, Max: vg.Point{X: x1, Y: data.Max.Y}}.Path())
	}
}

// translucent is c with opacity alpha (0..255).
func translucent(c color.Color, alpha uint8) color.Color {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	n.A = alpha
	return n
}

// addEventLegend adds one legend entry per event kind on the figure, in
// order of appearance: a shaded swatch for a kind with spans, a dashed
// line for one with instants only.
func (f *chartFigure) addEventLegend() {
	var kinds []string
	thumbs := map[string]*eventThumb{}
	for _, m := range f.markers {
		t := thumbs[m.kind]
		if t == nil {
			t = &eventThumb{color: m.color}
			thumbs[m.kind] = t
			kinds = append(kinds, m.kind)
		}
		t.span = t.span || m.span
	}
	for _, k := range kinds {
		f.legend = append(f.legend, chartLegendEntry{name: k, thumb: thumbs[k]})
	}
}

// eventThumb is the legend sample of an event kind.
type eventThumb struct {
	color color.Color
	span  bool
}

var _ plot.Thumbnailer = (*eventThumb)(nil)

// Thumbnail draws a shaded swatch with solid edges for spans, a dashed
// vertical line for instants.
func (t *eventThumb) Thumbnail(c *draw.Canvas) {
	if !t.span {
		mid := (c.Min.X + c.Max.X) / 2
		c.StrokeLine2(draw.LineStyle{Color: t.color, Width: 0.8, Dashes: []vg.Length{3, 2}}, mid, c.Min.Y, mid, c.Max.Y)
		return
	}
	x0, x1 := c.Min.X+4, c.Max.X-4
	c.SetColor(translucent(t.color, spanAlpha))
	c.Fill(vg.Rectangle{Min: vg.Point{X: x0, Y: c.Min.Y}, Max: vg.Point{X: x1, Y: c.Max.Y}}.Path())
	edge := draw.LineStyle{Color: t.color, Width: 0.8}
	c.StrokeLine2(edge, x0, c.Min.Y, x0, c.Max.Y)
	c.StrokeLine2(edge, x1, c.Min.Y, x1, c.Max.Y)
}

func legendRowHeight() vg.Length { return textStyle(10, xfont.WeightNormal).Height("Mg") + 4 }

// legendRows splits the legend into rows that fit the figure's width.
func (f *chartFigure) legendRows() [][]chartLegendEntry {
	sty := textStyle(10, xfont.WeightNormal)
	var rows [][]chartLegendEntry
	var w vg.Length
	for _, e := range f.legend {
		ew := legendThumb + 4 + sty.Width(e.name) + legendGap
		if len(rows) == 0 || w+ew > figureWidth-2*figurePad {
			rows = append(rows, nil)
			w = 0
		}
		rows[len(rows)-1] = append(rows[len(rows)-1], e)
		w += ew
	}
	return rows
}

// drawHeader draws the title at the top left and the legend rows below.
func (f *chartFigure) drawHeader(dc draw.Canvas) {
	title := textStyle(13, xfont.WeightBold)
	title.YAlign = draw.YTop
	y := dc.Max.Y - figurePad
	dc.FillText(title, vg.Point{X: dc.Min.X + figurePad, Y: y}, f.title)
	y -= title.Height(f.title) + 4
	sty := textStyle(10, xfont.WeightNormal)
	sty.YAlign = draw.YTop
	rh := legendRowHeight()
	for _, row := range f.legendRows() {
		x := dc.Min.X + figurePad
		for _, e := range row {
			thumb := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x, Y: y - rh + 4}, Max: vg.Point{X: x + legendThumb, Y: y - 2},
			}}
			e.thumb.Thumbnail(&thumb)
			x += legendThumb + 4
			dc.FillText(sty, vg.Point{X: x, Y: y}, e.name)
			x += sty.Width(e.name) + legendGap
		}
		y -= rh
	}
}

// laneItem is an event label placed in a lane above the top panel.
type laneItem struct {
	m      eventMarker
	idx    int       // index in chartFigure.markers
	x0, x1 vg.Length // label extent
	right  bool      // label ends at the line instead of starting there
}

// markerXs maps the markers' data x to canvas x in the top panel, using a
// provisional layout (the horizontal layout does not depend on lanes).
func (f *chartFigure) markerXs() (func(float64) vg.Length, draw.Canvas) {
	c := vgsvg.New(figureWidth, panelHeight*vg.Length(len(f.panels)))
	dc := draw.New(c)
	top := f.align(dc)[0]
	data := f.panels[0].DataCanvas(top)
	tx, _ := f.panels[0].Transforms(&data)
	return tx, data
}

// layoutLanes assigns each marker label to the first lane where it does
// not overlap another label, dropping labels when all lanes are full.
func (f *chartFigure) layoutLanes() [][]laneItem {
	if len(f.markers) == 0 {
		return nil
	}
	tx, data := f.markerXs()
	sty := textStyle(9, xfont.WeightNormal)
	var lanes [][]laneItem
	for idx, m := range f.markers {
		x := tx(m.x)
		if x < data.Min.X-0.5 || x > data.Max.X+0.5 {
			continue
		}
		w := sty.Width(m.label)
		it := laneItem{m: m, idx: idx, x0: x + 3, x1: x + 3 + w}
		if it.x1 > figureWidth-figurePad {
			it.x0, it.x1, it.right = x-3-w, x-3, true
		}
		placed := false
		for i := range lanes {
			if last := lanes[i][len(lanes[i])-1]; last.x1+6 < it.x0 {
				lanes[i] = append(lanes[i], it)
				placed = true
				break
			}
		}
		if !placed && len(lanes) < maxLanes {
			lanes = append(lanes, []laneItem{it})
		}
	}
	return lanes
}

// drawMarkers draws a line for each event through every panel (dashed for
// an instant; for a span, solid at its start and its end), the start's
// extended up to its label when the label found a lane, then the labels in
// their lanes above the top panel (lane 0 the lowest) on a white ground, so
// that lines never cross a label.
func (f *chartFigure) drawMarkers(tiles []draw.Canvas, lanes [][]laneItem) {
	top := f.panels[0].DataCanvas(tiles[0])
	bottom := f.panels[len(f.panels)-1].DataCanvas(tiles[len(tiles)-1])
	tx, _ := f.panels[0].Transforms(&top)
	line := func(m eventMarker, y vg.Length) {
		sty := draw.LineStyle{Color: m.color, Width: 0.8, Dashes: []vg.Length{3, 2}}
		if m.span {
			sty.Dashes = nil
			if x := tx(m.x1); m.x1 > m.x && x <= top.Max.X+0.5 {
				top.StrokeLine2(sty, x, bottom.Min.Y, x, top.Max.Y)
			}
		}
		x := tx(m.x)
		if x >= top.Min.X-0.5 && x <= top.Max.X+0.5 {
			top.StrokeLine2(sty, x, bottom.Min.Y, x, y)
		}
	}
	baseline := func(lane int) vg.Length { return top.Max.Y + vg.Length(lane)*laneHeight + 3 }
	labelTop := map[int]vg.Length{}
	for i, lane := range lanes {
		for _, it := range lane {
			labelTop[it.idx] = baseline(i) + laneHeight - 4
		}
	}
	for i, m := range f.markers {
		y, ok := labelTop[i]
		if !ok {
			y = top.Max.Y
		}
		line(m, y)
	}
	sty := textStyle(9, xfont.WeightNormal)
	sty.YAlign = draw.YBottom
	for i, lane := range lanes {
		y := baseline(i)
		for _, it := range lane {
			top.SetColor(color.White)
			top.Fill(vg.Rectangle{Min: vg.Point{X: it.x0 - 1, Y: y - 2}, Max: vg.Point{X: it.x1 + 1, Y: y + laneHeight - 3}}.Path())
			s := sty
			s.Color = it.m.color
			at := it.x0
			if it.right {
				s.XAlign, at = draw.XRight, it.x1
			}
			top.FillText(s, vg.Point{X: at, Y: y}, it.m.label)
		}
	}
}

// eventColor is the colour of an event kind on the charts and in the
// events table; kinds gonogo does not write are grey.
func eventColor(kind string) color.Color {
	switch kind {
	case gonogo.EventFault:
		return palette.red
	case gonogo.EventFlip:
		return palette.purple
	case gonogo.EventRollback:
		return palette.brown
	case gonogo.EventStep:
		return palette.cyan
	case gonogo.EventMarker:
		return palette.pink
	}
	return mutedInk
}

// inlineSVG turns a standalone SVG document into an element for an HTML
// page: no XML prolog, no fixed size (CSS sets the width; the viewBox
// keeps the aspect ratio), and an accessible name.
func inlineSVG(doc, title string) template.HTML {
	if i := strings.Index(doc, "<svg"); i >= 0 {
		doc = doc[i:]
	}
	if i := strings.Index(doc, "viewBox="); i >= 0 {
		doc = doc[i:]
	}
	return template.HTML(`<svg class="chart" role="img" aria-label="` + html.EscapeString(title) + `" ` + doc)
}

// truncRunes shortens s to n runes with an ellipsis.
func truncRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
