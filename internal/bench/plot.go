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
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/zcopy/zcopy/internal/bytesize"
)

// Plot size: three panels side by side.
const (
	plotWidth  = 30 * vg.Centimeter
	plotHeight = 11 * vg.Centimeter
	plotDPI    = 110
	titleSpace = 1.3 * vg.Centimeter
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
// size gives bar charts of throughput, sender CPU and receiver CPU per GiB
// per method (user and system stacked, the whiskers the min-max of the
// total); several give the same figures as lines over the size.
func WritePlot(path string, rep *Report) error {
	if err := CheckPlotFile(path); err != nil {
		return err
	}
	if len(rep.Results) == 0 {
		return errors.New("plot: no results")
	}
	var panels []*plot.Plot
	var err error
	if sizes := distinctSizes(rep.Results); len(sizes) > 1 {
		panels, err = sweepPanels(rep, sizes)
	} else {
		panels, err = barPanels(rep)
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
	drawPanels(canvas, rep, panels)
	return writeFile(path, canvas)
}

// drawPanels draws a title and the panels side by side.
func drawPanels(canvas vg.CanvasSizer, rep *Report, panels []*plot.Plot) {
	dc := draw.New(canvas)
	white := dc
	white.SetColor(color.White)
	white.Fill(dc.Rectangle.Path())

	sty := plot.New().Title.TextStyle
	sty.Font = font.From(plot.DefaultFont, 11)
	sty.XAlign = draw.XCenter
	sty.YAlign = draw.YTop
	top := vg.Point{X: dc.Center().X, Y: dc.Max.Y - 0.25*vg.Centimeter}
	dc.FillText(sty, top, plotTitle(rep))

	// Equal tiles rather than plot.Align: the panels' titles and x axes
	// line up, whatever their y tick labels.
	body := draw.Crop(dc, 0, 0, 0, -titleSpace)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Centimeter,
		PadLeft: 0.3 * vg.Centimeter, PadRight: 0.4 * vg.Centimeter, PadBottom: 0.2 * vg.Centimeter}
	for i, p := range panels {
		p.Draw(tiles.At(body, i, 0))
	}
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
	line2 := fmt.Sprintf("%s; medians of %d rounds, whiskers min-max", rep.Started.UTC().Format("2006-01-02"), rep.Reps)
	return line1 + "\n" + line2
}

// barPanels draws one size: a bar per method.
func barPanels(rep *Report) ([]*plot.Plot, error) {
	rs := rep.Results
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Method
	}
	gbps, err := bars("Throughput", "GB/s", names, rs,
		func(r Result) (float64, float64, float64) { return r.GBps, r.GBpsMin, r.GBpsMax }, nil)
	if err != nil {
		return nil, err
	}
	snd, err := bars("Sender CPU", "CPU seconds per GiB", names, rs,
		func(r Result) (float64, float64, float64) { return r.SenderCPU, r.SenderCPUMin, r.SenderCPUMax },
		func(r Result) (float64, float64) { return r.SenderUser, r.SenderSys })
	if err != nil {
		return nil, err
	}
	rcv, err := bars("Receiver CPU", "CPU seconds per GiB", names, rs,
		func(r Result) (float64, float64, float64) { return r.ReceiverCPU, r.ReceiverCPUMin, r.ReceiverCPUMax },
		func(r Result) (float64, float64) { return r.ReceiverUser, r.ReceiverSys })
	if err != nil {
		return nil, err
	}
	// CPU panels share a scale so they compare at a glance.
	ymax := max(snd.Y.Max, rcv.Y.Max)
	snd.Y.Max, rcv.Y.Max = ymax, ymax
	return []*plot.Plot{gbps, snd, rcv}, nil
}

