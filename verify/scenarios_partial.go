package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/verify/history"
)

// Partial faults of the primary-standby matrix: the network breaks only
// in part. Each states its expected outcome; where the rendered design
// cannot meet it the scenario fails and says why. The clients (writers
// and register clients through the VIP and HAProxy at the VIP) run
// throughout, so the history's checks (split-brain window, lost,
// stale reads, linearizability) judge what they saw.

// partialFault is one partial fault: rules returns, per container, the
// iptables rules (arguments after "iptables") that cut what it cuts.
type partialFault struct {
	name string
	// failover: whether the standby is expected to be promoted; nil when
	// either outcome is safe.
	failover *bool
	rules    func(c *cluster, old, peer *site) (map[string][][]string, error)
	// why explains the expectation in the failure message.
	why string
	// noErrors: no write through the VIP or HAProxy may fail while the
	// fault holds (nothing that clients need is broken).
	noErrors bool
	// vipOnOne: the VIP may never be bound on both nodes at once.
	vipOnOne bool
	// limit is the limit of the keepalived design the fault shows, if
	// any (see scenario.limit).
	limit string
	// slow: instead of rules, the standby's database connections to the
	// primary (replication, and the peers' SQL checks) go through a relay
	// that adds linkDelay each way.
	slow bool
}

func drop(dir, addr string) []string {
	if dir == "INPUT" {
		return []string{"INPUT", "-s", addr, "-j", "DROP"}
	}
	return []string{"OUTPUT", "-d", addr, "-j", "DROP"}
}

var partialFaults = []partialFault{
	{
		name: "partition-one-way",
		why:  "the primary hears nothing from its peer and the witness (its own packets still leave): never both nodes writable, one writable primary with the VIP after the heal, no acknowledged write lost",
		rules: func(c *cluster, old, peer *site) (map[string][][]string, error) {
			var rs [][]string
			for _, o := range c.others(old) {
				rs = append(rs, drop("INPUT", o.Inv.Address))
			}
			for _, w := range c.witnesses() {
				rs = append(rs, drop("INPUT", w))
			}
			return map[string][][]string{old.HostID: rs}, nil
		},
	},
	{
		name: "partition-db-only",
		limit: "a ping witness does not arbitrate: both nodes reach it, so both keep or take the VIP role and the old primary stays writable for reads " +
			"(its commits wait for the lost synchronous standby, so none is acknowledged, but its reads go stale); a consensus-based manager (manager: patroni) is the answer",
		why: "the two database nodes lose each other but both still reach the witness and the clients: never both writable (the witness answers both, so it cannot tell them apart; one must be fenced), one writable primary with the VIP after the heal, no acknowledged write lost",
		rules: func(c *cluster, old, peer *site) (map[string][][]string, error) {
			var rs [][]string
			for _, o := range c.others(old) {
				rs = append(rs, drop("INPUT", o.Inv.Address), drop("OUTPUT", o.Inv.Address))
			}
			return map[string][][]string{old.HostID: rs}, nil
		},
	},
	{
		name: "witness-down", failover: new(bool), noErrors: true,
		limit: "a node that cannot reach the witness cannot tell its own isolation from the witness's loss, and the keepalived design fences on it: " +
			"the primary fences itself although its standby is reachable, and writes stop until the witness returns (manager: patroni, whose witness is one etcd member of three, avoids it)",
		why: "the witness stops answering while both nodes run: nothing fails over, the primary keeps taking writes (no write through the VIP or HAProxy fails)",
		rules: func(c *cluster, old, peer *site) (map[string][][]string, error) {
			ws := c.witnesses()
			if len(ws) == 0 {
				return nil, skip("the spec configures no witness")
			}
			// The witness answers as the router, or as its own container:
			// either way, its address stops answering on every node.
			out := map[string][][]string{}
			for _, s := range c.dbSites() {
				for _, w := range ws {
					out[s.HostID] = append(out[s.HostID], drop("OUTPUT", w), drop("INPUT", w))
				}
			}
			return out, nil
		},
	},
	{
		name: "health-and-vrrp-blocked", failover: new(bool), noErrors: true, vipOnOne: true,
		limit: "VRRP is the only liveness signal keepalived acts on: with it blocked the standby becomes MASTER after 3 advertisement intervals and notify.sh fences the live primary over SQL and promotes, " +
			"although the standby still streamed from it; the old primary hears no advertisement either, stays MASTER and keeps the VIP, so the VIP is bound on both nodes until the heal and the writes that reach the fenced node fail " +
			"(a standby that still streams from a writable primary should not promote; manager: patroni decides through etcd instead)",
		why: "VRRP (IP protocol 112) and the agents' health port are blocked between the nodes while the database port (replication, the peers' SQL) keeps flowing: " +
			"the primary is alive and its standby still streams from it, so nothing should fail over; never two writable primaries, the VIP on one node only, no write through the VIP or HAProxy fails, no acknowledged write lost",
		rules: func(c *cluster, old, peer *site) (map[string][][]string, error) {
			hp := strconv.Itoa(c.inv.Database.HealthPort)
			if c.inv.Database.HealthPort == 0 {
				return nil, skip("the spec has no health port")
			}
			p := peer.Inv.Address
			return map[string][][]string{old.HostID: {
				{"INPUT", "-s", p, "-p", "vrrp", "-j", "DROP"},
				{"OUTPUT", "-d", p, "-p", "vrrp", "-j", "DROP"},
				{"INPUT", "-s", p, "-p", "tcp", "--dport", hp, "-j", "DROP"},
				{"OUTPUT", "-d", p, "-p", "tcp", "--dport", hp, "-j", "DROP"},
			}}, nil
		},
	},
	{
		name: "lossy-link", failover: new(bool),
		why: "every packet between the nodes dropped at random with probability " + strconv.FormatFloat(lossProbability, 'f', -1, 64) + " each way: synchronous commits slow down (measured), nothing fails over, never two writable primaries, no acknowledged write lost, the standby synchronous again after the fault",
		rules: func(c *cluster, old, peer *site) (map[string][][]string, error) {
			p := peer.Inv.Address
			return map[string][][]string{old.HostID: {lossRule("INPUT", "-s", p), lossRule("OUTPUT", "-d", p)}}, nil
		},
	},
	{
		name: "slow-link", failover: new(bool), noErrors: true, slow: true,
		why: "the standby's database connections to the primary (replication) delayed " + linkDelay.String() + " each way: synchronous commits take at least a round trip longer (measured), no write fails, nothing fails over, no acknowledged write lost, the standby synchronous again after the fault",
	},
}

