package bench

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/zcopy/zcopy/zerocopy"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want Summary
	}{
		{"one", []float64{3}, Summary{3, 3, 3}},
		{"odd", []float64{5, 1, 3}, Summary{3, 1, 5}},
		{"even", []float64{4, 1, 3, 2}, Summary{2.5, 1, 4}},
		{"outlier", []float64{1, 1, 1, 1, 100}, Summary{1, 1, 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			if got := summarize(tc.in); got != tc.want {
				t.Errorf("summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
			if !slices.Equal(in, tc.in) {
				t.Errorf("summarize reordered its input: %v", tc.in)
			}
		})
	}
	if s := summarize(nil); !math.IsNaN(s.Median) {
		t.Errorf("summarize(nil) = %+v, want NaNs", s)
	}
}

func TestModel(t *testing.T) {
	for _, tc := range []struct {
		m              zerocopy.Method
		gather         bool
		copies, cpu    int
		syscallsPerGiB float64
	}{
		// The seed: read+write is 4 copies, 2 by the CPU, 2 calls a buffer.
		{zerocopy.ReadWrite, false, 4, 2, 2 * GiB / zerocopy.DefaultBufferSize},
		{zerocopy.ReadWrite, true, 4, 2, 2 * GiB / zerocopy.DefaultBufferSize},
		// mmap+write saves the kernel-to-user copy.
		{zerocopy.MMap, false, 3, 1, 2 * GiB / zerocopy.DefaultChunkSize},
		// sendfile: 3 copies (1 by the CPU) or, with a gather NIC, 2 by DMA.
		{zerocopy.Sendfile, false, 3, 1, GiB / zerocopy.DefaultChunkSize},
		{zerocopy.Sendfile, true, 2, 0, GiB / zerocopy.DefaultChunkSize},
		{zerocopy.Splice, true, 2, 0, 2 * GiB / modelPipeSize},
	} {
		t.Run(tc.m.String(), func(t *testing.T) {
			p := Model(tc.m, tc.gather)
			if p.Copies != tc.copies || p.CPUCopies != tc.cpu || p.SyscallsPerGiB != tc.syscallsPerGiB {
				t.Errorf("Model(%v, gather=%v) = %+v, want %d copies (%d CPU), %v syscalls/GiB", tc.m, tc.gather, p, tc.copies, tc.cpu, tc.syscallsPerGiB)
			}
			if p.ModeSwitchesPerGiB != 2*p.SyscallsPerGiB {
				t.Errorf("mode switches %v, want two per system call", p.ModeSwitchesPerGiB)
			}
		})
	}
}

// TestModelTLS checks the TLS row's prediction: readwrite's copies and two
// more by the CPU (into the record, into the batch), a pread and the
// batches' writes per buffer, and a note that says it is not zero copy.
func TestModelTLS(t *testing.T) {
	rw := Model(zerocopy.ReadWrite, true)
	for _, gather := range []bool{false, true} {
		p := ModelRow(TLSRow, gather)
		batches := tlsBatches(zerocopy.DefaultBufferSize)
		if p.Copies != rw.Copies+2 || p.CPUCopies != rw.CPUCopies+2 ||
			p.SyscallsPerGiB != float64(GiB/zerocopy.DefaultBufferSize*(1+batches)) || p.ModeSwitchesPerGiB != 2*p.SyscallsPerGiB {
			t.Errorf("ModelRow(tls, gather=%v) = %+v", gather, p)
		}
		if !strings.Contains(p.Note, "not zero copy") || !strings.Contains(p.Note, "AES-GCM") {
			t.Errorf("note %q", p.Note)
		}
	}
	if p := ModelRow(Row{Method: zerocopy.Sendfile}, true); p != Model(zerocopy.Sendfile, true) {
		t.Errorf("ModelRow(sendfile) = %+v, want Model's", p)
	}
	// A batch holds 16 full records (16 KiB + 22 bytes each): a 256 KiB
	// Write is one write(2), a 1 MiB one four.
	for n, want := range map[int]int{1: 1, 16 << 10: 1, 15 << 14: 1, 256 << 10: 1, 256<<10 + 1: 2, 1 << 20: 4} {
		if got := tlsBatches(n); got != want {
			t.Errorf("tlsBatches(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestTransfersFor(t *testing.T) {
	for _, tc := range []struct {
		size int64
		want int
	}{
		{1, maxTransfers},
		{4 << 10, maxTransfers},
		{64 << 10, 512},
		{1 << 20, 32},
		{trialBytes - 1, 2},
		{trialBytes, 1},
		{1 << 30, 1},
	} {
		if got := transfersFor(tc.size); got != tc.want {
			t.Errorf("transfersFor(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}

// parseCase is one input to a list parser and what it must give: the list,
// or an error that mentions wantErr.
type parseCase[T comparable] struct {
	in      string
	want    []T
	wantErr string
}

// testParse runs parse, called name in messages, on each case.
func testParse[T comparable](t *testing.T, name string, parse func(string) ([]T, error), cases []parseCase[T]) {
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parse(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s(%q) = %v, %v; want an error with %q", name, tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("%s(%q) = %v, %v; want %v", name, tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseSizes(t *testing.T) {
	testParse(t, "ParseSizes", ParseSizes, []parseCase[int64]{
		{in: "4KiB,64KiB,1MiB", want: []int64{4 << 10, 64 << 10, 1 << 20}},
		{in: "1GiB", want: []int64{1 << 30}},
		{in: " 1MB , 2MB ,", want: []int64{1e6, 2e6}},
		{in: "", wantErr: "no sizes"},
		{in: "0", wantErr: "at least one byte"},
		{in: "4KiB,lots", wantErr: "lots"},
	})
}

func TestParseMethods(t *testing.T) {
	rw, sf := Row{Method: zerocopy.ReadWrite}, Row{Method: zerocopy.Sendfile}
	testParse(t, "ParseMethods", ParseMethods, []parseCase[Row]{
		{in: "all", want: AllRows()},
		{in: "readwrite,sendfile", want: []Row{rw, sf}},
		{in: "SENDFILE", want: []Row{sf}},
		{in: "tls", want: []Row{TLSRow}},
		{in: "readwrite, TLS", want: []Row{rw, TLSRow}},
		{in: "auto", wantErr: "auto is not a method"},
		{in: "carrier-pigeon", wantErr: "unknown method"},
		{in: "ssl", wantErr: "tls"}, // the error lists the rows, tls among them
		{in: ",", wantErr: "no methods"},
	})
}

// TestRows checks the default set of rows: every send method, then tls,
// and which of them are zero copy.
func TestRows(t *testing.T) {
	rows := AllRows()
	if len(rows) != len(zerocopy.SendMethods())+1 || rows[len(rows)-1] != TLSRow {
		t.Fatalf("AllRows() = %v, want the send methods %v and tls", rows, zerocopy.SendMethods())
	}
	if !slices.Equal(DefaultConfig().Methods, rows) {
		t.Errorf("the default rows are %v, want %v", DefaultConfig().Methods, rows)
	}
	for _, tc := range []struct {
		row  Row
		name string
		zero bool
	}{
		{Row{Method: zerocopy.ReadWrite}, "readwrite", false},
		{Row{Method: zerocopy.MMap}, "mmap", false},
		{Row{Method: zerocopy.Sendfile}, "sendfile", true},
		{Row{Method: zerocopy.Splice}, "splice", true},
		{TLSRow, "tls", false},
	} {
		if tc.row.String() != tc.name || tc.row.ZeroCopy() != tc.zero {
			t.Errorf("%+v: name %q, zero copy %v; want %q, %v", tc.row, tc.row, tc.row.ZeroCopy(), tc.name, tc.zero)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Command = []string{"zcopy", "bench-worker"}
	for _, tc := range []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"no sizes", func(c *Config) { c.Sizes = nil }, "no sizes"},
		{"zero size", func(c *Config) { c.Sizes = []int64{0} }, "at least one byte"},
		{"no methods", func(c *Config) { c.Methods = nil }, "no methods"},
		{"auto", func(c *Config) { c.Methods = []Row{{Method: zerocopy.Auto}} }, "send method auto"},
		{"tls alone", func(c *Config) { c.Methods = []Row{TLSRow} }, ""},
		{"sendfile over TLS", func(c *Config) { c.Methods = []Row{{Method: zerocopy.Sendfile, TLS: true}} }, "only readwrite runs over TLS"},
		{"mmap receiver", func(c *Config) { c.RecvMethod = zerocopy.MMap }, "receive method mmap"},
		{"remote checks its own receiver", func(c *Config) { c.RecvMethod = zerocopy.MMap; c.To = "h:1" }, ""},
		{"no reps", func(c *Config) { c.Reps = 0 }, "reps"},
		{"negative warm-up", func(c *Config) { c.Warmup = -1 }, "warm-up"},
		{"no command", func(c *Config) { c.Command = nil }, "worker command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

func TestWithPort(t *testing.T) {
	for in, want := range map[string]string{
		"198.18.0.1":      "198.18.0.1:" + DefaultPort,
		"198.18.0.1:5201": "198.18.0.1:5201",
		":5201":           ":5201",
		"::1":             "[::1]:" + DefaultPort,
		"[::1]:7":         "[::1]:7",
		"localhost":       "localhost:" + DefaultPort,
	} {
		if got := withPort(in); got != want {
			t.Errorf("withPort(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUsageSub(t *testing.T) {
	end := usage{UserNs: 50, SysNs: 900, Vcsw: 30, Ivcsw: 4, Known: true, CtxswKnown: true}
	start := usage{UserNs: 20, SysNs: 100, Vcsw: 10, Ivcsw: 1, Known: true, CtxswKnown: true}
	got := end.sub(start)
	want := usage{UserNs: 30, SysNs: 800, Vcsw: 20, Ivcsw: 3, Known: true, CtxswKnown: true}
	if got != want || got.ctxsw() != 23 {
		t.Errorf("sub = %+v (ctxsw %d), want %+v (ctxsw 23)", got, got.ctxsw(), want)
	}
	if end.sub(usage{}).Known {
		t.Error("a difference with an unknown snapshot is known")
	}
}

func TestNewSample(t *testing.T) {
	send := sideFigures{BytesEach: 1 << 29, Transfers: 2, Syscalls: 300,
		Usage: usage{UserNs: 1e8, SysNs: 3e8, Vcsw: 40, Ivcsw: 10, Known: true, CtxswKnown: true}}
	recv := sideFigures{BytesEach: 1 << 29, Transfers: 2, Syscalls: 5000, Nanos: 5e8,
		Usage: usage{UserNs: 0, SysNs: 2e8, Vcsw: 7, Known: true, CtxswKnown: true}}
	s := newSample(send, recv, 1)
	want := Sample{
		GBps:       float64(1<<30) / 0.5 / 1e9,
		SenderUser: 0.1, SenderSys: 0.3, ReceiverSys: 0.2,
		Syscalls: 300, ReceiverSyscalls: 5000, Ctxsw: 50, ReceiverCtxsw: 7, Cached: 1,
	}
	if s != want {
		t.Errorf("newSample = %+v\nwant        %+v", s, want)
	}
}

// TestWriteTableTLS checks what the table says about the tls row on made-up
// results: its name alone (it runs readwrite, which is not a fallback), the
// handshake's time under the table (per size in a sweep), a receiver by
// splice that the tls row did not use, and rows left out.
func TestWriteTableTLS(t *testing.T) {
	render := func(rep *Report) string {
		t.Helper()
		var b strings.Builder
		if err := WriteTable(&b, rep, false); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	// The prose is wrapped; flat has it in one line.
	flat := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	one := render(syntheticReport([]int64{1 << 20}, 0.3))
	if !strings.Contains(one, "\ntls ") {
		t.Errorf("no tls row:\n%s", one)
	}
	for _, want := range []string{"TLS handshake: 4.25 ms median (3.50-9.00) over 3 rounds", "not in the tls row's figures",
		"sendfile and splice are zero copy", "tls is readwrite inside TLS 1.3", "beneath TLS"} {
		if !strings.Contains(flat(one), want) {
			t.Errorf("the table lacks %q:\n%s", want, one)
		}
	}
	if strings.Contains(one, "(ran ") || strings.Contains(one, "receiver read by readwrite") {
		t.Errorf("the table marks a fallback or a receiver that did not change:\n%s", one)
	}

	sweep := render(syntheticReport([]int64{4 << 10, 1 << 20}, 0.3))
	for _, want := range []string{"TLS handshake (4.0 KiB): 4.25 ms", "TLS handshake (1.0 MiB): 4.25 ms"} {
		if !strings.Contains(flat(sweep), want) {
			t.Errorf("the sweep's table lacks %q:\n%s", want, sweep)
		}
	}

	rep := syntheticReport([]int64{1 << 20}, 0.3)
	for i := range rep.Results {
		if !rep.Results[i].TLS {
			rep.Results[i].RecvMethod = "splice"
		}
	}
	rep.Notes = []string{"The tls row was left out: nothing."}
	spliced := render(rep)
	for _, want := range []string{"the receiver reads by splice into /dev/null", "The tls row's receiver read by readwrite, not splice", "The tls row was left out: nothing."} {
		if !strings.Contains(flat(spliced), want) {
			t.Errorf("the table lacks %q:\n%s", want, spliced)
		}
	}

	plain := syntheticReport([]int64{1 << 20}, 0.3)
	plain.Results = slices.DeleteFunc(plain.Results, func(r Result) bool { return r.TLS })
	if out := render(plain); strings.Contains(out, "TLS handshake") || strings.Contains(out, "tls is readwrite") {
		t.Errorf("a table without the tls row speaks of its handshake:\n%s", out)
	}
}

func TestTLSCountsAccount(t *testing.T) {
	// The engine counted 10 preads and 10 Writes into TLS; beneath, 25
	// writes were made.
	fig := sideFigures{Syscalls: 20}
	c := &tlsCounts{tls: &countConn{calls: 10}, tcp: &countConn{calls: 25}}
	c.account(&fig)
	if fig.Syscalls != 35 {
		t.Errorf("corrected to %d system calls, want 35", fig.Syscalls)
	}
	var plain *tlsCounts
	plain.account(&fig)
	if fig.Syscalls != 35 {
		t.Errorf("a plain trial's count changed to %d", fig.Syscalls)
	}
}
