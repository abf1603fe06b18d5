package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/zcopy/zcopy/internal/bytesize"
)

// progress draws one status line on a terminal: bytes, rate and ETA. It
// draws nothing when stderr is not a terminal or when off.
type progress struct {
	w     io.Writer
	verb  string
	on    bool
	start time.Time
	last  time.Time
	drawn bool
}

func newProgress(e *env, verb string, off bool) *progress {
	return &progress{w: e.stderr, verb: verb, on: !off && isTerminal(e.stderr), start: time.Now()}
}

func (p *progress) update(done, total int64) {
	if !p.on || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	el := time.Since(p.start).Seconds()
	rate := float64(done) / el
	eta := "?"
	if rate > 0 && total >= done {
		eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	fmt.Fprintf(p.w, "\r%s %5.1f%% %s of %s, %s/s, ETA %s   ", p.verb, pct, bytesize.Format(done), bytesize.Format(total), bytesize.Format(int64(rate)), eta)
	p.drawn = true
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
