package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/moby/moby/api/types/mount"

	"github.com/hagen-ha/hagen/internal/probe"
	"github.com/hagen-ha/hagen/verify/history"
)

const hagenInContainer = "/usr/local/bin/hagen"

func (c *cluster) hagenMount() ([]mount.Mount, error) {
	if c.hagenBin == "" {
		return nil, fmt.Errorf("no hagen binary for the probe stand-ins (Options.HagenBinary)")
	}
	abs, err := filepath.Abs(c.hagenBin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, err
	}
	return []mount.Mount{{Type: mount.TypeBind, Source: abs, Target: hagenInContainer, ReadOnly: true}}, nil
}

// appService is the site's app service that serves the client URL's port,
// and the port it listens on inside (the compose target port).
func (c *cluster) appService(s *site) (string, int, bool) {
	for _, app := range s.Inv.Apps {
		if !slices.Contains(app.Ports, c.inv.Clients.Port) {
			continue
		}
		target := c.inv.Clients.Port
		for _, p := range s.Project.Services[app.Service].Ports {
			if pub, _ := strconv.Atoi(p.Published); pub == c.inv.Clients.Port {
				target = int(p.Target)
			}
		}
		return app.Service, target, true
	}
	return "", 0, false
}

// startApps starts the app tier: on every site the app service that
// serves the client port, replaced by `hagen probe serve`; the other apps
// are closed products no scenario needs and are not started.
func (c *cluster) startApps(ctx context.Context) error {
	for _, s := range c.sites {
		if err := c.startApp(ctx, s); err != nil {
			return err
		}
		for _, app := range s.Inv.Apps {
			if name, _, _ := c.appService(s); app.Service != name {
				if err := c.startOtherApp(ctx, s, app.Service); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (c *cluster) startApp(ctx context.Context, s *site) error {
	name, port, ok := c.appService(s)
	if !ok {
		return fmt.Errorf("site %s has no app service on the client port %d", s.Inv.Name, c.inv.Clients.Port)
	}
	c.deviate("app service %s runs `hagen probe serve` (stand-in for the closed product), as the superuser on %s:%d", name, c.inv.Database.Service, c.inv.Database.Port)
	mounts, err := c.hagenMount()
	if err != nil {
		return err
	}
	id, err := c.startService(ctx, s, name, &override{
		Entrypoint: []string{hagenInContainer},
		Cmd: []string{"probe", "serve", "--site", s.Inv.Name, "--listen", ":" + strconv.Itoa(port),
			"--db-host", c.inv.Database.Service, "--db-port", strconv.Itoa(c.inv.Database.Port),
			"--db-name", c.inv.Database.Name, "--db-user", c.inv.Database.Superuser,
			"--password-env", "HAGEN_PROBE_DB_PASSWORD"},
		Env:    []string{"HAGEN_PROBE_DB_PASSWORD=" + c.secrets["POSTGRES_PASSWORD"]},
		Mounts: mounts,
	})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return poll(wctx, "app on "+s.Inv.Name, func() error {
		if st, err := c.e.state(wctx, id); err == nil && !st.Running {
			return fmt.Errorf("app exited %d: %s", st.ExitCode, c.e.tail(wctx, id, 5))
		}
		_, err := c.e.mustExec(wctx, s.HostID, nil, "curl", "-sf", "-m", "2", "http://127.0.0.1:"+strconv.Itoa(port)+"/site")
		return err
	})
}

// startClientHost starts the container the client stand-ins run in, on
// the clients network.
func (c *cluster) startClientHost(ctx context.Context) error {
	mounts, err := c.hagenMount()
	if err != nil {
		return err
	}
	ns := netip.MustParseAddr(c.inv.Nameserver)
	addr := ns
	for i := 0; i < 200; i++ {
		addr = addr.Next()
		if c.clients.Prefix.Contains(addr) && addr != c.clients.Router && addr != c.clients.Gateway && !c.siteAddr(addr) {
			break
		}
	}
	id, err := c.create(ctx, node{
		Name: c.name("clients"), Image: c.image, Entrypoint: sleeper, Init: true,
		CapAdd: []string{"NET_ADMIN"}, Mounts: mounts,
		DNS: []netip.Addr{ns}, LAN: c.clients, IP: addr,
		Labels: map[string]string{labelRole: "clients"},
	})
	if err != nil {
		return err
	}
	c.clientID = id
	if err := c.e.start(ctx, id); err != nil {
		return err
	}
	c.deviate("clients run `hagen probe client` (stand-in for the closed client library) in a container on the clients network")
	return c.routes(ctx, id, c.clients)
}

func (c *cluster) siteAddr(a netip.Addr) bool {
	for _, s := range c.sites {
		if s.Addr == a {
			return true
		}
	}
	return false
}

// clientRun is one `hagen probe client` invocation.
type clientRun struct {
	Mode        string // ha, direct, distribution
	ServerIndex int
	Duration    time.Duration
	Interval    time.Duration
	Sessions    int
	ID          string
}

// runClient runs a probe client to its end and returns its events.
func (c *cluster) runClient(ctx context.Context, r clientRun) ([]probe.Event, error) {
	if r.Interval == 0 {
		r.Interval = 50 * time.Millisecond
	}
	delay := time.Duration(c.inv.Clients.ReconnectDelay) * time.Second
	args := []string{hagenInContainer, "probe", "client",
		"--domain", c.inv.Domain, "--servers", strconv.Itoa(len(c.inv.Clients.Names)),
		"--port", strconv.Itoa(c.inv.Clients.Port), "--reconnect-delay", delay.String(),
		"--mode", r.Mode, "--server-index", strconv.Itoa(r.ServerIndex),
		"--duration", r.Duration.String(), "--interval", r.Interval.String(),
		"--client-id", r.ID, "--dns", c.inv.Nameserver + ":53",
		"--timeout", (time.Duration(c.inv.Clients.RequestTimeout) * time.Second).String()}
	if r.Sessions > 0 {
		args = append(args, "--sessions", strconv.Itoa(r.Sessions))
	}
	res, err := c.e.exec(ctx, c.clientID, nil, args...)
	if err != nil {
		return nil, err
	}
	evs, perr := probe.ParseEvents(bytes.NewBufferString(res.Stdout))
	c.recordProbe(r, evs)
	if res.Code != 0 {
		return evs, fmt.Errorf("probe client exited %d: %s", res.Code, lastLines(res.Stderr, 3))
	}
	return evs, perr
}

// recordProbe adds a probe client's writes to the scenario's history:
// each write through the DNS name it used, served by the site the app
// said it serves. The client runs in a container that shares the host's
// wall clock; its times are converted to the history's clock.
func (c *cluster) recordProbe(r clientRun, evs []probe.Event) {
	rec := c.hist()
	var ops []history.Op
	for _, e := range evs {
		if e.Op != probe.OpWrite {
			continue
		}
		end := rec.Offset(e.Time())
		o := history.Op{Client: "probe-" + r.ID, Kind: history.Write, Key: e.ID, Value: e.ID,
			Invoke: end - time.Duration(e.LatencyNs), Complete: end,
			Path: history.Path{Via: history.ViaDNS, Target: e.Server}}
		if e.Session > 0 {
			o.Client = fmt.Sprintf("probe-%s-%d", r.ID, e.Session)
		}
		switch {
		case e.OK:
			o.Outcome, o.Server = history.OK, history.AppSite(e.Site)
		case probeNeverSent(e.Err):
			o.Outcome, o.Error = history.Failed, e.Err
		default:
			o.Outcome, o.Error = history.Unknown, e.Err
		}
		ops = append(ops, o)
	}
	if len(ops) > 0 {
		rec.Add(ops...)
		c.histTable("hagen_probe", "id", "id", r.ID+"-")
	}
}

// probeNeverSent reports whether a probe client's error means the request
// never reached an app (the name did not resolve, the connection was
// refused): the write certainly did not happen. Any other error (a
// timeout, an error answer from an app whose database connection broke)
// leaves the outcome unknown.
func probeNeverSent(err string) bool {
	// Go's HTTP client: "dial tcp: lookup …: no such host", "dial tcp
	// 10.0.0.10:8001: connect: connection refused", or a connect timeout.
	return strings.Contains(err, "dial tcp")
}

// pathOf is the route of a client that dials addr:port: the VIP straight
// to PostgreSQL, an HAProxy front (at the VIP or on a node), or a node's
// own address.
func (c *cluster) pathOf(addr string, port int) history.Path {
	target := net.JoinHostPort(addr, strconv.Itoa(port))
	if c.inv.Proxy != nil && port == c.inv.Proxy.Port {
		return history.Path{Via: history.ViaHAProxy, Target: target}
	}
	if c.inv.VIP != nil && addr == c.inv.VIP.Address {
		return history.Path{Via: history.ViaVIP, Target: target}
	}
	for _, s := range c.sites {
		if s.Inv.Address == addr {
			return history.Path{Via: history.ViaDirect, Target: target, Node: s.Inv.Name}
		}
	}
	return history.Path{Via: history.ViaDirect, Target: target}
}

// nodeNameSQL is the name of the node a session runs on: its hagen.node
// setting (rendered for Patroni, which sets cluster_name to the cluster's
// scope on every node), else its cluster_name (the site's name).
const nodeNameSQL = `coalesce(current_setting('hagen.node', true), current_setting('cluster_name'))`

// writeSQL inserts one row and returns who committed it: the node's
// name (nodeNameSQL), the address the connection arrived at, whether it was in
// recovery and its timeline (the epoch that tells a node's terms as
// primary apart).
const writeSQL = `INSERT INTO hagen_writes (id, client) VALUES ($1, $2)
RETURNING coalesce(current_setting('hagen.node', true), current_setting('cluster_name')), coalesce(host(inet_server_addr()), ''), pg_is_in_recovery(),
	CASE WHEN pg_is_in_recovery() THEN '' ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END`

// recordedWrite runs writeSQL on conn as one operation of client hc in
// the scenario's history and returns the error.
func recordedWrite(ctx context.Context, conn *pgx.Conn, hc *history.Client, id, client string) error {
	return recordedSQL(ctx, conn, hc, writeSQL, id, id, client)
}

// recordedSQL runs a write statement (writeSQL, registerSQL: $1 the key,
// $2 the value or client, RETURNING who committed it) as one write of key
// with value.
func recordedSQL(ctx context.Context, conn *pgx.Conn, hc *history.Client, sql, key, value string, args ...any) error {
	op := hc.Invoke(history.Write, key, value)
	var s history.Server
	var inRecovery bool
	if len(args) == 0 {
		args = []any{value}
	}
	err := conn.QueryRow(ctx, sql, append([]any{key}, args...)...).Scan(&s.Node, &s.Addr, &inRecovery, &s.Epoch)
	if err != nil {
		// The connection was open and the statement sent: only the
		// server's own answer (an SQLSTATE that rolls it back) proves the
		// write failed. pgx may report a connection that broke while the
		// statement was on its way as safe to retry ("conn closed"), and
		// such a write was seen committed (failover-kill through HAProxy).
		var pe *pgconn.PgError
		if out := history.Classify(err); out == history.Failed && !errors.As(err, &pe) {
			op.Unknown(err)
		} else {
			op.End(err, nil)
		}
		return err
	}
	s.InRecovery = &inRecovery
	op.OK(&s)
	return nil
}

// The register workload: next to the insert-only writers, clients that
// overwrite a few keys with unique values and read them back through the
// same routes, so that the checker has keyed reads and writes for stale
// reads and linearizability (porcupine's register model).

// registerDDL creates the register table (idempotent).
const registerDDL = `CREATE TABLE IF NOT EXISTS hagen_register (k text PRIMARY KEY, v text NOT NULL)`

var registerDDLMu sync.Mutex

// registerKeys is how many keys a scenario's register clients share.
const registerKeys = 8

// registerSQL overwrites a key and returns who committed it.
const registerSQL = `INSERT INTO hagen_register (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v
RETURNING coalesce(current_setting('hagen.node', true), current_setting('cluster_name')), coalesce(host(inet_server_addr()), ''), pg_is_in_recovery(),
	CASE WHEN pg_is_in_recovery() THEN '' ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END`

// readSQL reads a key (NULL when absent) and says who served it.
const readSQL = `SELECT r.v, coalesce(current_setting('hagen.node', true), current_setting('cluster_name')), coalesce(host(inet_server_addr()), ''), pg_is_in_recovery()
FROM (SELECT 1) AS one LEFT JOIN hagen_register AS r ON r.k = $1`

// register runs one register client through addr:port until ctx ends:
// it alternates a write of a fresh value to one of the scenario's keys
// and a read of another, every interval.
func (c *cluster) register(ctx context.Context, name, addr string, port int, interval time.Duration) {
	e := c.ev()
	if e == nil {
		return
	}
	prefix := e.registerPrefix()
	c.histTable("hagen_register", "k", "v", prefix)
	hc := c.hist().Client(name, c.pathOf(addr, port))
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for seq := 1; ctx.Err() == nil; seq++ {
		key := fmt.Sprintf("%sk%d", prefix, (seq/2*7+len(name))%registerKeys)
		kind, value := history.Write, fmt.Sprintf("%s-%d", name, seq)
		if seq%2 == 0 {
			kind, value = history.Read, ""
		}
		var err error
		if conn == nil {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			conn, err = c.connect(cctx, addr, port)
			cancel()
			if err == nil {
				// Concurrent CREATE TABLE IF NOT EXISTS can collide in
				// pg_type: one client at a time.
				registerDDLMu.Lock()
				_, err = conn.Exec(ctx, registerDDL)
				registerDDLMu.Unlock()
			}
			if err != nil {
				if conn != nil {
					conn.Close(context.Background())
					conn = nil
				}
				if ctx.Err() == nil {
					hc.Invoke(kind, key, value).Fail(err)
				}
				sleepCtx(ctx, 100*time.Millisecond)
				continue
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if kind == history.Write {
			err = recordedSQL(wctx, conn, hc, registerSQL, key, value)
		} else {
			err = recordedRead(wctx, conn, hc, key)
		}
		cancel()
		if err != nil {
			conn.Close(context.Background())
			conn = nil
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		sleepCtx(ctx, interval)
	}
}

// registerPrefix is the scenario's register key prefix, made once.
func (e *evidence) registerPrefix() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.regPrefix == "" {
		e.regPrefix = randomID("reg") + "-"
	}
	return e.regPrefix
}

// recordedRead reads key through conn as one operation of hc.
func recordedRead(ctx context.Context, conn *pgx.Conn, hc *history.Client, key string) error {
	op := hc.Invoke(history.Read, key, "")
	var v *string
	var s history.Server
	var inRecovery bool
	if err := conn.QueryRow(ctx, readSQL, key).Scan(&v, &s.Node, &s.Addr, &inRecovery); err != nil {
		// A read that got no answer tells nothing; it is not an effect.
		op.Fail(err)
		return err
	}
	s.InRecovery = &inRecovery
	if v == nil {
		op.ReadOK(&s, "", false)
	} else {
		op.ReadOK(&s, *v, true)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// directWriters write to each node's own address (its published
// database port) until ctx ends, into the scenario's history only: the
// route a client bound to one node takes. A standby refuses them
// (read-only), a promoted one takes them; they are not part of the
// scenario's own figures.
func (c *cluster) directWriters(ctx context.Context) {
	tag := randomID("direct")
	var wg sync.WaitGroup
	for _, s := range c.dbSites() {
		w := writer{Name: tag + "-" + s.Inv.Name, Addr: s.Inv.Address, Port: c.inv.Database.PublishedPort}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.write(ctx, w, 50*time.Millisecond, func(probe.Event) {})
		}()
	}
	wg.Wait()
}
