package bench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"

	"github.com/zcopy/zcopy/zerocopy"
)

// made is one row of made-up figures: GB/s (median, slowest, fastest),
// sender and receiver CPU seconds per GiB, the sender's system calls and
// context switches per GiB.
type made struct {
	method                 string
	gbps, lo, hi, snd, rcv float64
	calls, ctxsw           float64
}

// madeUpReport builds a report of one size from made-up figures, as if
// measured over link; auto is what the auto probe found.
func madeUpReport(link, auto string, size int64, rows ...made) *Report {
	rep := &Report{Started: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), Sender: LocalHost(), Receiver: LocalHost(),
		Link: link, Reps: 5, Warmup: 1, Auto: auto}
	rep.addMadeUp(size, rows...)
	return rep
}

// addMadeUp adds rows of one size.
func (rep *Report) addMadeUp(size int64, rows ...made) {
	for _, m := range rows {
		row := TLSRow
		if m.method != tlsName {
			method, _ := zerocopy.ParseMethod(m.method)
			row = Row{Method: method}
		}
		used := row.Method.String()
		rep.Results = append(rep.Results, Result{
			Method: m.method, MethodUsed: used, RecvMethod: "readwrite", TLS: row.TLS, ZeroCopy: row.ZeroCopy(),
			Size: size, Bytes: size, Transfers: 1, Reps: rep.Reps,
			GBps: m.gbps, GBpsMin: m.lo, GBpsMax: m.hi,
			SenderCPU: m.snd, SenderCPUMin: m.snd * 0.9, SenderCPUMax: m.snd * 1.1, SenderUser: m.snd / 10, SenderSys: m.snd * 0.9,
			ReceiverCPU: m.rcv, ReceiverCPUMin: m.rcv * 0.9, ReceiverCPUMax: m.rcv * 1.1, ReceiverUser: m.rcv / 5, ReceiverSys: m.rcv * 0.8,
			Syscalls: m.calls, SyscallsMin: m.calls, SyscallsMax: m.calls * 1.05,
			Ctxsw: m.ctxsw, CtxswMin: m.ctxsw * 0.8, CtxswMax: m.ctxsw * 1.2,
			CPUKnown: true, CtxswKnown: true,
			ModelCopies: 4, ModelCPUCopies: 2, ModelSyscallsPerGiB: 8192,
			Samples: []Sample{{Cached: 1}},
		})
	}
}

// The figures of README's run of 2026-11-25 (512 MiB, loopback).
var readmeRun = []made{
	{"readwrite", 2.32, 1.88, 2.55, 0.466, 0.331, 8202, 6616},
	{"mmap", 3.19, 2.16, 3.97, 0.306, 0.244, 1048, 820},
	{"sendfile", 3.57, 3.05, 4.59, 0.232, 0.265, 270, 958},
	{"splice", 4.43, 3.57, 4.71, 0.224, 0.237, 2070, 1674},
}