// partialScenarios are the partial faults as scenarios of the matrix.
func (st *streamingSuite) partialScenarios() []scenario {
	var out []scenario
	for _, f := range partialFaults {
		run := psPartial(f)
		limit := f.limit
		out = append(out, scenario{name: f.name, desc: f.why, timeout: 6 * time.Minute,
			limit: func(inv *contract.Inventory) string {
				if limit == "" || inv.Database.Manager == "patroni" {
					return ""
				}
				return limit
			},
			run: func(ctx context.Context, m *Metrics, notes *[]string) error { return run(ctx, st.c, m, notes) }})
	}
	return out
}

// witnesses is every witness address of the spec: the ping witnesses of
// the keepalived design, or with Patroni the sites that run only an etcd
// member (the third vote).
func (c *cluster) witnesses() []string {
	if c.selfRejoins() {
		var out []string
		for _, s := range c.inv.Sites {
			if !slices.Contains(s.Services, c.inv.Database.Service) {
				out = append(out, s.Address)
			}
		}
		return out
	}
	if len(c.inv.Database.Witnesses) > 0 {
		return c.inv.Database.Witnesses
	}
	if c.inv.Database.Witness != "" {
		return []string{c.inv.Database.Witness}
	}
	return nil
}

// partialHold is how long a partial fault is held.
const partialHold = 15 * time.Second

