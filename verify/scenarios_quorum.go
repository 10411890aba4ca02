package verify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/internal/probe"
	"github.com/hagen-ha/hagen/verify/history"
)

// Scenarios of the primary-standby matrix for what only some specs have:
// a synchronous quorum (ANY n of several standbys), several witnesses
// (a node that reaches fewer than a majority is isolated) and TLS between
// the sites. Each applies only where the inventory has the feature.

func (st *streamingSuite) featureScenarios() []scenario {
	run := func(f func(context.Context, *streamingSuite, *Metrics, *[]string) error) func(context.Context, *Metrics, *[]string) error {
		return func(ctx context.Context, m *Metrics, notes *[]string) error { return f(ctx, st, m, notes) }
	}
	return []scenario{
		{name: "quorum", desc: "synchronous quorum (ANY n): PostgreSQL reports the rendered synchronous_standby_names and every standby as 'quorum'; a commit is acknowledged with any one standby down and blocks with all of them down",
			run: run(psQuorum), applies: needsQuorum, timeout: 5 * time.Minute},
		{name: "tls", desc: "TLS between the sites: every replication connection is TLS (pg_stat_ssl), each standby streams with sslmode verify-full, every node and the VIP present a certificate of the CA naming them; a client that verifies against another CA, or asks for no TLS, is refused",
			run: run(psTLS), applies: needsTLS},
		{name: "witnesses", desc: "several witnesses: the primary cut from a minority of them keeps the primary role (no failover, no failed write); cut from a majority it fences itself, never two writable primaries, no acknowledged write lost",
			run: run(psWitnesses), applies: needsWitnesses, timeout: 6 * time.Minute},
	}
}

// needsQuorum: the spec's synchronous replication is a quorum of several
// standbys.
func needsQuorum(inv *contract.Inventory) string {
	if !inv.Database.Synchronous || inv.Database.SynchronousMethod != contract.SyncAny {
		return "the spec's replication is not a synchronous quorum (synchronousMethod any)"
	}
	if standbys(inv) < 2 {
		return "a quorum needs at least two standbys"
	}
	return ""
}

func standbys(inv *contract.Inventory) int {
	n := 0
	for _, s := range inv.Sites {
		if s.Role == "standby" {
			n++
		}
	}
	return n
}

// needsWitnesses: at least three witnesses, so that a minority can be
// lost without isolating the node (one witness: witness-down).
func needsWitnesses(inv *contract.Inventory) string {
	if len(inv.Database.Witnesses) < 3 {
		return fmt.Sprintf("the spec has %d witnesses; a majority vote needs at least three", len(inv.Database.Witnesses))
	}
	return ""
}

// needsTLS: the spec has TLS between the sites (security.ssl).
func needsTLS(inv *contract.Inventory) string {
	if inv.TLS == nil {
		return "the spec has no TLS between the sites (security.ssl)"
	}
	return ""
}

var syncNamesLine = regexp.MustCompile(`(?m)^synchronous_standby_names = '((?:[^']|'')*)'`)

// renderedSyncNames is synchronous_standby_names in the rendered
// postgresql.conf of site s.
func (c *cluster) renderedSyncNames(s *site) (string, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, s.Inv.Dir, "postgres", "postgresql.conf"))
	if err != nil {
		return "", err
	}
	m := syncNamesLine.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s/postgres/postgresql.conf sets no synchronous_standby_names", s.Inv.Dir)
	}
	return strings.ReplaceAll(string(m[1]), "''", "'"), nil
}

// commitWithin runs one insert on the primary p and reports whether it
// was acknowledged within d (a synchronous commit that waits longer is
// cancelled by the client).
func (c *cluster) commitWithin(ctx context.Context, p *site, d time.Duration, tag string) (time.Duration, error) {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t0 := time.Now()
	_, err := c.sqlAt(wctx, p.Inv.Address, c.inv.Database.PublishedPort, "INSERT INTO hagen_writes (id, client) VALUES ('"+randomID(tag)+"', '"+tag+"')")
	return time.Since(t0), err
}

// quorumWait is how long a commit may take before it counts as blocked:
// the synchronous commit of a healthy pair takes milliseconds.
const quorumWait = 4 * time.Second

