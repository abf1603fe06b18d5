package bench

import (
	"fmt"
	"io"
	"time"
)

// progress redraws one status line on a terminal. A nil writer makes every
// method a no-op.
type progress struct {
	w     io.Writer
	total int
	n     int
	start time.Time
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, start: time.Now()}
}

// step announces the next trial.
func (p *progress) step(label string) {
	if p.w == nil {
		return
	}
	p.n++
	p.draw(fmt.Sprintf("[%d/%d] %s", p.n, p.total, label))
}

// status shows something that is not a trial.
func (p *progress) status(format string, a ...any) {
	if p.w == nil {
		return
	}
	p.draw(fmt.Sprintf(format, a...))
}

func (p *progress) draw(s string) {
	fmt.Fprintf(p.w, "\r\033[Kzcopy bench: %s (%.0f s)", s, time.Since(p.start).Seconds())
}

// done clears the line.
func (p *progress) done() {
	if p.w == nil {
		return
	}
	fmt.Fprint(p.w, "\r\033[K")
}
