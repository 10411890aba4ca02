package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/internal/probe"
	"github.com/hagen-ha/hagen/verify/history"
)

// Bring-up of a primary-standby deployment, in the rendered RUNBOOK's
// order: the databases (started by upServices, the standby cloning the
// primary), replication confirmed, the agents, keepalived, HAProxy and
// the app tier. The streaming suite runs it through the harness for every
// fresh deployment.

func (c *cluster) siteByRole(role string) *site {
	for _, s := range c.dbSites() {
		if s.Inv.Role == role {
			return s
		}
	}
	return nil
}

// other is the first database node that is not s: with two nodes, its
// peer; with more, the one of the highest VIP priority after s (the one
// keepalived elects when s fails).
func (c *cluster) other(s *site) *site {
	var best *site
	for _, o := range c.dbSites() {
		if o != s && (best == nil || o.Inv.VIPPriority > best.Inv.VIPPriority) {
			best = o
		}
	}
	return best
}

// others are the database nodes that are not s.
func (c *cluster) others(s *site) []*site {
	var out []*site
	for _, o := range c.dbSites() {
		if o != s {
			out = append(out, o)
		}
	}
	return out
}

// dbSites are the sites that run the database: not the sites that carry
// only HAProxy (and keepalived) for it, nor a Patroni witness site, which
// runs only etcd.
func (c *cluster) dbSites() []*site {
	var out []*site
	for _, s := range c.sites {
		if slices.Contains(s.Inv.Services, c.inv.Database.Service) {
			out = append(out, s)
		}
	}
	return out
}

// proxySites are the sites that carry only HAProxy (and keepalived when
// the VIP moves between them), no database.
func (c *cluster) proxySites() []*site {
	var out []*site
	for _, s := range c.sites {
		if s.Inv.Role == contract.RoleProxy {
			out = append(out, s)
		}
	}
	return out
}

// vipSites are the sites that run keepalived for the VIP: the database
// nodes, or the proxy hosts when the VIP moves between them.
func (c *cluster) vipSites() []*site {
	var out []*site
	for _, s := range c.sites {
		if _, ok := s.Project.Services["keepalived"]; ok {
			out = append(out, s)
		}
	}
	return out
}

// vipOnProxies: keepalived runs on the proxy hosts, not on the database
// nodes, so the VIP follows a working HAProxy, not the primary.
func (c *cluster) vipOnProxies() bool {
	vs := c.vipSites()
	return len(vs) > 0 && vs[0].Inv.Role == contract.RoleProxy
}

// checkVIP checks where the VIP is bound with p the writable primary:
// on p only when keepalived runs on the database nodes; on exactly one
// proxy host (and no database node) when it moves between the proxy
// hosts. It returns the holder.
func (c *cluster) checkVIP(ctx context.Context, p *site) (*site, error) {
	var holders []string
	var holder *site
	for _, s := range c.sites {
		on, err := c.vipOn(ctx, s)
		if err != nil {
			return nil, err
		}
		if on {
			holders = append(holders, s.Inv.Name)
			holder = s
		}
	}
	if !c.vipOnProxies() {
		if len(holders) != 1 || holder != p {
			return nil, fmt.Errorf("VIP %s bound on [%s]; expected only on the primary %s", c.inv.VIP.Address, strings.Join(holders, " "), p.Inv.Name)
		}
		return holder, nil
	}
	if len(holders) != 1 || holder.Inv.Role != contract.RoleProxy {
		return nil, fmt.Errorf("VIP %s bound on [%s]; expected on exactly one proxy host", c.inv.VIP.Address, strings.Join(holders, " "))
	}
	return holder, nil
}

