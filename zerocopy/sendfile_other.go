//go:build !linux && !darwin && !freebsd

package zerocopy

const haveSendfile = false

func (t *transfer) sendSendfile(off, n int64) (bool, error) {
	return false, unsupported(Sendfile)
}
