package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/zcopy/zcopy/internal/bytesize"
	"github.com/zcopy/zcopy/zerocopy"
)

// WriteJSON writes the results as one JSON array, one object per method and
// size.
func WriteJSON(w io.Writer, rep *Report) error {
	res := rep.Results
	if res == nil {
		res = []Result{}
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// WriteTable writes the report as a header describing the machines and the
// method, and a table with one row per method and size.
func WriteTable(w io.Writer, rep *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "zcopy bench, %s, %.0f s\n", rep.Started.UTC().Format("2006-01-02 15:04 MST"), rep.Elapsed.Seconds())
	fmt.Fprintf(&b, "  sender:   %s\n", describeHost(rep.Sender))
	if rep.Link == "loopback" {
		fmt.Fprintf(&b, "  receiver: the same host, over loopback (%v)\n", rep.NIC)
	} else {
		fmt.Fprintf(&b, "  receiver: %s, at %s (sender's %v)\n", describeHost(rep.Receiver), rep.Link, rep.NIC)
	}
	fmt.Fprintf(&b, "  file:     %s of random bytes, %s\n", sizesOf(rep.Results), cacheState(rep))
	recv := recvMethod(rep)
	pinned := ""
	if rep.Pinned != "" {
		pinned = "; " + rep.Pinned
	}
	fmt.Fprintf(&b, "  method:   receiver %s into /dev/null; %d warm-up and %d measured rounds, methods interleaved%s\n", recv, rep.Warmup, rep.Reps, pinned)
	b.WriteString(`  figures:  medians (min-max) per GiB moved. CPU: user+system seconds of each process, from
            the kernel's accounting (Linux splits user from system by tick samples). syscalls:
            the sender's, counted by the engine, calls that found the socket full included.
            ctxsw: the sender's voluntary+involuntary context switches (getrusage). model: the
            seed's copies of each byte (how many by the CPU) and user/kernel mode switches (two
            per system call) with the engine's buffer sizes.
  rows:     sendfile and splice are zero copy: the kernel hands the file's pages to the socket
            and the CPU never copies them through user space. readwrite, mmap and tls are not
            zero copy: readwrite copies each byte into a user buffer and out again, mmap copies
            it from the mapping into the socket, and tls is readwrite inside TLS 1.3 (zcopy's
            default for framed transfers), which also copies each byte into TLS records and a
            record batch and encrypts it (AES-GCM) in user space, and the receiver decrypts.
`)
	if hasTLS(rep) {
		b.WriteString(`  tls:      the sender sends by auto into the TLS connection, as zcopy does (it runs readwrite:
            a TLS connection has no descriptor), and the receiver reads it by readwrite. Its
            syscalls are the engine's preads and the reads and writes on the TCP connection
            beneath TLS; its model is readwrite's plus two copies in user space (into the TLS
            record, into the record batch) besides the cipher. The handshake is not measured
            with the transfer; its time is below.
`)
	}
	b.WriteString("\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "method\tsize\tGB/s\tsender CPU s/GiB\tusr/sys\treceiver CPU s/GiB\tusr/sys\tsyscalls/GiB\tctxsw/GiB\tmodel: copies (CPU)\tswitches/GiB")
	for _, r := range rep.Results {
		method := r.Method
		want := r.Method
		if r.TLS {
			want = TLSRow.Method.String()
		}
		if r.MethodUsed != "" && r.MethodUsed != want {
			method += " (ran " + r.MethodUsed + ")"
		}
		ctxsw := "n/a"
		if r.CtxswKnown {
			ctxsw = fmt.Sprintf("%.0f", r.Ctxsw)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f/%.2f\t%s\t%.2f/%.2f\t%.0f\t%s\t%d (%d)\t%.0f\n",
			method, bytesize.Format(r.Size),
			rng(r.GBps, r.GBpsMin, r.GBpsMax, 2),
			rng(r.SenderCPU, r.SenderCPUMin, r.SenderCPUMax, 3), r.SenderUser, r.SenderSys,
			rng(r.ReceiverCPU, r.ReceiverCPUMin, r.ReceiverCPUMax, 3), r.ReceiverUser, r.ReceiverSys,
			r.Syscalls, ctxsw,
			r.ModelCopies, r.ModelCPUCopies, r.ModelModeSwitchesPerGiB)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	for _, r := range rep.Results {
		if r.TLS {
			notes = append(notes, handshakeNote(r, len(distinctSizes(rep.Results)) > 1))
		}
	}
	if recv := recvMethod(rep); hasTLS(rep) && recv != zerocopy.ReadWrite.String() {
		notes = append(notes, fmt.Sprintf("The %s row's receiver read by readwrite, not %s, which needs a descriptor that a TLS connection has not.", tlsName, recv))
	}
	notes = append(notes, rep.Notes...)
	for _, r := range rep.Results {
		if r.Transfers > 1 && r.Method == rep.Results[0].Method {
			notes = append(notes, fmt.Sprintf("A %s file was sent %d times per trial over one connection, so that a trial lasts long enough to measure.", bytesize.Format(r.Size), r.Transfers))
		}
		if r.Fallbacks > 0 {
			notes = append(notes, fmt.Sprintf("%s at %s fell back: %s", r.Method, bytesize.Format(r.Size), r.FallbackReason))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(&b, "\n%s\n", strings.Join(notes, "\n"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// recvMethod returns the receive method of the plain rows (the TLS row's
// is always readwrite).
func recvMethod(rep *Report) string {
	for _, r := range rep.Results {
		if !r.TLS {
			return r.RecvMethod
		}
	}
	if len(rep.Results) > 0 {
		return rep.Results[0].RecvMethod
	}
	return "?"
}

// hasTLS reports whether the report has a TLS row.
func hasTLS(rep *Report) bool {
	for _, r := range rep.Results {
		if r.TLS {
			return true
		}
	}
	return false
}

// handshakeNote gives the TLS row's handshake time, naming the size if
// several were measured.
func handshakeNote(r Result, sized bool) string {
	at := ""
	if sized {
		at = " (" + bytesize.Format(r.Size) + ")"
	}
	return fmt.Sprintf("TLS handshake%s: %.2f ms median (%.2f-%.2f) over %d rounds, from the TCP connection set up to the handshake complete at the sender; not in the %s row's figures.",
		at, r.HandshakeMs, r.HandshakeMsMin, r.HandshakeMsMax, r.Reps, r.Method)
}

// rng renders "median (min-max)" with prec decimals.
func rng(med, lo, hi float64, prec int) string {
	return fmt.Sprintf("%.*f (%.*f-%.*f)", prec, med, prec, lo, prec, hi)
}

func describeHost(h HostInfo) string {
	var parts []string
	if h.Kernel != "" {
		parts = append(parts, h.Kernel)
	} else {
		parts = append(parts, h.OS)
	}
	parts = append(parts, h.Arch)
	if h.CPU != "" {
		parts = append(parts, h.CPU)
	}
	parts = append(parts, fmt.Sprintf("%d cores", h.Cores))
	s := strings.Join(parts, ", ")
	if h.Hostname != "" {
		s += " (" + h.Hostname + ")"
	}
	return s
}

// sizesOf lists the distinct sizes in order.
func sizesOf(rs []Result) string {
	var out []string
	seen := map[int64]bool{}
	for _, r := range rs {
		if !seen[r.Size] {
			seen[r.Size] = true
			out = append(out, bytesize.Format(r.Size))
		}
	}
	return strings.Join(out, ", ")
}

// cacheState says whether the file was in the page cache, as measured.
func cacheState(rep *Report) string {
	lo, hi := 2.0, -2.0
	for _, r := range rep.Results {
		for _, s := range r.Samples {
			lo, hi = min(lo, s.Cached), max(hi, s.Cached)
		}
	}
	var state string
	switch {
	case lo < 0:
		state = "page cache residency unknown"
	case lo > 0.99:
		state = "in the page cache"
	case hi < 0.01:
		state = "not in the page cache"
	default:
		state = "partly in the page cache"
	}
	switch {
	case lo < 0:
	case fmt.Sprintf("%.0f", 100*lo) == fmt.Sprintf("%.0f", 100*hi):
		state += fmt.Sprintf(" (%.0f%% resident before each trial)", 100*lo)
	default:
		state += fmt.Sprintf(" (%.0f-%.0f%% resident before each trial)", 100*lo, 100*hi)
	}
	if rep.Cold {
		state += "; --cold dropped it (posix_fadvise DONTNEED) before each trial"
	}
	return state
}
