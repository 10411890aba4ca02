package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/internal/probe"
	"github.com/hagen-ha/hagen/verify/history"
)

// The primary-standby matrix (issue 4). Each scenario starts from the
// state it names: the steady state (one writable primary, the standby
// streaming as the spec replicates, the VIP on the primary only), or the
// primary's node killed and still down (needPrimaryKilled: failover-kill
// leaves it so; run alone, the suite kills it first). Every fault
// scenario but the kill ends with the old primary rejoined, or fails
// saying why; the suite's reset brings a deployment a scenario left
// elsewhere back to the steady state, or brings up a fresh one. The order
// puts each fault on the node with the higher priority at least once.
type streamingSuite struct {
	h *harness
	// c is the deployment the scenarios run on (nil before the first
	// bring-up).
	c *cluster
	// kill is what the last kill of the primary's node measured, while
	// that node is still down; nil otherwise.
	kill *faultRun
}

func (st *streamingSuite) scenarios() []scenario {
	run := func(f func(context.Context, *streamingSuite, *Metrics, *[]string) error) func(context.Context, *Metrics, *[]string) error {
		return func(ctx context.Context, m *Metrics, notes *[]string) error { return f(ctx, st, m, notes) }
	}
	list := slices.Concat([]scenario{
		{name: "replication", desc: "a table created on the primary appears on the standby", run: run(psReplication)},
		{name: "standby-read-only", desc: "a write on the standby fails with PostgreSQL's read-only error", run: run(psStandbyReadOnly)},
		{name: "steady-state", desc: "the VIP is bound on the primary only; HAProxy sends traffic to the primary", run: run(psSteadyState)},
		{name: "health-url", desc: "each node's agent answers /primary 200 only on the writable primary", run: run(psHealthURL)},
	}, st.featureScenarios(), []scenario{
		{name: "standby-down", desc: "every standby down: the spec's onStandbyDown holds (writes block, or fall back to async)", run: run(psStandbyDown)},
		{name: "failover-kill", desc: "kill the primary's node while clients write through the VIP and HAProxy: promotion, VIP move, RTO, zero loss", run: run(psFault("kill")), timeout: killTimeout},
		{name: "proxy-switch", desc: "HAProxy active/backup: with the active server killed the backup takes traffic; switch time vs interval × fall", needs: needPrimaryKilled, run: run(psProxySwitch), applies: needsDBProxy},
		{name: "rejoin", desc: "the old primary rejoins as the standby (synchronous when the spec says so) (pg_rewind or a fresh clone); no divergent rows", needs: needPrimaryKilled, run: run(psRejoin), timeout: 6 * time.Minute},
		{name: "zero-loss-stop", desc: "graceful stop of the primary's node: zero acknowledged writes lost, the old primary rejoins", run: run(psFault("stop")), timeout: 6 * time.Minute},
		{name: "zero-loss-postgres-kill", desc: "the primary's database process killed inside its running container: zero loss, rejoin", run: run(psFault("postgres-kill")), timeout: 6 * time.Minute},
		{name: "zero-loss-pause", desc: "the primary's node frozen (pause): zero acknowledged writes lost; the old primary rejoins after the thaw", run: run(psFault("pause")), timeout: 6 * time.Minute},
		{name: "partition-witness", desc: "the primary cut off from its peer and the witness: never two writable primaries; one primary after healing", run: run(psPartition), timeout: 6 * time.Minute},
	}, st.partialScenarios())
	for i := range list {
		if automaticFailover[list[i].name] {
			list[i].applies = alsoNeeds(list[i].applies, needsAutomaticFailover)
		}
	}
	return append(list, st.proxyHostScenarios()...)
}

// automaticFailover names the scenarios that expect the deployment to
// promote the standby by itself.
var automaticFailover = map[string]bool{
	"failover-kill": true, "proxy-switch": true, "rejoin": true, "zero-loss-stop": true,
	"zero-loss-postgres-kill": true, "zero-loss-pause": true, "partition-witness": true,
	"partition-one-way": true, "partition-db-only": true, "witness-down": true,
}

// manualFailover: nothing in the rendered deployment promotes a standby
// (no keepalived on the database nodes, no Patroni); failover is the
// RUNBOOK's manual promotion.
func manualFailover(inv *contract.Inventory) bool {
	if inv.Database.Manager == "patroni" {
		return false
	}
	for _, s := range inv.Sites {
		if s.Role != contract.RoleProxy && slices.Contains(s.Services, "keepalived") {
			return false
		}
	}
	return true
}

// alsoNeeds is the applies of a scenario that needs both a and b (a may
// be nil): the first reason that one of them gives.
func alsoNeeds(a, b func(*contract.Inventory) string) func(*contract.Inventory) string {
	if a == nil {
		return b
	}
	return func(inv *contract.Inventory) string {
		if why := a(inv); why != "" {
			return why
		}
		return b(inv)
	}
}

func needsAutomaticFailover(inv *contract.Inventory) string {
	if manualFailover(inv) {
		return "nothing in the rendered deployment promotes a standby (no keepalived on the database nodes): failover is the RUNBOOK's manual promotion, which proxy-primary-kill runs"
	}
	return ""
}

// killTimeout bounds the kill of the primary's node, as a scenario or as
// the setup of one.
const killTimeout = 4 * time.Minute

// needsDBProxy: the scenario measures HAProxy in front of the database.
func needsDBProxy(inv *contract.Inventory) string {
	if inv.Proxy == nil {
		return "the spec has no HAProxy"
	}
	if inv.Proxy.Fronts != "database" {
		return fmt.Sprintf("HAProxy fronts the %s, not the database", inv.Proxy.Fronts)
	}
	return ""
}

func (st *streamingSuite) prepare(ctx context.Context, n need, notes *[]string) error {
	if n == needPrimaryKilled {
		if st.kill != nil && st.c != nil {
			if bad, err := st.c.stoppedOrPaused(ctx, st.kill.old); err == nil && len(bad) > 0 {
				return nil
			}
		}
		st.kill = nil
		if err := st.steady(ctx, notes); err != nil {
			return err
		}
		var m Metrics
		var setup []string
		kctx, cancel := context.WithTimeout(ctx, killTimeout)
		err := psFault("kill")(kctx, st, &m, &setup)
		cancel()
		for _, s := range setup {
			*notes = append(*notes, "setup (failover-kill): "+s)
		}
		if err == nil && st.kill == nil {
			err = errors.New("the kill of the primary's node did not leave a killed primary")
		}
		if err != nil {
			return fmt.Errorf("kill the primary's node: %w", err)
		}
		return nil
	}
	return st.steady(ctx, notes)
}

