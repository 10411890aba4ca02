package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeNet stands in for DNS and the network: names resolve to made-up
// addresses, and dialing an address reaches the httptest server behind it
// unless that address is down.
type fakeNet struct {
	mu      sync.Mutex
	ips     map[string]string           // name -> address
	servers map[string]*httptest.Server // address -> server
	down    map[string]bool             // address -> refuses connections
	stores  map[string]*fakeStore       // address -> the server's database
	hosts   map[string][]string         // address -> Host headers seen
}

// newFakeNet starts one server per site: name i.ha.test resolves to
// 10.0.0.<10+i> and is served by sites[i].
func newFakeNet(t *testing.T, sites ...string) *fakeNet {
	f := &fakeNet{ips: map[string]string{}, servers: map[string]*httptest.Server{}, down: map[string]bool{}, stores: map[string]*fakeStore{}, hosts: map[string][]string{}}
	for i, site := range sites {
		ip := fmt.Sprintf("10.0.0.%d", 10+i)
		f.ips[fmt.Sprintf("%d.ha.test", i)] = ip
		store := newFakeStore()
		h := NewHandler(site, store, time.Second, nil)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			f.hosts[ip] = append(f.hosts[ip], r.Host)
			f.mu.Unlock()
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		f.servers[ip], f.stores[ip] = srv, store
	}
	return f
}

