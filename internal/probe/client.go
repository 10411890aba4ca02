package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Mode is what the client stand-in does.
type Mode string

const (
	// ModeHA writes continuously with the guide's HA rules: a random
	// first choice among the N servers, and on a failure a wait of the
	// reconnect delay and a failover to the next server in round robin.
	ModeHA Mode = "ha"
	// ModeDirect writes continuously to one server (ServerIndex); after a
	// failure it waits the reconnect delay and reconnects to the same one.
	ModeDirect Mode = "direct"
	// ModeDistribution runs Sessions independent sessions, each with a
	// fresh random first choice and a fresh connection, that each ask the
	// server its site once (GET /site), failing over like ModeHA.
	ModeDistribution Mode = "distribution"
)

// Resolver resolves a host name; *net.Resolver is one.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// DNSResolver resolves through one DNS server (host:port) with Go's own
// resolver, so the machine's resolv.conf and any cache are bypassed and
// every connect sees the current record.
func DNSResolver(server string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		},
	}
}

// ClientConfig configures the client stand-in.
type ClientConfig struct {
	// Servers are named 0.Domain .. (Servers-1).Domain, all on Port.
	Domain  string
	Servers int
	Port    int
	// ReconnectDelay is waited after a failure before the next attempt.
	ReconnectDelay time.Duration
	Mode           Mode
	// ServerIndex is the server of ModeDirect.
	ServerIndex int
	// Duration ends the run (zero: until ctx is done).
	Duration time.Duration
	// Interval is the pause between two writes.
	Interval time.Duration
	// Sessions is the number of sessions of ModeDistribution.
	Sessions int
	// ClientID prefixes write ids: <ClientID>-<sequence>.
	ClientID string
	// Timeout bounds each request (zero: 2 s).
	Timeout time.Duration

	// Hooks for tests; nil means the real thing.
	Resolver Resolver                                                          // the system resolver
	Dial     func(ctx context.Context, network, addr string) (net.Conn, error) // net.Dialer
	Sleep    func(ctx context.Context, d time.Duration) error                  // a timer; fails when ctx is done
	Now      func() time.Time                                                  // time.Now
	Rand     func(n int) int                                                   // math/rand/v2 IntN
}

// ServerName is the DNS name of server i: "<i>.<domain>".
func (c ClientConfig) ServerName(i int) string {
	return strconv.Itoa(i) + "." + c.Domain
}