// steady gets the steady state: the first bring-up, a reset, or a fresh
// bring-up when the reset fails.
func (st *streamingSuite) steady(ctx context.Context, notes *[]string) error {
	return st.h.steady(ctx, st.c != nil, st.reset, st.fresh, notes)
}

func (st *streamingSuite) fresh(ctx context.Context, notes *[]string) error {
	st.kill = nil
	var err error
	st.c, err = st.h.freshNoted(ctx, (*cluster).upStreaming, notes)
	return err
}

// reset brings the deployment back to the steady state: every container
// running, no partition, one writable primary whose standby streams as
// the spec replicates, the VIP on the primary only. A node that was down
// rejoins at its start through the rendered role hook; a fenced old
// primary (read-only, not streaming) gets the RUNBOOK's restart.
func (st *streamingSuite) reset(ctx context.Context) (bool, error) {
	c := st.c
	t := c.timers()
	rctx, cancel := context.WithTimeout(ctx, t.rejoin+t.writes)
	defer cancel()
	changed := false
	for _, s := range c.sites {
		ch, err := c.resetSite(rctx, s)
		if err != nil {
			return true, fmt.Errorf("site %s: %w", s.Inv.Name, err)
		}
		if ch && st.kill != nil && st.kill.old == s {
			st.kill = nil
		}
		changed = changed || ch
	}
	if st.kill != nil {
		return true, errors.New("the killed primary's node is still down")
	}
	if c.selfRejoins() {
		// Patroni needs the etcd quorum: every member healthy again.
		if err := c.etcdHealthy(rctx, withMargin(c.healthBound(etcdService))); err != nil {
			return true, err
		}
	}
	var p *site
	if err := poll(rctx, "one writable primary", func() (err error) {
		p, err = c.currentPrimary(rctx)
		return err
	}); err != nil {
		return true, err
	}
	// A node that was down rejoins as it starts (a pg_rewind or a clone):
	// the rejoin's deadline; in place, streaming is there or not.
	first := t.rejoin
	if !changed {
		first = withMargin(t.proxyCheck)
	}
	if err := c.waitSync(rctx, p, first); err != nil {
		// Not streaming: a fenced old primary, or a standby that still
		// follows a primary that is gone, which the RUNBOOK restarts (the
		// role hook rejoins it to the primary).
		changed = true
		rows, err := c.replicas(rctx, p)
		if err != nil {
			return true, err
		}
		for _, sb := range c.others(p) {
			if slices.ContainsFunc(rows, func(r replica) bool { return r.Addr == sb.Inv.Address && r.State == "streaming" }) {
				continue
			}
			if _, err := c.e.cli.ContainerRestart(rctx, sb.Containers[c.inv.Database.Service], client.ContainerRestartOptions{}); err != nil {
				return true, err
			}
		}
		if err := c.waitSync(rctx, p, t.rejoin); err != nil {
			return true, err
		}
	}
	if err := poll(rctx, "the VIP where it belongs", func() error {
		_, err := c.checkVIP(rctx, p)
		return err
	}); err != nil {
		return true, err
	}
	return changed, nil
}

func (st *streamingSuite) deployment() *cluster { return st.c }

func (st *streamingSuite) logs(ctx context.Context) []string {
	if st.c == nil {
		return nil
	}
	out := st.c.containerStates(ctx, true)
	return append(out, st.c.serviceLogs(ctx, 12, "keepalived", "haproxy", st.c.inv.Database.Service, "hagen-agent")...)
}