func (f *fakeNet) LookupHost(_ context.Context, host string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ip, ok := f.ips[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []string{ip}, nil
}

func (f *fakeNet) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if port != "8001" {
		return nil, fmt.Errorf("dial %s: client used port %s, want 8001", addr, port)
	}
	f.mu.Lock()
	srv, down := f.servers[host], f.down[host]
	f.mu.Unlock()
	if srv == nil || down {
		return nil, fmt.Errorf("dial tcp %s: connect: connection refused", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, srv.Listener.Addr().String())
}

// kill makes server i refuse new connections and drops its open ones.
func (f *fakeNet) kill(i int) {
	ip := f.ips[fmt.Sprintf("%d.ha.test", i)]
	f.mu.Lock()
	f.down[ip] = true
	f.mu.Unlock()
	f.servers[ip].CloseClientConnections()
}

func (f *fakeNet) revive(i int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down[f.ips[fmt.Sprintf("%d.ha.test", i)]] = false
}

func (f *fakeNet) store(i int) *fakeStore {
	return f.stores[f.ips[fmt.Sprintf("%d.ha.test", i)]]
}

// fakeClock advances only when the client sleeps; every sleep is
// recorded, and onSleep runs after each with the new time.
type fakeClock struct {
	now     time.Time
	sleeps  []time.Duration
	onSleep func(now time.Time)
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	if c.onSleep != nil {
		c.onSleep(c.now)
	}
	return ctx.Err()
}

// randSeq returns the given choices in turn.
func randSeq(t *testing.T, choices ...int) func(n int) int {
	return func(n int) int {
		if len(choices) == 0 {
			t.Fatal("client asked for more random choices than the test provides")
		}
		c := choices[0]
		choices = choices[1:]
		if c >= n {
			t.Fatalf("test choice %d not below %d", c, n)
		}
		return c
	}
}

func baseConfig(f *fakeNet, clock *fakeClock, servers int) ClientConfig {
	return ClientConfig{
		Domain: "ha.test", Servers: servers, Port: 8001,
		ReconnectDelay: 5 * time.Second, Interval: 50 * time.Millisecond,
		ClientID: "c", Timeout: time.Second,
		Resolver: f, Dial: f.Dial, Sleep: clock.Sleep, Now: clock.Now,
	}
}

// brief is the part of an event a test compares: the time relative to the
// start in milliseconds and what happened.
type brief struct {
	Ms                   int64
	Op, ID, Server, From string
	Site                 string
	OK                   bool
	Session              int
}

func run(t *testing.T, ctx context.Context, c ClientConfig) ([]Event, []brief) {
	t.Helper()
	start := c.Now()
	var out bytes.Buffer
	if err := RunClient(ctx, c, &out); err != nil {
		t.Fatalf("RunClient: %v", err)
	}
	events, err := ParseEvents(&out)
	if err != nil {
		t.Fatalf("ParseEvents: %v\n%s", err, out.String())
	}
	var briefs []brief
	for _, e := range events {
		briefs = append(briefs, brief{
			Ms: e.Time().Sub(start).Milliseconds(), Op: e.Op, ID: e.ID, Server: e.Server, From: e.From,
			Site: e.Site, OK: e.OK, Session: e.Session,
		})
	}
	return events, briefs
}

// The first choice is down: the client waits the reconnect delay, then
// fails over to the next server and writes there.
func TestClientFirstChoiceDown(t *testing.T) {
	f := newFakeNet(t, "site0", "site1")
	f.kill(0)
	clock := &fakeClock{now: t0}
	c := baseConfig(f, clock, 2)
	c.Mode = ModeHA
	c.Rand = randSeq(t, 0)
	c.Duration = 5*time.Second + 100*time.Millisecond
	events, got := run(t, context.Background(), c)
	want := []brief{
		{Ms: 0, Op: OpConnect, Server: "0.ha.test"},
		{Ms: 5000, Op: OpFailover, Server: "1.ha.test", From: "0.ha.test"},
		{Ms: 5000, Op: OpConnect, Server: "1.ha.test", Site: "site1", OK: true},
		{Ms: 5000, Op: OpWrite, ID: "c-1", Server: "1.ha.test", Site: "site1", OK: true},
		{Ms: 5050, Op: OpWrite, ID: "c-2", Server: "1.ha.test", Site: "site1", OK: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{5 * time.Second, 50 * time.Millisecond, 50 * time.Millisecond}, clock.sleeps); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
	if e := events[0]; !strings.Contains(e.Err, "connection refused") || e.Addr != "10.0.0.10" {
		t.Errorf("first connect: err %q addr %q, want connection refused at 10.0.0.10", e.Err, e.Addr)
	}
	if e := events[1]; !strings.Contains(e.Err, "connection refused") {
		t.Errorf("failover err %q, want the cause", e.Err)
	}
	// The writes reached the database of site1, under the client's id.
	for _, id := range []string{"c-1", "c-2"} {
		if _, err := f.store(1).Read(context.Background(), id); err != nil {
			t.Errorf("site1 row %s: %v", id, err)
		}
		if got := f.store(1).clients[id]; got != "c" {
			t.Errorf("row %s client %q, want c", id, got)
		}
	}
	// The server was addressed by its name, as a virtual host would need.
	for _, h := range f.hosts["10.0.0.11"] {
		if h != "1.ha.test:8001" {
			t.Errorf("Host header %q, want 1.ha.test:8001", h)
		}
	}
}

// The current server dies while the client writes: the failed write is
// recorded, the client waits the reconnect delay and continues on the
// next server; the analysis sees the delay in RTO and write gap.
func TestClientFailsOverWhenServerDies(t *testing.T) {
	f := newFakeNet(t, "site0", "site1")
	clock := &fakeClock{now: t0}
	fault := t0.Add(100 * time.Millisecond)
	clock.onSleep = func(now time.Time) {
		if now.Equal(fault) {
			f.kill(1)
		}
	}
	c := baseConfig(f, clock, 2)
	c.Mode = ModeHA
	c.Rand = randSeq(t, 1)
	c.Duration = 5*time.Second + 200*time.Millisecond
	events, got := run(t, context.Background(), c)
	want := []brief{
		{Ms: 0, Op: OpConnect, Server: "1.ha.test", Site: "site1", OK: true},
		{Ms: 0, Op: OpWrite, ID: "c-1", Server: "1.ha.test", Site: "site1", OK: true},
		{Ms: 50, Op: OpWrite, ID: "c-2", Server: "1.ha.test", Site: "site1", OK: true},
		{Ms: 100, Op: OpWrite, ID: "c-3", Server: "1.ha.test"},
		{Ms: 5100, Op: OpFailover, Server: "0.ha.test", From: "1.ha.test"},
		{Ms: 5100, Op: OpConnect, Server: "0.ha.test", Site: "site0", OK: true},
		{Ms: 5100, Op: OpWrite, ID: "c-4", Server: "0.ha.test", Site: "site0", OK: true},
		{Ms: 5150, Op: OpWrite, ID: "c-5", Server: "0.ha.test", Site: "site0", OK: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if rto, ok := RTO(events, fault); !ok || rto != 5*time.Second {
		t.Errorf("RTO = %v, %v; want 5s", rto, ok)
	}
	if gap, ok := WriteGap(events, fault); !ok || gap != 5050*time.Millisecond {
		t.Errorf("WriteGap = %v, %v; want 5.05s", gap, ok)
	}
	if diff := cmp.Diff([]string{"c-1", "c-2", "c-4", "c-5"}, Acked(events)); diff != "" {
		t.Errorf("Acked (-want +got):\n%s", diff)
	}
}

// A database that fails behind a live server (503) is a failure too.
func TestClientFailsOverWhenDatabaseFails(t *testing.T) {
	f := newFakeNet(t, "site0", "site1")
	f.store(0).down = errors.New("connection refused")
	clock := &fakeClock{now: t0}
	c := baseConfig(f, clock, 2)
	c.Mode = ModeHA
	c.Rand = randSeq(t, 0)
	c.Duration = 5*time.Second + 10*time.Millisecond
	events, _ := run(t, context.Background(), c)
	if len(events) < 2 {
		t.Fatalf("events %+v, want a failed connect and a failover", events)
	}
	if e := events[0]; e.Op != OpConnect || e.OK || e.Site != "site0" || e.Err != "HTTP 503: connection refused" {
		t.Errorf("first event %+v, want a failed connect to site0 with HTTP 503", e)
	}
	if e := events[1]; e.Op != OpFailover || e.Server != "1.ha.test" {
		t.Errorf("second event %+v, want failover to 1.ha.test", e)
	}
}

// Round robin from the first choice: with every server down the client
// visits 2, 0, 1, 2, ..., waiting the reconnect delay before each.
func TestClientRoundRobinOrder(t *testing.T) {
	f := newFakeNet(t, "site0", "site0", "site1")
	for i := 0; i < 3; i++ {
		f.kill(i)
	}
	clock := &fakeClock{now: t0}
	c := baseConfig(f, clock, 3)
	c.Mode = ModeHA
	c.Rand = randSeq(t, 2)
	c.ReconnectDelay = time.Second
	c.Duration = 4500 * time.Millisecond
	_, got := run(t, context.Background(), c)
	var order []string
	for _, b := range got {
		if b.Op == OpConnect {
			if b.OK {
				t.Errorf("connect to %s succeeded to a dead server", b.Server)
			}
			order = append(order, fmt.Sprintf("%d:%s", b.Ms, b.Server))
		}
	}
	want := []string{"0:2.ha.test", "1000:0.ha.test", "2000:1.ha.test", "3000:2.ha.test", "4000:0.ha.test"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("connect order (-want +got):\n%s", diff)
	}
	// The last delay is cut at the end of the run.
	if diff := cmp.Diff([]time.Duration{time.Second, time.Second, time.Second, time.Second, 500 * time.Millisecond}, clock.sleeps); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
}

// Direct mode never fails over: after the delay it reconnects to its own
// server.
func TestClientDirectReconnectsToItsServer(t *testing.T) {
	f := newFakeNet(t, "site0", "site1")
	f.kill(1)
	clock := &fakeClock{now: t0}
	clock.onSleep = func(now time.Time) {
		if now.Equal(t0.Add(10 * time.Second)) {
			f.revive(1)
		}
	}
	c := baseConfig(f, clock, 2)
	c.Mode = ModeDirect
	c.ServerIndex = 1
	c.Duration = 10*time.Second + 50*time.Millisecond
	_, got := run(t, context.Background(), c)
	want := []brief{
		{Ms: 0, Op: OpConnect, Server: "1.ha.test"},
		{Ms: 5000, Op: OpConnect, Server: "1.ha.test"},
		{Ms: 10000, Op: OpConnect, Server: "1.ha.test", Site: "site1", OK: true},
		{Ms: 10000, Op: OpWrite, ID: "c-1", Server: "1.ha.test", Site: "site1", OK: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// Distribution mode: each session makes a fresh random first choice and
// records the site; a session whose choice is down fails over to the
// next server after the delay.
func TestClientDistribution(t *testing.T) {
	f := newFakeNet(t, "site0", "site0", "site1")
	f.kill(1)
	clock := &fakeClock{now: t0}
	c := baseConfig(f, clock, 3)
	c.Mode = ModeDistribution
	c.ClientID = ""
	c.Sessions = 4
	c.Rand = randSeq(t, 0, 2, 1, 2)
	events, got := run(t, context.Background(), c)
	want := []brief{
		{Ms: 0, Op: OpConnect, Server: "0.ha.test", Site: "site0", OK: true, Session: 1},
		{Ms: 0, Op: OpConnect, Server: "2.ha.test", Site: "site1", OK: true, Session: 2},
		{Ms: 0, Op: OpConnect, Server: "1.ha.test", Session: 3},
		{Ms: 5000, Op: OpFailover, Server: "2.ha.test", From: "1.ha.test", Session: 3},
		{Ms: 5000, Op: OpConnect, Server: "2.ha.test", Site: "site1", OK: true, Session: 3},
		{Ms: 5000, Op: OpConnect, Server: "2.ha.test", Site: "site1", OK: true, Session: 4},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]float64{"site0": 0.25, "site1": 0.75}, Shares(events)); diff != "" {
		t.Errorf("Shares (-want +got):\n%s", diff)
	}
}

// Stopping the run (SIGTERM) ends it at once; what was recorded is
// complete lines.
func TestClientStopsOnCancel(t *testing.T) {
	f := newFakeNet(t, "site0")
	clock := &fakeClock{now: t0}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock.onSleep = func(now time.Time) {
		if now.Equal(t0.Add(100 * time.Millisecond)) {
			cancel()
		}
	}
	c := baseConfig(f, clock, 1)
	c.Mode = ModeHA
	c.Rand = randSeq(t, 0)
	_, got := run(t, ctx, c)
	if n := len(got); n != 3 || got[n-1].ID != "c-2" {
		t.Errorf("events %+v, want connect and writes c-1, c-2", got)
	}
}

func TestClientConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*ClientConfig)
		want string
	}{
		{"no servers", func(c *ClientConfig) { c.Servers = 0 }, "servers must be at least 1"},
		{"bad mode", func(c *ClientConfig) { c.Mode = "roundrobin" }, `mode "roundrobin" is not ha, direct or distribution`},
		{"direct index", func(c *ClientConfig) { c.Mode = ModeDirect; c.ServerIndex = 2 }, "server index 2 not in 0..1"},
		{"no sessions", func(c *ClientConfig) { c.Mode = ModeDistribution }, "distribution needs at least 1 session"},
		{"no client id", func(c *ClientConfig) { c.ClientID = "" }, "client id is empty"},
		{"no domain", func(c *ClientConfig) { c.Domain = "" }, "domain is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ClientConfig{Domain: "ha.test", Servers: 2, Port: 8001, Mode: ModeHA, ClientID: "c"}
			tt.edit(&c)
			err := RunClient(context.Background(), c, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("RunClient error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseEvents(t *testing.T) {
	in := `{"t":1,"op":"connect","server":"0.ha.test","addr":"10.0.0.10","site":"site0","ok":true}

{"t":2,"op":"write","id":"c-1","server":"0.ha.test","site":"site0","ok":true}
{"t":3,"op":"write","id":"c-2","server":"0.ha.test","ok":false,"err":"HTTP 503: x"}
{"t":4,"op":"wri`
	got, err := ParseEvents(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{T: 1, Op: OpConnect, Server: "0.ha.test", Addr: "10.0.0.10", Site: "site0", OK: true},
		{T: 2, Op: OpWrite, ID: "c-1", Server: "0.ha.test", Site: "site0", OK: true},
		{T: 3, Op: OpWrite, ID: "c-2", Server: "0.ha.test", Err: "HTTP 503: x"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	_, err = ParseEvents(strings.NewReader("{\"t\":1}\nnot json\n{\"t\":2}\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: error %v, want one naming line 2", err)
	}
}

// A distribution session tries each server once; with all of them down it
// gives up after the last, without a failover to nowhere.
func TestClientDistributionAllDown(t *testing.T) {
	f := newFakeNet(t, "site0", "site1")
	f.kill(0)
	f.kill(1)
	clock := &fakeClock{now: t0}
	c := baseConfig(f, clock, 2)
	c.Mode = ModeDistribution
	c.Sessions = 2
	c.Rand = randSeq(t, 1, 0)
	events, got := run(t, context.Background(), c)
	want := []brief{
		{Ms: 0, Op: OpConnect, Server: "1.ha.test", Session: 1},
		{Ms: 5000, Op: OpFailover, Server: "0.ha.test", From: "1.ha.test", Session: 1},
		{Ms: 5000, Op: OpConnect, Server: "0.ha.test", Session: 1},
		{Ms: 5000, Op: OpConnect, Server: "0.ha.test", Session: 2},
		{Ms: 10000, Op: OpFailover, Server: "1.ha.test", From: "0.ha.test", Session: 2},
		{Ms: 10000, Op: OpConnect, Server: "1.ha.test", Session: 2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if s := Shares(events); len(s) != 0 {
		t.Errorf("Shares = %v, want none", s)
	}
}
