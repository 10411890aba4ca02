package verify

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Bring-up of a primary-standby deployment whose failover Patroni manages
// (database.streaming.manager: patroni), in the rendered RUNBOOK's order:
// the etcd members on every site that runs one (the database sites and
// the witness site), then Patroni, the primary site first (it initialises
// the cluster; the standby clones it). The rest (agents, keepalived,
// HAProxy, the apps) is the streaming bring-up's (upStreaming).

// selfRejoins reports whether Patroni manages the deployment: it demotes
// an old primary and rejoins it as a standby (pg_rewind or a clone) by
// itself, where the keepalived design fences it until the RUNBOOK's
// restart.
func (c *cluster) selfRejoins() bool { return c.inv.Database.Manager == "patroni" }

// etcdService is the compose service of an etcd member.
const etcdService = "etcd"

// upPatroniDatabases starts the etcd members, waits for them to report
// healthy (a member is healthy once a majority elected a leader), then
// Patroni on the primary site and, once it serves as the leader, on the
// standby.
func (c *cluster) upPatroniDatabases(ctx context.Context) error {
	var members []*site
	for _, s := range c.sites {
		if _, ok := s.Project.Services[etcdService]; ok {
			members = append(members, s)
		}
	}
	if len(members) == 0 {
		return fmt.Errorf("%w: no site runs an etcd member", ErrIncompleteRender)
	}
	for _, s := range members {
		c.progress("site %s: starting the etcd member", s.Inv.Name)
		if _, err := c.startService(ctx, s, etcdService, nil); err != nil {
			return err
		}
	}
	etcdHealthy := withMargin(c.healthBound(etcdService))
	for _, s := range members {
		wctx, cancel := context.WithTimeout(ctx, etcdHealthy)
		err := c.e.waitHealthy(wctx, s.Containers[etcdService], s.Inv.Name+"/"+etcdService)
		cancel()
		if err != nil {
			return err
		}
	}
	c.progress("etcd: %d members healthy", len(members))
	db := c.inv.Database.Service
	for _, role := range []string{"primary", "standby"} {
		s := c.siteByRole(role)
		if s == nil {
			return fmt.Errorf("the matrix needs one primary and one standby site")
		}
		c.progress("site %s: starting Patroni (%s at the first start)", s.Inv.Name, role)
		if _, err := c.startService(ctx, s, db, nil); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, c.timers().healthy)
		err := c.e.waitHealthy(wctx, s.Containers[db], s.Inv.Name+"/"+db)
		cancel()
		if err != nil {
			return err
		}
	}
	c.progress("Patroni: leader and replica running")
	return nil
}

// etcdMembers are the sites that run an etcd member.
func (c *cluster) etcdMembers() []*site {
	var out []*site
	for _, s := range c.sites {
		if _, ok := s.Containers[etcdService]; ok {
			out = append(out, s)
		}
	}
	return out
}

// etcdEndpoints is the client URL of every member, comma-separated.
func (c *cluster) etcdEndpoints() string {
	var urls []string
	for _, m := range c.inv.Database.Patroni.Etcd {
		urls = append(urls, m.ClientURL)
	}
	return strings.Join(urls, ",")
}

// etcdHealthy waits until every etcd member answers healthy (each serves
// a quorum read) from a site whose member runs.
func (c *cluster) etcdHealthy(ctx context.Context, d time.Duration) error {
	ms := c.etcdMembers()
	if len(ms) == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return poll(wctx, "every etcd member healthy", func() error {
		var last error
		for _, s := range ms {
			out, err := c.e.mustExec(wctx, s.Containers[etcdService], nil, "etcdctl", "--endpoints="+c.etcdEndpoints(), "--command-timeout=2s", "endpoint", "health")
			if err == nil {
				return nil
			}
			last = fmt.Errorf("%v: %s", err, strings.TrimSpace(out))
		}
		return last
	})
}
