package bench

import (
	"time"

	"github.com/zcopy/zcopy/zerocopy"
)

// Sample is one measured trial of one method at one size. Every per-GiB
// figure is per 2^30 bytes moved; CPU figures are seconds. Each JSON key
// names its unit.
type Sample struct {
	// GBps is gigabytes (10^9 bytes) per second.
	GBps             float64 `json:"gb_per_s"`
	SenderUser       float64 `json:"sender_user_s_per_gib"`
	SenderSys        float64 `json:"sender_sys_s_per_gib"`
	ReceiverUser     float64 `json:"receiver_user_s_per_gib"`
	ReceiverSys      float64 `json:"receiver_sys_s_per_gib"`
	Syscalls         float64 `json:"syscalls_per_gib"`
	ReceiverSyscalls float64 `json:"receiver_syscalls_per_gib"`
	Ctxsw            float64 `json:"ctxsw_per_gib"`
	ReceiverCtxsw    float64 `json:"receiver_ctxsw_per_gib"`
	// Cached is the fraction of the file in the page cache just before the
	// trial (after --cold dropped it), or -1 if unknown.
	Cached float64 `json:"cached_fraction"`
	// HandshakeMs is, for the TLS row, the sender's TLS handshake in
	// milliseconds: from the TCP connection being set up to the handshake
	// being complete. It is not part of any other figure.
	HandshakeMs float64 `json:"handshake_ms,omitempty"`
}

// SenderCPU is the sender's user plus system seconds per GiB.
func (s Sample) SenderCPU() float64 { return s.SenderUser + s.SenderSys }

// ReceiverCPU is the receiver's user plus system seconds per GiB.
func (s Sample) ReceiverCPU() float64 { return s.ReceiverUser + s.ReceiverSys }

// newSample turns one trial's two sides into per-GiB figures.
func newSample(send, recv sideFigures, cached float64) Sample {
	total := float64(send.BytesEach) * float64(send.Transfers)
	perGiB := func(x float64) float64 { return x / total * GiB }
	secs := func(ns int64) float64 { return perGiB(float64(ns) / 1e9) }
	return Sample{
		GBps:             total / (float64(max(recv.Nanos, 1)) / 1e9) / 1e9,
		SenderUser:       secs(send.Usage.UserNs),
		SenderSys:        secs(send.Usage.SysNs),
		ReceiverUser:     secs(recv.Usage.UserNs),
		ReceiverSys:      secs(recv.Usage.SysNs),
		Syscalls:         perGiB(float64(send.Syscalls)),
		ReceiverSyscalls: perGiB(float64(recv.Syscalls)),
		Ctxsw:            perGiB(float64(send.Usage.ctxsw())),
		ReceiverCtxsw:    perGiB(float64(recv.Usage.ctxsw())),
		Cached:           cached,
		HandshakeMs:      float64(send.HandshakeNanos) / 1e6,
	}
}

