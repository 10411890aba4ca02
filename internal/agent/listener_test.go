package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hagen-ha/hagen/contract"
)

// pipeConn is one side of a net.Pipe that records Close.
type pipeConn struct {
	net.Conn
	closed bool
}

func (p *pipeConn) Close() error { p.closed = true; return p.Conn.Close() }

func newPipeConn() *pipeConn {
	a, _ := net.Pipe()
	return &pipeConn{Conn: a}
}

// At the cap the longest-waiting connection not serving a request is
// closed for the new one; a serving connection never is; with every
// connection serving, the new one is refused.
func TestConnLimiterEvictsIdle(t *testing.T) {
	lim := newConnLimiter(3, nil)
	clock := time.Unix(0, 0)
	lim.now = func() time.Time { clock = clock.Add(time.Millisecond); return clock }
	c := []*pipeConn{newPipeConn(), newPipeConn(), newPipeConn(), newPipeConn(), newPipeConn()}
	for i := range 3 {
		if !lim.admit(c[i]) {
			t.Fatalf("conn %d refused below the cap", i)
		}
	}
	lim.serving(c[0], true) // c0 serves; c1 is the oldest idle
	if !lim.admit(c[3]) {
		t.Fatal("a new connection was refused while idle ones were open")
	}
	if c[0].closed || !c[1].closed || c[2].closed {
		t.Errorf("closed: c0 %v c1 %v c2 %v; want only c1 (the oldest idle)", c[0].closed, c[1].closed, c[2].closed)
	}
	lim.serving(c[2], true)
	lim.serving(c[3], true)
	if lim.admit(c[4]) {
		t.Error("admitted a connection while every open one was serving")
	}
	if lim.open() != 3 || lim.evicted.Load() != 1 {
		t.Errorf("open %d, evicted %d", lim.open(), lim.evicted.Load())
	}
	// A connection the server closed frees its place.
	lim.track(c[0], http.StateClosed)
	if !lim.admit(c[4]) {
		t.Error("refused after a connection closed")
	}
}

func TestConnLimiterAllowFrom(t *testing.T) {
	lim := newConnLimiter(10, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/24")})
	for addr, want := range map[string]bool{
		"127.0.0.1:5": true, "10.0.0.200:5": true, "10.0.1.1:5": false, "[::1]:5": false, "[::ffff:10.0.0.3]:5": true,
	} {
		a, _ := net.ResolveTCPAddr("tcp", addr)
		if got := lim.allowed(a); got != want {
			t.Errorf("allowed(%s) = %v, want %v", addr, got, want)
		}
	}
}

// serveFake runs serve() with a fake source on loopback and returns its
// address.
func serveFake(t *testing.T, cfg *contract.AgentConfig, src roleSource) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, src, log.New(pw, "", 0)); pw.Close() }()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		cancel()
		t.Fatalf("no output: %v", <-done)
	}
	_, addr, _ := strings.Cut(lines.Text(), " on ")
	addr, _, _ = strings.Cut(addr, " ")
	go func() {
		for lines.Scan() {
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return addr
}

// The server's limits: a client that sends nothing is closed after
// readHeaderTimeout; a response closes the connection (no keep-alive);
// oversized headers are refused; a source outside allowFrom gets nothing.
func TestServerLimits(t *testing.T) {
	cfg := agentConfig(contract.AgentDatabase{Host: "/run/x", Port: 5432, ConnectTimeout: 1}, false)
	addr := serveFake(t, cfg, &fakeSource{st: writable})

	t.Run("silent client", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		t0 := time.Now()
		c.SetReadDeadline(time.Now().Add(readHeaderTimeout + 5*time.Second))
		n, err := c.Read(make([]byte, 1))
		if n != 0 || err != io.EOF {
			t.Fatalf("a silent connection read %d bytes, %v; want EOF from the server", n, err)
		}
		t.Logf("a silent connection was closed after %s (readHeaderTimeout %s)", time.Since(t0).Round(10*time.Millisecond), readHeaderTimeout)
	})

	t.Run("no keep-alive", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprint(c, "GET /primary HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 || !resp.Close {
			t.Errorf("status %d, Connection close %v; want 200 and close", resp.StatusCode, resp.Close)
		}
		if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("the connection stayed open after the response: %d %v", n, err)
		}
	})

	t.Run("large headers", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /primary HTTP/1.1\r\nHost: a\r\nX-Big: %s\r\n\r\n", strings.Repeat("x", 64<<10))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("64 KiB of headers: %d, want 431", resp.StatusCode)
		}
	})

	t.Run("allowFrom", func(t *testing.T) {
		cfg := agentConfig(contract.AgentDatabase{Host: "/run/x", Port: 5432, ConnectTimeout: 1}, false)
		cfg.AllowFrom = []string{"10.0.0.0/24"}
		addr := serveFake(t, cfg, &fakeSource{st: writable})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprint(c, "GET /primary HTTP/1.1\r\nHost: a\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 64)); n != 0 {
			t.Errorf("a source outside allowFrom got %d bytes (%v)", n, err)
		}
	})
}

// blockingSource answers only when released or when its context ends.
type blockingSource struct {
	started chan struct{}
	release chan struct{}
}

func (b *blockingSource) status(ctx context.Context) (status, error) {
	b.started <- struct{}{}
	select {
	case <-ctx.Done():
		return status{}, ctx.Err()
	case <-b.release:
		return writable, nil
	}
}

// A request waits for the status at most answerWithin, then gets 503
// naming the wait; with maxInFlight requests waiting, the next waits
// queueWait for a slot and gets 503 busy.
func TestHandlerBounds(t *testing.T) {
	src := &blockingSource{started: make(chan struct{}, maxInFlight+1), release: make(chan struct{})}
	h := newHandler("db0", nil, src, log.New(io.Discard, "", 0))
	h.answerWithin = 300 * time.Millisecond
	code, body := get(t, h, "GET", "/primary")
	if code != 503 || !strings.Contains(body, "the database does not answer") {
		t.Errorf("a database that never answers: %d %q", code, body)
	}
	<-src.started

	h.answerWithin = 10 * time.Second
	done := make(chan struct{})
	for range maxInFlight {
		go func() { get(t, h, "GET", "/primary"); done <- struct{}{} }()
		<-src.started
	}
	t0 := time.Now()
	code, body = get(t, h, "GET", "/primary")
	if code != 503 || !strings.Contains(body, "busy") {
		t.Errorf("request %d: %d %q, want 503 busy", maxInFlight+1, code, body)
	}
	if waited := time.Since(t0); waited < queueWait {
		t.Errorf("the extra request waited %s, want queueWait (%s)", waited, queueWait)
	}
	close(src.release)
	for range maxInFlight {
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatal("the blocked requests did not finish")
		}
	}
}
