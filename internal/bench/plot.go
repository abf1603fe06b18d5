package bench

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/zcopy/zcopy/internal/bytesize"
)

// The picture: a title, a legend in a strip of its own (so that it covers
// no line or bar), four panels in two rows, and a caption.
const (
	plotWidth  = 26 * vg.Centimeter
	plotHeight = 21 * vg.Centimeter
	plotDPI    = 110
)

// Colours of the bar charts' parts.
var (
	colorThroughput = color.RGBA{R: 0x4c, G: 0x72, B: 0xb0, A: 0xff}
	colorSystem     = color.RGBA{R: 0xc4, G: 0x4e, B: 0x52, A: 0xff}
	colorUser       = color.RGBA{R: 0xf2, G: 0xb8, B: 0x8c, A: 0xff}
	colorSyscalls   = color.RGBA{R: 0x2f, G: 0x4b, B: 0x7c, A: 0xff}
	colorCtxsw      = color.RGBA{R: 0x8c, G: 0xb4, B: 0xd9, A: 0xff}
)

// CheckPlotFile reports whether WritePlot can write to path: its extension
// must be .png or .svg.
func CheckPlotFile(path string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png", ".svg":
		return nil
	}
	return fmt.Errorf("%s: want a .png or .svg file name", path)
}

// WritePlot draws the report to path, as PNG or SVG by its extension. One
// size gives bar charts per method: throughput, sender and receiver CPU
// per GiB (system and user time stacked), and the sender's system calls
// and context switches per GiB; whiskers span the slowest to the fastest
// round (of the total, for CPU). Several sizes give the same figures as
// lines over the size.
func WritePlot(path string, rep *Report) error {
	if err := CheckPlotFile(path); err != nil {
		return err
	}
	if len(rep.Results) == 0 {
		return errors.New("plot: no results")
	}
	var fig figure
	var err error
	if sizes := distinctSizes(rep.Results); len(sizes) > 1 {
		fig, err = sweepFigure(rep, sizes)
	} else {
		fig, err = barFigure(rep)
	}
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	var canvas vg.CanvasWriterTo
	if strings.ToLower(filepath.Ext(path)) == ".svg" {
		canvas = vgsvg.NewWith(vgsvg.UseWH(plotWidth, plotHeight))
	} else {
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(plotWidth, plotHeight), vgimg.UseDPI(plotDPI))}
	}
	fig.draw(canvas, plotTitle(rep))
	return writeFile(path, canvas)
}

// figure is what WritePlot draws: four panels, the legend that serves them
// all, and a caption.
type figure struct {
	panels []*plot.Plot
	// ylabels are the panels' y axis labels, which figure.draw writes
	// itself: gonum/plot places a label at the middle of the axis's values,
	// which on a logarithmic axis is near its top, and then pads the panel
	// for a label sticking out above it.
	ylabels []string
	legend  []legendEntry
	caption string
}

// legendEntry is one item of the legend strip.
type legendEntry struct {
	label  string
	thumbs []plot.Thumbnailer
}

