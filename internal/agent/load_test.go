package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hagen-ha/hagen/contract"
)

// agentConfig is an agent.json for a fake database, served on loopback.
func agentConfig(db contract.AgentDatabase, synchronous bool) *contract.AgentConfig {
	return &contract.AgentConfig{
		Site:     "db0",
		Listen:   "127.0.0.1:0",
		Database: db,
		Peers:    []contract.AgentPeer{{Site: "db1", Address: "10.0.0.12", Health: "http://10.0.0.12:8008/health"}},
		Streaming: contract.AgentStreaming{
			Primary: "db0", Synchronous: synchronous, SynchronousStandbyNames: []string{"db1"},
			OnStandbyDown: "block", StandbyNames: map[string]string{"db0": "db0", "db1": "db1"}, FailoverAfter: 3,
		},
	}
}

// runAgent runs the whole agent (Run: config file, pool, cache, keeper,
// HTTP server) until the test ends and returns its address and a way to
// read its log so far.
func runAgent(t *testing.T, cfg *contract.AgentConfig) (string, func() string) {
	t.Helper()
	data, err := contract.Encode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "agent.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, path, pw)
		pw.Close()
	}()
	var mu sync.Mutex
	var logged strings.Builder
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		cancel()
		t.Fatalf("the agent printed nothing: %v", <-done)
	}
	first := lines.Text()
	logged.WriteString(first + "\n")
	_, addr, _ := strings.Cut(first, " on ")
	addr, _, _ = strings.Cut(addr, " ")
	go func() {
		for lines.Scan() {
			mu.Lock()
			logged.WriteString(lines.Text() + "\n")
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Run did not stop")
		}
	})
	return addr, func() string {
		mu.Lock()
		defer mu.Unlock()
		return logged.String()
	}
}

// checkClient is an HTTP client like HAProxy's check: a new connection
// per check and HAProxy's default "timeout check 2s" of hagen's config.
func checkClient() *http.Client {
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, MaxConnsPerHost: 0}}
}

