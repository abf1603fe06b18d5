package session

import (
	"fmt"
	"io"
	"os"
	"time"

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
	return e.Kind == proto.KindFile && h.Offset == 0 && h.Length <= wholeMax &&
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
	if bad := trailerFault(tr.Status); bad != "" {
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
		r.placer = newPlacer(r.o.Fsync)
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

// placeNamed writes body to NAME.zcopy-part in d and finishes it into
// place; on failure it removes the part. It is the portable way a placer
// places a whole file.
func placeNamed(d *os.Root, base string, e *proto.Entry, body []byte, fsync bool) error {
	part := base + PartSuffix
	f, err := d.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|nonblock, 0o600)
	if err != nil {
		return err
	}
	if _, err = f.Write(body); err != nil {
		f.Close()
	} else {
		err = finishPart(f, d, part, base, e, fsync)
	}
	if err != nil {
		d.Remove(part)
	}
	return err
}

// finishPart gives a complete part its mode and times, syncs it if asked,
// closes it and renames it to base. It closes f whatever happens; on an
// error the caller decides the part's fate.
func finishPart(f *os.File, d *os.Root, part, base string, e *proto.Entry, fsync bool) error {
	err := f.Chmod(tree.FileMode(e.Mode))
	if err == nil && fsync {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("fsync: %w", err)
		}
	}
	mt := time.Unix(0, e.MTime)
	byName := err == nil && setTimes(f, mt) != nil
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	if err == nil && byName {
		err = d.Chtimes(part, mt, mt)
	}
	if err == nil {
		err = d.Rename(part, base)
	}
	return err
}