func psPartial(f partialFault) func(context.Context, *cluster, *Metrics, *[]string) error {
	return func(ctx context.Context, c *cluster, m *Metrics, notes *[]string) error {
		old, err := c.currentPrimary(ctx)
		if err != nil {
			return err
		}
		peer := c.other(old)
		if err := c.waitSync(ctx, old, 30*time.Second); err != nil {
			return fmt.Errorf("before the fault: %w", err)
		}
		rules := map[string][][]string{}
		if f.rules != nil {
			var err error
			if rules, err = f.rules(c, old, peer); err != nil {
				return err
			}
		}
		rec, stopWriters, err := c.startVIPWriters(ctx, randomID(strings.ReplaceAll(f.name, "-", "")), "the fault")
		if err != nil {
			return err
		}
		defer stopWriters()
		c.deviate("partial faults are iptables DROP rules in the site hosts' network namespaces")
		heal := func(hctx context.Context) error {
			var errs []error
			for id, rs := range rules {
				for _, r := range rs {
					args := append([]string{iptables(r[2]), "-D"}, r...)
					if _, err := c.e.mustExec(hctx, id, nil, args...); err != nil {
						errs = append(errs, err)
					}
				}
			}
			return errors.Join(errs...)
		}
		c.hist().Event(history.VIPHolder, old.Inv.Name, "VIP bound before the fault")
		faultAt := c.hist().Now()
		inEffect := c.faultBegins(old.Inv.Name, f.name)
		for id, rs := range rules {
			var cmds []string
			for _, r := range rs {
				cmds = append(cmds, iptables(r[2])+" -I "+strings.Join(r, " "))
			}
			if _, err := c.e.mustExec(ctx, id, nil, "sh", "-ec", strings.Join(cmds, "\n")); err != nil {
				_ = heal(context.WithoutCancel(ctx))
				return fmt.Errorf("%s: %w", f.name, err)
			}
		}
		var link *slowLink
		if f.slow {
			if link, err = c.slowLink(ctx, peer, old.Inv.Address, c.inv.Database.PublishedPort); err != nil {
				return err
			}
			defer func() { _ = link.undo(context.WithoutCancel(ctx)) }()
			// The open replication connection keeps its path: end it, the
			// standby reconnects through the relay.
			if _, err := c.psql(ctx, old, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_replication"); err != nil {
				return fmt.Errorf("%s: end the replication connection: %w", f.name, err)
			}
			if err := link.relayed(ctx); err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
			if err := c.waitSync(ctx, old, 30*time.Second); err != nil {
				return fmt.Errorf("%s: the standby through the relay: %w", f.name, err)
			}
		}
		inEffect()
		inEffectAt := c.hist().Now()
		healed := false
		defer func() {
			if !healed {
				_ = heal(context.WithoutCancel(ctx))
			}
		}()
		c.progress("%s on %s for %s", f.name, old.Inv.Name, partialHold)
		at := time.Now()
		samples, both, vipBoth := 0, 0, 0
		var peerWritableAt, oldFencedAt time.Duration
		for time.Since(at) < partialHold && ctx.Err() == nil {
			var wo, wp, vo, vp bool
			var wg sync.WaitGroup
			wg.Add(4)
			go func() { defer wg.Done(); wo = c.writable(ctx, old) }()
			go func() { defer wg.Done(); wp = c.writable(ctx, peer) }()
			go func() { defer wg.Done(); vo, _ = c.vipOn(ctx, old) }()
			go func() { defer wg.Done(); vp, _ = c.vipOn(ctx, peer) }()
			wg.Wait()
			samples++
			if wo && wp {
				both++
			}
			if vo && vp {
				vipBoth++
			}
			if wp && peerWritableAt == 0 {
				peerWritableAt = time.Since(at)
				c.hist().Event(history.Promotion, peer.Inv.Name, "agent /primary 200")
			}
			if !wo && oldFencedAt == 0 {
				oldFencedAt = time.Since(at)
				c.hist().Event(history.Demotion, old.Inv.Name, "agent /primary no longer 200")
			}
			time.Sleep(100 * time.Millisecond)
		}
		healed = true
		healAt := c.hist().Now()
		if err := heal(ctx); err != nil {
			return fmt.Errorf("heal %s: %w", f.name, err)
		}
		if link != nil {
			if err := link.fast(ctx); err != nil {
				return fmt.Errorf("heal %s: %w", f.name, err)
			}
		}
		c.faultEnds(old.Inv.Name, "heal")
		*notes = append(*notes, fmt.Sprintf("%s held %s: %d samples of the agents and the VIP (~100 ms apart), %d with both nodes writable, %d with the VIP on both nodes; %s writable after %s; %s not writable after %s",
			f.name, partialHold, samples, both, vipBoth, peer.Inv.Name, fmtDurationOr(peerWritableAt, "never"), old.Inv.Name, fmtDurationOr(oldFencedAt, "never")))
		// After the heal: one writable primary with the VIP; a fenced old
		// primary rejoins by the runbook's restart.
		var current *site
		pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err = poll(pctx, "one writable primary holding the VIP after the heal", func() error {
			p, err := c.currentPrimary(pctx)
			if err != nil {
				return err
			}
			on, err := c.vipOn(pctx, p)
			if err != nil || !on {
				return fmt.Errorf("the VIP is not on the writable primary %s (%v)", p.Inv.Name, err)
			}
			current = p
			return nil
		})
		cancel()
		stopWriters()
		m.WritesAcked = rec.acked()
		outage, errs := writeOutage(c.hist().History(), inEffectAt, healAt)
		m.WriteGapMillis = outage.Milliseconds()
		m.Extra = map[string]float64{"samples": float64(samples), "samplesBothWritable": float64(both), "samplesVIPOnBoth": float64(vipBoth), "writeErrorsDuringFault": float64(errs)}
		// Commit latency of the acknowledged writes (synchronous when the
		// spec says so) before the fault and while it held.
		before, during := commitLatencies(c.hist().History(), 0, faultAt), commitLatencies(c.hist().History(), inEffectAt, healAt)
		b50, b95, _ := latencies(before)
		d50, d95, dmax := latencies(during)
		m.Extra["commitP50BeforeMs"], m.Extra["commitP95BeforeMs"] = ms(b50), ms(b95)
		m.Extra["commitP50DuringMs"], m.Extra["commitP95DuringMs"], m.Extra["commitMaxDuringMs"] = ms(d50), ms(d95), ms(dmax)
		*notes = append(*notes, fmt.Sprintf("commit latency through the VIP and HAProxy: before the fault median %s, p95 %s (%d writes); while it held median %s, p95 %s, max %s (%d writes)",
			b50.Round(100*time.Microsecond), b95.Round(100*time.Microsecond), len(before), d50.Round(100*time.Microsecond), d95.Round(100*time.Microsecond), dmax.Round(100*time.Microsecond), len(during)))
		if err != nil {
			return fmt.Errorf("after the heal: %w; %s", err, c.streamingLogs(ctx))
		}
		failedOver := current != old
		var problems []string
		if both > 0 {
			problems = append(problems, fmt.Sprintf("%d of %d samples saw both nodes writable", both, samples))
		}
		if f.vipOnOne && vipBoth > 0 {
			problems = append(problems, fmt.Sprintf("%d of %d samples saw the VIP on both nodes", vipBoth, samples))
		}
		if f.noErrors && errs > 0 {
			problems = append(problems, fmt.Sprintf("%d writes through the VIP and HAProxy failed or went unanswered while the fault held; the longest time without an acknowledged write was %s", errs, outage.Round(time.Millisecond)))
		}
		if f.failover != nil && failedOver != *f.failover {
			problems = append(problems, fmt.Sprintf("expected %s, but %s is the primary after the heal", map[bool]string{true: "a failover", false: "no failover"}[*f.failover], current.Inv.Name))
		}
		if failedOver && !c.selfRejoins() {
			c.deviate("after a pause, a partition or a database crash that failed over, verify restarts the fenced old primary's database container: the RUNBOOK's restart (step 10), which the rendered role hook turns into a rejoin")
			if _, err := c.e.cli.ContainerRestart(ctx, old.Containers[c.inv.Database.Service], client.ContainerRestartOptions{}); err != nil {
				return err
			}
		}
		if link != nil {
			// The relay goes; the connections it still relays break and
			// the standby reconnects straight.
			if err := link.undo(ctx); err != nil {
				return err
			}
		}
		if err := c.checkRejoined(ctx, current, c.other(current), notes); err != nil {
			problems = append(problems, err.Error())
		}
		if len(problems) > 0 {
			return fmt.Errorf("%s: expected: %s; seen: %s", f.name, f.why, strings.Join(problems, "; "))
		}
		return nil
	}
}

