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

// TextWidth is the most columns a line of WriteTable's default output
// takes, so that it reads in a terminal without wrapping. The wide table
// (WriteTable with wide set) may be wider; the prose around it is not.
const TextWidth = 100

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

// WriteTable writes the report for a reader: a header describing the
// machines, the file and how it was measured; a table with one row per
// method and size; what the columns mean; notes; and a few sentences on
// what the figures show (Conclusions). Every line fits TextWidth columns unless
// wide is set, which adds the ranges of the CPU figures, the user/system
// split and the predicted system calls to the table.
func WriteTable(w io.Writer, rep *Report, wide bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "zcopy bench, %s, %.0f s\n", rep.Started.UTC().Format("2006-01-02 15:04 MST"), rep.Elapsed.Seconds())
	field(&b, "sender:", describeHost(rep.Sender))
	if rep.Link == "loopback" {
		field(&b, "receiver:", fmt.Sprintf("the same host, over loopback (%v)", rep.NIC))
	} else {
		field(&b, "receiver:", fmt.Sprintf("%s, at %s (sender's %v)", describeHost(rep.Receiver), rep.Link, rep.NIC))
	}
	field(&b, "file:", fmt.Sprintf("%s of random bytes, %s", sizesOf(rep.Results), cacheState(rep)))
	pinned := ""
	if rep.Pinned != "" {
		pinned = "; " + rep.Pinned
	}
	field(&b, "method:", fmt.Sprintf("the receiver reads by %s into /dev/null; %d warm-up and %d measured rounds, methods interleaved%s",
		recvMethod(rep), rep.Warmup, rep.Reps, pinned))
	b.WriteString("\n")

	if err := writeRows(&b, rep, wide); err != nil {
		return err
	}
	b.WriteString("\n")
	writeLegend(&b, rep, wide)

	if notes := reportNotes(rep, wide); len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			wrap(&b, "", "", n, TextWidth)
		}
	}
	if s := Conclusions(rep); len(s) > 0 {
		b.WriteString("\nWhat this run shows:\n")
		for _, line := range s {
			wrap(&b, "- ", "  ", line, TextWidth)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeRows writes the table proper. Its header is two lines: the figure,
// then its unit.
func writeRows(b *strings.Builder, rep *Report, wide bool) error {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	if wide {
		fmt.Fprintln(tw, "method\tsize\tGB/s\tsender CPU\tsender\treceiver CPU\treceiver\tsystem\tcontext\tcopies\tpredicted")
		fmt.Fprintln(tw, "\t\t(min-max)\ts/GiB (min-max)\tuser/system\ts/GiB (min-max)\tuser/system\tcalls/GiB\tswitches/GiB\t(by CPU)\tsystem calls/GiB")
	} else {
		fmt.Fprintln(tw, "method\tsize\tGB/s\tsender\treceiver\tsystem\tcontext\tcopies")
		fmt.Fprintln(tw, "\t\t(min-max)\tCPU s/GiB\tCPU s/GiB\tcalls/GiB\tswitches/GiB\t(by CPU)")
	}
	for _, r := range rep.Results {
		method := r.Method
		if ranOther(r) {
			if wide {
				method += " (ran " + r.MethodUsed + ")"
			} else {
				method += "*"
			}
		}
		ctxsw := "n/a"
		if r.CtxswKnown {
			ctxsw = thousands(r.Ctxsw)
		}
		copies := fmt.Sprintf("%d (%d)", r.ModelCopies, r.ModelCPUCopies)
		if wide {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f/%.2f\t%s\t%.2f/%.2f\t%s\t%s\t%s\t%s\n",
				method, bytesize.Format(r.Size), rng(r.GBps, r.GBpsMin, r.GBpsMax, 2),
				rng(r.SenderCPU, r.SenderCPUMin, r.SenderCPUMax, 3), r.SenderUser, r.SenderSys,
				rng(r.ReceiverCPU, r.ReceiverCPUMin, r.ReceiverCPUMax, 3), r.ReceiverUser, r.ReceiverSys,
				thousands(r.Syscalls), ctxsw, copies, thousands(r.ModelSyscallsPerGiB))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%.3f\t%s\t%s\t%s\n",
			method, bytesize.Format(r.Size), rng(r.GBps, r.GBpsMin, r.GBpsMax, 2),
			r.SenderCPU, r.ReceiverCPU, thousands(r.Syscalls), ctxsw, copies)
	}
	return tw.Flush()
}

// ranOther reports whether the engine ran another method than the row's
// (a fallback; the tls row runs readwrite by design).
func ranOther(r Result) bool {
	want := r.Method
	if r.TLS {
		want = TLSRow.Method.String()
	}
	return r.MethodUsed != "" && r.MethodUsed != want
}

// writeLegend says once what each column means.
func writeLegend(b *strings.Builder, rep *Report, wide bool) {
	fmt.Fprintf(b, "Medians of %s, per GiB (2^30 bytes) moved; in brackets the slowest and fastest round.\n", rounds(rep.Reps))
	item := func(label, text string) {
		wrap(b, fmt.Sprintf("  %-18s", label), strings.Repeat(" ", 20), text, TextWidth)
	}
	item("GB/s", "gigabytes (10^9 bytes) per second, from the receiver's first read to its last.")
	item("sender, receiver", "CPU seconds (user and system) each process spent, from the kernel's accounting of it. "+
		"On loopback much of the receiving is done by the kernel in the sender's context and counted there.")
	if wide {
		item("user/system", "the same seconds split into user mode and kernel mode. Linux tells them apart by "+
			"sampling at each timer tick (every 1 to 10 ms, as the kernel was built), so a split resting on few ticks, as with small files, is rough; "+
			"the total is exact.")
	}
	item("system calls", "the sender's, counted by zcopy's engine, calls that found the socket full included "+
		"(for tls, the reads and writes on the TCP connection beneath TLS).")
	item("context switches", "the sender's voluntary and involuntary context switches (getrusage): how often it "+
		"blocked, or was made to give up the CPU.")
	item("copies", "how many times the textbook model copies each byte between disk and wire, and how many of "+
		"those copies the CPU makes; a prediction, not a measurement.")
	if wide {
		item("predicted", "the model's system calls per GiB with zcopy's buffer sizes, each call moving a full "+
			"buffer; it counts two user/kernel mode switches per call.")
	}
	rows := "sendfile and splice are zero copy: the kernel hands the file's pages to the socket and the CPU never " +
		"copies them. readwrite copies each byte into a buffer and out again; mmap copies it from the mapping into the socket."
	if hasTLS(rep) {
		rows += " tls is readwrite inside TLS 1.3, as zcopy's framed transfers run by default: each byte is also " +
			"copied into TLS records and encrypted (AES-GCM) in user space, and the receiver decrypts it."
	}
	item("zero copy", rows)
}

// reportNotes returns the notes said under the table: the handshake's
// time, rows left out, repeated transfers, fallbacks.
func reportNotes(rep *Report, wide bool) []string {
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
	}
	for _, r := range rep.Results {
		if !ranOther(r) {
			continue
		}
		mark := ""
		if !wide {
			mark = "* "
		}
		reason := ""
		if r.FallbackReason != "" {
			reason = ": " + r.FallbackReason
		}
		notes = append(notes, fmt.Sprintf("%s%s at %s ran %s%s", mark, r.Method, bytesize.Format(r.Size), r.MethodUsed, reason))
	}
	return notes
}

