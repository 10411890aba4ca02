package agent

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// connLimiter caps the agent's open HTTP connections, across all its
// listeners, and closes connections from sources outside the allowed
// networks before they cost anything.
//
// At the cap a new connection does not wait behind the old ones: the
// connection that has waited longest without a request being served (a
// client that connected and sent nothing, or sends it slowly) is closed
// to make room. Only when every open connection is serving a request is
// the new one refused. Serving is quick (the status is cached), so a
// check that arrives during a flood of idle connections is still
// answered; the cap is far above a burst of real checks, whose requests
// are read within milliseconds, so eviction hits them only under a flood
// of more than maxConns new connections in that time.
type connLimiter struct {
	max   int
	allow []netip.Prefix // empty: every source
	now   func() time.Time

	mu    sync.Mutex
	conns map[net.Conn]*connState

	evicted, refused, denied atomic.Int64
}

type connState struct {
	active bool      // a request is being served
	since  time.Time // when it last became idle or was accepted
}

func newConnLimiter(max int, allow []netip.Prefix) *connLimiter {
	return &connLimiter{max: max, allow: allow, now: time.Now, conns: map[net.Conn]*connState{}}
}

// listener wraps ln: Accept returns only admitted connections.
func (l *connLimiter) listener(ln net.Listener) net.Listener { return &limitedListener{ln, l} }

type limitedListener struct {
	net.Listener
	lim *connLimiter
}

func (ll *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if !ll.lim.allowed(c.RemoteAddr()) {
			ll.lim.denied.Add(1)
			c.Close()
			continue
		}
		if !ll.lim.admit(c) {
			ll.lim.refused.Add(1)
			c.Close()
			continue
		}
		return c, nil
	}
}

func (l *connLimiter) allowed(addr net.Addr) bool {
	if len(l.allow) == 0 {
		return true
	}
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	for _, p := range l.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// admit adds c, closing the longest-waiting connection that is not
// serving a request when the cap is reached; false when all are serving.
func (l *connLimiter) admit(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) >= l.max {
		var oldest net.Conn
		var at time.Time
		for oc, st := range l.conns {
			if !st.active && (oldest == nil || st.since.Before(at)) {
				oldest, at = oc, st.since
			}
		}
		if oldest == nil {
			return false
		}
		delete(l.conns, oldest)
		oldest.Close()
		l.evicted.Add(1)
	}
	l.conns[c] = &connState{since: l.now()}
	return true
}

// track is the http.Server's ConnState hook: it forgets closed
// connections. A connection counts as serving only from the moment its
// request is complete (serving, called by the handler): a client that
// sends a request byte by byte stays evictable.
func (l *connLimiter) track(c net.Conn, s http.ConnState) {
	if s == http.StateClosed || s == http.StateHijacked {
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
	}
}

// serving marks c as serving a request, or done with it.
func (l *connLimiter) serving(c net.Conn, on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st, ok := l.conns[c]; ok {
		st.active = on
		if !on {
			st.since = l.now()
		}
	}
}

// open is the number of connections held.
func (l *connLimiter) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}