// TestConclusions feeds made-up figures to the closing sentences and checks
// that they follow the figures: who is named, with which numbers, and
// which reading of them is given.
func TestConclusions(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rep       *Report
		want, not []string
	}{
		{
			name: "loopback: splice fastest, zero copy saves CPU more than time",
			rep:  madeUpReport("loopback", "sendfile", 512<<20, readmeRun...),
			want: []string{
				"splice moved the most: 4.43 GB/s, 1.9x readwrite's 2.32; but its rounds (3.57-4.71) overlap sendfile's (3.05-4.59), so another run may put sendfile first.",
				"splice also spent the least sender CPU: 0.224 s per GiB, 52% less than readwrite's 0.466.",
				"Against readwrite's 8,202 system calls and 6,616 context switches per GiB, ",
				"mmap saved 7,154 system calls (87%) and 5,796 context switches (88%)",
				"sendfile saved 7,932 system calls (97%) and 5,658 context switches (86%)",
				"splice saved 6,132 system calls (75%) and 4,942 context switches (75%).",
				"On this machine zcopy's auto method sends a file into a TCP connection by sendfile",
				"so the sendfile row is what zcopy's unencrypted transfers cost here",
				"On loopback no network card is involved",
				"the gain of zero copy shows in CPU and system calls more than in GB/s: sendfile moved 1.5x readwrite's GB/s, and its sender spent 50% less CPU per GiB and made 30x fewer system calls.",
			},
			not: []string{"Encryption", "At ", "Most GB/s at each size"},
		},
		{
			name: "the issue's run: mmap fastest, sendfile slower than readwrite but leanest",
			rep: madeUpReport("loopback", "sendfile", 512<<20,
				made{"readwrite", 2.40, 2.10, 2.60, 0.504, 0.35, 8200, 6600},
				made{"mmap", 2.80, 2.63, 2.97, 0.350, 0.30, 1040, 800},
				made{"sendfile", 2.20, 1.95, 2.61, 0.197, 0.30, 280, 900},
			),
			want: []string{
				"mmap moved the most: 2.80 GB/s, 1.2x readwrite's 2.40.",
				"sendfile spent the least sender CPU: 0.197 s per GiB, 61% less than readwrite's 0.504.",
				"the gain of zero copy shows in CPU and system calls, not in GB/s: sendfile moved 0.92x readwrite's GB/s, yet its sender spent 61% less CPU per GiB and made 29x fewer system calls.",
			},
			not: []string{"overlap", "also spent"},
		},
		{
			name: "across a link zero copy pays in both",
			rep: madeUpReport("198.18.0.2:1033", "sendfile", 1<<30,
				made{"readwrite", 0.40, 0.38, 0.41, 1.00, 0.50, 8192, 9000},
				made{"sendfile", 0.80, 0.79, 0.82, 0.60, 0.50, 300, 9000},
			),
			want: []string{
				"sendfile moved the most: 0.80 GB/s, 2.0x readwrite's 0.40.",
				"sendfile also spent the least sender CPU: 0.600 s per GiB, 40% less than readwrite's 1.000.",
				"sendfile saved 7,892 system calls (96%) but made about as many context switches.",
				"Zero copy paid in GB/s as much as in CPU in this run: sendfile moved 2.0x readwrite's GB/s, and its sender spent 40% less CPU per GiB and made 27x fewer system calls.",
			},
			not: []string{"loopback", "overlap"},
		},
		{
			name: "zero copy spends more CPU, and more context switches",
			rep: madeUpReport("loopback", "sendfile", 64<<20,
				made{"readwrite", 1.50, 1.40, 1.60, 0.30, 0.30, 8000, 5000},
				made{"sendfile", 1.00, 0.90, 1.10, 0.40, 0.30, 400, 6000},
			),
			want: []string{
				"readwrite moved the most: 1.50 GB/s.",
				"readwrite also spent the least sender CPU: 0.300 s per GiB.",
				"sendfile saved 7,600 system calls (95%) but made 1,000 more context switches (+20%).",
				"Zero copy saved no sender CPU in this run: sendfile moved 0.67x readwrite's GB/s, and its sender spent 33% more CPU per GiB and made 20x fewer system calls.",
			},
			not: []string{"gain of zero copy"},
		},
		{
			name: "no readwrite row: nothing to weigh against",
			rep: madeUpReport("loopback", "sendfile", 64<<20,
				made{"sendfile", 2.00, 1.90, 2.10, 0.25, 0.30, 300, 900},
				made{"splice", 1.80, 1.70, 1.85, 0.30, 0.30, 2000, 1500},
			),
			want: []string{"sendfile moved the most: 2.00 GB/s.", "No readwrite row was measured",
				"by sendfile (a test transfer before the trials showed it), so the sendfile row"},
			not: []string{"Against readwrite", "readwrite's", "gain of zero copy"},
		},
		{
			name: "tls costs",
			rep: madeUpReport("loopback", "", 512<<20,
				made{"readwrite", 2.00, 1.90, 2.10, 0.50, 0.35, 8200, 6600},
				made{"tls", 1.20, 1.10, 1.30, 0.90, 0.80, 8196, 7000},
			),
			want: []string{"readwrite moved the most: 2.00 GB/s; but", // tls's rounds do not overlap: no
				"tls made about as many system calls and 400 more context switches (+6%).",
				"Encryption (the tls row) took 1.8x readwrite's sender CPU and 2.3x its receiver CPU per GiB, and moved 0.60x its GB/s."},
			not: []string{"auto method", "gain of zero copy"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(Conclusions(tc.rep), "\n")
			for _, w := range tc.want {
				if strings.HasSuffix(w, "; but") {
					// A prefix that must be followed by no overlap note.
					if strings.Contains(got, w) {
						t.Errorf("the sentences speak of an overlap that is not there:\n%s", got)
					}
					continue
				}
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in:\n%s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("%q should not be said of these figures:\n%s", n, got)
				}
			}
		})
	}
}

