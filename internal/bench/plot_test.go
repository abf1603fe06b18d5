package bench

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
)

// syntheticReport makes a report without running anything.
func syntheticReport(sizes []int64, cpu float64) *Report {
	rep := &Report{Started: time.Now(), Sender: LocalHost(), Receiver: LocalHost(), Link: "loopback", Reps: 3}
	for _, size := range sizes {
		for i, m := range DefaultConfig().Methods {
			f := float64(i + 1)
			r := Result{
				Method: m.String(), MethodUsed: m.Method.String(), RecvMethod: "readwrite", Size: size, Bytes: size,
				TLS: m.TLS, ZeroCopy: m.ZeroCopy(),
				GBps: f, GBpsMin: f * 0.9, GBpsMax: f * 1.1,
				SenderCPU: cpu / f, SenderCPUMin: cpu / f, SenderCPUMax: cpu / f * 1.2, SenderUser: cpu / f / 4, SenderSys: cpu / f * 3 / 4,
				ReceiverCPU: cpu, ReceiverCPUMin: cpu, ReceiverCPUMax: cpu, ReceiverSys: cpu,
				Samples: []Sample{{Cached: 1}}, Reps: 3,
			}
			if m.TLS {
				r.HandshakeMs, r.HandshakeMsMin, r.HandshakeMsMax = 4.25, 3.5, 9
			}
			rep.Results = append(rep.Results, r)
		}
	}
	return rep
}

func TestWritePlot(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		sizes []int64
		cpu   float64
	}{
		{"bars", []int64{1 << 30}, 0.3},
		{"sweep", []int64{4 << 10, 1 << 20, 1 << 30}, 0.3},
		{"sweep-zero-cpu", []int64{4 << 10, 1 << 20}, 0}, // no log scale then
	} {
		for _, ext := range []string{".png", ".svg"} {
			t.Run(tc.name+ext, func(t *testing.T) {
				path := filepath.Join(dir, tc.name+ext)
				if err := WritePlot(path, syntheticReport(tc.sizes, tc.cpu)); err != nil {
					t.Fatal(err)
				}
				checkImage(t, path)
			})
		}
	}
	if err := WritePlot(filepath.Join(dir, "x.png"), &Report{}); err == nil {
		t.Error("WritePlot drew an empty report")
	}
}

func TestCheckPlotFile(t *testing.T) {
	for name, ok := range map[string]bool{"a.png": true, "b.SVG": true, "c.gif": false, "d": false, "e.png.txt": false} {
		if err := CheckPlotFile(name); (err == nil) != ok {
			t.Errorf("CheckPlotFile(%q) = %v", name, err)
		}
	}
}

// TestFigures checks what issue 19 found wrong with the pictures: a panel
// for system calls and context switches, no legend inside a panel (where
// it covered a line), logarithmic axes that say so, and a title that
// promises only whiskers that are drawn.
func TestFigures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sizes []int64
	}{
		{"bars", []int64{512 << 20}},
		{"sweep", []int64{4 << 10, 1 << 20, 512 << 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := syntheticReport(tc.sizes, 0.3)
			var fig figure
			var err error
			if len(tc.sizes) > 1 {
				fig, err = sweepFigure(rep, tc.sizes)
			} else {
				fig, err = barFigure(rep)
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(fig.panels) != 4 || len(fig.ylabels) != 4 {
				t.Fatalf("%d panels, %d y labels; want 4", len(fig.panels), len(fig.ylabels))
			}
			counts := false
			for i, p := range fig.panels {
				if strings.Contains(p.Title.Text, "system calls") && strings.Contains(p.Title.Text, "context switches") {
					counts = true
				}
				if p.Legend.Top || p.Legend.Left || p.Y.Label.Text != "" {
					t.Errorf("panel %q has a legend or a y label of its own", p.Title.Text)
				}
				_, isLog := p.Y.Scale.(plot.LogScale)
				if says := strings.Contains(fig.ylabels[i], "log scale"); isLog != says {
					t.Errorf("panel %q: logarithmic %v, its label %q", p.Title.Text, isLog, fig.ylabels[i])
				}
				if isLog {
					if _, ok := p.Y.Tick.Marker.(logTicks); !ok {
						t.Errorf("panel %q: a logarithmic axis without logTicks", p.Title.Text)
					}
				}
			}
			if !counts {
				t.Error("no panel for system calls and context switches")
			}
			if len(fig.legend) == 0 || fig.caption == "" {
				t.Errorf("legend %v, caption %q", fig.legend, fig.caption)
			}
			if title := plotTitle(rep); !strings.Contains(title, "whiskers span the slowest to the fastest round") {
				t.Errorf("title %q", title)
			}
		})
	}
}
