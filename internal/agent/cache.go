package agent

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// statusTTL is how long a probe's answer is served to later requests. It
// is measured from the probe's start, so an answer is at most statusTTL
// plus the probe's own duration old: fresh enough for HAProxy's checks
// (proxy.check.interval, 1 s by default, 100 ms at the least, which then
// sees a change up to 250 ms late) and keepalived's 1 s track script,
// while any number of requests costs the database at most four probes a
// second.
const statusTTL = 250 * time.Millisecond

// statusCache serves the status of a source to concurrent requests: one
// probe at a time (single-flight: requests that arrive while a probe runs
// wait for its answer), and its answer, failure included, reused for
// statusTTL. A probe runs under its own deadline, not a request's: a
// client that gives up does not cancel the answer the others wait for.
type statusCache struct {
	src     roleSource
	ttl     time.Duration
	timeout time.Duration // the longest one probe may take
	now     func() time.Time

	mu     sync.Mutex
	have   bool
	st     status
	err    error
	at     time.Time // start of the probe that produced st/err
	flight *flight
	gen    uint64 // bumped by invalidate: a probe started before does not fill the cache

	joined func() // test hook: a request joined a running probe
}

type flight struct {
	done chan struct{}
	st   status
	err  error
}

func newStatusCache(src roleSource, timeout time.Duration) *statusCache {
	return &statusCache{src: src, ttl: statusTTL, timeout: timeout, now: time.Now}
}

// status returns the cached status when it is fresh, else the answer of
// the running probe or of a new one. It returns early with ctx's error
// when ctx ends first.
func (c *statusCache) status(ctx context.Context) (status, error) {
	c.mu.Lock()
	if c.have && c.now().Sub(c.at) < c.ttl {
		st, err := c.st, c.err
		c.mu.Unlock()
		return st, err
	}
	f := c.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		c.flight = f
		go c.probe(f, c.now(), c.gen)
	} else if c.joined != nil {
		c.joined()
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.st, f.err
	case <-ctx.Done():
		return status{}, fmt.Errorf("no answer from the database yet: %w", ctx.Err())
	}
}

func (c *statusCache) probe(f *flight, start time.Time, gen uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	f.st, f.err = c.src.status(ctx)
	c.mu.Lock()
	if gen == c.gen {
		c.have, c.st, c.err, c.at = true, f.st, f.err, start
	}
	if c.flight == f {
		c.flight = nil
	}
	c.mu.Unlock()
	close(f.done)
}

// invalidate drops the cached status and forgets a running probe: the
// next request probes again (the sync keeper calls it after it changed a
// setting).
func (c *statusCache) invalidate() {
	c.mu.Lock()
	c.have = false
	c.flight = nil
	c.gen++
	c.mu.Unlock()
}
