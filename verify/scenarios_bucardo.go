package verify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/hagen-ha/hagen/internal/probe"
)

// bucardoSuite is the multi-master-async matrix (issue 3) with its
// state: non-destructive scenarios first, faults after. Each scenario
// starts from the state it names: the steady state (every site up,
// Bucardo Good, the sites' rows equal), a site killed under an HA client
// (site-return; kill-site-failover leaves it so), or a long outage
// observed (monitoring; long-outage leaves it). Run alone, the suite
// makes that state first.
type bucardoSuite struct {
	h *harness
	c *cluster
	// killed is the site kill-site-failover killed, while it is down,
	// with the HA client's acknowledged writes.
	killed *killedSite
	// outage is what the monitoring read during the last long outage.
	outage *outageSeen
}

// killedSite is a site killed under an HA client.
type killedSite struct {
	site   *site
	acked  []string
	client string
}

// outageSeen is what bucardo status showed while a peer was down.
type outageSeen struct {
	// notGood describes the first alert reading ("" for none).
	notGood string
	after   time.Duration
}

func (bs *bucardoSuite) scenarios() []scenario {
	run := func(f func(context.Context, *bucardoSuite, *Metrics, *[]string) error) func(context.Context, *Metrics, *[]string) error {
		return func(ctx context.Context, m *Metrics, notes *[]string) error { return f(ctx, bs, m, notes) }
	}
	return []scenario{
		{name: "replication-0-to-1", desc: "a row written on site 0 appears on site 1; lag measured", run: run(replicationScenario(0, 1))},
		{name: "replication-1-to-0", desc: "a row written on site 1 appears on site 0; lag measured", run: run(replicationScenario(1, 0))},
		{name: "direct-site-0", desc: "a client configured directly to site 0 connects and writes there", run: run(directScenario(0))},
		{name: "direct-site-1", desc: "a client configured directly to site 1 connects and writes there", run: run(directScenario(1))},
		{name: "ha-distribution", desc: "HA clients connect to live sites with the DNS names' shares (bound at alpha 1e-6)", run: run(distributionScenario)},
		{name: "concurrent-update", desc: "the same row updated on both sites at once converges per the conflict strategy", run: run(concurrentUpdateScenario)},
		{name: "partition", desc: "WAN cut while clients write on both sites; heal; converge; no acknowledged write lost", run: run(partitionScenario), timeout: 3 * time.Minute},
		{name: "kill-site-failover", desc: "kill the site an HA client uses: it fails over; RTO and RPO measured", run: run(killFailoverScenario)},
		{name: "site-return", desc: "the killed site returns: outage writes reach it and both sites hold the same rows", needs: needSiteKilled, run: run(siteReturnScenario), timeout: 3 * time.Minute},
		{name: "long-outage", desc: "a site down over 15 s: replication resumes after its return without a hand-run bucardo restart", run: run(longOutageScenario), timeout: 4 * time.Minute},
		{name: "bucardo-kill", desc: "the Bucardo site's replication service killed: writes keep working on every site; replication resumes and converges; pause measured", run: run(siteFaultScenario("bucardo-kill", 0)), timeout: 3 * time.Minute},
		{name: "bucardo-stop", desc: "the Bucardo site's replication service stopped and started: writes keep working; replication resumes and converges", run: run(siteFaultScenario("bucardo-stop", 0)), timeout: 3 * time.Minute},
		{name: "bucardo-pause", desc: "the Bucardo site's replication service frozen (pause): writes keep working; replication resumes after the thaw and converges", run: run(siteFaultScenario("bucardo-pause", 0)), timeout: 3 * time.Minute},
		{name: "bucardo-partition", desc: "the Bucardo site cut off the WAN: writes keep working on every site; after healing replication resumes and converges", run: run(siteFaultScenario("bucardo-partition", 0)), timeout: 3 * time.Minute},
		{name: "postgres-kill-site-0", desc: "site 0's postgres processes killed: writes keep working on site 1; site 0 recovers; replication converges", run: run(siteFaultScenario("postgres-kill", 0)), timeout: 3 * time.Minute},
		{name: "postgres-kill-site-1", desc: "site 1's postgres processes killed: writes keep working on site 0; site 1 recovers; replication converges", run: run(siteFaultScenario("postgres-kill", 1)), timeout: 3 * time.Minute},
		{name: "name-server-down", desc: "the name server frozen while clients write: connected clients and Bucardo keep working, a client connecting during the outage writes once it returns, no loss", run: run(nameServerDownScenario), timeout: 2 * time.Minute},
		{name: "lossy-link", desc: "the WAN between the sites drops packets at random: writes keep working, replication lag measured, converges after, no loss", run: run(linkScenario("lossy")), timeout: 2 * time.Minute},
		{name: "slow-link", desc: "Bucardo's connections to the peer delayed each way: writes keep working, replication lag measured, converges after, no loss", run: run(linkScenario("slow")), timeout: 2 * time.Minute},
		{name: "monitoring", desc: "bucardo status reads Good in steady state and not Good while the peer is down", needs: needOutageSeen, run: run(monitoringScenario), timeout: 3 * time.Minute},
	}
}