func fmtDurationOr(d time.Duration, none string) string {
	if d == 0 {
		return none
	}
	return d.Round(time.Millisecond).String()
}

// writeOutage is, over the writes through the VIP and HAProxy, the
// longest time without an acknowledgement from the fault's taking effect
// (from the last acknowledgement before it) to the first acknowledgement
// after the heal, and how many of them were not acknowledged while the
// fault held (invoked between from and to).
func writeOutage(h history.History, from, to time.Duration) (time.Duration, int) {
	var acks []time.Duration
	errs := 0
	for _, o := range h.Ops {
		if o.Kind != history.Write || (o.Path.Via != history.ViaVIP && o.Path.Via != history.ViaHAProxy) {
			continue
		}
		if o.Outcome == history.OK {
			acks = append(acks, o.Complete)
		} else if o.Invoke >= from && o.Invoke < to {
			errs++
		}
	}
	slices.Sort(acks)
	var longest time.Duration
	last := time.Duration(-1)
	for _, a := range acks {
		if a <= from {
			last = a
			continue
		}
		if last >= 0 {
			longest = max(longest, a-last)
		}
		last = a
		if a > to {
			break
		}
	}
	return longest, errs
}

// commitLatencies are the latencies of the writes through the VIP and
// HAProxy acknowledged that were invoked in [from, to).
func commitLatencies(h history.History, from, to time.Duration) []time.Duration {
	var out []time.Duration
	for _, o := range h.Ops {
		if o.Kind != history.Write || o.Outcome != history.OK || (o.Path.Via != history.ViaVIP && o.Path.Via != history.ViaHAProxy) {
			continue
		}
		if o.Invoke >= from && o.Invoke < to {
			out = append(out, o.Complete-o.Invoke)
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
