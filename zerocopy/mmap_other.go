//go:build !unix

package zerocopy

const haveMMap = false

func (t *transfer) sendMMap(off, n int64) (bool, error) {
	return false, unsupported(MMap)
}
