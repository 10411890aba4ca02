package schema

import (
	"fmt"
	"strings"

	"cuelang.org/go/cue"

	"github.com/hagen-ha/hagen/internal/budget"
	"github.com/hagen-ha/hagen/internal/lazyregexp"
)

// ManagedByPatroni reports whether Patroni decides failover: primary-standby
// with database.streaming.manager "patroni".
func (t *Topology) ManagedByPatroni() bool {
	s := t.Database.Streaming
	return t.Database.Mode == PrimaryStandby && s != nil && s.Manager == ManagerPatroni
}

// EtcdMembers are the sites that run an etcd member with Patroni: every
// database site and every witness site, in spec order.
func (t *Topology) EtcdMembers() []Site {
	if !t.ManagedByPatroni() {
		return nil
	}
	var out []Site
	for _, s := range t.Sites {
		if s.Witness || t.Role(s.Name) != "" {
			out = append(out, s)
		}
	}
	return out
}

// PatroniSlot is the replication slot Patroni gives a member: its name with
// every character outside [a-z0-9_] replaced by _.
func PatroniSlot(member string) string {
	return nonSlot.ReplaceAllString(strings.ToLower(member), "_")
}

var nonSlot = lazyregexp.New(`[^a-z0-9_]`)

// patroniMinFailoverAfter is the least failoverAfter Patroni can work with
// (budget.PatroniTimersFor): its rule loop_wait + 2 × retry_timeout ≤ ttl
// with whole seconds of at least 1 each.
const patroniMinFailoverAfter = 3

// witnessDefaults keeps witness sites out of the lists that default to
// every site: app services and HAProxy run on the database sites.
func (t *Topology) witnessDefaults() {
	var data []string
	witnesses := false
	for _, s := range t.Sites {
		if s.Witness {
			witnesses = true
		} else {
			data = append(data, s.Name)
		}
	}
	if !witnesses || len(data) == 0 {
		return
	}
	for name, svc := range t.Services {
		if len(svc.Sites) == 0 {
			svc.Sites = append([]string{}, data...)
			t.Services[name] = svc
		}
	}
	if p := t.Proxy; p != nil && len(p.Sites) == 0 {
		p.Sites = append([]string{}, data...)
	}
}

// written reports whether the spec itself sets the field at path (not a
// default of the schema). Without a spec file (Topology.Validate) nothing
// counts as written.
func (c *checker) written(path string) bool {
	if !c.user.Exists() {
		return false
	}
	return c.user.LookupPath(cue.MakePath(selectors(path)...)).Exists()
}