// draw draws the title, the legend strip under it, the panels in two rows
// and the caption at the bottom.
func (f figure) draw(canvas vg.CanvasSizer, title string) {
	dc := draw.New(canvas)
	white := dc
	white.SetColor(color.White)
	white.Fill(dc.Rectangle.Path())

	titleStyle := textStyle(11)
	titleStyle.XAlign, titleStyle.YAlign = draw.XCenter, draw.YTop
	y := dc.Max.Y - 0.25*vg.Centimeter
	dc.FillText(titleStyle, vg.Point{X: dc.Center().X, Y: y}, title)
	y -= titleStyle.Height(title) + 0.25*vg.Centimeter

	y = drawLegend(dc, f.legend, y)

	capStyle := textStyle(8.5)
	capStyle.XAlign, capStyle.YAlign = draw.XLeft, draw.YBottom
	margin := 0.6 * vg.Centimeter
	lines := wrapWidth(capStyle, f.caption, dc.Max.X-dc.Min.X-2*margin)
	lineH := capStyle.Height("Mg") * 1.2
	for i := range lines {
		at := vg.Point{X: dc.Min.X + margin, Y: dc.Min.Y + 0.25*vg.Centimeter + vg.Length(len(lines)-1-i)*lineH}
		dc.FillText(capStyle, at, lines[i])
	}
	bottom := dc.Min.Y + 0.25*vg.Centimeter + vg.Length(len(lines))*lineH + 0.2*vg.Centimeter

	body := draw.Crop(dc, 0, 0, bottom-dc.Min.Y, y-dc.Max.Y)
	tiles := draw.Tiles{Rows: 2, Cols: 2, PadX: 1.2 * vg.Centimeter, PadY: 0.6 * vg.Centimeter,
		PadLeft: 0.3 * vg.Centimeter, PadRight: 0.5 * vg.Centimeter}
	labelStyle := textStyle(12)
	labelStyle.XAlign, labelStyle.YAlign, labelStyle.Rotation = draw.XCenter, draw.YTop, math.Pi/2
	labelW := labelStyle.Height("Mg") + 0.1*vg.Centimeter
	for i, p := range f.panels {
		tile := tiles.At(body, i%2, i/2)
		if i < len(f.ylabels) && f.ylabels[i] != "" {
			// Centred on the plotting area, not the tile with its title
			// and x axis.
			mid := (tile.Min.Y + tile.Max.Y - labelStyle.Height("Mg")*1.5) / 2
			tile.FillText(labelStyle, vg.Point{X: tile.Min.X, Y: mid}, f.ylabels[i])
			tile = draw.Crop(tile, labelW, 0, 0, 0)
		}
		p.Draw(tile)
	}
}

// drawLegend draws the entries in one centred row (more if they do not
// fit) whose top is at y, and returns the y under it.
func drawLegend(dc draw.Canvas, entries []legendEntry, y vg.Length) vg.Length {
	sty := textStyle(10)
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YCenter
	thumbW, gap, space := 0.9*vg.Centimeter, 0.15*vg.Centimeter, 0.6*vg.Centimeter
	rowH := sty.Height("Mg") * 1.5
	width := func(e legendEntry) vg.Length { return thumbW + gap + sty.Width(e.label) }
	avail := dc.Max.X - dc.Min.X - 2*vg.Centimeter
	for len(entries) > 0 {
		n, w := 0, vg.Length(0)
		for n < len(entries) && (n == 0 || w+space+width(entries[n]) <= avail) {
			if n > 0 {
				w += space
			}
			w += width(entries[n])
			n++
		}
		x := dc.Center().X - w/2
		mid := y - rowH/2
		for _, e := range entries[:n] {
			box := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x, Y: mid - rowH/3}, Max: vg.Point{X: x + thumbW, Y: mid + rowH/3}}}
			for _, t := range e.thumbs {
				t.Thumbnail(&box)
			}
			dc.FillText(sty, vg.Point{X: x + thumbW + gap, Y: mid}, e.label)
			x += width(e) + space
		}
		entries = entries[n:]
		y -= rowH
	}
	return y - 0.2*vg.Centimeter
}