func (c *cluster) upStreaming(ctx context.Context) error {
	primary, standby := c.siteByRole("primary"), c.siteByRole("standby")
	if primary == nil || standby == nil {
		return fmt.Errorf("the matrix needs one primary and at least one standby site (inventory has %d database sites)", len(c.dbSites()))
	}
	// The primary first, then the standbys in the order of the spec.
	nodes := append([]*site{primary}, c.others(primary)...)
	c.progress("waiting for pg_stat_replication on %s to show %d standbys %s", primary.Inv.Name, len(nodes)-1, c.replicationWord())
	if err := c.waitSync(ctx, primary, c.timers().rejoin); err != nil {
		return err
	}
	// The compose files mount ${HAGEN_BINARY:-/usr/local/bin/hagen} into
	// the agent: reload them with the binary verify built.
	bin, err := filepath.Abs(c.hagenBin)
	if err != nil || c.hagenBin == "" {
		return fmt.Errorf("no hagen binary for the agents (Options.HagenBinary)")
	}
	for _, s := range c.sites {
		env, err := c.siteEnv(s)
		if err != nil {
			return err
		}
		env["HAGEN_BINARY"] = bin
		p, err := loadCompose(ctx, filepath.Join(c.dir, s.Inv.Compose), c.inv.Name+"-"+s.Inv.Name, env)
		if err != nil {
			return err
		}
		s.Project = p
	}
	c.deviate("the agent runs the hagen binary verify built (HAGEN_BINARY), as the compose file allows")
	c.deviate("the database clients of the primary-standby matrix are writers in the verify process on the Docker host: they reach the VIP and the nodes over the LAN bridge from its gateway address (inside security.allowedClients), as the superuser; acknowledged = COMMIT returned")
	if err := c.ensureWitness(ctx); err != nil {
		return err
	}
	for _, s := range nodes {
		if _, err := c.startService(ctx, s, "hagen-agent", nil); err != nil {
			return err
		}
	}
	for _, s := range c.dbSites() {
		if err := poll(ctx, "agent on "+s.Inv.Name, func() error {
			_, err := c.agentGet(ctx, s, "/health")
			return err
		}); err != nil {
			return err
		}
	}
	// keepalived: on the database nodes the primary first (it takes the
	// VIP); on proxy hosts the highest priority first. Proxy hosts start
	// HAProxy first (compose's depends_on: the track script checks it).
	vs := c.vipSites()
	if c.vipOnProxies() {
		slices.SortStableFunc(vs, func(a, b *site) int { return b.Inv.VIPPriority - a.Inv.VIPPriority })
		for _, s := range c.proxySites() {
			if _, ok := s.Project.Services["haproxy"]; ok {
				if _, err := c.startService(ctx, s, "haproxy", nil); err != nil {
					return err
				}
			}
		}
	} else {
		vs = nodes
	}
	c.progress("agents answer; starting keepalived on %s (the first takes the VIP)", siteNames(vs))
	for i, s := range vs {
		if _, err := c.startService(ctx, s, "keepalived", nil); err != nil {
			return err
		}
		if i == 0 {
			wctx, cancel := context.WithTimeout(ctx, c.timers().vip)
			err := poll(wctx, "VIP on "+s.Inv.Name, func() error {
				on, err := c.vipOn(wctx, s)
				if err == nil && !on {
					err = errors.New("not bound")
				}
				return err
			})
			cancel()
			if err != nil {
				return err
			}
		}
	}
	for _, s := range c.sites {
		if _, ok := s.Project.Services["haproxy"]; !ok || slices.Contains(s.Started, "haproxy") {
			continue
		}
		if _, err := c.startService(ctx, s, "haproxy", nil); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, c.timers().writes)
	defer cancel()
	port, what := c.inv.Database.PublishedPort, "the database at the VIP"
	if px, ok := c.dbProxyPort(); ok {
		port, what = px, "HAProxy at the VIP"
	}
	if err := poll(wctx, "a query through "+what, func() error {
		_, err := c.sqlAt(wctx, c.inv.VIP.Address, port, "SELECT 1")
		return err
	}); err != nil {
		return err
	}
	if _, err := c.psql(ctx, primary, probe.TableDDL+"; CREATE TABLE IF NOT EXISTS hagen_writes (id text PRIMARY KEY, client text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())"); err != nil {
		return fmt.Errorf("create the probe tables: %w", err)
	}
	return c.startStreamingApps(ctx)
}

