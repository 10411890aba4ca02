package verify

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// Progress tells a person watching a verify run what it is doing: which
// scenario, what it waits for, and for how long. On a terminal it keeps
// one status line that it rewrites in place (and refreshes every second
// so the clock moves while a step waits); elsewhere (CI logs, files) it
// prints one plain line per step:
//
//	[  42.0s] failover-kill-site0: waiting for the first write on site1
//
// It is also an io.Writer, so it can be given as Options.Progress: lines
// written to it are printed above the status line. All methods are safe
// for concurrent use. Call Done when the run ends.
type Progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	width    int
	now      func() time.Time
	start    time.Time
	stepAt   time.Time
	scenario string
	what     string
	shown    bool // a status line is on the terminal
	stop     chan struct{}
	done     bool
}

// NewProgress writes progress to w, rewriting a status line when w is a
// terminal.
func NewProgress(w io.Writer) *Progress {
	tty, width := false, 0
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil {
			width = cols
		}
	}
	return newProgress(w, tty, width, time.Now, time.Second)
}

// newProgress is NewProgress with the terminal decision, clock and
// refresh interval (0: none) given.
func newProgress(w io.Writer, tty bool, width int, now func() time.Time, refresh time.Duration) *Progress {
	if width <= 0 {
		width = 100
	}
	p := &Progress{w: w, tty: tty, width: width, now: now, start: now(), stop: make(chan struct{})}
	p.stepAt = p.start
	if tty && refresh > 0 {
		go p.refresh(refresh)
	}
	return p
}

func (p *Progress) refresh(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			if p.shown {
				p.draw()
			}
			p.mu.Unlock()
		}
	}
}

// Step says that scenario (empty for the harness's own phases) now waits
// for what.
func (p *Progress) Step(scenario, what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.scenario, p.what, p.stepAt = scenario, what, p.now()
	if p.tty {
		p.draw()
		return
	}
	fmt.Fprintf(p.w, "%s %s\n", p.stamp(), p.label())
}

// Write prints log lines. On a terminal the status line is cleared first
// and drawn again after a complete line.
func (p *Progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.shown {
		io.WriteString(p.w, "\r\x1b[K")
		p.shown = false
	}
	n, err := p.w.Write(b)
	if p.tty && !p.done && p.what != "" && len(b) > 0 && b[len(b)-1] == '\n' {
		p.draw()
	}
	return n, err
}

// Done ends the status line (leaving the last step on screen) and stops
// the refresh. Steps after Done are ignored.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.done = true
	close(p.stop)
	if p.tty && p.shown {
		io.WriteString(p.w, "\n")
		p.shown = false
	}
}

// draw rewrites the status line; p.mu is held.
func (p *Progress) draw() {
	line := fmt.Sprintf("%s %s (%s)", p.stamp(), p.label(), stepElapsed(p.now().Sub(p.stepAt)))
	if limit := p.width - 1; utf8.RuneCountInString(line) > limit {
		r := []rune(line)
		line = string(r[:limit-1]) + "…"
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.shown = true
}

// stamp is the time since the start, as the harness's log lines show it.
func (p *Progress) stamp() string {
	return fmt.Sprintf("[%6.1fs]", p.now().Sub(p.start).Seconds())
}

func (p *Progress) label() string {
	what := strings.ReplaceAll(p.what, "\n", " ")
	if p.scenario == "" {
		return what
	}
	return p.scenario + ": " + what
}

// stepElapsed is a whole-second elapsed time: 7s, 1m05s.
func stepElapsed(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}
