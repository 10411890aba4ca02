// Package netdelay is a TCP relay that holds every byte for a fixed time
// in each direction: verify's slow link, since the kernel verify runs on
// may have no netem. It runs as `hagen netdelay` inside a site host and
// an iptables DNAT rule sends the link's connections through it.
package netdelay

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config is one relay.
type Config struct {
	// Listen is the address the relay accepts on; To the address it
	// relays each connection to.
	Listen, To string
	// Delay is added to every byte in each direction (a round trip
	// gains twice Delay).
	Delay time.Duration
	// Mark, when not zero, is the SO_MARK of the relay's own connections
	// to To, so that the DNAT rule that sends a link through the relay
	// can leave them alone (Linux; needs CAP_NET_ADMIN).
	Mark int
}

// Relay is a running relay; its delay can change while it runs (the
// link gets fast again, the connections it relays stay open).
type Relay struct {
	cfg   Config
	delay atomic.Int64
}

// New returns a relay for cfg.
func New(cfg Config) (*Relay, error) {
	if cfg.Delay < 0 {
		return nil, fmt.Errorf("delay %s is negative", cfg.Delay)
	}
	r := &Relay{cfg: cfg}
	r.delay.Store(int64(cfg.Delay))
	return r, nil
}

// SetDelay changes the delay of every byte read from now on.
func (r *Relay) SetDelay(d time.Duration) { r.delay.Store(int64(d)) }

func (r *Relay) currentDelay() time.Duration { return time.Duration(r.delay.Load()) }

// Run listens on cfg.Listen and relays until ctx is done. It writes one
// line per accepted connection to log.
func (r *Relay) Run(ctx context.Context, log io.Writer) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", r.cfg.Listen)
	if err != nil {
		return err
	}
	return r.Serve(ctx, ln, log)
}

// Serve relays the connections of ln until ctx is done.
func (r *Relay) Serve(ctx context.Context, ln net.Listener, log io.Writer) error {
	cfg := r.cfg
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	d := net.Dialer{Timeout: 10 * time.Second, Control: markControl(cfg.Mark)}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		in, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer in.Close()
			out, err := d.DialContext(ctx, "tcp", cfg.To)
			if err != nil {
				fmt.Fprintf(log, "%s: dial %s: %v\n", in.RemoteAddr(), cfg.To, err)
				return
			}
			defer out.Close()
			fmt.Fprintf(log, "relaying %s to %s, %s each way\n", in.RemoteAddr(), cfg.To, r.currentDelay())
			var pw sync.WaitGroup
			pw.Add(2)
			go func() { defer pw.Done(); r.pipe(out, in) }()
			go func() { defer pw.Done(); r.pipe(in, out) }()
			stop := context.AfterFunc(ctx, func() { in.Close(); out.Close() })
			pw.Wait()
			stop()
		}()
	}
}

type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst, each chunk written the delay after it was
// read; at src's end it half-closes dst, on an error it closes both.
func (r *Relay) pipe(dst, src net.Conn) {
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{buf[:n], time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for c := range q {
		if failed {
			continue
		}
		if wait := time.Until(c.at.Add(r.currentDelay())); wait > 0 {
			time.Sleep(wait)
		}
		if _, err := dst.Write(c.b); err != nil {
			failed = true
			src.Close()
			dst.Close()
		}
	}
	if failed {
		return
	}
	if tc, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	} else {
		dst.Close()
	}
}