func siteNames(ss []*site) string {
	var names []string
	for _, s := range ss {
		names = append(names, s.Inv.Name)
	}
	return strings.Join(names, ", ")
}

// dbProxyPort is HAProxy's port when it fronts the database.
func (c *cluster) dbProxyPort() (int, bool) {
	if c.inv.Proxy == nil || c.inv.Proxy.Fronts != "database" {
		return 0, false
	}
	return c.inv.Proxy.Port, true
}

// replicationWord is how the spec's standby replicates: "sync" (a
// synchronous standby; "quorum" with method any) or "async".
func (c *cluster) replicationWord() string {
	if !c.inv.Database.Synchronous {
		return "async"
	}
	if c.inv.Database.SynchronousMethod == "any" {
		return "quorum"
	}
	return "sync"
}

// waitSync waits until the primary at s reports every other database
// node streaming from it, and as many of them as the spec's synchronous
// count (all of them with ANY) as synchronous ("sync" or "quorum"); with
// asynchronous replication, all of them "async".
func (c *cluster) waitSync(ctx context.Context, s *site, d time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return poll(wctx, c.replicationWord()+" replication on "+s.Inv.Name, func() error {
		rows, err := c.replicas(wctx, s)
		if err != nil {
			return err
		}
		return c.syncProblem(s, rows)
	})
}

// replica is one row of a primary's pg_stat_replication.
type replica struct {
	Addr, App, State, SyncState string
	// SSL: the connection is TLS (pg_stat_ssl).
	SSL bool
}

// replicas reads pg_stat_replication on the database at s, with each
// connection's TLS state.
func (c *cluster) replicas(ctx context.Context, s *site) ([]replica, error) {
	out, err := c.psql(ctx, s, "SELECT coalesce(host(r.client_addr), '') || '|' || r.application_name || '|' || r.state || '|' || r.sync_state || '|' || coalesce(l.ssl::text, 'false') FROM pg_stat_replication r LEFT JOIN pg_stat_ssl l USING (pid) ORDER BY r.application_name")
	if err != nil {
		return nil, err
	}
	var rows []replica
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "|")
		if len(f) != 5 {
			continue
		}
		rows = append(rows, replica{Addr: f[0], App: f[1], State: f[2], SyncState: f[3], SSL: f[4] == "true"})
	}
	return rows, nil
}