// Result is the summary of one method at one size: one object of
// `zcopy bench --json`. Figures are medians over the repetitions, with
// their minimum and maximum where the name says so.
type Result struct {
	// Method is the row measured: a send method, or "tls"; MethodUsed the
	// method the engine reports having used (they differ only after a
	// fallback, and for tls, which is readwrite inside TLS 1.3).
	Method     string `json:"method"`
	MethodUsed string `json:"method_used"`
	RecvMethod string `json:"recv_method"`
	// TLS says the row's transfers ran inside TLS 1.3 (the tls row).
	TLS bool `json:"tls"`
	// ZeroCopy says whether the sender's method leaves the bytes to the
	// kernel, never copying them through user space: sendfile and splice.
	// Readwrite, mmap and tls are not zero copy.
	ZeroCopy bool `json:"zero_copy"`
	// HandshakeMs is the TLS row's handshake time (Sample.HandshakeMs):
	// median, minimum and maximum over the repetitions.
	HandshakeMs    float64 `json:"handshake_ms,omitempty"`
	HandshakeMsMin float64 `json:"handshake_ms_min,omitempty"`
	HandshakeMsMax float64 `json:"handshake_ms_max,omitempty"`
	// Size is the file's size and Bytes what each transfer moved, checked
	// by both sides, in bytes.
	Size  int64 `json:"size_bytes"`
	Bytes int64 `json:"bytes_per_transfer"`
	// Transfers is how many times the file was sent per trial, over one
	// connection (more than one for small files).
	Transfers int `json:"transfers_per_trial"`
	Reps      int `json:"reps"`

	// GBps is gigabytes (10^9 bytes, not bits) per second.
	GBps    float64 `json:"gb_per_s"`
	GBpsMin float64 `json:"gb_per_s_min"`
	GBpsMax float64 `json:"gb_per_s_max"`

	SenderCPU    float64 `json:"sender_cpu_s_per_gib"`
	SenderCPUMin float64 `json:"sender_cpu_s_per_gib_min"`
	SenderCPUMax float64 `json:"sender_cpu_s_per_gib_max"`
	SenderUser   float64 `json:"sender_user_s_per_gib"`
	SenderSys    float64 `json:"sender_sys_s_per_gib"`

	ReceiverCPU    float64 `json:"receiver_cpu_s_per_gib"`
	ReceiverCPUMin float64 `json:"receiver_cpu_s_per_gib_min"`
	ReceiverCPUMax float64 `json:"receiver_cpu_s_per_gib_max"`
	ReceiverUser   float64 `json:"receiver_user_s_per_gib"`
	ReceiverSys    float64 `json:"receiver_sys_s_per_gib"`

	// Syscalls is the sender's system calls per GiB as the engine counted
	// them; ReceiverSyscalls the receiver's.
	Syscalls         float64 `json:"syscalls_per_gib"`
	SyscallsMin      float64 `json:"syscalls_per_gib_min"`
	SyscallsMax      float64 `json:"syscalls_per_gib_max"`
	ReceiverSyscalls float64 `json:"receiver_syscalls_per_gib"`

	// Ctxsw is the sender's voluntary plus involuntary context switches per
	// GiB (getrusage); ReceiverCtxsw the receiver's.
	Ctxsw         float64 `json:"ctxsw_per_gib"`
	CtxswMin      float64 `json:"ctxsw_per_gib_min"`
	CtxswMax      float64 `json:"ctxsw_per_gib_max"`
	ReceiverCtxsw float64 `json:"receiver_ctxsw_per_gib"`
	// CPUKnown and CtxswKnown are false where the platform does not
	// account them (context switches on Windows); the figures are then 0.
	CPUKnown   bool `json:"cpu_known"`
	CtxswKnown bool `json:"ctxsw_known"`

	// The seed's model for this method (see Model).
	ModelCopies             int     `json:"model_copies_per_byte"`
	ModelCPUCopies          int     `json:"model_cpu_copies_per_byte"`
	ModelSyscallsPerGiB     float64 `json:"model_syscalls_per_gib"`
	ModelModeSwitchesPerGiB float64 `json:"model_mode_switches_per_gib"`
	ModelNote               string  `json:"model_note"`

	// Cold is whether the file was dropped from the page cache before each
	// trial; Cached the median fraction of it that was resident then.
	Cold   bool    `json:"cold"`
	Cached float64 `json:"cached_fraction"`
	// Lease is whether the sender held a read lease on the file.
	Lease          bool   `json:"lease"`
	Fallbacks      int    `json:"fallbacks,omitempty"`
	FallbackReason string `json:"fallback_reason,omitempty"`

	Samples []Sample `json:"samples"`
}

