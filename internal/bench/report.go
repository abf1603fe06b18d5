package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/zcopy/zcopy/internal/bytesize"
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
	recv := "?"
	if len(rep.Results) > 0 {
		recv = rep.Results[0].RecvMethod
	}
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

`)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "method\tsize\tGB/s\tsender CPU s/GiB\tusr/sys\treceiver CPU s/GiB\tusr/sys\tsyscalls/GiB\tctxsw/GiB\tmodel: copies (CPU)\tswitches/GiB")
	for _, r := range rep.Results {
		method := r.Method
		if r.MethodUsed != "" && r.MethodUsed != r.Method {
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