// syncProblem says what in rows (the primary s's pg_stat_replication)
// falls short of the spec's replication, or nil.
func (c *cluster) syncProblem(s *site, rows []replica) error {
	word := c.replicationWord()
	var missing []string
	inSync := 0
	for _, o := range c.others(s) {
		i := slices.IndexFunc(rows, func(r replica) bool { return r.Addr == o.Inv.Address && r.State == "streaming" })
		if i < 0 {
			missing = append(missing, o.Inv.Name)
			continue
		}
		if rows[i].SyncState == word {
			inSync++
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("pg_stat_replication: %v; %s not streaming", rows, strings.Join(missing, ", "))
	}
	n := len(c.others(s))
	need := n
	if word != "async" {
		// FIRST n or ANY n: n of them confirm each commit (the others
		// are "potential", or stream asynchronously after a failover until
		// the setting names them).
		need = min(max(c.inv.Database.SynchronousCount, 1), n)
	}
	if inSync < need {
		return fmt.Errorf("pg_stat_replication: %v; %d standbys %s, expected %d", rows, inSync, word, need)
	}
	return nil
}

// ensureWitness starts each witness of the spec as its own container at
// its address (in production often the LAN's router; planLANs keeps the
// bridge gateway and the WAN router off these addresses). It answers
// ping, which is all the rendered checks ask of it.
func (c *cluster) ensureWitness(ctx context.Context) error {
	seen := map[string]bool{}
	for i, addr := range append([]string{c.inv.Database.Witness}, c.inv.Database.Witnesses...) {
		if addr == "" || seen[addr] {
			continue
		}
		seen[addr] = true
		w, err := netip.ParseAddr(addr)
		if err != nil {
			return fmt.Errorf("witness %q: %w", addr, err)
		}
		l := c.lanOf(w)
		if l == nil {
			return fmt.Errorf("the witness %s is on no simulated network", w)
		}
		id, err := c.create(ctx, node{
			Name: c.name("witness", strconv.Itoa(i)), Image: c.image, Entrypoint: sleeper, Init: true,
			CapAdd: []string{"NET_ADMIN"},
			LAN:    l, IP: w, Labels: map[string]string{labelRole: "witness"},
		})
		if err != nil {
			return err
		}
		if c.witnessID == "" {
			c.witnessID = id
		}
		if err := c.start(ctx, id); err != nil {
			return err
		}
		if err := c.routes(ctx, id, l); err != nil {
			return err
		}
	}
	return nil
}

// startStreamingApps starts each site's app services as `hagen probe
// serve` on their target port, connected where the spec's environment
// points them (the VIP and the HAProxy port).
func (c *cluster) startStreamingApps(ctx context.Context) error {
	mounts, err := c.hagenMount()
	if err != nil {
		return err
	}
	for _, s := range c.sites {
		for _, app := range s.Inv.Apps {
			svc := s.Project.Services[app.Service]
			if len(svc.Ports) == 0 {
				continue
			}
			port := int(svc.Ports[0].Target)
			host, dbPort := c.inv.VIP.Address, c.inv.Database.PublishedPort
			if px, ok := c.dbProxyPort(); ok {
				dbPort = px
			}
			for k, v := range svc.Environment {
				if v == nil {
					continue
				}
				switch {
				case strings.HasSuffix(k, "_DB_HOST"), strings.HasSuffix(k, "_DATABASE_HOST"):
					host = *v
				case strings.HasSuffix(k, "_DB_PORT"), strings.HasSuffix(k, "_DATABASE_PORT"):
					dbPort, _ = strconv.Atoi(*v)
				}
			}
			c.deviate("app service %s runs `hagen probe serve` (stand-in for the closed product) against %s:%d", app.Service, host, dbPort)
			id, err := c.startService(ctx, s, app.Service, &override{
				Entrypoint: []string{hagenInContainer},
				Cmd: []string{"probe", "serve", "--site", s.Inv.Name, "--listen", ":" + strconv.Itoa(port),
					"--db-host", host, "--db-port", strconv.Itoa(dbPort),
					"--db-name", c.inv.Database.Name, "--db-user", c.inv.Database.Superuser,
					"--password-env", "HAGEN_PROBE_DB_PASSWORD"},
				Env:    []string{"HAGEN_PROBE_DB_PASSWORD=" + c.secrets["POSTGRES_PASSWORD"]},
				Mounts: mounts,
			})
			if err != nil {
				return err
			}
			wctx, cancel := context.WithTimeout(ctx, c.timers().service)
			err = poll(wctx, "app "+app.Service+" on "+s.Inv.Name, func() error {
				if st, err := c.e.state(wctx, id); err == nil && !st.Running {
					return fmt.Errorf("app exited %d: %s", st.ExitCode, c.e.tail(wctx, id, 5))
				}
				_, err := c.e.mustExec(wctx, s.HostID, nil, "curl", "-sf", "-m", "2", "http://127.0.0.1:"+strconv.Itoa(port)+"/site")
				return err
			})
			cancel()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// vipOn reports whether the site host has the VIP on its interface.
func (c *cluster) vipOn(ctx context.Context, s *site) (bool, error) {
	out, err := c.e.mustExec(ctx, s.HostID, nil, "ip", "-o", "addr", "show")
	if err != nil {
		return false, err
	}
	return strings.Contains(out, " "+c.inv.VIP.Address+"/"), nil
}

// agentGet asks a site's agent, from the test process (the Docker host on
// the site LAN), and returns the status code.
func (c *cluster) agentGet(ctx context.Context, s *site, path string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(s.Inv.Address, strconv.Itoa(c.inv.Database.HealthPort))+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// connect opens a database connection from the test process to addr:port
// as the superuser: with the spec's TLS as the sites' own connections
// make it (sslmode verify-full against the run's CA), else in clear.
func (c *cluster) connect(ctx context.Context, addr string, port int) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable connect_timeout=2 application_name=hagen-verify",
		addr, port, c.inv.Database.Superuser, c.inv.Database.Name))
	if err != nil {
		return nil, err
	}
	if c.tls != nil {
		cfg.TLSConfig = c.tls.clientConfig(addr)
	}
	cfg.Password = c.secrets["POSTGRES_PASSWORD"]
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return pgx.ConnectConfig(ctx, cfg)
}

// sqlAt runs one statement at addr:port and returns the first column of
// the first row as text ("" for none).
func (c *cluster) sqlAt(ctx context.Context, addr string, port int, sql string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := c.connect(ctx, addr, port)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	out := ""
	if rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return "", err
		}
		if len(vals) > 0 && vals[0] != nil {
			out = fmt.Sprint(vals[0])
		}
	}
	return out, rows.Err()
}