// currentPrimary finds the site whose agent reports the writable primary.
func (c *cluster) currentPrimary(ctx context.Context) (*site, error) {
	var found []*site
	for _, s := range c.dbSites() {
		if c.writable(ctx, s) {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("expected one writable primary, found %d", len(found))
	}
	return found[0], nil
}

func psReplication(ctx context.Context, st *streamingSuite, m *Metrics, notes *[]string) error {
	c := st.c
	p, err := c.currentPrimary(ctx)
	if err != nil {
		return err
	}
	sb := c.other(p)
	table := strings.ReplaceAll(randomID("hagen_t"), "-", "_")
	t0 := time.Now()
	if _, err := c.psql(ctx, p, "CREATE TABLE "+table+" (id int PRIMARY KEY); INSERT INTO "+table+" VALUES (1)"); err != nil {
		return err
	}
	committed := time.Since(t0)
	if c.hotStandbyOff(sb) {
		// A standby with hot_standby = off takes no SQL: the primary's
		// pg_stat_replication shows when it has replayed the commit.
		lsn, err := c.psql(ctx, p, "SELECT pg_current_wal_lsn()")
		if err != nil {
			return err
		}
		if err := poll(ctx, "the commit replayed on "+sb.Inv.Name, func() error {
			out, err := c.psql(ctx, p, "SELECT coalesce(bool_or(replay_lsn >= '"+lsn+"'::pg_lsn), false) FROM pg_stat_replication WHERE application_name = '"+sb.Inv.Name+"'")
			if err == nil && out != "t" {
				err = fmt.Errorf("replay_lsn of %s not yet at %s", sb.Inv.Name, lsn)
			}
			return err
		}); err != nil {
			return err
		}
		m.LagMillis = max(time.Since(t0).Milliseconds(), 1)
		*notes = append(*notes, fmt.Sprintf("table %s created on %s (WAL %s) was replayed on %s %s after the statement started (read from pg_stat_replication: hot_standby = off, the standby takes no SQL)", table, p.Inv.Name, lsn, sb.Inv.Name, time.Since(t0).Round(time.Millisecond)))
		_, _ = c.psql(ctx, p, "DROP TABLE "+table)
		return nil
	}
	if !c.inv.Database.Synchronous {
		// Asynchronous: the standby replays it a moment later.
		if err := poll(ctx, "the table on "+sb.Inv.Name, func() error {
			out, err := c.psql(ctx, sb, "SELECT count(*) FROM "+table)
			if err == nil && out != "1" {
				err = fmt.Errorf("count %q", out)
			}
			return err
		}); err != nil {
			return err
		}
		m.LagMillis = max(time.Since(t0).Milliseconds(), 1)
		*notes = append(*notes, fmt.Sprintf("table %s created on %s was readable on %s %s after the statement started (asynchronous)", table, p.Inv.Name, sb.Inv.Name, time.Since(t0).Round(time.Millisecond)))
		_, _ = c.psql(ctx, p, "DROP TABLE "+table)
		return nil
	}
	out, err := c.psql(ctx, sb, "SELECT count(*) FROM "+table)
	if err != nil || out != "1" {
		return fmt.Errorf("right after the commit on %s (synchronous: remote_apply is not required, so retrying): %q, %v", p.Inv.Name, out, err)
	}
	m.LagMillis = committed.Milliseconds()
	*notes = append(*notes, fmt.Sprintf("table %s created on %s was readable on %s right after the commit returned (%s)", table, p.Inv.Name, sb.Inv.Name, committed.Round(time.Millisecond)))
	_, _ = c.psql(ctx, p, "DROP TABLE "+table)
	return nil
}

func psStandbyReadOnly(ctx context.Context, st *streamingSuite, m *Metrics, notes *[]string) error {
	c := st.c
	p, err := c.currentPrimary(ctx)
	if err != nil {
		return err
	}
	sb := c.other(p)
	_, err = c.sqlAt(ctx, sb.Inv.Address, c.inv.Database.PublishedPort, "INSERT INTO hagen_writes (id, client) VALUES ('"+randomID("ro")+"', 'ro')")
	if err == nil {
		return fmt.Errorf("a write on the standby %s succeeded", sb.Inv.Name)
	}
	if c.hotStandbyOff(sb) {
		// hot_standby = off: the standby refuses the connection itself.
		if !strings.Contains(err.Error(), "57P03") {
			return fmt.Errorf("expected PostgreSQL's refusal of every connection (hot_standby = off, SQLSTATE 57P03) from %s, got: %v", sb.Inv.Name, err)
		}
		*notes = append(*notes, "standby "+sb.Inv.Name+" (hot_standby = off): "+err.Error())
		return nil
	}
	if !strings.Contains(err.Error(), "read-only transaction") || !strings.Contains(err.Error(), "25006") {
		return fmt.Errorf("expected PostgreSQL's read-only error (SQLSTATE 25006) from %s, got: %v", sb.Inv.Name, err)
	}
	*notes = append(*notes, "standby "+sb.Inv.Name+": "+err.Error())
	return nil
}

func psSteadyState(ctx context.Context, st *streamingSuite, m *Metrics, notes *[]string) error {
	c := st.c
	p, err := c.currentPrimary(ctx)
	if err != nil {
		return err
	}
	holder, err := c.checkVIP(ctx, p)
	if err != nil {
		return err
	}
	// Every HAProxy (on each node or proxy host, and at the VIP) leads to
	// the primary.
	px, ok := c.dbProxyPort()
	if !ok {
		*notes = append(*notes, fmt.Sprintf("VIP on %s only; no HAProxy in front of the database", p.Inv.Name))
		return nil
	}
	addrs := []string{c.inv.VIP.Address}
	var proxies []*site
	for _, s := range c.sites {
		if _, ok := s.Project.Services["haproxy"]; ok {
			addrs, proxies = append(addrs, s.Inv.Address), append(proxies, s)
		}
	}
	for _, addr := range addrs {
		got, err := c.sqlAt(ctx, addr, px, "SELECT "+nodeNameSQL+" || ' ' || pg_is_in_recovery()::text")
		if err != nil {
			return fmt.Errorf("through HAProxy at %s:%d: %v", addr, px, err)
		}
		if got != p.Inv.Name+" false" {
			return fmt.Errorf("HAProxy at %s:%d leads to %q, expected the primary %s", addr, px, got, p.Inv.Name)
		}
	}
	*notes = append(*notes, fmt.Sprintf("VIP on %s only; HAProxy at the VIP and on %s leads to the primary %s", holder.Inv.Name, siteNames(proxies), p.Inv.Name))
	return nil
}

func psHealthURL(ctx context.Context, st *streamingSuite, m *Metrics, notes *[]string) error {
	c := st.c
	p, err := c.currentPrimary(ctx)
	if err != nil {
		return err
	}
	for _, s := range c.dbSites() {
		for _, path := range []string{"/primary", "/replica", "/health"} {
			code, err := c.agentGet(ctx, s, path)
			if err != nil {
				return err
			}
			want := http.StatusOK
			if (path == "/primary") != (s == p) && path != "/health" {
				want = http.StatusServiceUnavailable
			}
			if path != "/primary" && s != p && c.hotStandbyOff(s) {
				// The agent cannot query a standby that takes no SQL
				// (hot_standby = off): the rendered spec warns that it
				// reports it unreachable (/replica and /health 503).
				want = http.StatusServiceUnavailable
			}
			if code != want {
				return fmt.Errorf("agent on %s: GET %s = %d, expected %d", s.Inv.Name, path, code, want)
			}
		}
	}
	if c.hotStandbyOff(c.other(p)) {
		*notes = append(*notes, fmt.Sprintf("/primary 200 on %s only; on the standby /replica and /health 503 (hot_standby = off: the agent cannot query it, as the spec's warning says)", p.Inv.Name))
		return nil
	}
	*notes = append(*notes, fmt.Sprintf("/primary 200 on %s only, /replica 200 on the standby only", p.Inv.Name))
	return nil
}

// psStandbyDown stops every standby's database while a client writes and
// checks the spec's onStandbyDown (with one standby, the standby; with a
// quorum, the scenario quorum stops fewer).
func psStandbyDown(ctx context.Context, st *streamingSuite, m *Metrics, notes *[]string) error {
	c := st.c
	p, err := c.currentPrimary(ctx)
	if err != nil {
		return err
	}
	sbs := c.others(p)
	db := c.inv.Database.Service
	defer func() {
		for _, sb := range sbs {
			_ = c.e.start(context.Background(), sb.Containers[db])
		}
	}()
	var names []string
	for _, sb := range sbs {
		if _, err := c.e.cli.ContainerStop(ctx, sb.Containers[db], client.ContainerStopOptions{}); err != nil {
			return err
		}
		names = append(names, sb.Inv.Name)
	}
	// One write on the primary, bounded by a client-side timeout.
	wctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	_, werr := c.sqlAt(wctx, p.Inv.Address, c.inv.Database.PublishedPort, "INSERT INTO hagen_writes (id, client) VALUES ('"+randomID("sd")+"', 'standby-down')")
	cancel()
	blocked := werr != nil
	policy := c.inv.Database.OnStandbyDown
	m.Extra = map[string]float64{"writesBlocked": b2f(blocked)}
	*notes = append(*notes, fmt.Sprintf("onStandbyDown %q: with %s down a commit on the primary %s", policy, strings.Join(names, " and "), map[bool]string{true: "blocked (no acknowledgement within 4 s)", false: "was acknowledged"}[blocked]))
	for _, sb := range sbs {
		if err := c.e.start(ctx, sb.Containers[db]); err != nil {
			return err
		}
	}
	if err := c.waitSync(ctx, p, c.timers().rejoin); err != nil {
		return fmt.Errorf("after the standby returned: %w", err)
	}
	switch {
	case !c.inv.Database.Synchronous:
		// Asynchronous replication never waits for the standby.
		if blocked {
			return fmt.Errorf("replication is asynchronous, but a commit on the primary blocked with the standby down: %v", werr)
		}
	case policy == "block":
		if !blocked {
			return fmt.Errorf("onStandbyDown is block, but a commit was acknowledged with the standby down")
		}
	default:
		if blocked {
			return skip("onStandbyDown %q: the fallback to asynchronous is not rendered yet; the commit blocked (%v)", policy, werr)
		}
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// faultRun is what a fault scenario measured, for the next scenarios.
type faultRun struct {
	kind       string
	at         time.Time
	old, new   *site
	switchAt   time.Duration // first ack through the surviving node's HAProxy
	promotedAt time.Duration // the new node's agent answers /primary 200
	vipMove    time.Duration
	interval   time.Duration // HAProxy check interval
	fall       int
	events     []probe.Event
	// faultTook is how long injecting the fault took (containers one
	// after the other).
	faultTook time.Duration
	// From the surviving node's HAProxy log: the active server marked
	// down, the backup marked up (zero when not seen).
	activeDown, backupUp time.Duration
}

// psFault runs one fault kind against the current primary with clients
// writing through the VIP (direct and HAProxy) and the surviving node's
// HAProxy, then checks zero loss and the old primary's rejoin.
func psFault(kind string) func(context.Context, *streamingSuite, *Metrics, *[]string) error {
	return func(ctx context.Context, st *streamingSuite, m *Metrics, notes *[]string) error {
		c := st.c
		old, err := c.currentPrimary(ctx)
		if err != nil {
			return err
		}
		survivor := c.other(old)
		if err := c.waitSync(ctx, old, c.timers().rejoin); err != nil {
			return fmt.Errorf("before the fault: %w", err)
		}
		vip, pub := c.inv.VIP.Address, c.inv.Database.PublishedPort
		tag := randomID(kind)
		ws := []writer{
			{Name: tag + "-vip-a", Addr: vip, Port: pub}, {Name: tag + "-vip-b", Addr: vip, Port: pub},
		}
		px, proxied := c.dbProxyPort()
		if proxied {
			ws = append(ws,
				writer{Name: tag + "-haproxy-vip", Addr: vip, Port: px},
				writer{Name: tag + "-haproxy-" + survivor.Inv.Name, Addr: survivor.Inv.Address, Port: px})
		}
		wctx, stopWriters := context.WithCancel(ctx)
		defer stopWriters()
		rec := &recorder{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			rec.add(c.runWritersLive(wctx, ws, 5*time.Millisecond, rec))
		}()
		waitPGBench := func() {}
		if kind == "kill" || kind == "stop" {
			waitPGBench = c.startPGBench(ctx, 20*time.Second)
		}
		// At least 1,000 acknowledged writes before the fault.
		if err := poll(ctx, "1000 acknowledged writes", func() error {
			if n := rec.acked(); n < 1000 {
				return fmt.Errorf("%d acknowledged", n)
			}
			return nil
		}); err != nil {
			return err
		}
		c.hist().Event(history.VIPHolder, old.Inv.Name, "VIP bound before the fault")
		fr := &faultRun{kind: kind, old: old, new: survivor}
		if proxied {
			fr.interval, fr.fall = time.Duration(c.inv.Proxy.Interval)*time.Millisecond, c.inv.Proxy.Fall
		}
		c.progress("fault %s on %s", kind, old.Inv.Name)
		fr.at = time.Now()
		if err := c.injectFault(ctx, kind, old); err != nil {
			return err
		}
		// The fault takes a moment (one container after the other):
		// writes sent before it is complete may still be acknowledged by
		// the old primary. Recovery counts from the end of the fault.
		faultDone := time.Now()
		fr.faultTook = faultDone.Sub(fr.at)
		// Promotion and VIP move, sampled every 100 ms until writes
		// resume through every path.
		sctx, stopSampling := context.WithCancel(ctx)
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			for sctx.Err() == nil && (fr.promotedAt == 0 || fr.vipMove == 0) {
				if fr.promotedAt == 0 && c.writable(sctx, survivor) {
					fr.promotedAt = time.Since(fr.at)
				}
				if on, err := c.vipOn(sctx, survivor); err == nil && on && fr.vipMove == 0 {
					fr.vipMove = time.Since(fr.at)
				}
				select {
				case <-sctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
		rctx, cancel := context.WithTimeout(ctx, c.timers().writes)
		err = poll(rctx, "writes through every path after the fault", func() error {
			evs := rec.snapshot()
			for _, w := range ws {
				if _, ok := firstStartedAfter(filterServer(evs, w.Name), faultDone); !ok {
					return fmt.Errorf("no acknowledged write through %s:%d since the fault", w.Addr, w.Port)
				}
			}
			return nil
		})
		cancel()
		if err != nil {
			stopSampling()
			<-sampled
			return fmt.Errorf("%w; %s", err, c.streamingLogs(ctx))
		}
		if kind == "postgres-kill" {
			// A crashed postmaster child: the postmaster recovers in place,
			// or keepalived fails over, which the rendered check decides
			// within its budget (vip/database-check-fails): wait it out
			// from the end of the fault. The absence of a failover cannot
			// be awaited otherwise.
			if b := c.inv.Budget(contract.BudgetPathVIP, contract.BudgetFaultDatabaseCheck); b != nil {
				select {
				case <-ctx.Done():
				case <-time.After(time.Until(faultDone.Add(time.Duration(b.Budget) * time.Millisecond))):
				}
			}
		}
		// Settled: one writable primary and the VIP on it.
		vctx, cancelV := context.WithTimeout(ctx, c.timers().vip)
		err = poll(vctx, "one writable primary holding the VIP", func() error {
			p, err := c.currentPrimary(vctx)
			if err != nil {
				return err
			}
			if on, err := c.vipOn(vctx, p); err != nil || !on {
				return fmt.Errorf("the VIP is not on the writable primary %s (%v)", p.Inv.Name, err)
			}
			if p != old {
				// The sampler sees the same within its period.
				select {
				case <-sampled:
				case <-vctx.Done():
				}
			}
			return nil
		})
		cancelV()
		stopSampling()
		<-sampled
		if err != nil {
			return fmt.Errorf("after the %s of %s: %w; %s", kind, old.Inv.Name, err, c.streamingLogs(ctx))
		}
		stopWriters()
		<-done
		waitPGBench()
		current, err := c.currentPrimary(ctx)
		if err != nil {
			return fmt.Errorf("after the %s of %s: %w", kind, old.Inv.Name, err)
		}
		if on, err := c.vipOn(ctx, current); err != nil || !on {
			return fmt.Errorf("after the %s of %s: the VIP is not on the writable primary %s (%v)", kind, old.Inv.Name, current.Inv.Name, err)
		}
		failedOver := current != old
		if !failedOver {
			fr.vipMove, fr.promotedAt = 0, 0
			*notes = append(*notes, fmt.Sprintf("no failover: %s recovered in place and stayed the primary", old.Inv.Name))
		}
		fr.new = current
		if failedOver {
			rec := c.hist()
			rec.EventAt(rec.Offset(fr.at.Add(fr.vipMove)), history.VIPHolder, current.Inv.Name, "VIP bound")
			rec.EventAt(rec.Offset(fr.at.Add(fr.promotedAt)), history.Promotion, current.Inv.Name, "agent /primary 200")
		}
		if kind == "kill" && failedOver {
			fr.activeDown, fr.backupUp = c.haproxyMarks(ctx, current, old, fr.at)
		}
		evs := rec.snapshot()
		fr.events = evs
		if proxied {
			if d, ok := firstStartedAfter(filterServer(evs, ws[3].Name), faultDone); ok {
				fr.switchAt = faultDone.Add(d).Sub(fr.at)
			}
		}
		gap, _ := writeGap(evs, faultDone)
		rto, _ := firstStartedAfter(evs, faultDone)
		rto += faultDone.Sub(fr.at)
		var worst time.Duration
		for _, w := range ws[:min(3, len(ws))] {
			if g, ok := writeGap(filterServer(evs, w.Name), faultDone); ok && g > worst {
				worst = g
			}
		}
		m.Extra = map[string]float64{"faultMs": float64(faultDone.Sub(fr.at).Milliseconds())}
		m.RTOMillis = rto.Milliseconds()
		m.WriteGapMillis = max(gap, worst).Milliseconds()
		m.SwitchMillis = fr.vipMove.Milliseconds()
		if proxied {
			m.Extra["firstWriteThroughSurvivorHAProxyMs"] = float64(fr.switchAt.Milliseconds())
		}
		if failedOver {
			m.Extra["vipMoveMs"] = float64(fr.vipMove.Milliseconds())
			m.Extra["promotedMs"] = float64(fr.promotedAt.Milliseconds())
		} else {
			m.SwitchMillis = 0
		}
		acked := probe.Acked(evs)
		present, err := c.writeIDs(ctx, current)
		if err != nil {
			return fmt.Errorf("read the writes on the primary %s: %w", current.Inv.Name, err)
		}
		lost := probe.Lost(acked, present)
		m.WritesAcked, m.WritesLost = len(acked), len(lost)
		ackedSet := map[string]bool{}
		for _, id := range acked {
			ackedSet[id] = true
		}
		for id := range present {
			if strings.HasPrefix(id, tag+"-") && !ackedSet[id] {
				m.Unexpected++
			}
		}
		moved := fmt.Sprintf("VIP on %s after %s, %s's agent /primary 200 after %s", current.Inv.Name, fr.vipMove.Round(time.Millisecond), current.Inv.Name, fr.promotedAt.Round(time.Millisecond))
		if !failedOver {
			moved = "no failover, " + old.Inv.Name + " kept the VIP"
		}
		*notes = append(*notes, fmt.Sprintf("%s of %s at %s: %s; write gap %s (worst per-client), first write after %s; %d acknowledged, %d lost, %d rows unacknowledged but present (in flight at the fault)",
			kind, old.Inv.Name, fr.at.Format("15:04:05.000"), moved, max(gap, worst).Round(time.Millisecond), rto.Round(time.Millisecond), len(acked), len(lost), m.Unexpected))
		if kind == "kill" && failedOver {
			// The killed node stays down for the scenarios that need it
			// (proxy-switch, rejoin); the next steady state restarts it.
			st.kill = fr
		}
		if len(acked) < 1000 {
			return fmt.Errorf("only %d acknowledged writes; the check needs at least 1000", len(acked))
		}
		if len(lost) > 0 {
			if !c.inv.Database.Synchronous && kind != "stop" && failedOver {
				// The spec replicates asynchronously (and accepts the
				// risk): a commit returns before the standby has it, so
				// a failover loses what had not been sent. A graceful
				// stop sends everything first, and is held to zero.
				*notes = append(*notes, fmt.Sprintf("expected under asynchronous replication: %d of %d acknowledged writes were not on the standby when it was promoted (the spec's accepted RPO)", len(lost), len(acked)))
			} else {
				return fmt.Errorf("%d of %d acknowledged writes missing on the primary %s (first: %s)", len(lost), len(acked), current.Inv.Name, strings.Join(lost[:min(5, len(lost))], ", "))
			}
		}
		if kind == "kill" {
			if !failedOver {
				return fmt.Errorf("the kill of %s's node did not fail over", old.Inv.Name)
			}
			// The rejoin scenario brings the node back.
			return nil
		}
		if failedOver && (kind == "pause" || kind == "postgres-kill") && c.selfRejoins() {
			*notes = append(*notes, "the old primary "+old.Inv.Name+" kept running; Patroni demoted it and rejoins it as a standby by itself, nothing is restarted")
		} else if failedOver && (kind == "pause" || kind == "postgres-kill") {
			*notes = append(*notes, "the old primary "+old.Inv.Name+" kept running and fenced itself; restarting its database (the runbook's step) rejoins it through the role hook")
		}
		if err := c.recoverFault(ctx, kind, old, failedOver); err != nil {
			return fmt.Errorf("recovery of %s after %s: %w", old.Inv.Name, kind, err)
		}
		if !failedOver {
			return c.checkRejoined(ctx, current, survivor, notes)
		}
		return c.checkRejoined(ctx, current, old, notes)
	}
}

// firstStartedAfter is the RTO: from the fault to the acknowledgement of
// the first write that was sent after it. (probe.RTO counts any reply after
// the fault, and a commit in flight at the fault is acknowledged a moment
// later by the node that is about to fail.)
func firstStartedAfter(evs []probe.Event, at time.Time) (time.Duration, bool) {
	var best time.Duration
	ok := false
	for _, e := range evs {
		if e.Op != probe.OpWrite || !e.OK || time.Unix(0, e.T-e.LatencyNs).Before(at) {
			continue
		}
		if d := e.Time().Sub(at); !ok || d < best {
			best, ok = d, true
		}
	}
	return best, ok
}

// writeGap is the write gap: from the last acknowledgement at or before
// at (the end of the fault) to the first acknowledgement of a write sent
// after it.
func writeGap(evs []probe.Event, at time.Time) (time.Duration, bool) {
	var last time.Time
	for _, e := range evs {
		if e.Op == probe.OpWrite && e.OK && !e.Time().After(at) && e.Time().After(last) {
			last = e.Time()
		}
	}
	first, ok := firstStartedAfter(evs, at)
	if last.IsZero() || !ok {
		return 0, false
	}
	return at.Add(first).Sub(last), true
}

// streamingLogs is the end of each node's keepalived and database log,
// for a failure message.
func (c *cluster) streamingLogs(ctx context.Context) string {
	var b strings.Builder
	for _, s := range c.sites {
		for _, svc := range []string{"keepalived", c.inv.Database.Service} {
			if id, ok := s.Containers[svc]; ok {
				fmt.Fprintf(&b, "[%s/%s log: %s] ", s.Inv.Name, svc, c.e.tail(context.WithoutCancel(ctx), id, 12))
			}
		}
	}
	return b.String()
}

func filterServer(evs []probe.Event, name string) []probe.Event {
	var out []probe.Event
	for _, e := range evs {
		if e.Server == name {
			out = append(out, e)
		}
	}
	return out
}

func (c *cluster) injectFault(ctx context.Context, kind string, s *site) error {
	switch kind {
	case "kill":
		return c.killSite(ctx, s)
	case "stop":
		return c.stopSite(ctx, s)
	case "pause":
		return c.pauseSite(ctx, s)
	case "postgres-kill":
		defer c.faultBegins(s.Inv.Name, kind)()
		// Every PostgreSQL server process of the running container but the
		// postmaster (its PID 1, which a signal from inside the container
		// cannot kill): the postmaster sees its children crash and runs
		// crash recovery, as after a backend's crash.
		_, err := c.e.mustExec(ctx, s.Containers[c.inv.Database.Service], nil, "pkill", "-KILL", "-x", "postgres")
		return err
	}
	return fmt.Errorf("unknown fault %s", kind)
}

// recoverFault powers the node on again, as an operator would; the
// rendered role hook decides at start how its database rejoins.
func (c *cluster) recoverFault(ctx context.Context, kind string, s *site, failedOver bool) error {
	switch kind {
	case "kill", "stop":
		return c.restartSite(ctx, s)
	case "pause":
		if err := c.unpauseSite(ctx, s); err != nil {
			return err
		}
		if !failedOver || c.selfRejoins() {
			// Patroni finds the newer leader in etcd, demotes the thawed
			// node and rejoins it (pg_rewind) by itself.
			return nil
		}
		// The thawed old primary finds a newer primary and fences itself
		// (notify.sh BACKUP/FAULT, check.sh); it rejoins at its next start:
		// the runbook's restart, which the role hook turns into a rejoin.
		wctx, cancel := context.WithTimeout(ctx, c.timers().vip)
		defer cancel()
		if err := poll(wctx, "the thawed "+s.Inv.Name+" fenced", func() error {
			if c.writable(wctx, s) {
				return errors.New("still writable")
			}
			return nil
		}); err != nil {
			return err
		}
		_, err := c.e.cli.ContainerRestart(ctx, s.Containers[c.inv.Database.Service], client.ContainerRestartOptions{})
		return err
	case "postgres-kill":
		if failedOver && !c.selfRejoins() {
			// The old primary recovered fenced: the runbook's restart,
			// which the role hook turns into a rejoin.
			_, err := c.e.cli.ContainerRestart(ctx, s.Containers[c.inv.Database.Service], client.ContainerRestartOptions{})
			return err
		}
	}
	return nil
}

// checkRejoined waits until old streams from primary as a synchronous
// standby and both hold the same rows.
func (c *cluster) checkRejoined(ctx context.Context, primary, old *site, notes *[]string) error {
	t0 := time.Now()
	if err := c.waitSync(ctx, primary, c.timers().rejoin); err != nil {
		return fmt.Errorf("%s did not rejoin as the %s standby of %s: %w; %s log: %s", old.Inv.Name, c.replicationWord(), primary.Inv.Name, err, old.Inv.Name, c.e.tail(ctx, old.Containers[c.inv.Database.Service], 6))
	}
	// The time until the old primary rejoins: from the lifting of the
	// fault (restart, thaw, heal), whatever the design needs after it.
	if e := c.ev(); e != nil {
		e.mu.Lock()
		if !e.lifted.IsZero() {
			e.rejoin = time.Since(e.lifted)
			*notes = append(*notes, fmt.Sprintf("%s streamed again %s after the fault was lifted", old.Inv.Name, e.rejoin.Round(time.Millisecond)))
		}
		e.mu.Unlock()
	}
	p, err := c.currentPrimary(ctx)
	if err != nil {
		return fmt.Errorf("after the rejoin: %w", err)
	}
	if p != primary {
		return fmt.Errorf("after the rejoin %s is the writable primary, expected %s", p.Inv.Name, primary.Inv.Name)
	}
	// Steady state again: the VIP on the primary only.
	vctx, cancel := context.WithTimeout(ctx, c.timers().vip)
	err = poll(vctx, "the VIP where it belongs", func() error {
		_, err := c.checkVIP(vctx, primary)
		return err
	})
	cancel()
	if err != nil {
		return fmt.Errorf("after the rejoin: %w; %s", err, c.streamingLogs(ctx))
	}
	// A row written now is on both (synchronous), and the sets agree.
	if _, err := c.sqlAt(ctx, primary.Inv.Address, c.inv.Database.PublishedPort, "INSERT INTO hagen_writes (id, client) VALUES ('"+randomID("rj")+"', 'rejoin')"); err != nil {
		return fmt.Errorf("a write on %s after the rejoin: %w", primary.Inv.Name, err)
	}
	a, err := c.writeIDs(ctx, primary)
	if err != nil {
		return err
	}
	var b map[string]bool
	if err := poll(ctx, "the same rows on both nodes", func() error {
		b, err = c.writeIDs(ctx, old)
		if err != nil {
			return err
		}
		if len(a) != len(b) {
			return fmt.Errorf("%s has %d rows, %s %d", primary.Inv.Name, len(a), old.Inv.Name, len(b))
		}
		return nil
	}); err != nil {
		return err
	}
	var divergent []string
	for id := range b {
		if !a[id] {
			divergent = append(divergent, id)
		}
	}
	if len(divergent) > 0 {
		slices.Sort(divergent)
		return fmt.Errorf("%d rows on %s that the primary %s lacks (divergent): %s", len(divergent), old.Inv.Name, primary.Inv.Name, strings.Join(divergent[:min(5, len(divergent))], ", "))
	}
	*notes = append(*notes, fmt.Sprintf("%s rejoined as the %s standby of %s after %s; both hold the same %d rows", old.Inv.Name, c.replicationWord(), primary.Inv.Name, time.Since(t0).Round(time.Millisecond), len(a)))
	return nil
}

func psProxySwitch(ctx context.Context, st *streamingSuite, m *Metrics, notes *[]string) error {
	c := st.c
	fr := st.kill
	if fr == nil {
		return fmt.Errorf("%w: no killed primary in the suite state", errSetup)
	}
	if fr.switchAt == 0 {
		return fmt.Errorf("no write went through %s's HAProxy after the kill", fr.new.Inv.Name)
	}
	if fr.activeDown == 0 || fr.backupUp == 0 {
		return fmt.Errorf("%s's HAProxy log does not show %s marked down (%s) and %s marked up (%s) after the kill", fr.new.Inv.Name, fr.old.Inv.Name, fr.activeDown, fr.new.Inv.Name, fr.backupUp)
	}
	inter, rise := fr.interval, time.Duration(c.inv.Proxy.Rise)
	bound := inter * time.Duration(fr.fall)
	// A dead server's check fails by the check timeout (haproxy.cfg's
	// timeout check, from inventory.json) or sooner, and the next one
	// starts an interval later: fall failures within fall × (interval +
	// timeout) of the end of the kill.
	checkTimeout := time.Duration(c.inv.Proxy.CheckTimeout) * time.Millisecond
	downBound := fr.faultTook + time.Duration(fr.fall)*(inter+checkTimeout)
	m.SwitchMillis = fr.switchAt.Milliseconds()
	m.Extra = map[string]float64{
		"checkIntervalMs": float64(inter.Milliseconds()), "fall": float64(fr.fall), "intervalTimesFallMs": float64(bound.Milliseconds()),
		"activeDownMs": float64(fr.activeDown.Milliseconds()), "backupUpMs": float64(fr.backupUp.Milliseconds()),
		"promotedMs": float64(fr.promotedAt.Milliseconds()), "firstWriteMs": float64(fr.switchAt.Milliseconds()),
	}
	*notes = append(*notes, fmt.Sprintf("HAProxy on %s: active %s marked DOWN %s after the kill (interval × fall = %s; with the %s check timeout and the %s the kill took: at most %s), backup %s marked UP %s after the kill, %s after its promotion (interval × rise = %s); first write through it %s after the kill",
		fr.new.Inv.Name, fr.old.Inv.Name, fr.activeDown.Round(time.Millisecond), bound, checkTimeout, fr.faultTook.Round(time.Millisecond), downBound.Round(time.Millisecond), fr.new.Inv.Name, fr.backupUp.Round(time.Millisecond), (fr.backupUp-fr.promotedAt).Round(time.Millisecond), inter*rise, fr.switchAt.Round(time.Millisecond)))
	if fr.activeDown > downBound {
		return fmt.Errorf("HAProxy marked the killed active server down after %s; the checks (interval %s, fall %d, timeout %s) allow %s", fr.activeDown.Round(time.Millisecond), inter, fr.fall, checkTimeout, downBound.Round(time.Millisecond))
	}
	// The backup is checked on /primary: it is marked up by the first
	// passing check after the promotion, within rise intervals (plus one
	// for the check in flight).
	if after := fr.backupUp - fr.promotedAt; after > inter*rise+inter {
		return fmt.Errorf("HAProxy marked the backup up %s after its promotion; expected within %s", after.Round(time.Millisecond), inter*rise+inter)
	}
	return nil
}

// haproxyMarks reads the HAProxy log of site s since t0 and returns when
// the server of site down was marked DOWN and the server of s UP.
func (c *cluster) haproxyMarks(ctx context.Context, s, down *site, t0 time.Time) (time.Duration, time.Duration) {
	return c.haproxyMarksOn(ctx, s, down, s, t0)
}

// haproxyMarksOn reads the HAProxy log of site px since t0 and returns
// when the server of site down was marked DOWN and the server of site up
// UP.
func (c *cluster) haproxyMarksOn(ctx context.Context, px, down, up *site, t0 time.Time) (time.Duration, time.Duration) {
	id, ok := px.Containers["haproxy"]
	if !ok {
		return 0, 0
	}
	rc, err := c.e.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true, Since: t0.Add(-time.Second).Format(time.RFC3339Nano)})
	if err != nil {
		return 0, 0
	}
	defer rc.Close()
	var out strings.Builder
	_, _ = stdcopy.StdCopy(&out, &out, rc)
	var downAt, upAt time.Duration
	for _, line := range strings.Split(out.String(), "\n") {
		ts, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || t.Before(t0) {
			continue
		}
		switch {
		case downAt == 0 && strings.Contains(rest, "/"+down.Inv.Name+" is DOWN"):
			downAt = t.Sub(t0)
		case upAt == 0 && strings.Contains(rest, "/"+up.Inv.Name+" is UP"):
			upAt = t.Sub(t0)
		}
	}
	return downAt, upAt
}

func psRejoin(ctx context.Context, st *streamingSuite, m *Metrics, notes *[]string) error {
	c := st.c
	fr := st.kill
	if fr == nil {
		return fmt.Errorf("%w: no killed primary in the suite state", errSetup)
	}
	t0 := time.Now()
	st.kill = nil // restarted from here on, rejoined or not
	if err := c.restartSite(ctx, fr.old); err != nil {
		return err
	}
	if err := c.checkRejoined(ctx, fr.new, fr.old, notes); err != nil {
		return err
	}
	m.Extra = map[string]float64{"rejoinMs": float64(time.Since(t0).Milliseconds())}
	return nil
}

// psPartition cuts the primary off its peer and the witness (DROP rules
// in its host's network namespace; the test clients on the Docker host
// still reach it) and samples every 100 ms which nodes' agents report a
// writable primary.
func psPartition(ctx context.Context, st *streamingSuite, m *Metrics, notes *[]string) error {
	c := st.c
	witnesses := c.witnesses()
	if len(witnesses) == 0 {
		return skip("the spec configures no witness")
	}
	old, err := c.currentPrimary(ctx)
	if err != nil {
		return err
	}
	peer := c.other(old)
	if err := c.waitSync(ctx, old, c.timers().rejoin); err != nil {
		return fmt.Errorf("before the partition: %w", err)
	}
	rec, stopWriters, err := c.startVIPWriters(ctx, randomID("partition"), "the partition")
	if err != nil {
		return err
	}
	defer stopWriters()
	// Cut from every other database node and every witness.
	var rules []string
	for _, o := range c.others(old) {
		ipt := iptables(o.Inv.Address)
		rules = append(rules, ipt+" -I INPUT -s "+o.Inv.Address+" -j DROP", ipt+" -I OUTPUT -d "+o.Inv.Address+" -j DROP")
	}
	for _, addr := range c.witnesses() {
		ipt := iptables(addr)
		rules = append(rules, ipt+" -I INPUT -s "+addr+" -j DROP", ipt+" -I OUTPUT -d "+addr+" -j DROP")
	}
	c.deviate("a partition of the database nodes is iptables DROP rules in the cut-off node's host namespace against its peers and the witnesses; the Docker host (the test clients) still reaches it")
	// One exec: the cut is complete within milliseconds.
	inEffect := c.faultBegins(old.Inv.Name, "partition")
	if _, err := c.e.mustExec(ctx, old.HostID, nil, "sh", "-ec", strings.Join(rules, "\n")); err != nil {
		return fmt.Errorf("partition %s: %w", old.Inv.Name, err)
	}
	at := time.Now()
	inEffect()
	defer func() { _ = c.heal(context.Background(), old) }()
	c.progress("partitioned %s from %s and the witness", old.Inv.Name, peer.Inv.Name)
	var fencedAt, promotedAt time.Duration
	both := 0
	samples := 0
	sample := func(sctx context.Context) (bool, bool) {
		var wo, wp bool
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); wo = c.writable(sctx, old) }()
		go func() { defer wg.Done(); wp = c.writable(sctx, peer) }()
		wg.Wait()
		samples++
		if wo && wp {
			both++
		}
		return wo, wp
	}
	pctx, cancel := context.WithTimeout(ctx, c.timers().writes)
	err = poll(pctx, peer.Inv.Name+" promoted and the VIP on it", func() error {
		wo, wp := sample(pctx)
		if !wo && fencedAt == 0 {
			fencedAt = time.Since(at)
		}
		if wp && promotedAt == 0 {
			promotedAt = time.Since(at)
		}
		on, err := c.vipOn(pctx, peer)
		if err != nil {
			return err
		}
		if !wp || !on || wo {
			return fmt.Errorf("%s writable %v, %s writable %v, VIP on %s %v", old.Inv.Name, wo, peer.Inv.Name, wp, peer.Inv.Name, on)
		}
		return nil
	})
	cancel()
	if err != nil {
		return fmt.Errorf("%w; %s", err, c.streamingLogs(ctx))
	}
	// Writes resume through the VIP on the new primary.
	if err := poll(ctx, "writes after the partition", func() error {
		if _, ok := firstStartedAfter(rec.snapshot(), at.Add(promotedAt)); !ok {
			return errors.New("none acknowledged since the promotion")
		}
		return nil
	}); err != nil {
		return err
	}
	healAt := time.Now()
	if err := c.heal(ctx, old); err != nil {
		return err
	}
	// After healing: sample for five seconds; exactly one writable primary.
	for time.Since(healAt) < 5*time.Second {
		wo, wp := sample(ctx)
		if wo {
			return fmt.Errorf("after healing, the old primary %s is writable again (%s writable: %v)", old.Inv.Name, peer.Inv.Name, wp)
		}
		if !wp {
			return fmt.Errorf("after healing, no writable primary: %s is not writable", peer.Inv.Name)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopWriters()
	evs := rec.snapshot()
	gap, _ := writeGap(evs, at)
	acked := probe.Acked(evs)
	present, err := c.writeIDs(ctx, peer)
	if err != nil {
		return err
	}
	lost := probe.Lost(acked, present)
	m.WritesAcked, m.WritesLost, m.WriteGapMillis = len(acked), len(lost), gap.Milliseconds()
	m.Extra = map[string]float64{"fencedMs": float64(fencedAt.Milliseconds()), "promotedMs": float64(promotedAt.Milliseconds()), "samples": float64(samples), "samplesBothWritable": float64(both)}
	*notes = append(*notes, fmt.Sprintf("%s cut off from %s and the witness: %s fenced after %s, %s promoted after %s; %d samples (every ~100 ms), %d with two writable primaries; write gap %s; %d acknowledged, %d lost",
		old.Inv.Name, peer.Inv.Name, old.Inv.Name, fencedAt.Round(time.Millisecond), peer.Inv.Name, promotedAt.Round(time.Millisecond), samples, both, gap.Round(time.Millisecond), len(acked), len(lost)))
	if both > 0 {
		return fmt.Errorf("%d of %d samples saw two writable primaries", both, samples)
	}
	if len(lost) > 0 {
		if c.inv.Database.Synchronous {
			return fmt.Errorf("%d acknowledged writes lost", len(lost))
		}
		*notes = append(*notes, fmt.Sprintf("expected under asynchronous replication: %d acknowledged writes were not on the standby when it was promoted (the spec's accepted RPO)", len(lost)))
	}
	if c.selfRejoins() {
		*notes = append(*notes, "after healing Patroni on "+old.Inv.Name+" rejoins it as the standby of "+peer.Inv.Name+" by itself (pg_rewind); nothing is restarted")
		return c.checkRejoined(ctx, peer, old, notes)
	}
	// The fenced old primary stays read-only until it is restarted; the
	// runbook's step, which the role hook turns into a rejoin.
	*notes = append(*notes, "after healing "+old.Inv.Name+" stays fenced (read-only); restarting its database (the runbook's step) rejoins it through the role hook")
	if _, err := c.e.cli.ContainerRestart(ctx, old.Containers[c.inv.Database.Service], client.ContainerRestartOptions{}); err != nil {
		return err
	}
	return c.checkRejoined(ctx, peer, old, notes)
}

// recorder collects writer events while they run.
type recorder struct {
	mu  sync.Mutex
	evs []probe.Event
	n   int
}

func (r *recorder) add(evs []probe.Event) {}

func (r *recorder) record(e probe.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, e)
	if e.OK {
		r.n++
	}
}

func (r *recorder) acked() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *recorder) snapshot() []probe.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.evs)
	slices.SortFunc(out, func(a, b probe.Event) int { return int(a.T - b.T) })
	return out
}

// startVIPWriters starts writers through the VIP (and HAProxy at the VIP
// when it fronts the database), named after tag, and returns once 200
// writes are acknowledged (before what, in the error). stop ends them and
// waits until they have; it may be called more than once.
func (c *cluster) startVIPWriters(ctx context.Context, tag, before string) (rec *recorder, stop func(), err error) {
	ws := []writer{{Name: tag + "-vip", Addr: c.inv.VIP.Address, Port: c.inv.Database.PublishedPort}}
	if px, ok := c.dbProxyPort(); ok {
		ws = append(ws, writer{Name: tag + "-haproxy-vip", Addr: c.inv.VIP.Address, Port: px})
	}
	wctx, cancel := context.WithCancel(ctx)
	rec = &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.runWritersLive(wctx, ws, 5*time.Millisecond, rec)
	}()
	stop = func() {
		cancel()
		<-done
	}
	if err := poll(ctx, "writes before "+before, func() error {
		if rec.acked() < 200 {
			return errors.New("fewer than 200 acknowledged")
		}
		return nil
	}); err != nil {
		stop()
		return nil, nil, err
	}
	return rec, stop, nil
}