// newResult summarises the samples of row m at size.
func newResult(m Row, cfg *Config, size int64, gather bool, samples []Sample, last sideFigures) Result {
	p := ModelRow(m, gather)
	recv := cfg.RecvMethod
	if m.TLS {
		recv = zerocopy.ReadWrite // see runner.trial
	}
	r := Result{
		Method:                  m.String(),
		MethodUsed:              last.Method,
		RecvMethod:              recv.String(),
		TLS:                     m.TLS,
		ZeroCopy:                m.ZeroCopy(),
		Size:                    size,
		Bytes:                   last.BytesEach,
		Transfers:               last.Transfers,
		Reps:                    len(samples),
		CPUKnown:                last.Usage.Known,
		CtxswKnown:              last.Usage.CtxswKnown,
		ModelCopies:             p.Copies,
		ModelCPUCopies:          p.CPUCopies,
		ModelSyscallsPerGiB:     p.SyscallsPerGiB,
		ModelModeSwitchesPerGiB: p.ModeSwitchesPerGiB,
		ModelNote:               p.Note,
		Cold:                    cfg.Cold,
		Lease:                   last.Lease,
		Fallbacks:               last.Fallbacks,
		FallbackReason:          last.FallbackReason,
		Samples:                 samples,
	}
	g := summarizeBy(samples, func(s Sample) float64 { return s.GBps })
	r.GBps, r.GBpsMin, r.GBpsMax = g.Median, g.Min, g.Max
	sc := summarizeBy(samples, Sample.SenderCPU)
	r.SenderCPU, r.SenderCPUMin, r.SenderCPUMax = sc.Median, sc.Min, sc.Max
	r.SenderUser = summarizeBy(samples, func(s Sample) float64 { return s.SenderUser }).Median
	r.SenderSys = summarizeBy(samples, func(s Sample) float64 { return s.SenderSys }).Median
	rc := summarizeBy(samples, Sample.ReceiverCPU)
	r.ReceiverCPU, r.ReceiverCPUMin, r.ReceiverCPUMax = rc.Median, rc.Min, rc.Max
	r.ReceiverUser = summarizeBy(samples, func(s Sample) float64 { return s.ReceiverUser }).Median
	r.ReceiverSys = summarizeBy(samples, func(s Sample) float64 { return s.ReceiverSys }).Median
	sy := summarizeBy(samples, func(s Sample) float64 { return s.Syscalls })
	r.Syscalls, r.SyscallsMin, r.SyscallsMax = sy.Median, sy.Min, sy.Max
	r.ReceiverSyscalls = summarizeBy(samples, func(s Sample) float64 { return s.ReceiverSyscalls }).Median
	cs := summarizeBy(samples, func(s Sample) float64 { return s.Ctxsw })
	r.Ctxsw, r.CtxswMin, r.CtxswMax = cs.Median, cs.Min, cs.Max
	r.ReceiverCtxsw = summarizeBy(samples, func(s Sample) float64 { return s.ReceiverCtxsw }).Median
	r.Cached = summarizeBy(samples, func(s Sample) float64 { return s.Cached }).Median
	if m.TLS {
		h := summarizeBy(samples, func(s Sample) float64 { return s.HandshakeMs })
		r.HandshakeMs, r.HandshakeMsMin, r.HandshakeMsMax = h.Median, h.Min, h.Max
	}
	return r
}

// Report is everything one benchmark run measured.
type Report struct {
	Started  time.Time     `json:"started"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Sender   HostInfo      `json:"sender"`
	Receiver HostInfo      `json:"receiver"`
	// Link says how the two were joined: "loopback" or the server's
	// address; NIC is the sender's interface for that link.
	Link string `json:"link"`
	NIC  NIC    `json:"nic"`
	// Pinned says which CPUs the workers were confined to, if any.
	Pinned string `json:"pinned,omitempty"`
	Reps   int    `json:"reps"`
	Warmup int    `json:"warmup"`
	Cold   bool   `json:"cold"`
	// Auto is the send method zerocopy's Auto ran for a file into a TCP
	// connection on the sending host, found by a test transfer (probeAuto);
	// empty if it could not be found.
	Auto string `json:"auto_method,omitempty"`
	// Notes are said under the table: rows left out, and why.
	Notes []string `json:"notes,omitempty"`
	// Results has one entry per size and method, sizes in the order asked,
	// methods in table order.
	Results []Result `json:"results"`
}