// patroni checks witness sites and manager "patroni": what Patroni on etcd
// needs to fail over at all, and the settings of the keepalived design
// that mean nothing with it.
func (c *checker) patroni() {
	t := c.t
	patroni := c.ok("database.mode", "database.streaming.manager") && t.ManagedByPatroni()
	witness := map[string]int{}
	for i, s := range t.Sites {
		p := fmt.Sprintf("sites[%d].witness", i)
		if !s.Witness || !c.ok(p, fmt.Sprintf("sites[%d].name", i)) {
			continue
		}
		witness[s.Name] = i
		if !patroni && c.ok("database.mode", "database.streaming.manager") {
			c.errorf(p, `a witness site runs only an etcd member for database.streaming.manager "patroni", which this spec does not use; remove the site or set database.mode: "primary-standby" with manager: "patroni"`)
		}
	}
	if len(witness) > 0 {
		c.notOnWitness(witness)
	}
	if !patroni {
		return
	}
	s := t.Database.Streaming
	if s.Patroni == nil && c.ok("database.streaming.patroni") {
		c.errorf("database.streaming.manager", `"patroni" needs database.streaming.patroni with restApiPassword (env:NAME or file:/absolute/path): the password of Patroni's REST API`)
	}
	if c.siteNamesKnown() && c.ok("database.streaming.primary", "database.streaming.standbys") {
		members := t.EtcdMembers()
		if n := len(members); n < 3 || n%2 == 0 {
			names := make([]string, n)
			for i, m := range members {
				names[i] = m.Name
			}
			why := "two members lose their majority with either one, so no failover could ever happen"
			switch {
			case n < 2:
				why = "one member has no other to fail over to"
			case n%2 == 0 && n > 2:
				why = fmt.Sprintf("%d members survive no more losses than %d do, and split into halves that both stop", n, n-1)
			}
			c.errorf("database.streaming.manager", `"patroni" keeps its leader lock in etcd, which needs an odd number of members, at least 3, in different places; the database sites and witness sites give %d (%s): %s; add a site with witness: true`,
				n, strings.Join(names, ", "), why)
		}
	}
	if _, ok := budget.PatroniTimersFor(s.FailoverAfter); c.ok("database.streaming.failoverAfter") && !ok {
		c.errorf("database.streaming.failoverAfter", "%d s is below %d s, the least Patroni can work with: its leader lock's TTL must hold loop_wait + 2 × retry_timeout of at least 1 s each", s.FailoverAfter, patroniMinFailoverAfter)
	}
	if s.Witness != "" && c.ok("database.streaming.witness") {
		c.errorf("database.streaming.witness", `is the keepalived design's split-brain checker, which Patroni does not use (etcd's majority decides); remove it and add a site with witness: true instead`)
	}
	if len(s.Witnesses) > 0 && c.ok("database.streaming.witnesses") {
		c.errorf("database.streaming.witnesses", `are the keepalived design's split-brain checker, which Patroni does not use (etcd's majority decides); remove them and add sites with witness: true instead`)
	}
	if s.HealthPath != "/primary" && c.ok("database.streaming.healthPath") {
		c.errorf("database.streaming.healthPath", `%s: with Patroni the health URL is Patroni's REST API, which answers /primary (and /replica, /health) only; remove healthPath`, s.HealthPath)
	}
	if s.SynchronousMethod == "any" && c.ok("database.streaming.synchronousMethod") {
		c.errorf("database.streaming.synchronousMethod", `"any" (quorum commit) is not in Patroni 3.0.2, the version Debian bookworm ships (it came in Patroni 4); use "first", or manager "keepalived"`)
	}
	if t.Database.Settings.Listen == "host" && c.ok("database.settings.listen") {
		c.errorf("database.settings.listen", `"host" is not rendered with Patroni yet: Patroni sets listen_addresses itself (patroni.yml, every address); leave listen out, or use manager "keepalived"`)
	}
	for i, site := range t.Sites {
		if site.ProxyOnly && site.Witness && c.ok(fmt.Sprintf("sites[%d].proxyOnly", i), fmt.Sprintf("sites[%d].witness", i)) {
			c.errorf(fmt.Sprintf("sites[%d].witness", i), "site %s is proxyOnly as well: a site carries either HAProxy or a witness's etcd member alone, not both", site.Name)
		}
	}
	for i, sb := range s.Standbys {
		p := fmt.Sprintf("database.streaming.standbys[%d]", i)
		if !c.ok(p + ".site") {
			continue
		}
		if c.ok(p+".applicationName") && sb.ApplicationName != sb.Site {
			if identPattern.MatchString(sb.Site) {
				c.errorf(p+".applicationName", "%s must be the site name %s: Patroni names every standby after its member, the site, in synchronous_standby_names and pg_stat_replication", sb.ApplicationName, sb.Site)
			} else {
				c.errorf(p+".applicationName", "%s must be the site name, and %s is no identifier: Patroni names every standby after its member, the site; rename the site with lower-case letters, digits and _ only", sb.ApplicationName, quote(sb.Site))
			}
		}
		if want := PatroniSlot(sb.Site); c.ok(p+".slot") && sb.Slot != want {
			c.errorf(p+".slot", "%s must be %s: Patroni names each member's replication slot after it", sb.Slot, want)
		}
	}
	if c.ok("database.streaming.synchronous", "database.streaming.acceptSplitBrainRisk") && !s.Synchronous && !s.AcceptSplitBrainRisk {
		c.errorf("database.streaming.synchronous", `false with Patroni can give two writers: a primary cut off from its peer and the witness goes on acknowledging writes until it demotes itself (8-10 s measured with failoverAfter 3), while the standby is already promoted after about 5 s; keep true (the cut-off primary then cannot acknowledge anything), or set database.streaming.acceptSplitBrainRisk: true to accept that risk`)
	}
	if v := t.VIP; v != nil && c.ok("vip") {
		if v.Auth != "" && c.ok("vip.auth") {
			c.errorf("vip.auth", `with Patroni keepalived speaks VRRP version 3, which has no authentication (Patroni's leader lock decides who holds the VIP, not VRRP); remove it`)
		}
		for _, f := range []string{"vip.advertInterval", "vip.check"} {
			if c.written(f) {
				c.errorf(f, `is fixed with Patroni: keepalived sends VRRP version 3 adverts every 0.2 s and checks Patroni's /primary every second, 4 failures in a row (Patroni answers 503 for 2-3 s at a time while etcd is unreachable); remove it`)
			}
		}
	}
	if c.ok("security.ssl") && t.Security.SSL {
		c.errorf("security.ssl", `hagen does not render TLS for etcd and Patroni's REST API yet, so with Patroni their traffic would be plain text; use manager "keepalived" for TLS`)
	}
	for _, name := range sortedKeys(t.Services) {
		if name == "etcd" {
			c.errorf("services.etcd", "etcd is a service hagen renders itself with Patroni; choose another name")
		}
	}
	if p := t.Proxy; p != nil && c.ok("proxy.check", "proxy.fronts") && p.Fronts == "database" && p.Check.Fall*p.Check.Interval < 4000 {
		c.warnf("proxy.check", "fall × interval = %d ms: while etcd is unreachable Patroni runs the primary in failsafe mode and answers /primary with 503 for 2-3 s at a time, so HAProxy may drop the primary's sessions; fall × interval ≥ 4000 ms rides that out", p.Check.Fall*p.Check.Interval)
	}
}

