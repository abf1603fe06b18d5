package bench

import (
	"github.com/zcopy/zcopy/zerocopy"
)

// GiB is the unit every per-volume figure is normalised to.
const GiB = 1 << 30

// modelPipeSize is the splice pipe capacity the engine asks for
// (F_SETPIPE_SZ, 1 MiB); each pipe load costs a splice in and a splice out.
const modelPipeSize = 1 << 20

// Prediction is what the seed article's model says one method costs on the
// sending host.
type Prediction struct {
	// Copies counts the copies of each byte from disk to wire: DMA from disk
	// into the page cache, any CPU copies, DMA to the NIC.
	Copies int
	// CPUCopies is how many of Copies the CPU does.
	CPUCopies int
	// SyscallsPerGiB is the model's system calls per GiB with the engine's
	// default buffer and chunk sizes, assuming each call moves a full buffer
	// (a blocking socket, no set-up calls).
	SyscallsPerGiB float64
	// ModeSwitchesPerGiB is the seed's "context switches": one into the
	// kernel and one out per system call.
	ModeSwitchesPerGiB float64
	// Note says which variant of the model applies.
	Note string
}

// Model returns the seed's prediction for sending by method m. gather
// reports whether the sending interface does scatter-gather DMA with
// checksum offload, which is what takes sendfile from three copies (one by
// the CPU, merging buffers) to two (none by the CPU).
func Model(m zerocopy.Method, gather bool) Prediction {
	per := func(unit int64, callsPerUnit float64) float64 {
		return float64(GiB) / float64(unit) * callsPerUnit
	}
	var p Prediction
	switch m {
	case zerocopy.ReadWrite:
		// read + write per buffer; disk->cache, cache->user, user->socket,
		// socket->NIC.
		p = Prediction{Copies: 4, CPUCopies: 2, SyscallsPerGiB: per(zerocopy.DefaultBufferSize, 2),
			Note: "read+write per buffer"}
	case zerocopy.MMap:
		// mmap + write per window: the cache->user copy is gone.
		p = Prediction{Copies: 3, CPUCopies: 1, SyscallsPerGiB: per(zerocopy.DefaultChunkSize, 2),
			Note: "mmap+write per window"}
	case zerocopy.Sendfile, zerocopy.Splice:
		calls := 1.0
		unit := int64(zerocopy.DefaultChunkSize)
		note := "sendfile per chunk"
		if m == zerocopy.Splice {
			// Not in the seed: modelled as sendfile through a pipe, two
			// calls per pipe load.
			calls, unit, note = 2, modelPipeSize, "splice in+out per pipe load (not in the seed; as sendfile)"
		}
		p = Prediction{Copies: 3, CPUCopies: 1, SyscallsPerGiB: per(unit, calls), Note: note}
		if gather {
			p.Copies, p.CPUCopies = 2, 0
			p.Note += ", gather NIC"
		}
	default:
		return Prediction{Note: "no model"}
	}
	p.ModeSwitchesPerGiB = 2 * p.SyscallsPerGiB
	return p
}
