package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/zcopy/zcopy/internal/bytesize"
	"github.com/zcopy/zcopy/internal/session"
)

// progress draws a live progress bar on a terminal: the bar itself is
// github.com/schollz/progressbar's; beside it, the bytes done of the
// total, the rate and the time left, and for more than one file the files
// done of the total and the file moving now. A resumed file's part counts
// as done from the start, but not in the rate: the library's own rate
// would count the part as moved in the first instant, so the figures are
// this file's. It draws nothing when stderr is not a terminal or when
// off.
type progress struct {
	verb  string
	bar   *progressbar.ProgressBar
	every time.Duration // the least time between two drawings

	mu    sync.Mutex // the sessions of several streams call update at once
	start time.Time  // the first update
	base  int64      // bytes done at the first update (taken from parts)
	drawn time.Time  // when the figures were last drawn
}

// drawEvery spaces the drawings of the bar: a tree of small files would
// change its name thousands of times a second.
const drawEvery = 200 * time.Millisecond

func newProgress(e *env, verb string, off bool) *progress {
	if off || !isTerminal(e.stderr) {
		return &progress{}
	}
	return newBar(e.stderr, verb, drawEvery)
}

// newBar returns a progress bar drawn on w, terminal or not, at most once
// every every.
func newBar(w io.Writer, verb string, every time.Duration) *progress {
	return &progress{verb: verb, every: every, bar: progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(verb),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetElapsedTime(false),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionFullWidth(),
		// Without a length the library redraws its spinner from a
		// goroutine of its own every 100 ms, writing w behind update's
		// back and outliving the bar if done is not called; at 0 it
		// starts none.
		progressbar.OptionSetSpinnerChangeInterval(0),
	)}
}

// update moves the bar to s.
func (p *progress) update(s session.Progress) {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.start.IsZero() {
		p.start, p.base = now, s.Done
	}
	if now.Sub(p.drawn) < p.every && s.Done < s.Total {
		return
	}
	// The bar is drawn here only, every time it is told anything (its own
	// throttle is off): the text and the bar change together.
	p.drawn = now
	if p.bar.GetMax64() != s.Total {
		p.bar.ChangeMax64(s.Total)
	}
	p.bar.Describe(figures(p.verb, s, s.Done-p.base, now.Sub(p.start)))
	p.bar.Set64(s.Done)
}

// figures is the text beside the bar: s's bytes, the rate at which moved
// bytes moved in elapsed, the time left at that rate, and for more than
// one file the files done of the total and the file moving now (its end,
// if the name is long).
func figures(verb string, s session.Progress, moved int64, elapsed time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s/%s", verb, bytesize.Format(s.Done), bytesize.Format(s.Total))
	if secs := elapsed.Seconds(); secs > 0 && moved > 0 {
		rate := float64(moved) / secs
		left := time.Duration(float64(s.Total-s.Done) / rate * float64(time.Second))
		fmt.Fprintf(&b, ", %s/s, %s left", bytesize.Format(int64(rate)), left.Round(time.Second))
	}
	if s.FileCount > 1 {
		const most = 32
		name := []rune(s.Name)
		if len(name) > most {
			name = append([]rune("…"), name[len(name)-most+1:]...)
		}
		fmt.Fprintf(&b, ", %d/%d files, %s", s.Files, s.FileCount, string(name))
	}
	return b.String()
}

// done clears the bar.
func (p *progress) done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

// isTerminal reports whether w is a terminal (not merely a character
// device such as /dev/null).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