var identPattern = lazyregexp.New(`^[a-z_][a-z0-9_]{0,62}$`)

// notOnWitness refuses every reference that would put a database, the
// virtual IP, HAProxy, an app service or a client name on a witness site.
func (c *checker) notOnWitness(witness map[string]int) {
	t := c.t
	ref := func(path, name, what string) {
		if i, ok := witness[name]; ok && c.ok(path) {
			c.errorf(path, "%s is a witness site (sites[%d].witness: true), which runs only etcd: it %s", name, i, what)
		}
	}
	if s := t.Database.Streaming; s != nil {
		ref("database.streaming.primary", s.Primary, "has no database")
		for i, sb := range s.Standbys {
			ref(fmt.Sprintf("database.streaming.standbys[%d].site", i), sb.Site, "has no database")
		}
	}
	if v := t.VIP; v != nil {
		for _, name := range sortedKeys(v.Priorities) {
			ref("vip.priorities."+quoteLabel(name), name, "carries no virtual IP")
		}
	}
	if p := t.Proxy; p != nil {
		for i, s := range p.Sites {
			ref(fmt.Sprintf("proxy.sites[%d]", i), s, "runs no HAProxy")
		}
		for i, s := range p.Servers {
			ref(fmt.Sprintf("proxy.servers[%d].site", i), s.Site, "has no database to send sessions to")
		}
	}
	for _, name := range sortedKeys(t.Services) {
		for i, s := range t.Services[name].Sites {
			ref(fmt.Sprintf("services.%s.sites[%d]", quoteLabel(name), i), s, "runs no app service")
		}
	}
	for i, s := range t.Clients.Servers {
		ref(fmt.Sprintf("clients.servers[%d].site", i), s.Site, "serves no clients")
	}
}

// readPort checks proxy.readPort: a port to the standbys, which only a
// proxy in front of a primary-standby database has.
func (c *checker) readPort() {
	p := c.t.Proxy
	if p == nil || p.ReadPort == 0 || !c.ok("proxy.readPort", "proxy.fronts", "database.mode") {
		return
	}
	if p.Fronts != "database" || c.t.Database.Mode != PrimaryStandby {
		c.errorf("proxy.readPort", `sends reads to the streaming standbys, which only a proxy with fronts: "database" in front of database.mode "primary-standby" has; remove it`)
	}
}

// etcdPorts are the host ports of an etcd member with Patroni.
func (t *Topology) etcdPorts() []hostPort {
	if !t.ManagedByPatroni() || t.Database.Streaming.Patroni == nil {
		return nil
	}
	p := t.Database.Streaming.Patroni
	return []hostPort{
		{"database.streaming.patroni.etcdClientPort", p.EtcdClientPort, "tcp"},
		{"database.streaming.patroni.etcdPeerPort", p.EtcdPeerPort, "tcp"},
	}
}
