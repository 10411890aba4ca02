package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/internal/probe"
	"github.com/hagen-ha/hagen/verify/history"
)

// Proxy-only sites (issue 11): sites that carry only HAProxy, and
// keepalived when the VIP moves between them, in front of a
// primary-standby pair. The clients write through the VIP and through
// each proxy host; the scenarios prove that the proxy hosts follow the
// primary within their check budget and that the loss of a proxy host
// costs the clients at the VIP no more than a VRRP takeover.

func (st *streamingSuite) proxyHostScenarios() []scenario {
	run := func(f func(context.Context, *streamingSuite, *Metrics, *[]string) error) func(context.Context, *Metrics, *[]string) error {
		return func(ctx context.Context, m *Metrics, notes *[]string) error { return f(ctx, st, m, notes) }
	}
	return []scenario{
		{name: "proxy-primary-kill", desc: "kill the primary's node while clients write through the VIP and every proxy host; the standby promoted (by hand where the RUNBOOK says so): each proxy host marks the old primary down within fall × (interval + timeout) and the new one up within rise × interval of the promotion, writes resume, no acknowledged write lost; the old primary rejoins",
			run: run(psProxyPrimaryKill), applies: needsProxyHosts, timeout: 6 * time.Minute},
		{name: "proxy-host-kill", desc: "kill the proxy host that holds the VIP while clients write through the VIP and the other proxy host: the VIP moves within the VRRP budget, writes through the VIP resume, none lost",
			run: run(psProxyHostKill), applies: needsVIPOnProxyHosts, timeout: 5 * time.Minute},
	}
}

func needsProxyHosts(inv *contract.Inventory) string {
	for _, s := range inv.Sites {
		if s.Role == contract.RoleProxy {
			return ""
		}
	}
	return "the spec has no proxy-only sites"
}

func needsVIPOnProxyHosts(inv *contract.Inventory) string {
	if why := needsProxyHosts(inv); why != "" {
		return why
	}
	for _, s := range inv.Sites {
		if s.Role == contract.RoleProxy && slices.Contains(s.Services, "keepalived") {
			return ""
		}
	}
	return "the VIP does not move between the proxy hosts"
}

// proxyWriters are writers through HAProxy at the VIP (two) and at the
// own address of each proxy host but skip.
func (c *cluster) proxyWriters(tag string, skip *site) []writer {
	px, _ := c.dbProxyPort()
	ws := []writer{{Name: tag + "-vip-a", Addr: c.inv.VIP.Address, Port: px}, {Name: tag + "-vip-b", Addr: c.inv.VIP.Address, Port: px}}
	for _, s := range c.proxySites() {
		if s != skip {
			ws = append(ws, writer{Name: tag + "-" + s.Inv.Name, Addr: s.Inv.Address, Port: px})
		}
	}
	return ws
}

// writeThrough starts the writers ws, waits until at least 1000 writes
// are acknowledged and calls fault. It returns the recorder, the end of
// the fault and a function that stops the writers (waitResumed waits for
// the recovery).
func (c *cluster) writeThrough(ctx context.Context, ws []writer, fault func() error) (*recorder, time.Time, func(), error) {
	wctx, cancel := context.WithCancel(ctx)
	rec := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.runWritersLive(wctx, ws, 5*time.Millisecond, rec)
	}()
	stop := func() { cancel(); <-done }
	if err := poll(ctx, "1000 acknowledged writes", func() error {
		if n := rec.acked(); n < 1000 {
			return fmt.Errorf("%d acknowledged", n)
		}
		return nil
	}); err != nil {
		stop()
		return nil, time.Time{}, nil, err
	}
	if err := fault(); err != nil {
		stop()
		return nil, time.Time{}, nil, err
	}
	return rec, time.Now(), stop, nil
}