func (c *ClientConfig) check() error {
	var errs []string
	if c.Domain == "" {
		errs = append(errs, "domain is empty")
	}
	if c.Servers < 1 {
		errs = append(errs, "servers must be at least 1")
	}
	if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, fmt.Sprintf("port %d out of range", c.Port))
	}
	if c.ReconnectDelay < 0 || c.Interval < 0 || c.Duration < 0 || c.Timeout < 0 {
		errs = append(errs, "durations must not be negative")
	}
	switch c.Mode {
	case ModeHA:
	case ModeDirect:
		if c.ServerIndex < 0 || c.ServerIndex >= c.Servers {
			errs = append(errs, fmt.Sprintf("server index %d not in 0..%d", c.ServerIndex, c.Servers-1))
		}
	case ModeDistribution:
		if c.Sessions < 1 {
			errs = append(errs, "distribution needs at least 1 session")
		}
	default:
		errs = append(errs, fmt.Sprintf("mode %q is not ha, direct or distribution", c.Mode))
	}
	if c.Mode != ModeDistribution && c.ClientID == "" {
		errs = append(errs, "client id is empty")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// RunClient runs the client stand-in until its Duration has passed or ctx
// is done, writing one JSON Event per line to out. A request in flight
// when ctx ends is completed (within Timeout) and recorded, so that a
// write the server acknowledged is never missing from the output.
func RunClient(ctx context.Context, c ClientConfig, out io.Writer) error {
	if err := c.check(); err != nil {
		return err
	}
	r := &runner{c: c, out: &eventWriter{w: out}}
	if r.c.Timeout == 0 {
		r.c.Timeout = 2 * time.Second
	}
	if r.c.Resolver == nil {
		r.c.Resolver = net.DefaultResolver
	}
	if r.c.Dial == nil {
		var d net.Dialer
		r.c.Dial = d.DialContext
	}
	if r.c.Sleep == nil {
		r.c.Sleep = sleep
	}
	if r.c.Now == nil {
		r.c.Now = time.Now
	}
	if r.c.Rand == nil {
		r.c.Rand = rand.IntN
	}
	if c.Duration > 0 {
		r.deadline = r.c.Now().Add(c.Duration)
	}
	switch c.Mode {
	case ModeDistribution:
		r.distribution(ctx)
	default:
		r.writes(ctx)
	}
	return r.out.err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type runner struct {
	c        ClientConfig
	out      *eventWriter
	deadline time.Time // zero: none
	seq      int
}

// stopped reports whether the run is over.
func (r *runner) stopped(ctx context.Context) bool {
	return ctx.Err() != nil || (!r.deadline.IsZero() && !r.c.Now().Before(r.deadline))
}

// wait sleeps d, or until the deadline if that comes first; false when
// the run is over.
func (r *runner) wait(ctx context.Context, d time.Duration) bool {
	if !r.deadline.IsZero() {
		if left := r.deadline.Sub(r.c.Now()); left < d {
			d = left
		}
	}
	if d > 0 {
		if err := r.c.Sleep(ctx, d); err != nil {
			return false
		}
	}
	return !r.stopped(ctx)
}

func (r *runner) emit(e Event) {
	e.T = r.c.Now().UnixNano()
	r.out.emit(e)
}

// writes is ModeHA and ModeDirect.
func (r *runner) writes(ctx context.Context) {
	i := r.c.ServerIndex
	if r.c.Mode == ModeHA {
		i = r.c.Rand(r.c.Servers)
	}
	for !r.stopped(ctx) {
		var cause string
		s, ev := r.connect(ctx, i, 0)
		if ev.OK {
			for {
				ev := s.write(ctx, r)
				if !ev.OK {
					cause = ev.Err
					break
				}
				if !r.wait(ctx, r.c.Interval) {
					s.close()
					return
				}
			}
		} else {
			cause = ev.Err
		}
		s.close()
		if r.stopped(ctx) || !r.wait(ctx, r.c.ReconnectDelay) {
			return
		}
		if r.c.Mode == ModeHA {
			next := (i + 1) % r.c.Servers
			r.emit(Event{Op: OpFailover, From: r.c.ServerName(i), Server: r.c.ServerName(next), Err: cause})
			i = next
		}
	}
}

// distribution is ModeDistribution.
func (r *runner) distribution(ctx context.Context) {
	for n := 1; n <= r.c.Sessions && !r.stopped(ctx); n++ {
		i := r.c.Rand(r.c.Servers)
		// At most one round over the servers per session.
		for try := 0; try < r.c.Servers; try++ {
			s, ev := r.connect(ctx, i, n)
			s.close()
			if ev.OK || try == r.c.Servers-1 {
				break
			}
			if !r.wait(ctx, r.c.ReconnectDelay) {
				return
			}
			next := (i + 1) % r.c.Servers
			r.emit(Event{Op: OpFailover, From: r.c.ServerName(i), Server: r.c.ServerName(next), Err: ev.Err, Session: n})
			i = next
		}
	}
}

// session is a connection to one server: its name resolved once, and an
// HTTP transport of its own, so a new session always opens a new TCP
// connection (as a gRPC client opens a new channel).
type session struct {
	name, addr string
	tr         *http.Transport
	hc         *http.Client
	base       string
}

func (s *session) close() {
	if s != nil && s.tr != nil {
		s.tr.CloseIdleConnections()
	}
}

// connect resolves server i and asks it for its site; it records one
// OpConnect event, which it also returns.
func (r *runner) connect(ctx context.Context, i, sessionNo int) (*session, Event) {
	name := r.c.ServerName(i)
	ev := Event{Op: OpConnect, Server: name, Session: sessionNo}
	rctx, cancel := r.requestContext(ctx)
	defer cancel()
	addrs, err := r.c.Resolver.LookupHost(rctx, name)
	if err == nil && len(addrs) == 0 {
		err = fmt.Errorf("no address for %s", name)
	}
	if err != nil {
		ev.Err = err.Error()
		r.emit(ev)
		return nil, ev
	}
	addr := net.JoinHostPort(addrs[0], strconv.Itoa(r.c.Port))
	ev.Addr = addrs[0]
	dial := r.c.Dial
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dial(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
	}
	s := &session{
		name: name, addr: addrs[0], tr: tr,
		hc:   &http.Client{Transport: tr, Timeout: r.c.Timeout},
		base: "http://" + net.JoinHostPort(name, strconv.Itoa(r.c.Port)),
	}
	start := time.Now()
	reply, err := s.do(rctx, http.MethodGet, "/site", nil)
	ev.LatencyNs = time.Since(start).Nanoseconds()
	ev.Site = reply.Site
	if err != nil {
		ev.Err = err.Error()
	} else {
		ev.OK = true
	}
	r.emit(ev)
	return s, ev
}

// write makes one write and records it.
func (s *session) write(ctx context.Context, r *runner) Event {
	r.seq++
	id := r.c.ClientID + "-" + strconv.Itoa(r.seq)
	ev := Event{Op: OpWrite, ID: id, Server: s.name, Addr: s.addr}
	rctx, cancel := r.requestContext(ctx)
	defer cancel()
	start := time.Now()
	reply, err := s.do(rctx, http.MethodPost, "/write", url.Values{"id": {id}, "client": {r.c.ClientID}})
	ev.LatencyNs = time.Since(start).Nanoseconds()
	ev.Site = reply.Site
	switch {
	case err != nil:
		ev.Err = err.Error()
	case reply.ID != id:
		ev.Err = fmt.Sprintf("server acknowledged id %q, want %q", reply.ID, id)
	default:
		ev.OK = true
	}
	r.emit(ev)
	return ev
}

// requestContext is not cancelled by ctx, so that a request in flight
// when the run is stopped still completes and is recorded; Timeout
// bounds it.
func (r *runner) requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), r.c.Timeout)
}

type reply struct {
	Site  string `json:"site"`
	ID    string `json:"id"`
	Error string `json:"error"`
}

func (s *session) do(ctx context.Context, method, path string, q url.Values) (reply, error) {
	u := s.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return reply{}, err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	var rep reply
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return reply{}, err
	}
	jerr := json.Unmarshal(body, &rep)
	if resp.StatusCode != http.StatusOK {
		msg := rep.Error
		if msg == "" {
			msg = strings.TrimSpace(string(body))
		}
		return rep, fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	}
	if jerr != nil {
		return rep, fmt.Errorf("bad reply: %v", jerr)
	}
	return rep, nil
}
