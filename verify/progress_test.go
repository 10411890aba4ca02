package verify

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// manualClock is a clock the test moves by hand.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestProgressPlain(t *testing.T) {
	var b bytes.Buffer
	clock := &manualClock{now: time.Unix(0, 0)}
	p := newProgress(&b, false, 0, clock.Now, 0)
	p.Step("", "bring-up: starting site0")
	clock.add(12500 * time.Millisecond)
	p.Step("failover-kill-site0", "waiting for the first write on site1")
	fmt.Fprintf(p, "site site1: keepalived is MASTER\n")
	p.Done()
	p.Step("late", "ignored")
	want := `[   0.0s] bring-up: starting site0
[  12.5s] failover-kill-site0: waiting for the first write on site1
site site1: keepalived is MASTER
`
	if got := b.String(); got != want {
		t.Errorf("output:\n%q\nwant:\n%q", got, want)
	}
}

func TestProgressTerminal(t *testing.T) {
	var b bytes.Buffer
	clock := &manualClock{now: time.Unix(0, 0)}
	p := newProgress(&b, true, 60, clock.Now, 0)
	p.Step("distribution", "400 sessions")
	clock.add(3 * time.Second)
	p.Step("distribution", "counting sites")
	clock.add(65 * time.Second)
	p.mu.Lock()
	p.draw() // what the refresh does each second
	p.mu.Unlock()
	fmt.Fprint(p, "a log line\n")
	p.Step("failover", strings.Repeat("x", 80))
	p.Done()
	want := "\r\x1b[K[   0.0s] distribution: 400 sessions (0s)" +
		"\r\x1b[K[   3.0s] distribution: counting sites (0s)" +
		"\r\x1b[K[  68.0s] distribution: counting sites (1m05s)" +
		"\r\x1b[Ka log line\n" +
		"\r\x1b[K[  68.0s] distribution: counting sites (1m05s)" +
		"\r\x1b[K[  68.0s] failover: " + strings.Repeat("x", 38) + "…" + // cut to the width less one
		"\n"
	if got := b.String(); got != want {
		t.Errorf("output:\n%q\nwant:\n%q", got, want)
	}
}

// Steps, log lines and the refresh from many goroutines: run with -race.
func TestProgressConcurrent(t *testing.T) {
	var mu sync.Mutex
	var b bytes.Buffer
	w := progressWriterFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return b.Write(p)
	})
	p := newProgress(w, true, 80, time.Now, time.Millisecond)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				p.Step(fmt.Sprintf("s%d", i), fmt.Sprintf("step %d", j))
				fmt.Fprintf(p, "log %d %d\n", i, j)
			}
		}()
	}
	wg.Wait()
	p.Done()
	p.Done()
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(b.String(), "log "); n != 400 {
		t.Errorf("%d log lines, want 400", n)
	}
}

type progressWriterFunc func([]byte) (int, error)

func (f progressWriterFunc) Write(p []byte) (int, error) { return f(p) }

// A buffer is not a terminal: NewProgress prints plain lines.
func TestNewProgressNotATerminal(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b)
	defer p.Done()
	p.Step("s", "w")
	if got := b.String(); !strings.HasSuffix(got, "] s: w\n") || strings.Contains(got, "\r") {
		t.Errorf("output %q, want one plain line", got)
	}
}
