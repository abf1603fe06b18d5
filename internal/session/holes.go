package session

// Sparse files (issue 18): a sender that finds holes in a file it sends
// (SEEK_DATA and SEEK_HOLE, where the system has them: holes_seekhole.go)
// sends the file as a sparse body (proto.DataHeader.Sparse): each run of
// data as an Extent followed by its bytes, moved by the engine as any body
// is (sendfile in plaintext), and each hole as an Extent record alone. The
// receiver writes the data at its offsets into a part that holds nothing
// past the body's start, so what it does not write (the holes) reads as
// zeros and takes no blocks, and extends the part to the file's size when
// the body ends in a hole. Hashes cover the file's logical bytes, holes as
// zeros, on both ends, so --verify and a part continued by --resume see
// the same bytes as a dense copy.
//
// Only a file that takes fewer blocks than its size (stat's st_blocks) is
// looked at: a dense file costs no extra system call, and a small file
// batched whole (at most smallFile bytes) is sent dense.