// wrapWidth breaks text into lines no wider than w in style sty.
func wrapWidth(sty text.Style, s string, w vg.Length) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && sty.Width(line+" "+word) > w {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

func textStyle(size vg.Length) text.Style {
	sty := plot.New().Title.TextStyle
	sty.Font = font.From(plot.DefaultFont, size)
	return sty
}

func plotTitle(rep *Report) string {
	h := rep.Sender
	kernel := h.Kernel
	if kernel == "" {
		kernel = h.OS
	}
	link := "loopback"
	if rep.Link != "loopback" {
		link = "to " + rep.Link
	}
	recv := recvMethod(rep)
	if hasTLS(rep) && recv != "readwrite" {
		recv += " (tls: readwrite)"
	}
	cache := "warm page cache"
	if rep.Cold {
		cache = "cold page cache"
	}
	sizes := distinctSizes(rep.Results)
	what := bytesize.Format(sizes[0])
	if len(sizes) > 1 {
		what = fmt.Sprintf("%s to %s", bytesize.Format(slices.Min(sizes)), bytesize.Format(slices.Max(sizes)))
	}
	cpu := ""
	if h.CPU != "" {
		cpu = h.CPU + ", "
	}
	line1 := fmt.Sprintf("zcopy bench: %s, %s %s, %s%d cores, %s, %s receiver, %s", what, kernel, h.Arch, cpu, h.Cores, link, recv, cache)
	shape := "bars"
	if len(sizes) > 1 {
		shape = "points"
	}
	line2 := fmt.Sprintf("%s; %s are medians of %d rounds, whiskers span the slowest to the fastest round",
		rep.Started.UTC().Format("2006-01-02"), shape, rep.Reps)
	return line1 + "\n" + line2
}

// captionCPU explains how CPU time is measured and split.
func captionCPU(rep *Report) string {
	s := "CPU: seconds per GiB moved, from the kernel's accounting of each process (user and system time; " +
		"the total is exact, but Linux tells user from system time by sampling at each timer tick, so the split " +
		"of a trial that lasts few ticks, as with small files, is rough). "
	if rep.Link == "loopback" {
		s += "On loopback the kernel does much of the receiving in the sender's context and counts it as the sender's system time. "
	}
	return s + "System calls: the sender's, counted by zcopy's engine; context switches: the sender's, from getrusage."
}

// barFigure draws one size: a bar (or two) per method.
func barFigure(rep *Report) (figure, error) {
	rs := rep.Results
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Method
	}
	gbps, err := bars("Throughput", names, rs,
		func(r Result) (float64, float64, float64) { return r.GBps, r.GBpsMin, r.GBpsMax }, nil)
	if err != nil {
		return figure{}, err
	}
	snd, err := bars("Sender CPU per GiB", names, rs,
		func(r Result) (float64, float64, float64) { return r.SenderCPU, r.SenderCPUMin, r.SenderCPUMax },
		func(r Result) (float64, float64) { return r.SenderUser, r.SenderSys })
	if err != nil {
		return figure{}, err
	}
	rcv, err := bars("Receiver CPU per GiB", names, rs,
		func(r Result) (float64, float64, float64) { return r.ReceiverCPU, r.ReceiverCPUMin, r.ReceiverCPUMax },
		func(r Result) (float64, float64) { return r.ReceiverUser, r.ReceiverSys })
	if err != nil {
		return figure{}, err
	}
	// CPU panels share a scale so they compare at a glance.
	ymax := max(snd.Y.Max, rcv.Y.Max)
	snd.Y.Max, rcv.Y.Max = ymax, ymax
	counts, err := countBars(names, rs)
	if err != nil {
		return figure{}, err
	}
	swatch := func(c color.Color) []plot.Thumbnailer {
		b, _ := plotter.NewBarChart(plotter.Values{1}, 1)
		b.Color = c
		return []plot.Thumbnailer{b}
	}
	return figure{
		panels:  []*plot.Plot{gbps, counts, snd, rcv},
		ylabels: []string{"GB/s (10^9 bytes per second)", "count per GiB", "CPU seconds per GiB", "CPU seconds per GiB"},
		legend: []legendEntry{
			{"system CPU time", swatch(colorSystem)}, {"user CPU time", swatch(colorUser)},
			{"system calls", swatch(colorSyscalls)}, {"context switches", swatch(colorCtxsw)},
		},
		caption: captionCPU(rep),
	}, nil
}