func getStatus(c *http.Client, url string) (int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// 300 parallel /primary requests, each on its own connection, against a
// database that takes 20 ms per statement: all are answered 200 and the
// agent opens at most its pool's connections (before the pool, 300
// requests opened 319 superuser sessions).
func TestLoadParallelRequestsShareThePool(t *testing.T) {
	pg := newFakePG(t)
	pg.set(func(f *fakePG) { f.delay = 20 * time.Millisecond })
	addr, _ := runAgent(t, agentConfig(pg.db(), true))
	const n = 300
	var wg sync.WaitGroup
	codes := make([]int, n)
	errs := make([]error, n)
	took := make([]time.Duration, n)
	start := make(chan struct{})
	client := checkClient()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			codes[i], errs[i] = getStatus(client, "http://"+addr+"/primary")
			took[i] = time.Since(t0)
		}()
	}
	before := pg.statements.Load()
	close(start)
	wg.Wait()
	failed := 0
	for i := range n {
		if errs[i] != nil || codes[i] != 200 {
			failed++
			if failed <= 3 {
				t.Errorf("request %d: %d %v", i, codes[i], errs[i])
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d requests failed", failed, n)
	}
	if got := pg.opened.Load(); got > poolSize {
		t.Errorf("%d parallel requests opened %d database sessions, want at most %d (the pool)", n, got, poolSize)
	}
	if got := pg.maxOpen.Load(); got > poolSize {
		t.Errorf("%d database sessions were open at once, want at most %d", got, poolSize)
	}
	t.Logf("%d parallel /primary: %d database sessions opened (at most %d open at once), %d statements; latency p50 %s, p99 %s, max %s",
		n, pg.opened.Load(), pg.maxOpen.Load(), pg.statements.Load()-before,
		percentile(took, 0.5).Round(time.Millisecond), percentile(took, 0.99).Round(time.Millisecond), percentile(took, 1).Round(time.Millisecond))
}

// 1,100 connections that hold the agent's sockets without finishing a
// request (silent, a partial request line, or a complete keep-alive
// request they never read the answer of) do not make /primary time out:
// checks keep being answered 200 within HAProxy's 2 s check timeout, and
// the database sees no more sessions than the pool's.
func TestLoadIdleConnectionsDoNotStarveChecks(t *testing.T) {
	pg := newFakePG(t)
	addr, _ := runAgent(t, agentConfig(pg.db(), true))
	const n = 1100
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range n {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		held = append(held, c)
		switch i % 3 {
		case 1:
			fmt.Fprint(c, "GET /prim")
		case 2:
			fmt.Fprint(c, "GET /primary HTTP/1.1\r\nHost: agent\r\nConnection: keep-alive\r\n\r\n")
		}
	}
	client := checkClient()
	var took []time.Duration
	for range 20 {
		t0 := time.Now()
		code, err := getStatus(client, "http://"+addr+"/primary")
		took = append(took, time.Since(t0))
		if err != nil || code != 200 {
			t.Fatalf("/primary with %d idle connections held: %d %v", n, code, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := pg.opened.Load(); got > poolSize {
		t.Errorf("%d database sessions opened, want at most %d", got, poolSize)
	}
	t.Logf("/primary with %d idle connections held: 20 checks, p50 %s, max %s; %d database sessions",
		n, percentile(took, 0.5).Round(time.Microsecond), percentile(took, 1).Round(time.Microsecond), pg.opened.Load())
}

// Sessions are reused across probes; a session the database closed (a
// restart) is replaced without a failed check.
func TestPoolReusesAndRecovers(t *testing.T) {
	pg := newFakePG(t)
	src := newPgSource(newPool(pg.db()), contract.AgentStreaming{Synchronous: true})
	ctx := context.Background()
	for i := range 50 {
		if st, err := src.status(ctx); err != nil || st.Role != rolePrimary {
			t.Fatalf("probe %d: %+v %v", i, st, err)
		}
	}
	if got := pg.opened.Load(); got != 1 {
		t.Errorf("50 probes opened %d sessions, want 1", got)
	}
	pg.dropSessions()
	for pg.open.Load() != 0 {
		time.Sleep(time.Millisecond)
	}
	if st, err := src.status(ctx); err != nil || st.Role != rolePrimary {
		t.Errorf("the probe after a restart failed: %+v %v", st, err)
	}
	if got := pg.opened.Load(); got != 2 {
		t.Errorf("after a restart %d sessions were opened in all, want 2", got)
	}
}

// A session idle longer than connIdle is closed and replaced.
func TestPoolClosesIdleSessions(t *testing.T) {
	pg := newFakePG(t)
	p := newPool(pg.db())
	clock := time.Now()
	p.now = func() time.Time { return clock }
	src := newPgSource(p, contract.AgentStreaming{})
	ctx := context.Background()
	if _, err := src.status(ctx); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(connIdle + time.Second)
	if _, err := src.status(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pg.opened.Load(); got != 2 {
		t.Errorf("opened %d sessions, want a new one after %s idle", got, connIdle)
	}
	// The reaper closes idle sessions of a quiet agent.
	clock = clock.Add(connIdle + time.Second)
	ctx2, cancel := context.WithCancel(ctx)
	go p.reapIdle(ctx2, 10*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for pg.open.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if got := pg.open.Load(); got != 0 {
		t.Errorf("%d sessions still open after the idle time", got)
	}
}

// The sync keeper on PostgreSQL 15 with the grant puts a returning standby
// back, through the same pool; on PostgreSQL 14 (no ALTER SYSTEM grant
// for a non-superuser) it only reports, says why in the log and in
// /health, and tells the operator the statement to run.
func TestKeeperPrivileges(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version int
		alter   bool
		want    string
	}{
		{"15 with the grant", 150004, true, "keeps synchronous_standby_names"},
		{"15 without the grant", 150004, false, "reports only: hagen_agent has no ALTER SYSTEM privilege on synchronous_standby_names"},
		{"14", 140009, true, "reports only: PostgreSQL 14 cannot grant ALTER SYSTEM to a role that is not a superuser"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pg := newFakePG(t)
			pg.set(func(f *fakePG) { f.version, f.canAlter, f.names = tc.version, tc.alter, "" })
			addr, logged := runAgent(t, agentConfig(pg.db(), true))
			client := checkClient()
			deadline := time.Now().Add(10 * time.Second)
			var body string
			for time.Now().Before(deadline) {
				resp, err := client.Get("http://" + addr + "/health")
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					body = string(b)
					if strings.Contains(body, `"keeper"`) {
						break
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
			if !strings.Contains(body, `"keeper": "`+tc.want) {
				t.Fatalf("/health does not show the keeper as %q:\n%s", tc.want, body)
			}
			// Wait for the keeper's decision: the change, or the refusal in the log.
			keeps := tc.want == "keeps synchronous_standby_names"
			refusal := `run ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 ("db1")'; SELECT pg_reload_conf(); as the superuser`
			var altered []string
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				pg.mu.Lock()
				altered = append([]string(nil), pg.altered...)
				pg.mu.Unlock()
				if keeps && len(altered) > 0 || !keeps && strings.Contains(logged(), refusal) {
					break
				}
			}
			if keeps {
				if len(altered) != 1 || altered[0] != `FIRST 1 ("db1")` {
					t.Errorf("ALTER SYSTEM calls = %q, want one with FIRST 1 (\"db1\")", altered)
				}
			} else {
				if len(altered) != 0 {
					t.Errorf("the keeper ran ALTER SYSTEM without the privilege: %q", altered)
				}
				if !strings.Contains(logged(), refusal) {
					t.Errorf("the log does not tell the operator what to run:\n%s", logged())
				}
			}
			if got := pg.maxOpen.Load(); got > poolSize {
				t.Errorf("%d sessions open at once", got)
			}
		})
	}
}
