//go:build !linux

package zerocopy

const haveSplice = false

func (t *transfer) sendSplice(off, n int64) (bool, error) {
	return false, unsupported(Splice)
}

func (t *transfer) receiveSplice(off, n int64) (bool, error) {
	return false, unsupported(Splice)
}