// waitResumed waits until every writer had a write sent after at
// acknowledged.
func (c *cluster) waitResumed(ctx context.Context, rec *recorder, ws []writer, at time.Time) error {
	rctx, cancel := context.WithTimeout(ctx, c.timers().writes)
	defer cancel()
	return poll(rctx, "writes through every path after the fault", func() error {
		evs := rec.snapshot()
		for _, w := range ws {
			if _, ok := firstStartedAfter(filterServer(evs, w.Name), at); !ok {
				return fmt.Errorf("no acknowledged write through %s:%d since the fault", w.Addr, w.Port)
			}
		}
		return nil
	})
}

// lostOn counts the acknowledged writes of evs missing on the database
// at s.
func (c *cluster) lostOn(ctx context.Context, s *site, evs []probe.Event) (acked, lost []string, err error) {
	acked = probe.Acked(evs)
	present, err := c.writeIDs(ctx, s)
	if err != nil {
		return nil, nil, fmt.Errorf("read the writes on %s: %w", s.Inv.Name, err)
	}
	return acked, probe.Lost(acked, present), nil
}

// promoteByHand is the RUNBOOK's manual failover: pg_ctl promote in the
// standby's database container (a standby with hot_standby = off takes
// no SQL, so not pg_promote()).
func (c *cluster) promoteByHand(ctx context.Context, s *site) error {
	_, err := c.e.mustExec(ctx, s.Containers[c.inv.Database.Service], nil,
		"runuser", "-u", "postgres", "--", "pg_ctl", "promote", "-D", "/var/lib/postgresql/data")
	if err != nil {
		return fmt.Errorf("promote %s (the RUNBOOK's pg_ctl promote): %w", s.Inv.Name, err)
	}
	return nil
}