// TestConclusionsSweep checks that a sweep's sentences name the largest
// size and the winners at each size.
func TestConclusionsSweep(t *testing.T) {
	rep := madeUpReport("loopback", "sendfile", 4<<10,
		made{"readwrite", 0.20, 0.19, 0.21, 6.0, 6.0, 524288, 40000},
		made{"sendfile", 0.15, 0.14, 0.16, 7.0, 6.5, 262144, 30000})
	rep.addMadeUp(1<<30,
		made{"readwrite", 2.00, 1.90, 2.10, 0.50, 0.35, 8200, 6600},
		made{"sendfile", 2.50, 2.40, 2.60, 0.25, 0.30, 270, 950})
	got := strings.Join(Conclusions(rep), "\n")
	for _, w := range []string{
		"At 1.0 GiB, the largest size, sendfile moved the most: 2.50 GB/s, 1.2x readwrite's 2.00.",
		"Most GB/s at each size: 4KiB readwrite, 1GiB sendfile. Least sender CPU: 4KiB readwrite, 1GiB sendfile.",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
}

// TestConclusionsNoContextSwitches: where the platform counts no context
// switches (Windows), the sentences do not speak of them.
func TestConclusionsNoContextSwitches(t *testing.T) {
	rep := madeUpReport("loopback", "readwrite", 64<<20, readmeRun[0], readmeRun[2])
	for i := range rep.Results {
		rep.Results[i].CtxswKnown, rep.Results[i].Ctxsw = false, 0
	}
	got := strings.Join(Conclusions(rep), "\n")
	if strings.Contains(got, "context switch") || !strings.Contains(got, "sendfile saved 7,932 system calls (97%).") {
		t.Errorf("sentences without context switch counts:\n%s", got)
	}
}

// TestWriteTableWidth checks that every line of the default output fits
// TextWidth columns, whatever the figures, that the columns are named in
// plain words, and that --wide's table has the full set.
func TestWriteTableWidth(t *testing.T) {
	huge := madeUpReport("loopback", "sendfile", 4<<10,
		made{"readwrite", 12.34, 10.12, 14.56, 18.123, 17.5, 1048576, 2345678},
		made{"sendfile", 0.01, 0.01, 0.02, 9.5, 9.9, 524288, 1234567})
	fallback := madeUpReport("loopback", "readwrite", 1<<30, readmeRun...)
	fallback.Results[2].MethodUsed, fallback.Results[2].Fallbacks = "readwrite", 1
	fallback.Results[2].FallbackReason = "sendfile: the file system refused it (EINVAL) before any byte moved"
	remote := madeUpReport("receiving-host-with-a-rather-long-name.example.org:1033", "sendfile", 1<<30, readmeRun...)
	remote.Receiver.Hostname = "receiving-host-with-a-rather-long-name.example.org"
	remote.Sender.CPU = "AMD EPYC 9654 96-Core Processor with a name as long as vendors make them"
	remote.Pinned = "sender on CPU 0, receiver on CPU 1"
	remote.Notes = []string{"The tls row was left out: the bench server at receiving-host-with-a-rather-long-name.example.org:1033 predates it (update zcopy there)."}
	for _, tc := range []struct {
		name string
		rep  *Report
	}{
		{"one size", syntheticReport([]int64{512 << 20}, 0.3)},
		{"sweep", syntheticReport([]int64{4 << 10, 64 << 10, 1 << 20, 16 << 20, 512 << 20, 4 << 30}, 0.3)},
		{"huge figures", huge},
		{"fallback", fallback},
		{"remote", remote},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := WriteTable(&b, tc.rep, false); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for i, line := range strings.Split(out, "\n") {
				if n := len([]rune(line)); n > TextWidth {
					t.Errorf("line %d is %d columns wide (most %d):\n%s", i+1, n, TextWidth, line)
				}
			}
			for _, w := range []string{"method", "GB/s", "sender", "receiver", "CPU s/GiB", "system", "calls/GiB",
				"context", "switches/GiB", "copies", "(by CPU)", "What this run shows:"} {
				if !strings.Contains(out, w) {
					t.Errorf("the output lacks %q:\n%s", w, out)
				}
			}
			// Jargon the table used to have: the seed (an article a new
			// user has not read), ctxsw beside the model's switches.
			for _, n := range []string{"seed", "ctxsw", "usr/sys", "model:"} {
				if strings.Contains(out, n) {
					t.Errorf("the output says %q:\n%s", n, out)
				}
			}
			if tc.name == "fallback" && (!strings.Contains(out, "\nsendfile* ") || !strings.Contains(out, "* sendfile at 1.0 GiB ran readwrite: sendfile: the file system refused it")) {
				t.Errorf("the fallback is not marked and explained:\n%s", out)
			}

			b.Reset()
			if err := WriteTable(&b, tc.rep, true); err != nil {
				t.Fatal(err)
			}
			wide := b.String()
			for _, w := range []string{"user/system", "s/GiB (min-max)", "predicted", "system calls/GiB", "What this run shows:"} {
				if !strings.Contains(wide, w) {
					t.Errorf("the wide output lacks %q:\n%s", w, wide)
				}
			}
			if tc.name == "fallback" && !strings.Contains(wide, "sendfile (ran readwrite)") {
				t.Errorf("the wide table does not say what ran:\n%s", wide)
			}
		})
	}
}

