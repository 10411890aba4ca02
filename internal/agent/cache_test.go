package agent

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingSource counts probes; each waits for release when it is set.
type countingSource struct {
	calls   atomic.Int64
	release chan struct{}
	st      status
	err     error
	sawCtx  chan context.Context
}

func (c *countingSource) status(ctx context.Context) (status, error) {
	c.calls.Add(1)
	if c.sawCtx != nil {
		c.sawCtx <- ctx
	}
	if c.release != nil {
		select {
		case <-c.release:
		case <-ctx.Done():
			return status{}, ctx.Err()
		}
	}
	return c.st, c.err
}

// Requests that arrive while a probe runs share its answer: one probe for
// a hundred concurrent requests, even with no caching after it.
func TestCacheSingleFlight(t *testing.T) {
	src := &countingSource{release: make(chan struct{}), st: writable}
	c := newStatusCache(src, time.Minute)
	c.ttl = 0
	var joined atomic.Int64
	c.joined = func() { joined.Add(1) }
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, err := c.status(context.Background()); err != nil || st.Role != rolePrimary {
				t.Errorf("status = %+v, %v", st, err)
			}
		}()
	}
	for joined.Load() < 99 {
		time.Sleep(time.Millisecond)
	}
	close(src.release)
	wg.Wait()
	if n := src.calls.Load(); n != 1 {
		t.Errorf("100 concurrent requests ran %d probes, want 1", n)
	}
}

// An answer is served for statusTTL from the probe's start, then a new
// probe runs; a failure is cached the same way (a database that is down
// is not asked once per request).
func TestCacheTTL(t *testing.T) {
	for _, fail := range []bool{false, true} {
		src := &countingSource{st: writable}
		if fail {
			src.err = errors.New("connection refused")
		}
		c := newStatusCache(src, time.Minute)
		clock := time.Unix(1000, 0)
		c.now = func() time.Time { return clock }
		ctx := context.Background()
		for range 10 {
			c.status(ctx)
		}
		clock = clock.Add(statusTTL - time.Millisecond)
		_, err := c.status(ctx)
		if n := src.calls.Load(); n != 1 {
			t.Errorf("fail=%v: %d probes within the TTL, want 1", fail, n)
		}
		if fail != (err != nil) {
			t.Errorf("fail=%v: cached error = %v", fail, err)
		}
		clock = clock.Add(time.Millisecond)
		c.status(ctx)
		if n := src.calls.Load(); n != 2 {
			t.Errorf("fail=%v: %d probes after the TTL, want 2", fail, n)
		}
	}
}

// A request that gives up does not cancel the probe others wait for: the
// probe runs under its own deadline and its answer fills the cache.
func TestCacheRequestGivesUp(t *testing.T) {
	src := &countingSource{release: make(chan struct{}), st: writable, sawCtx: make(chan context.Context, 1)}
	c := newStatusCache(src, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := c.status(ctx); errc <- err }()
	probeCtx := <-src.sawCtx
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled request returned %v", err)
	}
	if probeCtx.Err() != nil {
		t.Error("the request's cancellation cancelled the shared probe")
	}
	close(src.release)
	for {
		c.mu.Lock()
		have := c.have
		c.mu.Unlock()
		if have {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if st, err := c.status(context.Background()); err != nil || st.Role != rolePrimary || src.calls.Load() != 1 {
		t.Errorf("after the probe: %+v %v, %d probes", st, err, src.calls.Load())
	}
}

// A probe is bounded by the cache's timeout even when nobody waits.
func TestCacheProbeTimeout(t *testing.T) {
	src := &countingSource{release: make(chan struct{})} // never released
	c := newStatusCache(src, 50*time.Millisecond)
	_, err := c.status(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a hanging probe returned %v, want its deadline", err)
	}
}

// invalidate makes the next request probe again.
func TestCacheInvalidate(t *testing.T) {
	src := &countingSource{st: writable}
	c := newStatusCache(src, time.Minute)
	c.status(context.Background())
	c.invalidate()
	c.status(context.Background())
	if n := src.calls.Load(); n != 2 {
		t.Errorf("%d probes, want 2 after invalidate", n)
	}
}