func psQuorum(ctx context.Context, st *streamingSuite, m *Metrics, notes *[]string) error {
	c := st.c
	p, err := c.currentPrimary(ctx)
	if err != nil {
		return err
	}
	if err := c.waitSync(ctx, p, c.timers().rejoin); err != nil {
		return err
	}
	// What PostgreSQL runs with is what was rendered (on the rendered
	// primary; a promoted node runs what notify.sh and the agent set).
	show, err := c.psql(ctx, p, "SHOW synchronous_standby_names")
	if err != nil {
		return err
	}
	if p.Inv.Role == "primary" {
		want, err := c.renderedSyncNames(p)
		if err != nil {
			return err
		}
		if show != want {
			return fmt.Errorf("SHOW synchronous_standby_names on %s = %q, rendered %q", p.Inv.Name, show, want)
		}
	}
	if n := contract.SyncCount(show); !strings.HasPrefix(show, "ANY ") || n != max(1, c.inv.Database.SynchronousCount) {
		return fmt.Errorf("SHOW synchronous_standby_names on %s = %q, expected ANY %d (…)", p.Inv.Name, show, c.inv.Database.SynchronousCount)
	}
	rows, err := c.replicas(ctx, p)
	if err != nil {
		return err
	}
	for _, sb := range c.others(p) {
		ok := false
		for _, r := range rows {
			if r.Addr == sb.Inv.Address && r.State == "streaming" && r.SyncState == "quorum" {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("pg_stat_replication on %s: %v; expected %s streaming with sync_state quorum", p.Inv.Name, rows, sb.Inv.Name)
		}
	}
	*notes = append(*notes, fmt.Sprintf("%s: synchronous_standby_names = '%s' as rendered; pg_stat_replication: %v", p.Inv.Name, show, rows))

	db := c.inv.Database.Service
	sbs := c.others(p)
	stopped := map[*site]bool{}
	defer func() {
		for sb := range stopped {
			_ = c.e.start(context.WithoutCancel(ctx), sb.Containers[db])
		}
	}()
	stop := func(sb *site) error {
		if _, err := c.e.cli.ContainerStop(ctx, sb.Containers[db], client.ContainerStopOptions{}); err != nil {
			return err
		}
		stopped[sb] = true
		return nil
	}
	restart := func() error {
		for sb := range stopped {
			if err := c.e.start(ctx, sb.Containers[db]); err != nil {
				return err
			}
			delete(stopped, sb)
		}
		return c.waitSync(ctx, p, c.timers().rejoin)
	}
	m.Extra = map[string]float64{}
	// Fewer standbys down than the quorum can spare: each alone.
	spare := len(sbs) - max(1, c.inv.Database.SynchronousCount)
	if spare < 1 {
		return fmt.Errorf("ANY %d of %d standbys spares none", c.inv.Database.SynchronousCount, len(sbs))
	}
	for _, sb := range sbs {
		if err := stop(sb); err != nil {
			return err
		}
		took, err := c.commitWithin(ctx, p, quorumWait, "quorum-one-down")
		if err != nil {
			return fmt.Errorf("with only %s down (ANY %d of %d), a commit on %s was not acknowledged within %s: %v", sb.Inv.Name, c.inv.Database.SynchronousCount, len(sbs), p.Inv.Name, quorumWait, err)
		}
		m.Extra["commitMs"+sb.Inv.Name+"Down"] = float64(took.Milliseconds())
		*notes = append(*notes, fmt.Sprintf("%s down: a commit on %s was acknowledged in %s", sb.Inv.Name, p.Inv.Name, took.Round(time.Millisecond)))
		if err := restart(); err != nil {
			return fmt.Errorf("after %s returned: %w", sb.Inv.Name, err)
		}
	}
	// Every standby down: no acknowledgement (onStandbyDown block).
	for _, sb := range sbs {
		if err := stop(sb); err != nil {
			return err
		}
	}
	took, werr := c.commitWithin(ctx, p, quorumWait, "quorum-all-down")
	blocked := werr != nil
	m.Extra["writesBlockedAllDown"] = b2f(blocked)
	*notes = append(*notes, fmt.Sprintf("all %d standbys down: a commit on %s %s", len(sbs), p.Inv.Name,
		map[bool]string{true: fmt.Sprintf("was not acknowledged within %s (%v)", quorumWait, werr), false: fmt.Sprintf("was acknowledged in %s", took.Round(time.Millisecond))}[blocked]))
	if err := restart(); err != nil {
		return fmt.Errorf("after the standbys returned: %w", err)
	}
	if c.inv.Database.OnStandbyDown == "block" && !blocked {
		return fmt.Errorf("onStandbyDown is block, but with every standby down a commit on %s was acknowledged", p.Inv.Name)
	}
	return nil
}

// witnessHold is how long the primary is cut from a minority of the
// witnesses: several rounds of the track script that pings them.
const witnessHold = 15 * time.Second

func psWitnesses(ctx context.Context, st *streamingSuite, m *Metrics, notes *[]string) error {
	c := st.c
	ws := c.witnesses()
	need := len(ws)/2 + 1
	minority := len(ws) - need
	old, err := c.currentPrimary(ctx)
	if err != nil {
		return err
	}
	if err := c.waitSync(ctx, old, c.timers().rejoin); err != nil {
		return fmt.Errorf("before the fault: %w", err)
	}
	rec, stopWriters, err := c.startVIPWriters(ctx, randomID("witnesses"), "the fault")
	if err != nil {
		return err
	}
	defer stopWriters()
	c.deviate("a witness out of reach is iptables DROP rules against its address in the primary's host namespace")
	cut := func(n int) (func(context.Context) error, error) {
		var add, del []string
		for _, w := range ws[:n] {
			for _, r := range [][]string{drop("INPUT", w), drop("OUTPUT", w)} {
				add = append(add, "iptables -I "+strings.Join(r, " "))
				del = append(del, "iptables -D "+strings.Join(r, " "))
			}
		}
		heal := func(hctx context.Context) error {
			_, err := c.e.mustExec(hctx, old.HostID, nil, "sh", "-ec", strings.Join(del, "\n"))
			return err
		}
		if _, err := c.e.mustExec(ctx, old.HostID, nil, "sh", "-ec", strings.Join(add, "\n")); err != nil {
			_ = heal(context.WithoutCancel(ctx))
			return nil, err
		}
		return heal, nil
	}
	// sample reads every node's agent at once: the writable ones.
	sample := func(sctx context.Context) []*site {
		nodes := c.dbSites()
		w := make([]bool, len(nodes))
		var wg sync.WaitGroup
		for i, s := range nodes {
			wg.Add(1)
			go func() { defer wg.Done(); w[i] = c.writable(sctx, s) }()
		}
		wg.Wait()
		var out []*site
		for i, s := range nodes {
			if w[i] {
				out = append(out, s)
			}
		}
		return out
	}
	var problems []string

	// A minority out of reach: nothing changes.
	c.hist().Event(history.VIPHolder, old.Inv.Name, "VIP bound before the fault")
	inEffect := c.faultBegins(old.Inv.Name, fmt.Sprintf("cut from %d of %d witnesses", minority, len(ws)))
	heal, err := cut(minority)
	if err != nil {
		return err
	}
	inEffect()
	from := c.hist().Now()
	c.progress("%s cut from %d of %d witnesses (%s) for %s", old.Inv.Name, minority, len(ws), strings.Join(ws[:minority], ", "), witnessHold)
	// Every sample: no other node writable (no failover). A sample in
	// which the primary's agent did not answer in time says nothing of
	// its role; a fence would show as failed writes through the VIP.
	samples, others, oldSilent := 0, 0, 0
	for at := time.Now(); time.Since(at) < witnessHold && ctx.Err() == nil; time.Sleep(100 * time.Millisecond) {
		w := sample(ctx)
		samples++
		if !slices.Contains(w, old) {
			oldSilent++
		}
		if len(w) > 1 || len(w) == 1 && w[0] != old {
			others++
		}
	}
	onOld, verr := c.vipOn(ctx, old)
	stillPrimary := c.writable(ctx, old)
	to := c.hist().Now()
	if err := heal(ctx); err != nil {
		return fmt.Errorf("heal: %w", err)
	}
	c.faultEnds(old.Inv.Name, "heal")
	_, errs := writeOutage(c.hist().History(), from, to)
	*notes = append(*notes, fmt.Sprintf("cut from %d of %d witnesses for %s: %d agent samples (~100 ms apart), %d with another node writable, %d without %s writable; at the end %s writable %v, VIP on it %v; %d writes through the VIP failed",
		minority, len(ws), witnessHold, samples, others, oldSilent, old.Inv.Name, old.Inv.Name, stillPrimary, onOld, errs))
	if others > 0 {
		problems = append(problems, fmt.Sprintf("cut from a minority (%d of %d) of the witnesses, %d of %d samples saw another node writable", minority, len(ws), others, samples))
	}
	if !stillPrimary || verr != nil || !onOld {
		problems = append(problems, fmt.Sprintf("cut from a minority of the witnesses, %s did not keep the primary role: writable %v, VIP on it %v (%v)", old.Inv.Name, stillPrimary, onOld, verr))
	}
	if errs > 0 {
		problems = append(problems, fmt.Sprintf("cut from a minority of the witnesses, %d writes through the VIP failed", errs))
	}
	m.Extra = map[string]float64{"minoritySamples": float64(samples), "minoritySamplesOtherWritable": float64(others), "minorityWriteErrors": float64(errs)}
	// The primary's track script must see every witness again before the
	// second part: it pings each round.
	time.Sleep(2 * time.Second)

	// A majority out of reach: the primary is the isolated node.
	inEffect = c.faultBegins(old.Inv.Name, fmt.Sprintf("cut from %d of %d witnesses", minority+1, len(ws)))
	heal, err = cut(minority + 1)
	if err != nil {
		return err
	}
	inEffect()
	at := time.Now()
	healed := false
	defer func() {
		if !healed {
			_ = heal(context.WithoutCancel(ctx))
		}
	}()
	c.progress("%s cut from %d of %d witnesses", old.Inv.Name, minority+1, len(ws))
	var fencedAt, promotedAt time.Duration
	var promoted *site
	samples, two := 0, 0
	wctx, cancel := context.WithTimeout(ctx, c.timers().writes)
	err = poll(wctx, old.Inv.Name+" fenced", func() error {
		w := sample(wctx)
		samples++
		if len(w) > 1 {
			two++
		}
		oldW := false
		for _, s := range w {
			if s == old {
				oldW = true
			} else if promoted == nil {
				promoted, promotedAt = s, time.Since(at)
				c.hist().Event(history.Promotion, s.Inv.Name, "agent /primary 200")
			}
		}
		if !oldW && fencedAt == 0 {
			fencedAt = time.Since(at)
			c.hist().Event(history.Demotion, old.Inv.Name, "agent /primary no longer 200")
		}
		if oldW {
			return errors.New("still writable")
		}
		return nil
	})
	cancel()
	// A moment more of samples: a standby that reaches every witness may
	// take over; never while the old primary is writable.
	for t0 := time.Now(); err == nil && time.Since(t0) < 5*time.Second; time.Sleep(100 * time.Millisecond) {
		w := sample(ctx)
		samples++
		if len(w) > 1 {
			two++
		}
		for _, s := range w {
			if s == old {
				problems = append(problems, fmt.Sprintf("%s writable again while cut from a majority of the witnesses", old.Inv.Name))
			} else if promoted == nil {
				promoted, promotedAt = s, time.Since(at)
			}
		}
	}
	healed = true
	if herr := heal(ctx); herr != nil {
		return fmt.Errorf("heal: %w", herr)
	}
	c.faultEnds(old.Inv.Name, "heal")
	stopWriters()
	m.Extra["majorityFencedMs"] = float64(fencedAt.Milliseconds())
	m.Extra["majoritySamplesTwoWritable"] = float64(two)
	if promoted != nil {
		m.Extra["majorityPromotedMs"] = float64(promotedAt.Milliseconds())
	}
	*notes = append(*notes, fmt.Sprintf("cut from %d of %d witnesses: %s fenced after %s; %s; %d samples, %d with two writable primaries",
		minority+1, len(ws), old.Inv.Name, fmtDurationOr(fencedAt, "never"),
		map[bool]string{true: "no other node writable", false: fmt.Sprintf("%s writable after %s", nameOf(promoted), promotedAt.Round(time.Millisecond))}[promoted == nil], samples, two))
	if err != nil {
		problems = append(problems, fmt.Sprintf("cut from a majority (%d of %d) of the witnesses, %s did not fence itself: %v", minority+1, len(ws), old.Inv.Name, err))
	}
	if two > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d samples saw two writable primaries", two, samples))
	}
	// Nothing acknowledged is lost: every write the old primary
	// acknowledged is on the node that is the primary now (or on the old
	// one, when nothing took over).
	cur := old
	if promoted != nil {
		cur = promoted
	}
	// A promotion that ends after the samples (a busy machine) still took
	// the writes after it: they are on the node writable now.
	if p, perr := c.currentPrimary(ctx); perr == nil && p != cur {
		*notes = append(*notes, fmt.Sprintf("%s is the writable primary after the samples ended", p.Inv.Name))
		cur = p
		if p != old {
			promoted = p
		}
	}
	acked := probe.Acked(rec.snapshot())
	present, err := c.writeIDs(ctx, cur)
	if err != nil {
		return fmt.Errorf("read the writes on %s: %w", cur.Inv.Name, err)
	}
	lost := probe.Lost(acked, present)
	m.WritesAcked, m.WritesLost = len(acked), len(lost)
	if len(lost) > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d acknowledged writes missing on %s (first: %s)", len(lost), len(acked), cur.Inv.Name, strings.Join(lost[:min(5, len(lost))], ", ")))
	}
	if promoted != nil {
		// The fenced old primary rejoins by the RUNBOOK's restart, which
		// the role hook turns into a rejoin; the other standbys follow the
		// new primary (notify.sh). The history's final state is then read
		// from nodes that agree.
		c.deviate("after a pause, a partition or a database crash that failed over, verify restarts the fenced old primary's database container: the RUNBOOK's restart (step 10), which the rendered role hook turns into a rejoin")
		if _, err := c.e.cli.ContainerRestart(ctx, old.Containers[c.inv.Database.Service], client.ContainerRestartOptions{}); err != nil {
			return err
		}
		if err := c.checkRejoined(ctx, promoted, old, notes); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s; %s", strings.Join(problems, "; "), c.streamingLogs(ctx))
	}
	return nil
}

