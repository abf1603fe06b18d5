package bench

import (
	"fmt"

	"github.com/zcopy/zcopy/internal/secure"
	"github.com/zcopy/zcopy/zerocopy"
)

// GiB is the unit every per-volume figure is normalised to.
const GiB = 1 << 30

// The TLS row's record layer: TLS 1.3 records carry up to 16 KiB of data
// and 22 bytes more on the wire (a 5-byte header, the inner content type
// and a 16-byte AES-GCM tag); internal/secure gathers sealed records into
// batches of up to modelRecordBatch bytes (its recordBatch) and writes each
// batch with one write(2).
const (
	modelRecordData  = 16 << 10
	modelRecordExtra = 5 + 1 + 16
	modelRecordBatch = secure.RecordBatch
)

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

// ModelRow returns the prediction for one row: Model's for a send method,
// and for the TLS row readwrite's plus what TLS adds in user space. That
// is not the seed's (it has no encryption) but the same count made for
// crypto/tls and internal/secure: each buffer read by pread is copied into
// TLS records (crypto/tls appends the data to the record, then seals it in
// place with AES-GCM, a pass of the CPU over every byte) and each record
// into internal/secure's batch, which write(2) copies into the socket: six
// copies, four by the CPU, beside the encryption. Not zero copy.
func ModelRow(r Row, gather bool) Prediction {
	if !r.TLS {
		return Model(r.Method, gather)
	}
	p := Model(zerocopy.ReadWrite, gather)
	p.Copies += 2
	p.CPUCopies += 2
	perBuffer := 1 + float64(tlsBatches(zerocopy.DefaultBufferSize))
	p.SyscallsPerGiB = float64(GiB) / float64(zerocopy.DefaultBufferSize) * perBuffer
	p.ModeSwitchesPerGiB = 2 * p.SyscallsPerGiB
	p.Note = fmt.Sprintf("readwrite inside TLS 1.3: pread + %d write(2)s of record batches per buffer; "+
		"copies into the TLS record and into the batch, and AES-GCM sealing, in user space; not zero copy", int(perBuffer)-1)
	return p
}

// tlsBatches returns how many batches (write(2)s) internal/secure makes of
// the records crypto/tls seals for one Write of n bytes: it gathers
// records while the next one fits in modelRecordBatch, and writes what it
// holds at the end of the Write.
func tlsBatches(n int) int {
	batches, held := 0, 0
	for ; n > 0; n -= modelRecordData {
		rec := min(n, modelRecordData) + modelRecordExtra
		if held > 0 && held+rec > modelRecordBatch {
			batches++
			held = 0
		}
		held += rec
	}
	if held > 0 {
		batches++
	}
	return batches
}