// TestJSONKeys checks that every figure's key says its unit, and that the
// keys whose unit was unclear are gone: gbps read as gigabits per second.
func TestJSONKeys(t *testing.T) {
	rep := madeUpReport("loopback", "sendfile", 1<<20, readmeRun[0])
	rep.Results[0].Samples = []Sample{{GBps: 2.32, Cached: 1}}
	var b strings.Builder
	if err := WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	var objs []map[string]any
	if err := json.Unmarshal([]byte(b.String()), &objs); err != nil || len(objs) != 1 {
		t.Fatalf("not one JSON object in an array (%v):\n%s", err, b.String())
	}
	o := objs[0]
	sample := o["samples"].([]any)[0].(map[string]any)
	for _, tc := range []struct {
		key  string
		in   map[string]any // o, or sample for a key of each sample's
		want any
	}{
		{"gb_per_s", o, 2.32},
		{"gb_per_s_min", o, 1.88},
		{"gb_per_s_max", o, 2.55},
		{"size_bytes", o, float64(1 << 20)},
		{"bytes_per_transfer", o, float64(1 << 20)},
		{"transfers_per_trial", o, 1.0},
		{"sender_cpu_s_per_gib", o, 0.466},
		{"receiver_cpu_s_per_gib", o, 0.331},
		{"syscalls_per_gib", o, 8202.0},
		{"ctxsw_per_gib", o, 6616.0},
		{"model_copies_per_byte", o, 4.0},
		{"model_cpu_copies_per_byte", o, 2.0},
		{"model_syscalls_per_gib", o, 8192.0},
		{"cached_fraction", o, 0.0},
		{"gb_per_s", sample, 2.32},
		{"cached_fraction", sample, 1.0},
	} {
		name := tc.key
		if _, ok := tc.in["samples"]; !ok {
			name = "samples/" + tc.key
		}
		t.Run(name, func(t *testing.T) {
			if got, ok := tc.in[tc.key]; !ok || got != tc.want {
				t.Errorf("%s = %v (present %v), want %v", tc.key, got, ok, tc.want)
			}
		})
	}
	for _, old := range []string{"gbps", "gbps_min", "gbps_max", "size", "bytes", "transfers", "model_copies", "model_cpu_copies"} {
		if _, ok := o[old]; ok {
			t.Errorf("the old key %q is still there", old)
		}
		if _, ok := sample[old]; ok {
			t.Errorf("the old key %q is still in a sample", old)
		}
	}
}

// TestTicks checks that every axis the plots draw has numbers on it,
// however narrow its range: the receiver's CPU once spanned 0.3-0.45
// s/GiB, which holds no 1, 2 or 5 times a power of ten, and its
// logarithmic axis had none.
func TestTicks(t *testing.T) {
	for _, tc := range []struct {
		name            string
		ticker          plot.Ticker
		lo, hi          float64
		atLeast, atMost int
	}{
		{"log narrow", logTicks{}, 0.3, 0.45, 2, 10},
		{"log decades", logTicks{}, 0.2, 40, 4, 10},
		{"log counts", logTicks{}, 300, 1.2e6, 6, 14},
		{"linear GB/s", linearTicks{}, 0, 2.6, 4, 7},
		{"linear CPU", linearTicks{}, 0, 1.05, 4, 7},
		{"linear counts", linearTicks{}, 0, 10900, 4, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var labels []string
			for _, x := range tc.ticker.Ticks(tc.lo, tc.hi) {
				if x.Value < tc.lo-1e-9 || x.Value > tc.hi+1e-9 || strings.HasPrefix(x.Label, "-") {
					t.Errorf("tick %v %q outside %v-%v", x.Value, x.Label, tc.lo, tc.hi)
				}
				if x.Label != "" {
					labels = append(labels, x.Label)
				}
			}
			if len(labels) < tc.atLeast || len(labels) > tc.atMost {
				t.Errorf("%d labelled ticks %q over %v-%v, want %d-%d", len(labels), labels, tc.lo, tc.hi, tc.atLeast, tc.atMost)
			}
		})
	}
}

// TestProbeAuto checks that the auto probe reports the method the engine
// ran: on Linux, sendfile into a TCP connection.
func TestProbeAuto(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := probeAuto(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := zerocopy.ParseMethod(got)
	if err != nil || m == zerocopy.Auto || !slices.Contains(zerocopy.SendMethods(), m) {
		t.Errorf("probeAuto = %q, not a send method (%v)", got, err)
	}
	if runtime.GOOS == "linux" && got != "sendfile" {
		t.Errorf("probeAuto = %q on Linux, want sendfile", got)
	}
}
