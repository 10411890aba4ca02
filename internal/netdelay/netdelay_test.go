package netdelay

import (
	"bufio"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// TestDelay: an echo through the relay takes at least twice the delay
// (once each way) and the bytes arrive intact; the relay half-closes.
func TestDelay(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	const delay = 150 * time.Millisecond
	relay, err := New(Config{To: echo.Addr().String(), Delay: delay})
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- relay.Serve(ctx, ln, io.Discard) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for i := range 3 {
		start := time.Now()
		if _, err := c.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line != "ping\n" {
			t.Fatalf("round %d: got %q", i, line)
		}
		if rtt := time.Since(start); rtt < 2*delay {
			t.Errorf("round %d: round trip %s, shorter than twice the delay %s", i, rtt, delay)
		}
	}
	// Fast again: the open connection goes on without the delay.
	relay.SetDelay(0)
	start := time.Now()
	if _, err := c.Write([]byte("pong\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "pong\n" {
		t.Fatalf("after SetDelay(0): %q, %v", line, err)
	}
	if rtt := time.Since(start); rtt >= 2*delay {
		t.Errorf("after SetDelay(0) the round trip took %s", rtt)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	if _, err := r.ReadString('\n'); err != io.EOF {
		t.Errorf("after the half-close: %v, want EOF", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
