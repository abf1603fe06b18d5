package bench

import (
	"path/filepath"
	"testing"
	"time"
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