// bars makes one bar panel. total gives each bar's median, min and max;
// split, if set, gives the user and system parts drawn stacked (scaled to
// the total median so the bar's height is the median of the totals).
func bars(title string, names []string, rs []Result,
	total func(Result) (float64, float64, float64), split func(Result) (float64, float64)) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Min = 0
	p.Y.Tick.Marker = linearTicks{}
	p.Add(plotter.NewGrid())
	w := vg.Points(22)
	med := make(plotter.Values, len(rs))
	wh := whiskers{}
	for i, r := range rs {
		m, lo, hi := total(r)
		med[i] = m
		wh.add(float64(i), lo, hi, 0)
	}
	if split == nil {
		b, err := plotter.NewBarChart(med, w)
		if err != nil {
			return nil, err
		}
		b.Color = colorThroughput
		p.Add(b)
	} else {
		sys := make(plotter.Values, len(rs))
		user := make(plotter.Values, len(rs))
		for i, r := range rs {
			u, s := split(r)
			if u+s > 0 {
				// Medians of the parts need not add up to the median of the
				// whole; keep their proportion.
				sys[i] = med[i] * s / (u + s)
				user[i] = med[i] - sys[i]
			}
		}
		bs, err := plotter.NewBarChart(sys, w)
		if err != nil {
			return nil, err
		}
		bs.Color = colorSystem
		bu, err := plotter.NewBarChart(user, w)
		if err != nil {
			return nil, err
		}
		bu.Color = colorUser
		bu.StackOn(bs)
		p.Add(bs, bu)
	}
	p.Add(wh)
	nominal(p, names)
	p.Y.Max *= 1.04 // the top whisker's cap clear of the frame
	return p, nil
}

// nominal names the bars along the x axis and spans the axis (and the
// grid) half a bar's slot beyond the first and the last.
func nominal(p *plot.Plot, names []string) {
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5
}

// countBars draws the sender's system calls and context switches per GiB,
// two bars a method, each with its whisker and its median written above.
func countBars(names []string, rs []Result) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Sender's system calls and context switches per GiB"
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	w := vg.Points(14)
	calls := make(plotter.Values, len(rs))
	ctxsw := make(plotter.Values, len(rs))
	wh := whiskers{labels: true}
	top := 0.0
	for i, r := range rs {
		calls[i] = r.Syscalls
		wh.add(float64(i), r.SyscallsMin, r.SyscallsMax, -w/2)
		wh.label(r.Syscalls)
		top = max(top, r.SyscallsMax)
		if r.CtxswKnown {
			ctxsw[i] = r.Ctxsw
			wh.add(float64(i), r.CtxswMin, r.CtxswMax, w/2)
			wh.label(r.Ctxsw)
			top = max(top, r.CtxswMax)
		}
	}
	bc, err := plotter.NewBarChart(calls, w)
	if err != nil {
		return nil, err
	}
	bc.Color, bc.Offset = colorSyscalls, -w/2
	bx, err := plotter.NewBarChart(ctxsw, w)
	if err != nil {
		return nil, err
	}
	bx.Color, bx.Offset = colorCtxsw, w/2
	p.Add(bc, bx, wh)
	nominal(p, names)
	p.Y.Max = top * 1.18 // room for the numbers over the bars
	p.Y.Tick.Marker = linearTicks{}
	return p, nil
}

// whiskers draws a vertical line from lo to hi with caps at each x, shifted
// by a distance on the page (to sit on one of a group of bars), and with
// labels, the median under the label written above the whisker.
type whiskers struct {
	x, lo, hi []float64
	shift     []vg.Length
	labels    bool
	text      []string
}

func (w *whiskers) add(x, lo, hi float64, shift vg.Length) {
	w.x, w.lo, w.hi, w.shift = append(w.x, x), append(w.lo, lo), append(w.hi, hi), append(w.shift, shift)
}

func (w *whiskers) label(v float64) { w.text = append(w.text, thousands(v)) }

// Plot implements plot.Plotter.
func (w whiskers) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	ls := draw.LineStyle{Color: color.Black, Width: vg.Points(1)}
	capW := vg.Points(3)
	sty := textStyle(7)
	sty.XAlign, sty.YAlign, sty.Rotation = draw.XLeft, draw.YCenter, math.Pi/2
	for i := range w.x {
		x := trX(w.x[i]) + w.shift[i]
		lo, hi := trY(w.lo[i]), trY(w.hi[i])
		c.StrokeLine2(ls, x, lo, x, hi)
		c.StrokeLine2(ls, x-capW, lo, x+capW, lo)
		c.StrokeLine2(ls, x-capW, hi, x+capW, hi)
		if w.labels && i < len(w.text) {
			c.FillText(sty, vg.Point{X: x, Y: hi + vg.Points(3)}, w.text[i])
		}
	}
}

