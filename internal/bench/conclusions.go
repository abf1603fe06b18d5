package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/zcopy/zcopy/internal/bytesize"
)

// Conclusions returns a few plain sentences on what the report's figures show,
// each computed from them: which row moved the most GB/s and which spent
// the least sender CPU per GiB, how many system calls and context switches
// each row saved against readwrite, which method zcopy's auto picks here,
// and what that means on this link. For a sweep the sentences are about
// the largest size, and one more names the winners at each size.
func Conclusions(rep *Report) []string {
	sizes := distinctSizes(rep.Results)
	if len(sizes) == 0 {
		return nil
	}
	size := slices.Max(sizes)
	var rs []Result
	for _, r := range rep.Results {
		if r.Size == size {
			rs = append(rs, r)
		}
	}
	var out []string
	at := ""
	if len(sizes) > 1 {
		at = fmt.Sprintf("At %s, the largest size, ", bytesize.Format(size))
	}
	rw, haveRW := find(rs, func(r Result) bool { return r.Method == "readwrite" && !r.TLS })

	fast := best(rs, func(r Result) float64 { return r.GBps })
	s := fmt.Sprintf("%s moved the most: %.2f GB/s", name(fast), fast.GBps)
	if haveRW && fast.Method != rw.Method {
		s += fmt.Sprintf(", %s readwrite's %.2f", times(fast.GBps/rw.GBps), rw.GBps)
	}
	if next, ok := runnerUp(rs, fast, func(r Result) float64 { return r.GBps }); ok && fast.GBpsMin <= next.GBpsMax {
		s += fmt.Sprintf("; but its rounds (%.2f-%.2f) overlap %s's (%.2f-%.2f), so another run may put %s first",
			fast.GBpsMin, fast.GBpsMax, name(next), next.GBpsMin, next.GBpsMax, next.Method)
	}
	out = append(out, at+s+".")

	if rs[0].CPUKnown {
		lean := best(rs, func(r Result) float64 { return -r.SenderCPU })
		also := ""
		if lean.Method == fast.Method {
			also = " also"
		}
		s := fmt.Sprintf("%s%s spent the least sender CPU: %.3f s per GiB", name(lean), also, lean.SenderCPU)
		if haveRW && lean.Method != rw.Method && rw.SenderCPU > 0 {
			s += fmt.Sprintf(", %s readwrite's %.3f", lessOrMore(lean.SenderCPU/rw.SenderCPU), rw.SenderCPU)
		}
		out = append(out, s+".")
	}

	if haveRW && len(rs) > 1 {
		ctx := rw.CtxswKnown
		s := fmt.Sprintf("Against readwrite's %s system calls", thousands(rw.Syscalls))
		if ctx {
			s += fmt.Sprintf(" and %s context switches", thousands(rw.Ctxsw))
		}
		s += " per GiB, "
		var clauses []string
		for _, r := range rs {
			if r.Method == rw.Method {
				continue
			}
			verb, what := saved(r.Syscalls, rw.Syscalls, "system calls")
			c := name(r) + " " + verb + " " + what
			if ctx {
				verb2, what2 := saved(r.Ctxsw, rw.Ctxsw, "context switches")
				if verb2 == verb {
					c += " and " + what2
				} else {
					c += " but " + verb2 + " " + what2
				}
			}
			clauses = append(clauses, c)
		}
		out = append(out, s+strings.Join(clauses, "; ")+".")
	} else if !haveRW {
		out = append(out, "No readwrite row was measured, so there is no plain copy to weigh the others against (add readwrite to --methods).")
	}

	auto, haveAuto := find(rs, func(r Result) bool { return rep.Auto != "" && r.Method == rep.Auto && !r.TLS })
	if rep.Auto != "" {
		s := fmt.Sprintf("On this machine zcopy's auto method sends a file into a TCP connection by %s (a test transfer before the trials showed it)", rep.Auto)
		if haveAuto {
			s += fmt.Sprintf(", so the %s row is what zcopy's unencrypted transfers cost here", auto.Method)
		}
		out = append(out, s+".")
	}

	if m := meaning(rep, rs, rw, haveRW, auto, haveAuto); m != "" {
		out = append(out, m)
	}
	if t, ok := find(rs, func(r Result) bool { return r.TLS }); ok && haveRW && rw.GBps > 0 && rw.SenderCPU > 0 && rw.ReceiverCPU > 0 {
		out = append(out, fmt.Sprintf("Encryption (the tls row) took %s readwrite's sender CPU and %s its receiver CPU per GiB, and moved %s its GB/s.",
			times(t.SenderCPU/rw.SenderCPU), times(t.ReceiverCPU/rw.ReceiverCPU), times(t.GBps/rw.GBps)))
	}
	if len(sizes) > 1 {
		out = append(out, perSize(rep, sizes))
	}
	return out
}

