package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/hagen-ha/hagen/internal/probe"
)

// Partial faults of the multi-master matrix: the name server out, and a
// lossy or slow WAN between the sites. Direct clients write on every site
// throughout, so the history's checks judge what they saw.

// partialHoldMM is how long a multi-master partial fault is held: a
// parameter of the test (several replication rounds), not a wait.
const partialHoldMM = 12 * time.Second

// directClients starts one direct client per client name, writing every
// 100 ms for d; wait returns their acknowledged writes, the writes and
// connects that failed (with the first error) and the first error of a
// client run.
func (c *cluster) directClients(ctx context.Context, prefix string, d time.Duration) (wait func() (acked []string, failed int, firstErr string, err error)) {
	type out struct {
		evs []probe.Event
		err error
	}
	res := make(chan out, len(c.inv.Clients.Names))
	for i := range c.inv.Clients.Names {
		go func() {
			evs, err := c.runClient(ctx, clientRun{Mode: "direct", ServerIndex: i, Duration: d, Interval: 100 * time.Millisecond, ID: fmt.Sprintf("%s-%d", prefix, i)})
			res <- out{evs, err}
		}()
	}
	return func() ([]string, int, string, error) {
		var acked []string
		var errs []error
		failed, first := 0, ""
		for range c.inv.Clients.Names {
			o := <-res
			errs = append(errs, o.err)
			acked = append(acked, probe.Acked(o.evs)...)
			for _, e := range o.evs {
				if (e.Op == probe.OpWrite || e.Op == probe.OpConnect) && !e.OK {
					failed++
					if first == "" {
						first = e.Server + ": " + e.Err
					}
				}
			}
		}
		return acked, failed, first, errors.Join(errs...)
	}
}

// everyClientWrote waits for five writes of every direct client.
func (c *cluster) everyClientWrote(ctx context.Context, prefix string) error {
	return poll(ctx, "five writes of every client", func() error {
		for i, name := range c.inv.Clients.Sites {
			n, err := c.psql(ctx, c.siteByName(name), fmt.Sprintf(`SELECT count(*) FROM hagen_probe WHERE client = '%s-%d'`, prefix, i))
			if err != nil {
				return err
			}
			if atoi(n) < 5 {
				return fmt.Errorf("client %d: %s writes on %s", i, n, name)
			}
		}
		return nil
	})
}

// nameServerDownScenario freezes the name server (docker pause: queries
// go unanswered) while direct clients write on every site and Bucardo
// replicates, then starts an HA client during the outage.
//
// Expected from the rendered client settings (clients/client.json: a
// client resolves a name when it connects, fails over to the next name
// after reconnectDelay; the zone's TTL lets a caching resolver keep a
// name that long, the stand-in caches nothing): connections open before
// the outage keep working (no write fails, Bucardo's open connections
// keep replicating); a client that connects during the outage cannot
// resolve any name and keeps failing over; it writes once the name
// server is back, within one reconnect delay plus a request timeout; no
// acknowledged write is lost and the sites converge.
func nameServerDownScenario(ctx context.Context, bs *bucardoSuite, m *Metrics, notes *[]string) error {
	c := bs.c
	if c.dnsID == "" {
		return skip("no name server in this deployment")
	}
	delay := time.Duration(c.inv.Clients.ReconnectDelay) * time.Second
	timeout := time.Duration(c.inv.Clients.RequestTimeout) * time.Second
	prefix := randomID("ns")
	wait := c.directClients(ctx, prefix, partialHoldMM+20*time.Second)
	if err := c.everyClientWrote(ctx, prefix); err != nil {
		return err
	}
	inEffect := c.faultBegins("dns", "name-server-down")
	if _, err := c.e.cli.ContainerPause(ctx, c.dnsID, client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause the name server: %w", err)
	}
	inEffect()
	paused := true
	unpause := func(ctx context.Context) error {
		if !paused {
			return nil
		}
		paused = false
		c.faultEnds("dns", "unpause")
		_, err := c.e.cli.ContainerUnpause(ctx, c.dnsID, client.ContainerUnpauseOptions{})
		return err
	}
	defer func() { _ = unpause(context.WithoutCancel(ctx)) }()
	faultAt := time.Now()
	// A client that connects during the outage, and runs on after it.
	haID := prefix + "-ha"
	type out struct {
		evs []probe.Event
		err error
	}
	ha := make(chan out, 1)
	go func() {
		evs, err := c.runClient(ctx, clientRun{Mode: "ha", Duration: partialHoldMM + 2*(delay+timeout) + 5*time.Second, ID: haID})
		ha <- out{evs, err}
	}()
	// Bucardo's open connections keep replicating while names do not
	// resolve.
	mctx, cancel := context.WithTimeout(ctx, partialHoldMM)
	_, markErr := markersReplicated(mctx, c, prefix+"-during")
	cancel()
	if left := partialHoldMM - time.Since(faultAt); left > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(left):
		}
	}
	if err := unpause(ctx); err != nil {
		return fmt.Errorf("unpause the name server: %w", err)
	}
	restored := time.Now()
	var problems []string
	if markErr != nil {
		problems = append(problems, "replication stopped while the name server was out: "+markErr.Error())
	} else {
		*notes = append(*notes, "a row written on each site during the outage reached the other: Bucardo's open connections need no name")
	}
	o := <-ha
	if o.err != nil {
		return fmt.Errorf("the HA client: %w", o.err)
	}
	var beforeRestore, failedConnects int
	var firstAfter time.Duration
	for _, e := range o.evs {
		switch {
		case e.Op == probe.OpConnect && !e.OK:
			failedConnects++
		case e.Op == probe.OpWrite && e.OK && e.Time().Before(restored):
			beforeRestore++
		case e.Op == probe.OpWrite && e.OK && firstAfter == 0:
			firstAfter = e.Time().Sub(restored)
		}
	}
	*notes = append(*notes, fmt.Sprintf("HA client started during the outage: %d failed connects, %d writes acknowledged before the name server returned, first write %s after it returned (expected within reconnectDelay %s + request timeout %s)",
		failedConnects, beforeRestore, fmtDurationOr(firstAfter, "never"), delay, timeout))
	if beforeRestore > 0 {
		problems = append(problems, fmt.Sprintf("the HA client wrote %d times while no name resolved: it cannot have resolved a name", beforeRestore))
	}
	if firstAfter == 0 {
		problems = append(problems, "the HA client never wrote after the name server returned")
	}
	m.RTOMillis = firstAfter.Milliseconds()
	acked, failed, first, err := wait()
	if err != nil {
		return err
	}
	acked = append(acked, probe.Acked(o.evs)...)
	if failed > 0 {
		problems = append(problems, fmt.Sprintf("%d writes or connects of the clients connected before the outage failed (first: %s)", failed, first))
	}
	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	d, err := waitConverged(cctx, c, m, prefix, acked)
	cancel()
	if err != nil {
		problems = append(problems, "the sites did not converge with every acknowledged write: "+err.Error())
	}
	m.Extra = map[string]float64{"outageMs": float64(restored.Sub(faultAt).Milliseconds()), "haFailedConnects": float64(failedConnects), "convergeAfterMs": float64(d.Milliseconds())}
	if len(problems) > 0 {
		return fmt.Errorf("expected: connected clients and Bucardo keep working, a new client connects once the name server returns, no loss; seen: %s", strings.Join(problems, "; "))
	}
	return nil
}

