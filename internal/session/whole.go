package session

import (
	"fmt"
	"io"
	"time"

	"github.com/zcopy/zcopy/internal/part"
	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/tree"
	"github.com/zcopy/zcopy/zerocopy"
)

// wholeMax is the largest body the receiver takes whole from its read
// buffer, trailer included, before it touches the disk: such a file is
// placed by a placer, appears complete or not at all, and a failure costs
// only that file. It matches the sender's smallFile, so the bodies the
// sender batches are the ones taken whole.
const wholeMax = smallFile

// takesWhole reports whether a body is received by receiveWhole: a whole
// small file (not a range, not resumed) moved by read and write, which is
// what the sender batches. A receive method named by the user is honoured
// for every body.
func (r *receiver) takesWhole(e *proto.Entry, h proto.DataHeader) bool {
	return e.Kind == proto.KindFile && !h.Sparse && h.Offset == 0 && h.Length <= wholeMax &&
		(r.o.Method == zerocopy.Auto || r.o.Method == zerocopy.ReadWrite)
}

// receiveWhole reads entry i's body and trailer into the read buffer,
// checks them and hands the file to the placer. Only a broken stream is an
// error; a file that cannot be placed fails alone.
func (r *receiver) receiveWhole(i int, h proto.DataHeader) error {
	e := &r.entries[i]
	n := int(h.Length) + proto.TrailerSize
	b, err := r.br.Peek(n)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%s: reading the body: %w", e.Path, err)
	}
	defer r.br.Discard(n)
	tr, err := proto.ParseTrailer(b[h.Length:])
	if err != nil {
		return fmt.Errorf("%s: %w", e.Path, err)
	}
	body := b[:h.Length]
	r.res.BytesSent += h.Length
	r.methods.add(zerocopy.ReadWrite, h.Length)
	r.progress(h.Length)
	if tr.Status == proto.StatusChanged {
		if bad := judgeChanged(xxh3Sum(body), tr.Hash); bad != "" {
			r.fail(i, bad)
			return nil
		}
	} else if bad := trailerFault(tr.Status); bad != "" {
		r.fail(i, bad)
		return nil
	}
	if r.verify {
		if sum := xxh3Sum(body); sum != tr.Hash {
			r.fail(i, hashMismatch(sum, tr.Hash))
			return nil
		}
	}
	d, base, err := r.at(e.Path)
	if err != nil {
		r.fail(i, err.Error())
		return nil
	}
	if r.placer == nil {
		r.placer = newPlacer(r.o.Fsync, r.o.Overwrite)
	}
	r.placer.place(i, d, base, e, body)
	r.collect()
	return nil
}

// collect counts the files the placer has finished since it last asked.
func (r *receiver) collect() {
	if r.placer == nil {
		return
	}
	for _, o := range r.placer.finished() {
		if o.err != nil {
			r.fail(o.i, o.err.Error())
			continue
		}
		r.res.Files++
		r.res.Bytes += r.entries[o.i].Size
	}
}

// placedMode is the mode a file is placed with: the sender's, without the
// set-user-ID and set-group-ID bits. Only --owner gives those, once the
// file has the sender's owner (applyOwners): a receiver running as root
// made the sender's programs setuid root without --owner, and with it
// until the data phase was over, for good if the transfer was cut (an
// attack review). cp -p and tar drop them too when they cannot keep the
// owner.
func placedMode(m uint32) uint32 { return m &^ 0o6000 }

// placeNamed writes body to NAME.zcopy-part in d and finishes it into
// place (replacing a file that appeared meanwhile only if replace); on
// failure the part is removed. It is the portable way a placer places a
// whole file.
func placeNamed(d *part.Dir, base string, e *proto.Entry, body []byte, fsync, replace bool) error {
	// A whole file is never continued: its part records no version.
	f, _, _, err := part.Open(d, base+part.Suffix, part.Version{}, false)
	if err != nil {
		return err
	}
	if _, err := f.Write(body); err != nil {
		f.Discard()
		return err
	}
	return finishPart(f, base, e, fsync, replace)
}

// versionOf is the version of the source file that entry e describes.
func versionOf(e *proto.Entry) part.Version {
	return part.Version{Size: e.Size, MTime: e.MTime, Source: e.Source}
}

// finishPart gives a complete part its mode and times, syncs it if asked,
// and places it under base (see part.File.Place). On an error the part is
// removed.
func finishPart(f *part.File, base string, e *proto.Entry, fsync, replace bool) error {
	err := f.Chmod(tree.FileMode(placedMode(e.Mode)))
	if err == nil && fsync {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("fsync: %w", err)
		}
	}
	if err == nil {
		err = f.SetTimes(time.Unix(0, e.MTime))
	}
	if err != nil {
		f.Discard()
		return err
	}
	return f.Place(base, replace)
}