// meaning says what the zero-copy row (auto's, or else the one with the
// least sender CPU) gained against readwrite: in GB/s, in CPU, in system
// calls, and which of them shows the gain here.
func meaning(rep *Report, rs []Result, rw Result, haveRW bool, auto Result, haveAuto bool) string {
	if !haveRW || rw.GBps <= 0 || rw.SenderCPU <= 0 || !rs[0].CPUKnown {
		return ""
	}
	z, ok := auto, haveAuto && auto.ZeroCopy && !ranOther(auto)
	if !ok {
		var zs []Result
		for _, r := range rs {
			if r.ZeroCopy && !ranOther(r) {
				zs = append(zs, r)
			}
		}
		if len(zs) == 0 {
			return ""
		}
		z = best(zs, func(r Result) float64 { return -r.SenderCPU })
	}
	if z.GBps <= 0 || z.SenderCPU <= 0 || z.Syscalls <= 0 {
		return ""
	}
	speed := z.GBps / rw.GBps
	cpu := rw.SenderCPU / z.SenderCPU
	calls := rw.Syscalls / z.Syscalls
	why := fmt.Sprintf("Over the link to %s", rep.Link)
	if rep.Link == "loopback" {
		why = "On loopback no network card is involved and the receiver's copy into its own memory sets the pace"
	}
	gbps := fmt.Sprintf("%s moved %s readwrite's GB/s", z.Method, times(speed))
	work := fmt.Sprintf("its sender spent %s CPU per GiB and made %s system calls", strings.TrimSuffix(lessOrMore(1/cpu), " than"), fewer(calls))
	switch {
	case speed < 1 && cpu > 1:
		return fmt.Sprintf("%s, so the gain of zero copy shows in CPU and system calls, not in GB/s: %s, yet %s.", why, gbps, work)
	case cpu > speed*1.15:
		return fmt.Sprintf("%s, so the gain of zero copy shows in CPU and system calls more than in GB/s: %s, and %s.", why, gbps, work)
	case cpu < 1:
		return fmt.Sprintf("Zero copy saved no sender CPU in this run: %s, and %s.", gbps, work)
	default:
		return fmt.Sprintf("Zero copy paid in GB/s as much as in CPU in this run: %s, and %s.", gbps, work)
	}
}

// perSize names, for each size of a sweep, the row that moved the most and
// the one that spent the least sender CPU.
func perSize(rep *Report, sizes []int64) string {
	var fast, lean []string
	for _, size := range sizes {
		var rs []Result
		for _, r := range rep.Results {
			if r.Size == size {
				rs = append(rs, r)
			}
		}
		f := best(rs, func(r Result) float64 { return r.GBps })
		l := best(rs, func(r Result) float64 { return -r.SenderCPU })
		fast = append(fast, fmt.Sprintf("%s %s", shortSize(size), f.Method))
		lean = append(lean, fmt.Sprintf("%s %s", shortSize(size), l.Method))
	}
	return fmt.Sprintf("Most GB/s at each size: %s. Least sender CPU: %s.", strings.Join(fast, ", "), strings.Join(lean, ", "))
}

// name names a result's row, and the method that ran instead if the
// engine fell back.
func name(r Result) string {
	if ranOther(r) {
		return fmt.Sprintf("%s (which ran %s)", r.Method, r.MethodUsed)
	}
	return r.Method
}

// find returns the first result ok accepts.
func find(rs []Result, ok func(Result) bool) (Result, bool) {
	for _, r := range rs {
		if ok(r) {
			return r, true
		}
	}
	return Result{}, false
}

// best returns the result with the highest score (the first of equals).
func best(rs []Result, score func(Result) float64) Result {
	b := rs[0]
	for _, r := range rs[1:] {
		if score(r) > score(b) {
			b = r
		}
	}
	return b
}

// runnerUp returns the result with the highest score other than top.
func runnerUp(rs []Result, top Result, score func(Result) float64) (Result, bool) {
	var others []Result
	for _, r := range rs {
		if r.Method != top.Method {
			others = append(others, r)
		}
	}
	if len(others) == 0 {
		return Result{}, false
	}
	return best(others, score), true
}

// fewer renders how many times fewer (x > 1) or more something is: "20x
// fewer", "1.5x more", "about as many".
func fewer(x float64) string {
	switch {
	case x >= 1.05:
		return times(x) + " fewer"
	case x <= 1/1.05:
		return times(1/x) + " more"
	default:
		return "about as many"
	}
}

// times renders a ratio as "1.9x", "0.52x", "0.0043x".
func times(x float64) string {
	if x < 0.1 {
		return fmt.Sprintf("%.2gx", x)
	}
	if x >= 9.95 {
		return fmt.Sprintf("%.0fx", x)
	}
	if x >= 0.995 {
		return fmt.Sprintf("%.1fx", x)
	}
	return fmt.Sprintf("%.2fx", x)
}

// lessOrMore renders a ratio below one as "47% less than", above one as
// "12% more than", and near one as "about the same as".
func lessOrMore(x float64) string {
	p := math.Round(100 * math.Abs(1-x))
	switch {
	case p < 2:
		return "about the same as"
	case x < 1:
		return fmt.Sprintf("%.0f%% less than", p)
	default:
		return fmt.Sprintf("%.0f%% more than", p)
	}
}

// saved says whether a row saved what it counts per GiB against
// readwrite's base or made more, and how many: ("saved", "7,932 system
// calls (97%)"), ("made", "3,120 more context switches (+61%)"), ("made",
// "about as many system calls").
func saved(x, base float64, what string) (verb, amount string) {
	if base <= 0 {
		return "made", thousands(x) + " " + what
	}
	d := base - x
	p := math.Round(100 * math.Abs(d) / base)
	switch {
	case p < 2:
		return "made", "about as many " + what
	case d > 0:
		return "saved", fmt.Sprintf("%s %s (%.0f%%)", thousands(d), what, p)
	default:
		return "made", fmt.Sprintf("%s more %s (+%.0f%%)", thousands(-d), what, p)
	}
}