// linkScenario degrades the WAN between the Bucardo site and its peer
// while direct clients write on every site: "lossy" drops packets at
// random on the router between the site LANs, "slow" sends Bucardo's
// connections to the peer through a relay that adds linkDelay each way.
// Expected: writes keep working on every site, replication goes on
// (lag measured during the fault), and after it every acknowledged write
// is on every site.
func linkScenario(kind string) func(context.Context, *bucardoSuite, *Metrics, *[]string) error {
	return func(ctx context.Context, bs *bucardoSuite, m *Metrics, notes *[]string) error {
		c := bs.c
		bsite, peer := c.siteByName(c.inv.Database.BucardoSite), c.peerOfBucardo()
		if bsite == nil || peer == nil || len(c.inv.Clients.Names) < len(c.sites) {
			return skip("needs two sites with a client name each")
		}
		prefix := randomID(kind)
		baseAt := time.Now()
		if _, err := markersReplicated(ctx, c, prefix+"-base"); err != nil {
			return fmt.Errorf("before the fault: %w", err)
		}
		baseLag := time.Since(baseAt)
		wait := c.directClients(ctx, prefix, partialHoldMM+25*time.Second)
		if err := c.everyClientWrote(ctx, prefix); err != nil {
			return err
		}
		var heal func(context.Context) error
		var relay *slowLink
		inEffect := c.faultBegins(peer.Inv.Name, kind+"-link")
		switch kind {
		case "lossy":
			c.deviate("a lossy link is an iptables statistic rule on the WAN router dropping %g of the packets between the site LANs each way", lossProbability)
			var rules [][]string
			for _, a := range c.sites {
				for _, b := range c.sites {
					if a.LAN != b.LAN {
						rules = append(rules, lossRule("FORWARD", "-s", a.LAN.Prefix.String(), "-d", b.LAN.Prefix.String()))
					}
				}
			}
			heal = func(ctx context.Context) error {
				var errs []error
				for _, r := range rules {
					if _, err := c.e.mustExec(ctx, c.routerID, nil, append([]string{"iptables", "-D"}, r...)...); err != nil {
						errs = append(errs, err)
					}
				}
				return errors.Join(errs...)
			}
			for _, r := range rules {
				if _, err := c.e.mustExec(ctx, c.routerID, nil, append([]string{"iptables", "-I"}, r...)...); err != nil {
					_ = heal(context.WithoutCancel(ctx))
					return err
				}
			}
		case "slow":
			link, err := c.slowLink(ctx, bsite, peer.Inv.Address, c.inv.Database.PublishedPort)
			if err != nil {
				return err
			}
			defer func() { _ = link.undo(context.WithoutCancel(ctx)) }()
			// Bucardo's open connections keep their path: end them on the
			// peer, Bucardo reconnects through the relay.
			if _, err := c.psql(ctx, peer, fmt.Sprintf("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE client_addr = '%s'", bsite.Inv.Address)); err != nil {
				return fmt.Errorf("end Bucardo's connections to %s: %w", peer.Inv.Name, err)
			}
			if err := link.relayed(ctx); err != nil {
				return err
			}
			// The fault is in effect once Bucardo replicates through the
			// relay (its sync restarts after the ended connections).
			t0 := time.Now()
			rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			_, err = markersReplicated(rctx, c, prefix+"-relay")
			cancel()
			if err != nil {
				return fmt.Errorf("Bucardo through the relay: %w", err)
			}
			*notes = append(*notes, fmt.Sprintf("Bucardo replicated through the relay %s after its connections to %s were ended", time.Since(t0).Round(100*time.Millisecond), peer.Inv.Name))
			// The link is fast again: new connections go straight, the
			// relayed ones go on without delay; the relay goes after the
			// convergence check.
			heal = link.fast
			relay = link
		default:
			return fmt.Errorf("unknown link fault %s", kind)
		}
		inEffect()
		faultAt := time.Now()
		healed := false
		defer func() {
			if !healed {
				_ = heal(context.WithoutCancel(ctx))
			}
		}()
		// Replication lag while the fault holds: a row on each site until
		// it is on the other, again and again.
		var lags []time.Duration
		var lagErr error
		for i := 0; time.Since(faultAt) < partialHoldMM && ctx.Err() == nil; i++ {
			t0 := time.Now()
			// A round that takes longer than this is a stall.
			lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := markersReplicated(lctx, c, fmt.Sprintf("%s-lag%d", prefix, i))
			cancel()
			if err != nil {
				lagErr = err
				break
			}
			lags = append(lags, time.Since(t0))
		}
		healed = true
		c.faultEnds(peer.Inv.Name, "heal")
		if err := heal(ctx); err != nil {
			return fmt.Errorf("heal the %s link: %w", kind, err)
		}
		recovered := time.Now()
		var problems []string
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		resumed, err := markersReplicated(rctx, c, prefix+"-after")
		cancel()
		if err != nil {
			problems = append(problems, "replication after the fault: "+err.Error())
		}
		acked, failed, first, err := wait()
		if err != nil {
			return err
		}
		if failed > 0 {
			problems = append(problems, fmt.Sprintf("%d client writes or connects failed (first: %s)", failed, first))
		}
		cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		d, err := waitConverged(cctx, c, m, prefix, acked)
		cancel()
		if err != nil {
			problems = append(problems, "the sites did not converge with every acknowledged write: "+err.Error())
		}
		if relay != nil {
			// The relay goes: Bucardo's connections through it break and it
			// reconnects straight; replication must go on.
			if err := relay.undo(ctx); err != nil {
				return err
			}
			rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			t0 := time.Now()
			_, err := markersReplicated(rctx, c, prefix+"-norelay")
			cancel()
			if err != nil {
				problems = append(problems, "replication after the relay was removed: "+err.Error())
			} else {
				*notes = append(*notes, fmt.Sprintf("after the relay was removed (its connections broken) replication went on within %s", time.Since(t0).Round(100*time.Millisecond)))
			}
		}
		p50, p95, top := latencies(lags)
		m.LagMillis = p50.Milliseconds()
		m.Extra = map[string]float64{"lagBeforeMs": ms(baseLag), "lagP50Ms": ms(p50), "lagP95Ms": ms(p95), "lagMaxMs": ms(top), "lagSamples": float64(len(lags)),
			"resumedAfterHealMs": float64(resumed.Sub(recovered).Milliseconds()), "convergeAfterMs": float64(d.Milliseconds())}
		*notes = append(*notes, fmt.Sprintf("%s link for %s: replication lag (a row on each site until on the other, by polling every 250 ms) before %s; during: median %s, p95 %s, max %s over %d rounds; replication after the heal within %s",
			kind, recovered.Sub(faultAt).Round(100*time.Millisecond), baseLag.Round(time.Millisecond), p50.Round(time.Millisecond), p95.Round(time.Millisecond), top.Round(time.Millisecond), len(lags), resumed.Sub(recovered).Round(100*time.Millisecond)))
		if lagErr != nil {
			problems = append(problems, "replication stalled during the fault: "+lagErr.Error())
		}
		if len(problems) > 0 {
			return fmt.Errorf("expected writes on every site, replication going on and converging after the fault, no loss; seen: %s", strings.Join(problems, "; "))
		}
		return nil
	}
}