func psProxyPrimaryKill(ctx context.Context, st *streamingSuite, m *Metrics, notes *[]string) error {
	c := st.c
	old, err := c.currentPrimary(ctx)
	if err != nil {
		return err
	}
	sb := c.other(old)
	if err := c.waitSync(ctx, old, c.timers().rejoin); err != nil {
		return fmt.Errorf("before the kill: %w", err)
	}
	ws := c.proxyWriters(randomID("pxkill"), nil)
	var at, faultDone time.Time
	rec, faultEnd, stop, err := c.writeThrough(ctx, ws, func() error {
		c.hist().Event(history.VIPHolder, old.Inv.Name, "primary before the fault")
		c.progress("kill of the primary %s's node", old.Inv.Name)
		at = time.Now()
		return c.killSite(ctx, old)
	})
	if err != nil {
		return err
	}
	defer stop()
	faultDone = faultEnd
	faultTook := faultDone.Sub(at)
	manual := manualFailover(&c.inv)
	if manual {
		// The operator's step, at once: the old primary is down for sure
		// (killed), as the RUNBOOK requires before a promotion.
		c.deviate("the RUNBOOK's manual promotion (pg_ctl promote on the standby) is run by verify right after the kill of the primary's node, as an operator who is sure the old primary is down")
		if err := c.promoteByHand(ctx, sb); err != nil {
			return err
		}
	}
	var promotedAt time.Duration
	pctx, cancel := context.WithTimeout(ctx, c.timers().writes)
	err = poll(pctx, sb.Inv.Name+"'s agent /primary 200", func() error {
		if !c.writable(pctx, sb) {
			return errors.New("not yet")
		}
		promotedAt = time.Since(at)
		return nil
	})
	cancel()
	if err != nil {
		return err
	}
	c.hist().EventAt(c.hist().Offset(at.Add(promotedAt)), history.Promotion, sb.Inv.Name, "agent /primary 200")
	if err := c.waitResumed(ctx, rec, ws, faultDone); err != nil {
		return fmt.Errorf("%w; %s", err, c.streamingLogs(ctx))
	}
	stop()
	evs := rec.snapshot()

	inter := time.Duration(c.inv.Proxy.Interval) * time.Millisecond
	fall, rise := c.inv.Proxy.Fall, c.inv.Proxy.Rise
	checkTimeout := time.Duration(c.inv.Proxy.CheckTimeout) * time.Millisecond
	downBound := faultTook + time.Duration(fall)*(inter+checkTimeout)
	upBound := time.Duration(rise)*inter + inter
	m.Extra = map[string]float64{"faultMs": float64(faultTook.Milliseconds()), "promotedMs": float64(promotedAt.Milliseconds()),
		"checkIntervalMs": float64(inter.Milliseconds()), "fall": float64(fall), "rise": float64(rise), "intervalTimesFallMs": float64(time.Duration(fall) * inter / time.Millisecond)}
	var problems []string
	var worstUp time.Duration
	for _, px := range c.proxySites() {
		down, up := c.haproxyMarksOn(ctx, px, old, sb, at)
		m.Extra["activeDownMs@"+px.Inv.Name] = float64(down.Milliseconds())
		m.Extra["backupUpMs@"+px.Inv.Name] = float64(up.Milliseconds())
		*notes = append(*notes, fmt.Sprintf("HAProxy on %s: %s marked DOWN %s after the kill (fall × (interval + timeout) with the %s the kill took: at most %s), %s marked UP %s after the kill, %s after its promotion (rise × interval + one interval: at most %s)",
			px.Inv.Name, old.Inv.Name, down.Round(time.Millisecond), faultTook.Round(time.Millisecond), downBound.Round(time.Millisecond), sb.Inv.Name, up.Round(time.Millisecond), (up-promotedAt).Round(time.Millisecond), upBound))
		switch {
		case down == 0 || up == 0:
			problems = append(problems, fmt.Sprintf("%s's HAProxy log does not show %s marked DOWN (%s) and %s marked UP (%s) after the kill", px.Inv.Name, old.Inv.Name, down, sb.Inv.Name, up))
		case down > downBound:
			problems = append(problems, fmt.Sprintf("%s's HAProxy marked the killed primary down after %s; its checks allow %s", px.Inv.Name, down.Round(time.Millisecond), downBound.Round(time.Millisecond)))
		case up-promotedAt > upBound:
			problems = append(problems, fmt.Sprintf("%s's HAProxy marked the new primary up %s after its promotion; its checks allow %s", px.Inv.Name, (up-promotedAt).Round(time.Millisecond), upBound))
		}
		worstUp = max(worstUp, up)
	}
	gap, _ := writeGap(evs, faultDone)
	rto, _ := firstStartedAfter(evs, faultDone)
	rto += faultTook
	m.RTOMillis, m.WriteGapMillis, m.SwitchMillis = rto.Milliseconds(), gap.Milliseconds(), worstUp.Milliseconds()
	acked, lost, err := c.lostOn(ctx, sb, evs)
	if err != nil {
		return err
	}
	m.WritesAcked, m.WritesLost = len(acked), len(lost)
	how := "promoted by hand"
	if !manual {
		how = "promoted"
	}
	*notes = append(*notes, fmt.Sprintf("kill of %s at %s; %s %s %s after it; write gap %s, first write after %s; %d acknowledged, %d lost", old.Inv.Name, at.Format("15:04:05.000"), sb.Inv.Name, how, promotedAt.Round(time.Millisecond), gap.Round(time.Millisecond), rto.Round(time.Millisecond), len(acked), len(lost)))
	if len(acked) < 1000 {
		problems = append(problems, fmt.Sprintf("only %d acknowledged writes; the check needs at least 1000", len(acked)))
	}
	if len(lost) > 0 {
		if c.inv.Database.Synchronous {
			problems = append(problems, fmt.Sprintf("%d of %d acknowledged writes missing on the new primary %s (first: %s)", len(lost), len(acked), sb.Inv.Name, strings.Join(lost[:min(5, len(lost))], ", ")))
		} else {
			*notes = append(*notes, fmt.Sprintf("expected under asynchronous replication: %d of %d acknowledged writes were not on the standby when it was promoted (the spec's accepted RPO)", len(lost), len(acked)))
		}
	}
	// The old primary powered on again rejoins through the role hook.
	t0 := time.Now()
	if err := c.restartSite(ctx, old); err != nil {
		return errors.Join(append(errs(problems), fmt.Errorf("restart %s: %w", old.Inv.Name, err))...)
	}
	if err := c.waitSync(ctx, sb, c.timers().rejoin); err != nil {
		problems = append(problems, fmt.Sprintf("%s did not rejoin as the standby of %s: %v", old.Inv.Name, sb.Inv.Name, err))
	} else {
		m.Extra["rejoinMs"] = float64(time.Since(t0).Milliseconds())
		*notes = append(*notes, fmt.Sprintf("%s powered on again rejoined as the %s standby of %s after %s", old.Inv.Name, c.replicationWord(), sb.Inv.Name, time.Since(t0).Round(time.Millisecond)))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func errs(ss []string) []error {
	var out []error
	for _, s := range ss {
		out = append(out, errors.New(s))
	}
	return out
}

func psProxyHostKill(ctx context.Context, st *streamingSuite, m *Metrics, notes *[]string) error {
	c := st.c
	p, err := c.currentPrimary(ctx)
	if err != nil {
		return err
	}
	holder, err := c.checkVIP(ctx, p)
	if err != nil {
		return err
	}
	var peers []*site
	for _, s := range c.proxySites() {
		if s != holder && slices.Contains(s.Inv.Services, "keepalived") {
			peers = append(peers, s)
		}
	}
	if len(peers) == 0 {
		return fmt.Errorf("no other proxy host runs keepalived to take the VIP from %s", holder.Inv.Name)
	}
	ws := c.proxyWriters(randomID("pxhost"), holder)
	var at time.Time
	rec, faultDone, stop, err := c.writeThrough(ctx, ws, func() error {
		c.hist().Event(history.VIPHolder, holder.Inv.Name, "VIP bound before the fault")
		c.progress("kill of the proxy host %s (VIP holder)", holder.Inv.Name)
		at = time.Now()
		return c.killSiteAs(ctx, holder, "proxy-host-kill")
	})
	if err != nil {
		return err
	}
	defer stop()
	faultTook := faultDone.Sub(at)
	var next *site
	vctx, cancel := context.WithTimeout(ctx, c.timers().vip)
	err = poll(vctx, "the VIP on another proxy host", func() error {
		for _, s := range peers {
			if on, err := c.vipOn(vctx, s); err == nil && on {
				next = s
				return nil
			}
		}
		return errors.New("on none")
	})
	cancel()
	if err != nil {
		return fmt.Errorf("%w; %s", err, c.streamingLogs(ctx))
	}
	if err := c.waitResumed(ctx, rec, ws, faultDone); err != nil {
		return fmt.Errorf("%w; %s", err, c.streamingLogs(ctx))
	}
	stop()
	evs := rec.snapshot()
	masterAt := c.keepalivedMasterAt(ctx, next, at)
	c.hist().EventAt(c.hist().Offset(at.Add(masterAt)), history.VIPHolder, next.Inv.Name, "keepalived MASTER")
	var budget time.Duration
	formula := ""
	if b := c.inv.Budget(contract.BudgetPathVIP, contract.BudgetFaultNodeLost); b != nil {
		budget, formula = time.Duration(b.Budget)*time.Millisecond, b.Formula
	}
	// The clients at the VIP are the ones the kill concerns: their RTO
	// and worst gap (the other proxy host's writer is not interrupted).
	var vipEvs []probe.Event
	var gap time.Duration
	for _, w := range ws {
		if w.Addr == c.inv.VIP.Address {
			wevs := filterServer(evs, w.Name)
			vipEvs = append(vipEvs, wevs...)
			if g, ok := writeGap(wevs, faultDone); ok {
				gap = max(gap, g)
			}
		}
	}
	rto, _ := firstStartedAfter(vipEvs, faultDone)
	rto += faultTook
	acked, lost, err := c.lostOn(ctx, p, evs)
	if err != nil {
		return err
	}
	m.RTOMillis, m.WriteGapMillis, m.SwitchMillis = rto.Milliseconds(), gap.Milliseconds(), masterAt.Milliseconds()
	m.WritesAcked, m.WritesLost = len(acked), len(lost)
	m.Extra = map[string]float64{"faultMs": float64(faultTook.Milliseconds()), "vipMoveMs": float64(masterAt.Milliseconds()), "vipBudgetMs": float64(budget.Milliseconds())}
	*notes = append(*notes, fmt.Sprintf("kill of the proxy host %s at %s (%s to kill its containers): %s entered MASTER %s after it (budget vip/node-lost %s: %s); clients at the VIP: worst write gap %s, first write after %s; %d acknowledged, %d lost",
		holder.Inv.Name, at.Format("15:04:05.000"), faultTook.Round(time.Millisecond), next.Inv.Name, masterAt.Round(time.Millisecond), budget, formula, gap.Round(time.Millisecond), rto.Round(time.Millisecond), len(acked), len(lost)))
	var problems []string
	if masterAt == 0 {
		problems = append(problems, fmt.Sprintf("%s's keepalived log shows no MASTER state after the kill", next.Inv.Name))
	} else if budget > 0 && masterAt > budget {
		problems = append(problems, fmt.Sprintf("the VIP moved %s after the kill; the VRRP budget is %s (%s)", masterAt.Round(time.Millisecond), budget, formula))
	}
	if len(acked) < 1000 {
		problems = append(problems, fmt.Sprintf("only %d acknowledged writes; the check needs at least 1000", len(acked)))
	}
	if len(lost) > 0 {
		// The database was not touched: nothing may be lost.
		problems = append(problems, fmt.Sprintf("%d of %d acknowledged writes missing on the primary %s (first: %s)", len(lost), len(acked), p.Inv.Name, strings.Join(lost[:min(5, len(lost))], ", ")))
	}
	// The proxy host powered on again: keepalived's nopreempt leaves the
	// VIP where it is, and its HAProxy leads to the primary again.
	if err := c.restartSite(ctx, holder); err != nil {
		return errors.Join(append(errs(problems), fmt.Errorf("restart %s: %w", holder.Inv.Name, err))...)
	}
	px, _ := c.dbProxyPort()
	rctx, cancel := context.WithTimeout(ctx, c.timers().vip)
	err = poll(rctx, "the restarted "+holder.Inv.Name+"'s HAProxy leads to the primary", func() error {
		got, err := c.sqlAt(rctx, holder.Inv.Address, px, "SELECT current_setting('cluster_name')")
		if err == nil && got != p.Inv.Name {
			err = fmt.Errorf("leads to %q", got)
		}
		return err
	})
	cancel()
	if err != nil {
		problems = append(problems, err.Error())
	} else if h, err := c.checkVIP(ctx, p); err != nil {
		problems = append(problems, "after the restart: "+err.Error())
	} else {
		*notes = append(*notes, fmt.Sprintf("%s powered on again: its HAProxy leads to %s; the VIP stays on %s (nopreempt)", holder.Inv.Name, p.Inv.Name, h.Inv.Name))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// keepalivedMasterAt reads the keepalived log of site s since t0 and
// returns when it entered the MASTER state (zero when not seen).
func (c *cluster) keepalivedMasterAt(ctx context.Context, s *site, t0 time.Time) time.Duration {
	id, ok := s.Containers["keepalived"]
	if !ok {
		return 0
	}
	rc, err := c.e.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true, Since: t0.Add(-time.Second).Format(time.RFC3339Nano)})
	if err != nil {
		return 0
	}
	defer rc.Close()
	var out strings.Builder
	_, _ = stdcopy.StdCopy(&out, &out, rc)
	for _, line := range strings.Split(out.String(), "\n") {
		ts, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || t.Before(t0) {
			continue
		}
		if strings.Contains(rest, "Entering MASTER STATE") {
			return t.Sub(t0)
		}
	}
	return 0
}