func nameOf(s *site) string {
	if s == nil {
		return "none"
	}
	return s.Inv.Name
}

func psTLS(ctx context.Context, st *streamingSuite, m *Metrics, notes *[]string) error {
	c := st.c
	if c.tls == nil {
		return fmt.Errorf("%w: the run has no TLS material", errSetup)
	}
	p, err := c.currentPrimary(ctx)
	if err != nil {
		return err
	}
	if err := c.waitSync(ctx, p, c.timers().rejoin); err != nil {
		return err
	}
	var problems []string
	// Replication: each standby's WAL sender runs over TLS.
	rows, err := c.replicas(ctx, p)
	if err != nil {
		return err
	}
	for _, sb := range c.others(p) {
		for _, r := range rows {
			if r.Addr == sb.Inv.Address && !r.SSL {
				problems = append(problems, fmt.Sprintf("the replication connection of %s to %s is not TLS (pg_stat_ssl.ssl false)", sb.Inv.Name, p.Inv.Name))
			}
		}
	}
	ssl, err := c.psql(ctx, p, "SELECT string_agg(r.application_name || ' ' || l.version || ' ' || l.cipher, ', ') FROM pg_stat_replication r JOIN pg_stat_ssl l USING (pid) WHERE l.ssl")
	if err != nil {
		return err
	}
	*notes = append(*notes, fmt.Sprintf("replication to %s over TLS: %s", p.Inv.Name, ssl))
	// Each standby dials its primary with verify-full (the rendered
	// primary_conninfo, as the WAL receiver shows it).
	for _, sb := range c.others(p) {
		out, err := c.psql(ctx, sb, "SELECT status || ' ' || conninfo FROM pg_stat_wal_receiver")
		if err != nil {
			return err
		}
		if !strings.HasPrefix(out, "streaming ") || !strings.Contains(out, "sslmode="+c.inv.TLS.SSLMode) {
			problems = append(problems, fmt.Sprintf("%s's WAL receiver: %q, expected streaming with sslmode=%s", sb.Inv.Name, out, c.inv.TLS.SSLMode))
		}
	}
	// Every node and the VIP: a verify-full client with the CA connects
	// (c.connect checks chain and name) and its session is TLS.
	addrs := []string{c.inv.VIP.Address}
	for _, s := range c.dbSites() {
		addrs = append(addrs, s.Inv.Address)
	}
	for _, a := range addrs {
		got, err := c.sqlAt(ctx, a, c.inv.Database.PublishedPort, "SELECT ssl::text || ' ' || version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
		if err != nil {
			problems = append(problems, fmt.Sprintf("a verify-full client with the deployment's CA could not connect to %s: %v", a, err))
			continue
		}
		if !strings.HasPrefix(got, "true ") {
			problems = append(problems, fmt.Sprintf("the session at %s is not TLS: %q", a, got))
		}
	}
	*notes = append(*notes, fmt.Sprintf("a verify-full client with the deployment's CA connected over TLS to %s", strings.Join(addrs, ", ")))
	// Another CA: refused, by Go's TLS client and by libpq on a peer.
	_, otherCert, otherDER, err := newCA("not the deployment's CA", time.Now())
	if err != nil {
		return err
	}
	if err := c.connectWithCA(ctx, p.Inv.Address, otherCert); err == nil {
		problems = append(problems, fmt.Sprintf("a client verifying %s against another CA connected", p.Inv.Address))
	} else {
		*notes = append(*notes, fmt.Sprintf("verify's client with another CA at %s: %v", p.Inv.Address, err))
	}
	sb := c.other(p)
	id := sb.Containers[c.inv.Database.Service]
	pemOther := string(pemCert(otherDER))
	if _, err := c.e.mustExec(ctx, id, nil, "sh", "-c", `printf '%s' "$1" >/tmp/hagen-other-ca.crt`, "sh", pemOther); err != nil {
		return err
	}
	libpq := func(sslmode, root string) error {
		env := []string{"PGPASSWORD=" + c.secrets["POSTGRES_PASSWORD"], "PGCONNECT_TIMEOUT=3", "PGSSLMODE=" + sslmode}
		if root != "" {
			env = append(env, "PGSSLROOTCERT="+root)
		}
		_, err := c.e.mustExec(ctx, id, env, "psql", "-X", "-q", "-h", p.Inv.Host, "-p", fmt.Sprint(c.inv.Database.PublishedPort),
			"-U", c.inv.Database.Superuser, "-d", c.inv.Database.Name, "-Atc", "SELECT 1")
		return err
	}
	if err := libpq(c.inv.TLS.SSLMode, "/run/hagen/postgres/tls/ca.crt"); err != nil {
		problems = append(problems, fmt.Sprintf("psql on %s to %s with sslmode=%s and the deployment's CA failed: %v", sb.Inv.Name, p.Inv.Host, c.inv.TLS.SSLMode, err))
	}
	if err := libpq("verify-full", "/tmp/hagen-other-ca.crt"); err == nil {
		problems = append(problems, fmt.Sprintf("psql on %s to %s with sslmode=verify-full and another CA connected", sb.Inv.Name, p.Inv.Host))
	} else if !strings.Contains(err.Error(), "certificate verify failed") {
		problems = append(problems, fmt.Sprintf("psql on %s to %s with another CA failed, but not on the certificate: %v", sb.Inv.Name, p.Inv.Host, err))
	} else {
		*notes = append(*notes, fmt.Sprintf("psql on %s to %s with sslmode=verify-full and another CA: refused (certificate verify failed)", sb.Inv.Name, p.Inv.Host))
	}
	if err := libpq("disable", ""); err == nil {
		problems = append(problems, fmt.Sprintf("psql on %s to %s without TLS (sslmode=disable) connected", sb.Inv.Name, p.Inv.Host))
	} else if !strings.Contains(err.Error(), "no encryption") {
		problems = append(problems, fmt.Sprintf("psql on %s to %s without TLS failed, but not on pg_hba's hostssl: %v", sb.Inv.Name, p.Inv.Host, err))
	} else {
		*notes = append(*notes, fmt.Sprintf("psql on %s to %s without TLS: refused by pg_hba (hostssl only)", sb.Inv.Name, p.Inv.Host))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