// DataRange implements plot.DataRanger.
func (w whiskers) DataRange() (xmin, xmax, ymin, ymax float64) {
	return slices.Min(w.x), slices.Max(w.x), min(0, slices.Min(w.lo)), slices.Max(w.hi)
}

// linearTicks marks a linear axis with four to seven numbers at a step of
// 1, 2, 2.5 or 5 times a power of ten (plot.DefaultTicks labels as few as
// two), writing thousands with commas, and unlabelled ticks between.
type linearTicks struct{}

// Ticks implements plot.Ticker.
func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	step := niceStep((hi - lo) / 6)
	prec := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	if step*math.Pow(10, float64(prec)) != math.Round(step*math.Pow(10, float64(prec))) {
		prec++ // 2.5 times a power of ten
	}
	var ts []plot.Tick
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+step*1e-9; k++ {
		v := k * step
		if v == 0 {
			v = 0 // not -0
		}
		label := strconv.FormatFloat(v, 'f', prec, 64)
		if math.Abs(v) >= 1000 {
			label = thousands(v)
		}
		ts = append(ts, plot.Tick{Value: v, Label: label})
		if mid := v + step/2; mid <= hi {
			ts = append(ts, plot.Tick{Value: mid})
		}
	}
	return ts
}

// niceStep returns the least of 1, 2, 2.5 and 5 times a power of ten that
// is at least x.
func niceStep(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= x*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// sweepFigure draws several sizes: a line per method over the size.
func sweepFigure(rep *Report, sizes []int64) (figure, error) {
	type series struct {
		fig   func(Result) float64
		rng   func(Result) (float64, float64)
		dash  bool
		known func(Result) bool
	}
	always := func(Result) bool { return true }
	panels := []struct {
		title, ylabel string
		log           bool
		series        []series
	}{
		{"Throughput", "GB/s (10^9 bytes per second)", false, []series{{
			func(r Result) float64 { return r.GBps },
			func(r Result) (float64, float64) { return r.GBpsMin, r.GBpsMax }, false, always}}},
		{"Sender's system calls (solid) and context switches (dashed) per GiB", "count per GiB (log scale)", true, []series{
			{func(r Result) float64 { return r.Syscalls },
				func(r Result) (float64, float64) { return r.SyscallsMin, r.SyscallsMax }, false, always},
			{func(r Result) float64 { return r.Ctxsw },
				func(r Result) (float64, float64) { return r.CtxswMin, r.CtxswMax }, true, func(r Result) bool { return r.CtxswKnown }}}},
		{"Sender CPU per GiB", "CPU seconds per GiB (log scale)", true, []series{{
			func(r Result) float64 { return r.SenderCPU },
			func(r Result) (float64, float64) { return r.SenderCPUMin, r.SenderCPUMax }, false, always}}},
		{"Receiver CPU per GiB", "CPU seconds per GiB (log scale)", true, []series{{
			func(r Result) float64 { return r.ReceiverCPU },
			func(r Result) (float64, float64) { return r.ReceiverCPUMin, r.ReceiverCPUMax }, false, always}}},
	}
	ticks := sizeTicks(sizes)
	var out []*plot.Plot
	var ylabels []string
	for _, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.X.Label.Text = "file size"
		ylabel := pn.ylabel
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = ticks
		p.Add(plotter.NewGrid())
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, s := range pn.series {
			for _, r := range rep.Results {
				if s.known(r) {
					a, b := s.rng(r)
					lo, hi = min(lo, a), max(hi, b)
				}
			}
		}
		if pn.log && lo > 0 {
			p.Y.Scale = plot.LogScale{}
			p.Y.Tick.Marker = logTicks{}
			// Room above and below, and a flat range is not widened by
			// +-1, below zero.
			p.Y.Min, p.Y.Max = lo/1.25, hi*1.25
		} else {
			ylabel = strings.TrimSuffix(ylabel, " (log scale)")
			p.Y.Min = 0
			p.Y.Tick.Marker = linearTicks{}
		}
		for i, m := range methodOrder(rep.Results) {
			for _, s := range pn.series {
				var xys plotter.XYs
				var errs plotter.YErrors
				for _, r := range rep.Results {
					if r.Method == m && s.known(r) {
						y := s.fig(r)
						a, b := s.rng(r)
						xys = append(xys, plotter.XY{X: float64(r.Size), Y: y})
						errs = append(errs, struct{ Low, High float64 }{y - a, b - y})
					}
				}
				if len(xys) == 0 {
					continue
				}
				eb, err := errorBars(xys, errs)
				if err != nil {
					return figure{}, err
				}
				eb.Color = plotutil.Color(i)
				eb.LineStyle.Width = vg.Points(1)
				l, sc, err := plotter.NewLinePoints(xys)
				if err != nil {
					return figure{}, err
				}
				l.Color, sc.Color = plotutil.Color(i), plotutil.Color(i)
				l.Width = vg.Points(1.5)
				if s.dash {
					l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
				}
				sc.Shape = plotutil.Shape(i)
				p.Add(eb, l, sc)
			}
		}
		out = append(out, p)
		ylabels = append(ylabels, ylabel)
	}
	var legend []legendEntry
	for i, m := range methodOrder(rep.Results) {
		l := &plotter.Line{LineStyle: draw.LineStyle{Color: plotutil.Color(i), Width: vg.Points(1.5)}}
		sc := &plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: plotutil.Color(i), Shape: plotutil.Shape(i), Radius: vg.Points(3)}}
		legend = append(legend, legendEntry{m, []plot.Thumbnailer{l, sc}})
	}
	caption := captionCPU(rep) + " Every axis but throughput's is logarithmic."
	return figure{panels: out, ylabels: ylabels, legend: legend, caption: caption}, nil
}