// field writes one line of the header, "  name:  text", wrapped.
func field(b *strings.Builder, name, text string) {
	wrap(b, fmt.Sprintf("  %-10s", name), strings.Repeat(" ", 12), text, TextWidth)
}

// wrap writes text in lines of at most width columns, the first starting
// with first and the others with rest; words longer than a line are left
// whole.
func wrap(b *strings.Builder, first, rest, text string, width int) {
	line := first
	empty := true
	for _, word := range strings.Fields(text) {
		if !empty && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line, empty = rest, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	b.WriteString(line + "\n")
}

// thousands renders x rounded to a whole number, with commas between
// thousands: 8202 as "8,202".
func thousands(x float64) string {
	s := fmt.Sprintf("%.0f", x)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
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
	return fmt.Sprintf("TLS handshake%s: %.2f ms median (%.2f-%.2f) over %s, from the TCP connection set up to the handshake complete at the sender; not in the %s row's figures.",
		at, r.HandshakeMs, r.HandshakeMsMin, r.HandshakeMsMax, rounds(r.Reps), r.Method)
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
	for _, s := range distinctSizes(rs) {
		out = append(out, bytesize.Format(s))
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

// rounds says "1 round" or "N rounds".
func rounds(n int) string {
	if n == 1 {
		return "1 round"
	}
	return fmt.Sprintf("%d rounds", n)
}