func (bs *bucardoSuite) prepare(ctx context.Context, n need, notes *[]string) error {
	switch n {
	case needSiteKilled:
		if bs.killed != nil && bs.c != nil {
			if bad, err := bs.c.stoppedOrPaused(ctx, bs.killed.site); err == nil && len(bad) > 0 {
				return nil
			}
		}
		bs.killed = nil
		if err := bs.steady(ctx, notes); err != nil {
			return err
		}
		return bs.setup(ctx, "kill-site-failover", killFailoverScenario, notes, func() bool { return bs.killed != nil })
	case needOutageSeen:
		if bs.outage != nil && bs.c != nil {
			return bs.steady(ctx, notes)
		}
		if err := bs.steady(ctx, notes); err != nil {
			return err
		}
		return bs.setup(ctx, "long-outage", longOutageScenario, notes, func() bool { return bs.outage != nil })
	}
	return bs.steady(ctx, notes)
}

// setup runs another scenario to make the state a scenario needs; its
// notes are kept, marked.
func (bs *bucardoSuite) setup(ctx context.Context, name string, f func(context.Context, *bucardoSuite, *Metrics, *[]string) error, notes *[]string, ok func() bool) error {
	var m Metrics
	var setup []string
	err := f(ctx, bs, &m, &setup)
	for _, s := range setup {
		*notes = append(*notes, "setup ("+name+"): "+s)
	}
	if err == nil && !ok() {
		err = fmt.Errorf("%s did not leave the state", name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// steady gets the steady state: the first bring-up, a reset, or a fresh
// bring-up when the reset fails.
func (bs *bucardoSuite) steady(ctx context.Context, notes *[]string) error {
	return bs.h.steady(ctx, bs.c != nil, bs.reset, bs.fresh, notes)
}

func (bs *bucardoSuite) fresh(ctx context.Context, notes *[]string) error {
	bs.killed, bs.outage = nil, nil
	var err error
	bs.c, err = bs.h.freshNoted(ctx, nil, notes)
	return err
}

// reset brings every site back (thawed, powered on, healed), then waits
// for the databases, every sync Good and the sites' rows equal.
func (bs *bucardoSuite) reset(ctx context.Context) (bool, error) {
	c := bs.c
	t := c.timers()
	rctx, cancel := context.WithTimeout(ctx, t.healthy+t.rejoin)
	defer cancel()
	changed := false
	for _, s := range c.sites {
		ch, err := c.resetSite(rctx, s)
		if err != nil {
			return true, fmt.Errorf("site %s: %w", s.Inv.Name, err)
		}
		if ch && bs.killed != nil && bs.killed.site == s {
			bs.killed = nil
		}
		changed = changed || ch
	}
	if bs.killed != nil {
		return true, errors.New("the killed site is still down")
	}
	for _, s := range c.sites {
		if err := c.e.waitHealthy(rctx, s.Containers[c.inv.Database.Service], s.Inv.Name+"/"+c.inv.Database.Service); err != nil {
			return true, err
		}
	}
	if err := c.waitBucardoGood(rctx); err != nil {
		return true, err
	}
	if _, err := waitConverged(rctx, c, nil, "", nil); err != nil {
		return true, err
	}
	return changed, nil
}

func (bs *bucardoSuite) deployment() *cluster { return bs.c }

func (bs *bucardoSuite) logs(ctx context.Context) []string {
	if bs.c == nil {
		return nil
	}
	out := bs.c.containerStates(ctx, true)
	return append(out, bs.c.serviceLogs(ctx, 12, bs.c.inv.Database.BucardoService, bs.c.inv.Database.Service)...)
}

func randomID(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// replicationScenario writes a row on site from and measures until it is
// readable on site to.
func replicationScenario(from, to int) func(context.Context, *bucardoSuite, *Metrics, *[]string) error {
	return func(ctx context.Context, bs *bucardoSuite, m *Metrics, notes *[]string) error {
		c := bs.c
		if from >= len(c.sites) || to >= len(c.sites) {
			return skip("the topology has %d sites", len(c.sites))
		}
		src, dst := c.sites[from], c.sites[to]
		id := randomID("repl")
		if _, err := c.psql(ctx, src, fmt.Sprintf(`INSERT INTO hagen_probe (id, site, client) VALUES ('%s', '%s', 'verify')`, id, src.Inv.Name)); err != nil {
			return fmt.Errorf("write on %s: %w", src.Inv.Name, err)
		}
		t0 := time.Now()
		err := poll(ctx, "row on "+dst.Inv.Name, func() error {
			out, err := c.psql(ctx, dst, fmt.Sprintf(`SELECT site FROM hagen_probe WHERE id = '%s'`, id))
			if err != nil {
				return err
			}
			if out != src.Inv.Name {
				return fmt.Errorf("row %s not there (got %q)", id, out)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("expected row %s written on %s to appear on %s: %w", id, src.Inv.Name, dst.Inv.Name, err)
		}
		m.LagMillis = max(time.Since(t0).Milliseconds(), 1)
		return nil
	}
}

// siteQuery runs a query on a site's database.
func ids(ctx context.Context, c *cluster, s *site, where string) (map[string]bool, error) {
	out, err := c.psql(ctx, s, "SELECT id FROM hagen_probe WHERE "+where)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if l != "" {
			set[l] = true
		}
	}
	return set, nil
}

// checksum is a per-table checksum of hagen_probe: row count and the md5
// of every row in id order.
func checksum(ctx context.Context, c *cluster, s *site) (string, error) {
	return c.psql(ctx, s, `SELECT count(*) || ':' || coalesce(md5(string_agg(id || '|' || site || '|' || client || '|' || value, ',' ORDER BY id)), '') FROM hagen_probe`)
}

// waitConverged waits until every site holds the acked ids and the
// checksums of all sites are equal, and returns how long that took. With
// m it records the scenario's count: the acknowledged writes, and the
// ones still missing somewhere when it gives up (lost).
func waitConverged(ctx context.Context, c *cluster, m *Metrics, client string, acked []string) (time.Duration, error) {
	t0 := time.Now()
	var missing []string
	err := poll(ctx, "both sites converged", func() error {
		missing = nil
		var sums []string
		for _, s := range c.sites {
			if client != "" {
				have, err := ids(ctx, c, s, fmt.Sprintf("client LIKE '%s%%'", client))
				if err != nil {
					return err
				}
				for _, id := range probe.Lost(acked, have) {
					missing = append(missing, s.Inv.Name+":"+id)
				}
			}
			sum, err := checksum(ctx, c, s)
			if err != nil {
				return err
			}
			sums = append(sums, s.Inv.Name+"="+sum)
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d acknowledged write(s) missing, e.g. %s", len(missing), missing[0])
		}
		for _, sum := range sums[1:] {
			if sum[strings.Index(sum, "=")+1:] != sums[0][strings.Index(sums[0], "=")+1:] {
				return fmt.Errorf("checksums differ: %s", strings.Join(sums, " "))
			}
		}
		return nil
	})
	if m != nil {
		m.WritesAcked, m.WritesLost = len(acked), len(missing)
	}
	return time.Since(t0), err
}

func directScenario(n int) func(context.Context, *bucardoSuite, *Metrics, *[]string) error {
	return func(ctx context.Context, bs *bucardoSuite, m *Metrics, notes *[]string) error {
		c := bs.c
		if n >= len(c.inv.Clients.Names) {
			return skip("the spec has %d client names", len(c.inv.Clients.Names))
		}
		want := c.inv.Clients.Sites[n]
		id := randomID(fmt.Sprintf("direct%d", n))
		evs, err := c.runClient(ctx, clientRun{Mode: "direct", ServerIndex: n, Duration: 3 * time.Second, ID: id})
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Op == probe.OpConnect && e.OK && e.Site != want {
				return fmt.Errorf("expected every connection to %s on %s, one reached %s", c.inv.Clients.Names[n], want, e.Site)
			}
		}
		acked := probe.Acked(evs)
		m.WritesAcked = len(acked)
		if len(acked) == 0 {
			return fmt.Errorf("expected acknowledged writes through %s, saw none (%d events)", c.inv.Clients.Names[n], len(evs))
		}
		have, err := ids(ctx, c, c.siteByName(want), fmt.Sprintf("client = '%s'", id))
		if err != nil {
			return err
		}
		lost := probe.Lost(acked, have)
		m.WritesLost = len(lost)
		if len(lost) > 0 {
			return fmt.Errorf("expected every acknowledged write in %s's database, %d missing", want, len(lost))
		}
		return nil
	}
}

func distributionScenario(ctx context.Context, bs *bucardoSuite, m *Metrics, notes *[]string) error {
	c := bs.c
	const sessions, alpha = 300, 1e-6
	evs, err := c.runClient(ctx, clientRun{Mode: "distribution", Sessions: sessions, Duration: 90 * time.Second, ID: randomID("dist")})
	if err != nil {
		return err
	}
	counts := probe.SiteCounts(evs)
	n := 0
	for _, k := range counts {
		n += k
	}
	m.Share = probe.Shares(evs)
	want := map[string]float64{}
	for _, s := range c.inv.Clients.Sites {
		want[s] += 1 / float64(len(c.inv.Clients.Sites))
	}
	var bad []string
	for _, s := range c.sites {
		p := want[s.Inv.Name]
		bound := probe.ShareBound(n, p, alpha)
		got := m.Share[s.Inv.Name]
		*notes = append(*notes, fmt.Sprintf("%s: %d of %d connections (%.3f), expected %.3f ± %.3f", s.Inv.Name, counts[s.Inv.Name], n, got, p, bound))
		if got < p-bound || got > p+bound {
			bad = append(bad, fmt.Sprintf("%s share %.3f outside %.3f ± %.3f", s.Inv.Name, got, p, bound))
		}
	}
	if n < sessions/2 {
		return fmt.Errorf("expected about %d successful connections, saw %d", sessions, n)
	}
	if len(bad) > 0 {
		return fmt.Errorf("expected shares within the bound for %d connections at alpha %g: %s", n, alpha, strings.Join(bad, "; "))
	}
	return nil
}

func concurrentUpdateScenario(ctx context.Context, bs *bucardoSuite, m *Metrics, notes *[]string) error {
	c := bs.c
	if len(c.sites) < 2 {
		return skip("needs two sites")
	}
	s0, s1 := c.sites[0], c.sites[1]
	id := randomID("conflict")
	if _, err := c.psql(ctx, s0, fmt.Sprintf(`INSERT INTO hagen_probe (id, site, client) VALUES ('%s', '%s', 'verify')`, id, s0.Inv.Name)); err != nil {
		return err
	}
	if err := poll(ctx, "row on "+s1.Inv.Name, func() error {
		out, err := c.psql(ctx, s1, fmt.Sprintf(`SELECT count(*) FROM hagen_probe WHERE id = '%s'`, id))
		if err == nil && out != "1" {
			err = fmt.Errorf("not there yet")
		}
		return err
	}); err != nil {
		return err
	}
	errs := make(chan error, 2)
	for i, s := range []*site{s0, s1} {
		go func() {
			_, err := c.psql(ctx, s, fmt.Sprintf(`UPDATE hagen_probe SET value = %d WHERE id = '%s'`, 1000*(i+1), id))
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			return err
		}
	}
	t0 := time.Now()
	var vals []string
	err := poll(ctx, "one value on both sites", func() error {
		vals = nil
		for _, s := range []*site{s0, s1} {
			v, err := c.psql(ctx, s, fmt.Sprintf(`SELECT value FROM hagen_probe WHERE id = '%s'`, id))
			if err != nil {
				return err
			}
			vals = append(vals, v)
		}
		if vals[0] != vals[1] {
			return fmt.Errorf("%s has %s, %s has %s", s0.Inv.Name, vals[0], s1.Inv.Name, vals[1])
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("expected the row to converge to one value (%s): %w", c.inv.Database.ConflictStrategy, err)
	}
	m.Extra = map[string]float64{"convergeMs": float64(time.Since(t0).Milliseconds())}
	*notes = append(*notes, fmt.Sprintf("conflict strategy %s kept value %s on both sites", c.inv.Database.ConflictStrategy, vals[0]))
	if vals[0] != "1000" && vals[0] != "2000" {
		return fmt.Errorf("expected one of the two written values, saw %s", vals[0])
	}
	return nil
}

// otherSite is a site other than the Bucardo site (so Bucardo keeps
// running and watches it go away).
func (c *cluster) peerOfBucardo() *site {
	for _, s := range c.sites {
		if s.Inv.Name != c.inv.Database.BucardoSite {
			return s
		}
	}
	return nil
}

func partitionScenario(ctx context.Context, bs *bucardoSuite, m *Metrics, notes *[]string) error {
	c := bs.c
	victim := c.peerOfBucardo()
	if victim == nil || len(c.inv.Clients.Names) < 2 {
		return skip("needs two sites")
	}
	prefix := randomID("part")
	wait := c.directClients(ctx, prefix, faultHold+14*time.Second)
	// Every client writes before the cut.
	if err := c.everyClientWrote(ctx, prefix); err != nil {
		return err
	}
	if err := c.partition(ctx, victim); err != nil {
		return err
	}
	held := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(faultHold): // the cut's duration, a parameter of the test
	}
	if err := c.heal(ctx, victim); err != nil {
		return err
	}
	*notes = append(*notes, fmt.Sprintf("%s cut off the WAN for %s", victim.Inv.Name, time.Since(held).Round(100*time.Millisecond)))
	// Writes to a cut-off site may fail; what counts is that none
	// acknowledged is lost.
	acked, _, _, err := wait()
	if err != nil {
		return err
	}
	d, err := waitConverged(ctx, c, m, prefix, acked)
	if err != nil {
		return fmt.Errorf("expected both sites to converge after healing with every acknowledged write: %w", err)
	}
	m.Extra = map[string]float64{"convergeAfterHealMs": float64(d.Milliseconds())}
	return nil
}

// killFailoverScenario kills the site an HA client is writing to.
func killFailoverScenario(ctx context.Context, bs *bucardoSuite, m *Metrics, notes *[]string) error {
	c := bs.c
	id := randomID("ha")
	type out struct {
		evs []probe.Event
		err error
	}
	res := make(chan out, 1)
	go func() {
		evs, err := c.runClient(ctx, clientRun{Mode: "ha", Duration: 16 * time.Second, ID: id})
		res <- out{evs, err}
	}()
	// The client writes to one site for a while before the fault: ten of
	// its rows there (a condition, not a sleep).
	var used *site
	if err := poll(ctx, "ten of the client's writes", func() error {
		for _, s := range c.sites {
			out, err := c.psql(ctx, s, fmt.Sprintf(`SELECT site || ' ' || count(*) FROM hagen_probe WHERE client = '%s' GROUP BY site ORDER BY count(*) DESC LIMIT 1`, id))
			if err != nil {
				return err
			}
			if name, n, ok := strings.Cut(out, " "); ok && atoi(n) >= 10 {
				used = c.siteByName(name)
				return nil
			}
		}
		return fmt.Errorf("fewer than ten writes yet")
	}); err != nil {
		return err
	}
	faultAt := time.Now()
	if err := c.killSite(ctx, used); err != nil {
		return err
	}
	bs.killed = &killedSite{site: used, client: id}
	*notes = append(*notes, "the client wrote to "+used.Inv.Name+", which was killed (SIGKILL to every container, site host included)")
	o := <-res
	if o.err != nil {
		return o.err
	}
	acked := probe.Acked(o.evs)
	bs.killed.acked = acked
	m.WritesAcked = len(acked)
	rto, ok := probe.RTO(o.evs, faultAt)
	if !ok {
		return fmt.Errorf("expected an acknowledged write after killing %s, saw none", used.Inv.Name)
	}
	m.RTOMillis = rto.Milliseconds()
	if gap, ok := probe.WriteGap(o.evs, faultAt); ok {
		m.WriteGapMillis = gap.Milliseconds()
	}
	for _, s := range c.sites {
		if s == used {
			continue
		}
		have, err := ids(ctx, c, s, fmt.Sprintf("client = '%s'", id))
		if err != nil {
			return err
		}
		lost := probe.Lost(acked, have)
		m.WritesLost = len(lost)
		*notes = append(*notes, fmt.Sprintf("RPO: %d acknowledged write(s) not on %s while %s is down (asynchronous replication)", len(lost), s.Inv.Name, used.Inv.Name))
	}
	return nil
}

func siteReturnScenario(ctx context.Context, bs *bucardoSuite, m *Metrics, notes *[]string) error {
	c := bs.c
	k := bs.killed
	if k == nil {
		return fmt.Errorf("%w: no killed site in the suite state", errSetup)
	}
	s := k.site
	t0 := time.Now()
	bs.killed = nil // restarted from here on, converged or not
	if err := c.restartSite(ctx, s); err != nil {
		return err
	}
	restarted := time.Since(t0)
	if s.Inv.Name == c.inv.Database.BucardoSite {
		if err := c.waitBucardoGood(ctx); err != nil {
			return err
		}
	}
	d, err := waitConverged(ctx, c, m, k.client, k.acked)
	if err != nil {
		return fmt.Errorf("expected the outage writes on %s and equal checksums: %w", s.Inv.Name, err)
	}
	m.Extra = map[string]float64{"restartMs": float64(restarted.Milliseconds()), "convergeMs": float64(d.Milliseconds())}
	return nil
}

// longOutageScenario keeps the peer of the Bucardo site down for more
// than 15 s while the Bucardo site takes writes, then brings it back.
func longOutageScenario(ctx context.Context, bs *bucardoSuite, m *Metrics, notes *[]string) error {
	c := bs.c
	victim := c.peerOfBucardo()
	bsite := c.siteByName(c.inv.Database.BucardoSite)
	if victim == nil || bsite == nil {
		return skip("needs a site besides the Bucardo site")
	}
	if err := c.killSite(ctx, victim); err != nil {
		return err
	}
	seen := &outageSeen{}
	bs.outage = seen
	down := time.Now()
	prefix := randomID("outage")
	var acked []string
	// Down for at least 20 s, and until the runbook's alert fires (state
	// not Good, or Last good older than the watchdog's limit), at most
	// the limit plus 30 s. One write a second on the Bucardo site.
	limit := c.stallAfter()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for n := 0; time.Since(down) < 20*time.Second || (seen.notGood == "" && time.Since(down) < limit+30*time.Second); n++ {
		id := fmt.Sprintf("%s-%d", prefix, n)
		if _, err := c.psql(ctx, bsite, fmt.Sprintf(`INSERT INTO hagen_probe (id, site, client) VALUES ('%s', '%s', '%s')`, id, bsite.Inv.Name, prefix)); err != nil {
			return err
		}
		acked = append(acked, id)
		if states, raw, err := c.bucardoStatus(ctx); err == nil {
			if n%10 == 0 {
				*notes = append(*notes, fmt.Sprintf("bucardo status %s after the fault: %s", time.Since(down).Round(time.Second), strings.Join(strings.Fields(lastLines(raw, 1)), " ")))
			}
			for name, st := range states {
				if seen.notGood != "" {
					break
				}
				if !strings.HasPrefix(st.State, "Good") {
					seen.notGood = fmt.Sprintf("sync %s state %q %s after %s went down", name, st.State, time.Since(down).Round(time.Second), victim.Inv.Name)
				} else if st.Age > limit {
					seen.notGood = fmt.Sprintf("sync %s Good but last good %s ago (alert limit %s) %s after %s went down", name, st.Age, limit, time.Since(down).Round(time.Second), victim.Inv.Name)
				}
				if seen.notGood != "" {
					seen.after = time.Since(down)
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	if err := c.restartSite(ctx, victim); err != nil {
		return err
	}
	*notes = append(*notes, fmt.Sprintf("%s was down for %s", victim.Inv.Name, time.Since(down).Round(100*time.Millisecond)))
	back := time.Now()
	_, err := waitConverged(ctx, c, m, prefix, acked)
	if err != nil {
		return fmt.Errorf("expected replication to resume after %s returned, without a hand-run bucardo restart: %w", victim.Inv.Name, err)
	}
	m.Extra = map[string]float64{"resumeAfterReturnMs": float64(time.Since(back).Milliseconds())}
	bsID := bsite.Containers[c.inv.Database.BucardoService]
	if log := c.e.tail(ctx, bsID, 40); strings.Contains(log, "watchdog") {
		*notes = append(*notes, "the rendered watchdog acted: "+lastLines(grepLines(log, "watchdog"), 2))
	}
	return nil
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, " | ") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func monitoringScenario(ctx context.Context, bs *bucardoSuite, m *Metrics, notes *[]string) error {
	c := bs.c
	seen := bs.outage
	if seen == nil {
		return fmt.Errorf("%w: no long outage in the suite state", errSetup)
	}
	if seen.notGood == "" {
		return fmt.Errorf("expected the runbook's alert (state not Good, or Last good older than %s) while the peer was down (long-outage); bucardo status read Good with a recent Last good throughout", c.stallAfter())
	}
	*notes = append(*notes, "peer down: "+seen.notGood)
	*notes = append(*notes, "the State column alone kept reading Good while the peer was down; only the age of Last good (the Time column) shows the stall")
	t0 := time.Now()
	if err := c.waitBucardoGood(ctx); err != nil {
		return fmt.Errorf("expected bucardo status Good in steady state: %w", err)
	}
	m.Extra = map[string]float64{"goodAfterMs": float64(time.Since(t0).Milliseconds()), "alertAfterMs": float64(seen.after.Milliseconds())}
	return nil
}

func atoi(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0
	}
	return n
}

// faultHold is how long the multi-master fault scenarios keep a fault in
// place: a parameter of the test (long enough for several writes of
// every client during it, under the ~15 s after which upstream Bucardo
// may need a restart, which long-outage covers), not a wait.
const faultHold = 6 * time.Second

// siteFaultScenario faults the Bucardo site's replication service (kill,
// stop, pause, or a WAN partition of the Bucardo site) or a site's
// postgres processes, while a direct client writes on every site.
// Writes keep working on every site the fault does not take the database
// of, and after the fault replication resumes and every acknowledged
// write reaches every site; the report says how long replication was
// paused (from the fault to both sites holding every write).
func siteFaultScenario(fault string, siteIndex int) func(context.Context, *bucardoSuite, *Metrics, *[]string) error {
	return func(ctx context.Context, bs *bucardoSuite, m *Metrics, notes *[]string) error {
		c := bs.c
		bsite := c.siteByName(c.inv.Database.BucardoSite)
		if bsite == nil || len(c.sites) < 2 || len(c.inv.Clients.Names) < len(c.sites) {
			return skip("needs two sites with a client name each")
		}
		target := bsite
		if fault == "postgres-kill" {
			if siteIndex >= len(c.sites) {
				return skip("the topology has %d sites", len(c.sites))
			}
			target = c.sites[siteIndex]
		}
		repl := bsite.Containers[c.inv.Database.BucardoService]
		prefix := randomID(fault)
		wait := c.directClients(ctx, prefix, faultHold+14*time.Second)
		// Every client writes before the fault.
		if err := c.everyClientWrote(ctx, prefix); err != nil {
			return err
		}
		faultAt := time.Now()
		var err error
		switch fault {
		case "bucardo-kill":
			err = c.e.kill(ctx, repl, "KILL")
		case "bucardo-stop":
			_, err = c.e.cli.ContainerStop(ctx, repl, client.ContainerStopOptions{})
		case "bucardo-pause":
			_, err = c.e.cli.ContainerPause(ctx, repl, client.ContainerPauseOptions{})
		case "bucardo-partition":
			err = c.partition(ctx, bsite)
		case "postgres-kill":
			// Every postgres process but the postmaster, the container's
			// main process, which a signal from inside cannot kill: the
			// postmaster sees its children crash and recovers, as after a
			// backend's crash.
			_, err = c.e.mustExec(ctx, target.Containers[c.inv.Database.Service], nil, "pkill", "-KILL", "-x", "postgres")
		default:
			err = fmt.Errorf("unknown fault %s", fault)
		}
		if err != nil {
			return fmt.Errorf("%s on %s: %w", fault, target.Inv.Name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(faultHold):
		}
		switch fault {
		case "bucardo-kill", "bucardo-stop":
			st, err := c.e.state(ctx, repl)
			if err != nil {
				return err
			}
			if st.Running {
				*notes = append(*notes, "Docker's restart policy (restart: always) had already restarted the replication service")
			} else if err := c.start(ctx, repl); err != nil {
				return err
			}
		case "bucardo-pause":
			_, err = c.e.cli.ContainerUnpause(ctx, repl, client.ContainerUnpauseOptions{})
		case "bucardo-partition":
			err = c.heal(ctx, bsite)
		case "postgres-kill":
			// The postmaster recovers by itself; the health check says when.
			err = c.e.waitHealthy(ctx, target.Containers[c.inv.Database.Service], target.Inv.Name+"/"+c.inv.Database.Service)
		}
		if err != nil {
			return fmt.Errorf("recovery from %s on %s: %w", fault, target.Inv.Name, err)
		}
		recovered := time.Now()
		// Replication resumed when a row written on each site after the
		// fault is on every other site (while the clients still write).
		resumed, err := markersReplicated(ctx, c, prefix)
		if err != nil {
			return fmt.Errorf("replication after the %s on %s: %w", fault, target.Inv.Name, err)
		}
		// The writes that fail with the faulted site's database are
		// judged below by site, from the rows' commit times.
		acked, _, _, err := wait()
		if err != nil {
			return err
		}
		var problems []string
		// Which client wrote during the fault, and which after it, by the
		// rows' commit times on their sites.
		during, after := map[string]int{}, map[string]int{}
		for i, name := range c.inv.Clients.Sites {
			cl := fmt.Sprintf("%s-%d", prefix, i)
			rows, err := c.psql(ctx, c.siteByName(name), fmt.Sprintf(`SELECT count(*) FILTER (WHERE at >= '%s' AND at < '%s') || ' ' || count(*) FILTER (WHERE at >= '%s') FROM hagen_probe WHERE client = '%s'`,
				faultAt.UTC().Format(time.RFC3339Nano), recovered.UTC().Format(time.RFC3339Nano), recovered.UTC().Format(time.RFC3339Nano), cl))
			if err != nil {
				return err
			}
			d, a, _ := strings.Cut(rows, " ")
			during[name], after[name] = atoi(d), atoi(a)
			faulted := fault == "postgres-kill" && name == target.Inv.Name
			if !faulted && during[name] == 0 {
				problems = append(problems, fmt.Sprintf("no write on %s during the %s", name, fault))
			}
			if after[name] == 0 {
				problems = append(problems, fmt.Sprintf("no write on %s after the %s ended", name, fault))
			}
			*notes = append(*notes, fmt.Sprintf("%s: %d writes during the %s, %d after", name, during[name], fault, after[name]))
		}
		_, err = waitConverged(ctx, c, m, prefix, acked)
		if err != nil {
			return fmt.Errorf("expected replication to resume after the %s on %s and every acknowledged write on every site: %w", fault, target.Inv.Name, err)
		}
		paused := resumed.Sub(faultAt)
		m.Extra = map[string]float64{"faultMs": float64(recovered.Sub(faultAt).Milliseconds()), "replicationPausedMs": float64(paused.Milliseconds()), "resumedAfterRecoveryMs": float64(resumed.Sub(recovered).Milliseconds())}
		*notes = append(*notes, fmt.Sprintf("%s on %s for %s: replication paused %s (from the fault until a row written on each site after it was on the other), resumed %s after the fault ended; every acknowledged write on every site afterwards", fault, target.Inv.Name, recovered.Sub(faultAt).Round(100*time.Millisecond), paused.Round(100*time.Millisecond), resumed.Sub(recovered).Round(100*time.Millisecond)))
		if len(problems) > 0 {
			return errors.New(strings.Join(problems, "; "))
		}
		return nil
	}
}

// markersReplicated writes one row on every site and waits until each is
// on every other site; it returns when the last one arrived (to within
// the poll period).
func markersReplicated(ctx context.Context, c *cluster, prefix string) (time.Time, error) {
	for _, s := range c.sites {
		if _, err := c.psql(ctx, s, fmt.Sprintf(`INSERT INTO hagen_probe (id, site, client) VALUES ('%s-marker-%s', '%s', 'verify')`, prefix, s.Inv.Name, s.Inv.Name)); err != nil {
			return time.Time{}, fmt.Errorf("marker on %s: %w", s.Inv.Name, err)
		}
	}
	err := poll(ctx, "every site's marker row on every other site", func() error {
		for _, dst := range c.sites {
			n, err := c.psql(ctx, dst, fmt.Sprintf(`SELECT count(*) FROM hagen_probe WHERE id LIKE '%s-marker-%%'`, prefix))
			if err != nil {
				return err
			}
			if atoi(n) != len(c.sites) {
				return fmt.Errorf("%s holds %s of %d markers", dst.Inv.Name, n, len(c.sites))
			}
		}
		return nil
	})
	return time.Now(), err
}