// logTicks marks a logarithmic axis at 1, 2 and 5 times each power of ten,
// or, over a range too narrow to hold two of those, at plot.DefaultTicks'
// values, so that the axis always has numbers.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo*0.999 && v <= hi*1.001 {
				ts = append(ts, plot.Tick{Value: v, Label: logLabel(v)})
			}
		}
	}
	if len(ts) >= 2 {
		return ts
	}
	ts = ts[:0]
	for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if t.Value > 0 {
			ts = append(ts, t)
		}
	}
	return ts
}

// logLabel writes a tick's value, with commas from 1,000 up.
func logLabel(v float64) string {
	if v >= 1000 {
		return thousands(v)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// sizeTicks labels the axis at the measured sizes.
func sizeTicks(sizes []int64) plot.ConstantTicks {
	t := make(plot.ConstantTicks, len(sizes))
	for i, s := range sizes {
		t[i] = plot.Tick{Value: float64(s), Label: shortSize(s)}
	}
	return t
}

// shortSize writes a size in one word, without a needless decimal:
// "4KiB", "1.5GiB".
func shortSize(n int64) string {
	return strings.ReplaceAll(strings.ReplaceAll(bytesize.Format(n), ".0 ", ""), " ", "")
}

// errorBars draws the range errs gives about each of the points xys.
func errorBars(xys plotter.XYs, errs plotter.YErrors) (*plotter.YErrorBars, error) {
	return plotter.NewYErrorBars(struct {
		plotter.XYer
		plotter.YErrorer
	}{xys, errs})
}

// distinct returns the keys of rs, each once, in the order they first
// appear.
func distinct[K comparable](rs []Result, key func(Result) K) []K {
	var out []K
	seen := map[K]bool{}
	for _, r := range rs {
		if k := key(r); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// distinctSizes returns the sizes measured, in the order they were.
func distinctSizes(rs []Result) []int64 {
	return distinct(rs, func(r Result) int64 { return r.Size })
}

// methodOrder returns the methods measured, in the order they were.
func methodOrder(rs []Result) []string {
	return distinct(rs, func(r Result) string { return r.Method })
}

// writeFile writes the canvas to path, whole or not at all.
func writeFile(path string, c io.WriterTo) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.zcopy-part")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = c.WriteTo(tmp); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