// bars makes one bar panel. total gives each bar's median, min and max;
// split, if set, gives the user and system parts drawn stacked (scaled to
// the total median so the bar's height is the median of the totals).
func bars(title, ylabel string, names []string, rs []Result,
	total func(Result) (float64, float64, float64), split func(Result) (float64, float64)) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	w := vg.Points(22)
	med := make(plotter.Values, len(rs))
	pts := make(plotter.XYs, len(rs))
	errs := make(plotter.YErrors, len(rs))
	for i, r := range rs {
		m, lo, hi := total(r)
		med[i] = m
		pts[i] = plotter.XY{X: float64(i), Y: m}
		errs[i].Low, errs[i].High = m-lo, hi-m
	}
	if split == nil {
		b, err := plotter.NewBarChart(med, w)
		if err != nil {
			return nil, err
		}
		b.Color = color.RGBA{R: 0x4c, G: 0x72, B: 0xb0, A: 0xff}
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
		bs.Color = color.RGBA{R: 0xc4, G: 0x4e, B: 0x52, A: 0xff}
		bu, err := plotter.NewBarChart(user, w)
		if err != nil {
			return nil, err
		}
		bu.Color = color.RGBA{R: 0xf2, G: 0xb8, B: 0x8c, A: 0xff}
		bu.StackOn(bs)
		p.Add(bs, bu)
		p.Legend.Add("user", bu)
		p.Legend.Add("system", bs)
		p.Legend.Top = true
	}
	eb, err := errorBars(pts, errs)
	if err != nil {
		return nil, err
	}
	p.Add(eb)
	p.NominalX(names...)
	p.Add(plotter.NewGrid())
	return p, nil
}

// sweepPanels draws several sizes: a line per method over the size.
func sweepPanels(rep *Report, sizes []int64) ([]*plot.Plot, error) {
	panels := []*plot.Plot{plot.New(), plot.New(), plot.New()}
	titles := []string{"Throughput", "Sender CPU", "Receiver CPU"}
	ylabels := []string{"GB/s", "CPU seconds per GiB", "CPU seconds per GiB"}
	figs := []func(Result) float64{
		func(r Result) float64 { return r.GBps },
		func(r Result) float64 { return r.SenderCPU },
		func(r Result) float64 { return r.ReceiverCPU },
	}
	ranges := []func(Result) (float64, float64){
		func(r Result) (float64, float64) { return r.GBpsMin, r.GBpsMax },
		func(r Result) (float64, float64) { return r.SenderCPUMin, r.SenderCPUMax },
		func(r Result) (float64, float64) { return r.ReceiverCPUMin, r.ReceiverCPUMax },
	}
	ticks := sizeTicks(sizes)
	for k, p := range panels {
		p.Title.Text = titles[k]
		p.Y.Label.Text = ylabels[k]
		p.X.Label.Text = "file size"
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = ticks
		if lo, hi := span(rep.Results, ranges[k]); k > 0 && lo > 0 {
			p.Y.Scale = plot.LogScale{}
			p.Y.Tick.Marker = logTicks{}
			if hi < lo*1.5 {
				// A flat range would be widened by +-1, below zero.
				p.Y.Min, p.Y.Max = lo/1.5, hi*1.5
			}
		} else {
			p.Y.Min = 0
		}
		p.Add(plotter.NewGrid())
	}
	for i, m := range methodOrder(rep.Results) {
		for k, p := range panels {
			var xys plotter.XYs
			var errs plotter.YErrors
			for _, r := range rep.Results {
				if r.Method == m {
					y := figs[k](r)
					lo, hi := ranges[k](r)
					xys = append(xys, plotter.XY{X: float64(r.Size), Y: y})
					errs = append(errs, struct{ Low, High float64 }{y - lo, hi - y})
				}
			}
			eb, err := errorBars(xys, errs)
			if err != nil {
				return nil, err
			}
			eb.Color = plotutil.Color(i)
			p.Add(eb)
			l, s, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, err
			}
			l.Color, s.Color = plotutil.Color(i), plotutil.Color(i)
			l.Width = vg.Points(1.5)
			s.Shape = plotutil.Shape(i)
			p.Add(l, s)
			if k == 0 {
				p.Legend.Add(m, l, s)
			}
		}
	}
	panels[0].Legend.Top = true
	panels[0].Legend.Left = true
	return panels, nil
}

// logTicks marks a logarithmic axis at 1, 2 and 5 times each power of ten.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo*0.999 && v <= hi*1.001 {
				ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return ts
}

// sizeTicks labels the axis at the measured sizes.
func sizeTicks(sizes []int64) plot.ConstantTicks {
	t := make(plot.ConstantTicks, len(sizes))
	for i, s := range sizes {
		t[i] = plot.Tick{Value: float64(s), Label: strings.ReplaceAll(bytesize.Format(s), ".0 ", "")}
	}
	return t
}

// span returns the lowest and highest of the ranges f gives.
func span(rs []Result, f func(Result) (float64, float64)) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, r := range rs {
		a, b := f(r)
		lo, hi = min(lo, a), max(hi, b)
	}
	return lo, hi
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