// writer is one client that writes rows through addr:port as fast as
// acknowledgements come back: acknowledged means COMMIT returned.
type writer struct {
	Name string
	Addr string
	Port int
}

// runWritersLive runs the writers until ctx ends, recording every event
// in rec as it happens.
func (c *cluster) runWritersLive(ctx context.Context, ws []writer, interval time.Duration, rec *recorder) []probe.Event {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.directWriters(ctx)
	}()
	for _, w := range ws {
		wg.Add(2)
		go func() {
			defer wg.Done()
			c.write(ctx, w, interval, rec.record)
		}()
		go func() {
			defer wg.Done()
			c.register(ctx, w.Name+"-reg", w.Addr, w.Port, 20*time.Millisecond)
		}()
	}
	wg.Wait()
	return nil
}

func (c *cluster) write(ctx context.Context, w writer, interval time.Duration, record func(probe.Event)) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	hc := c.hist().Client(w.Name, c.pathOf(w.Addr, w.Port))
	c.histTable("hagen_writes", "id", "id", w.Name+"-")
	for seq := 1; ctx.Err() == nil; seq++ {
		id := fmt.Sprintf("%s-%d", w.Name, seq)
		t0 := time.Now()
		var err error
		if conn == nil {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			conn, err = c.connect(cctx, w.Addr, w.Port)
			cancel()
		}
		if err != nil {
			// The connection could not be opened: the write was never sent.
			hc.Invoke(history.Write, id, id).Fail(err)
		} else {
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err = recordedWrite(wctx, conn, hc, id, w.Name)
			cancel()
			if err != nil {
				conn.Close(context.Background())
				conn = nil
			}
		}
		if ctx.Err() != nil && err != nil {
			// Cut short by the end of the run: neither acknowledged nor failed.
			break
		}
		e := probe.Event{T: time.Now().UnixNano(), Op: probe.OpWrite, ID: id, Server: w.Name, Addr: net.JoinHostPort(w.Addr, strconv.Itoa(w.Port)), OK: err == nil, LatencyNs: int64(time.Since(t0))}
		if err != nil {
			e.Err = err.Error()
		}
		record(e)
		wait := interval
		if err != nil {
			wait = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// writeIDs returns the ids in hagen_writes on the database at s.
func (c *cluster) writeIDs(ctx context.Context, s *site) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	conn, err := c.connect(ctx, s.Inv.Address, c.inv.Database.PublishedPort)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT id FROM hagen_writes")
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// writable reports whether a site's agent answers /primary with 200 (the
// writable primary).
func (c *cluster) writable(ctx context.Context, s *site) bool {
	code, err := c.agentGet(ctx, s, "/primary")
	return err == nil && code == http.StatusOK
}
