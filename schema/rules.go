package schema

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/token"

	"github.com/hagen-ha/hagen/contract"
)

// checker holds the rules that relate several fields of a spec, and the
// rules for its strings. Each violation names the field path; Parse places
// it at that field in the spec. The checker also runs on a Topology built
// in Go (Topology.Validate), without positions.
type checker struct {
	v      cue.Value // the spec unified with #Topology (zero without a spec file)
	user   cue.Value // the spec as written, for positions
	file   string    // the spec's file name, as in positions; "" without one
	t      *Topology
	broken []string // paths that did not decode (CUE has reported them)
	// control holds the paths refused for a control character: that is
	// the one error reported about them.
	control  map[string]bool
	errs     []violation
	warnings []Warning
}

// violation is one broken rule: the field's path, the message, and the
// rule's message format, which tells near-identical violations apart from
// different ones.
type violation struct {
	path, msg, kind string
}

// ok reports whether the rules can rely on the value at path: neither it,
// nor a field inside it, nor a field around it failed to decode.
func (c *checker) ok(paths ...string) bool {
	for _, p := range paths {
		for _, b := range c.broken {
			if b == p || b == "" || isUnder(b, p) || isUnder(p, b) {
				return false
			}
		}
	}
	return true
}

// isUnder reports whether path lies inside the field parent.
func isUnder(path, parent string) bool {
	return parent != "" && len(path) > len(parent) && strings.HasPrefix(path, parent) &&
		(path[len(parent)] == '.' || path[len(parent)] == '[')
}

// pos is the position of path in the spec file: the field's value, as in
// CUE's own errors, or, where the unified value places the field in hagen's
// schema (vip.priorities) or the spec leaves it to a default, the nearest
// enclosing field the spec writes.
func (c *checker) pos(path string) token.Pos {
	if c.file == "" {
		return token.NoPos
	}
	if p := c.v.LookupPath(cue.MakePath(selectors(path)...)).Pos(); p.IsValid() && p.Filename() == c.file {
		return p
	}
	return specPos(c.user, path)
}

// specPos is the position of path, or of its nearest ancestor, in user.
func specPos(user cue.Value, path string) token.Pos {
	if !user.Exists() {
		return token.NoPos
	}
	sels := selectors(path)
	for n := len(sels); n > 0; n-- {
		if p := user.LookupPath(cue.MakePath(sels[:n]...)).Pos(); p.IsValid() {
			return p
		}
	}
	return token.NoPos
}

// selectors splits a path as printed in messages (services.my-app.ports[0],
// services.app.environment."A.B") into CUE selectors. cue.ParsePath would
// reject labels that are not identifiers, such as the service name my-app.
func selectors(path string) []cue.Selector {
	var sels []cue.Selector
	for path != "" {
		switch {
		case path[0] == '.':
			path = path[1:]
		case path[0] == '[':
			idx, rest, ok := strings.Cut(path[1:], "]")
			n, err := strconv.Atoi(idx)
			if !ok || err != nil {
				return sels
			}
			sels = append(sels, cue.Index(n))
			path = rest
		case path[0] == '"':
			q, err := strconv.QuotedPrefix(path)
			if err != nil {
				return sels
			}
			label, _ := strconv.Unquote(q)
			sels = append(sels, cue.Str(label))
			path = path[len(q):]
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			sels = append(sels, cue.Str(path[:end]))
			path = path[end:]
		}
	}
	return sels
}

// quoteLabel is a map key as a path prints it: as it is when it is a plain
// name, in double quotes (escaped) otherwise.
func quoteLabel(label string) string {
	if plainLabel.MatchString(label) {
		return label
	}
	return strconv.Quote(label)
}

var plainLabel = regexp.MustCompile(`^[A-Za-z_#][A-Za-z0-9_-]*$`)

func (c *checker) errorf(path, format string, args ...any) {
	if c.control[path] {
		return
	}
	// A field that did not decode: CUE has said what is wrong with it.
	for _, b := range c.broken {
		if b == path || b == "" || isUnder(path, b) {
			return
		}
	}
	c.errs = append(c.errs, violation{path: path, msg: escapeText(fmt.Sprintf(format, args...)), kind: format})
}

func (c *checker) warnf(path, format string, args ...any) {
	c.warnings = append(c.warnings, Warning{Pos: c.pos(path), Path: escapeText(path), Msg: escapeText(fmt.Sprintf(format, args...))})
}

func (c *checker) run() {
	c.text()
	c.sites()
	c.clients()
	c.database()
	c.vip()
	c.proxy()
	c.services()
	c.ports()
	c.security()
	c.targets()
	c.secrets()
	c.patroni()
	c.readPort()
}

// siteIndex maps site names to their position in sites.
func (c *checker) siteIndex() map[string]int {
	m := make(map[string]int, len(c.t.Sites))
	for i, s := range c.t.Sites {
		if _, dup := m[s.Name]; !dup {
			m[s.Name] = i
		}
	}
	return m
}

// siteNamesKnown reports whether every site's name decoded, so that a
// reference to a site can be judged.
func (c *checker) siteNamesKnown() bool {
	for _, b := range c.broken {
		if b == "" || b == "sites" {
			return false
		}
	}
	for i := range c.t.Sites {
		if !c.ok(fmt.Sprintf("sites[%d].name", i)) {
			return false
		}
	}
	return true
}

// siteRef checks that path names an existing site. It reports false
// without an error when the reference cannot be judged.
func (c *checker) siteRef(path, name string) bool {
	if !c.ok(path) || !c.siteNamesKnown() {
		return false
	}
	if _, ok := c.siteIndex()[name]; ok {
		return true
	}
	c.errorf(path, "no site named %q (sites: %s)", name, strings.Join(c.siteNames(), ", "))
	return false
}

func (c *checker) siteNames() []string {
	names := make([]string, len(c.t.Sites))
	for i, s := range c.t.Sites {
		names[i] = s.Name
	}
	return names
}

func (c *checker) sites() {
	seen := map[string]map[string]int{"name": {}, "index": {}, "host": {}, "address": {}}
	unique := func(i int, field, value string) {
		p := fmt.Sprintf("sites[%d].%s", i, field)
		if !c.ok(p) {
			return
		}
		if j, dup := seen[field][value]; dup {
			c.errorf(p, "%s is already used by sites[%d]; each site needs its own", value, j)
			return
		}
		seen[field][value] = i
	}
	for i, s := range c.t.Sites {
		unique(i, "name", s.Name)
		unique(i, "index", fmt.Sprint(s.Index))
		unique(i, "host", s.Host)
		unique(i, "address", s.Address)
		lanPath := fmt.Sprintf("sites[%d].lan", i)
		if !c.ok(lanPath) {
			continue
		}
		lan, err := netip.ParsePrefix(s.LAN)
		if err != nil || !lan.Addr().Is4() {
			c.errorf(lanPath, "%s is not an IPv4 network in CIDR form (e.g. 10.231.0.0/24)", s.LAN)
			continue
		}
		if lan.Masked() != lan {
			c.errorf(lanPath, "%s has host bits set; the network is %s", s.LAN, lan.Masked())
			continue
		}
		if lan.Bits() > 30 {
			c.errorf(lanPath, "%s leaves no room for hosts; use a prefix of /30 or shorter", s.LAN)
			continue
		}
		addr, err := netip.ParseAddr(s.Address)
		if err != nil || !c.ok(fmt.Sprintf("sites[%d].address", i)) {
			continue // CUE has reported it
		}
		c.hostAddress(fmt.Sprintf("sites[%d].address", i), addr, lan)
	}
	// Sites on different LANs must not overlap.
	for i, a := range c.t.Sites {
		pa, err := netip.ParsePrefix(a.LAN)
		if err != nil || !c.ok(fmt.Sprintf("sites[%d].lan", i)) {
			continue
		}
		for j := 0; j < i; j++ {
			pb, err := netip.ParsePrefix(c.t.Sites[j].LAN)
			if err != nil || pa == pb || !c.ok(fmt.Sprintf("sites[%d].lan", j)) {
				continue
			}
			if pa.Overlaps(pb) {
				c.errorf(fmt.Sprintf("sites[%d].lan", i), "%s overlaps sites[%d].lan %s; sites share a LAN only with the same prefix", a.LAN, j, c.t.Sites[j].LAN)
				break
			}
		}
	}
}

// hostAddress checks that addr is a usable host address of lan.
func (c *checker) hostAddress(path string, addr netip.Addr, lan netip.Prefix) bool {
	if !lan.Contains(addr) {
		c.errorf(path, "%s is outside the LAN %s", addr, lan)
		return false
	}
	if addr == lan.Addr() {
		c.errorf(path, "%s is the network address of %s; use a host address", addr, lan)
		return false
	}
	if addr == broadcast(lan) {
		c.errorf(path, "%s is the broadcast address of %s; use a host address", addr, lan)
		return false
	}
	return true
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := ^uint32(0) >> p.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func (c *checker) clients() {
	cl := c.t.Clients
	for i, s := range cl.Servers {
		namePath := fmt.Sprintf("clients.servers[%d].name", i)
		if want := fmt.Sprintf("%d.%s", i, c.t.Domain); c.ok(namePath, "domain") && s.Name != want {
			c.errorf(namePath, "%s is out of sequence; the names run 0.%s, 1.%s, ... without gaps, so this one is %s", s.Name, c.t.Domain, c.t.Domain, want)
		}
		if !c.siteRef(fmt.Sprintf("clients.servers[%d].site", i), s.Site) || !c.ok(namePath) {
			continue
		}
		// The first site with this host name: a second one is already
		// reported as a duplicate host.
		for j, site := range c.t.Sites {
			if c.ok(fmt.Sprintf("sites[%d].host", j)) && site.Host == s.Name {
				if site.Name != s.Site {
					c.errorf(fmt.Sprintf("clients.servers[%d].site", i), "%s is the host name of sites[%d] (%s), so it must point at %s", s.Name, j, site.Name, site.Name)
				}
				break
			}
		}
	}
	if c.ok("clients.nameserver") {
		for i, site := range c.t.Sites {
			if c.ok(fmt.Sprintf("sites[%d].address", i)) && site.Address == cl.Nameserver {
				c.errorf("clients.nameserver", "%s is the address of sites[%d]; the name server must be its own host", cl.Nameserver, i)
			}
		}
	}
	if c.ok("clients.reconnectDelay", "test") && cl.ReconnectDelay < 60 && !c.t.Test {
		c.warnf("clients.reconnectDelay", "%d s is a test value; production uses about 180 s (set test: true to mark a test deployment)", cl.ReconnectDelay)
	}
}

var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}$`)

func (c *checker) database() {
	db := c.t.Database
	if !c.ok("database.mode") {
		return
	}
	switch db.Mode {
	case MultiMasterAsync:
		b := db.Bucardo
		if b == nil {
			return
		}
		c.siteRef("database.bucardo.site", b.Site)
		c.siteRef("database.bucardo.seedSite", b.SeedSite)
		seen := map[string]bool{}
		for i, tb := range b.Tables.List {
			p := fmt.Sprintf("database.bucardo.tables[%d]", i)
			if !tableName.MatchString(tb) {
				c.errorf(p, "%s is not a schema-qualified table name: write schema.table, each part lower-case letters, digits and _, starting with a letter or _ (e.g. public.orders)", quote(tb))
			}
			if seen[tb] {
				c.errorf(p, "%s is listed twice", quote(tb))
			}
			seen[tb] = true
		}
		w := b.Watchdog
		if c.ok("database.bucardo.watchdog") && w.Enabled && w.StallAfter <= w.Interval {
			c.errorf("database.bucardo.watchdog.stallAfter", "%d s must be longer than watchdog.interval (%d s)", w.StallAfter, w.Interval)
		}
	case PrimaryStandby:
		if db.Streaming != nil {
			c.streaming(db.Streaming)
		}
	}
	if c.ok("database.superuser") && db.Superuser == contract.AgentRole {
		c.errorf("database.superuser", "%s is the role of hagen's health agent, which is no superuser and is reset to its few rights on every promotion; choose another name", quote(db.Superuser))
	}
}

func (c *checker) streaming(s *Streaming) {
	role := map[string]string{}
	if c.siteRef("database.streaming.primary", s.Primary) {
		role[s.Primary] = "primary"
	}
	apps, slots := map[string]int{}, map[string]int{}
	for i, sb := range s.Standbys {
		p := fmt.Sprintf("database.streaming.standbys[%d]", i)
		if c.siteRef(p+".site", sb.Site) {
			if r, ok := role[sb.Site]; ok {
				c.errorf(p+".site", "%s is already the %s; a site has one role", sb.Site, r)
			} else {
				role[sb.Site] = fmt.Sprintf("standby %d", i)
			}
		}
		if c.ok(p + ".applicationName") {
			if j, dup := apps[sb.ApplicationName]; dup {
				c.errorf(p+".applicationName", "%s is already used by standbys[%d]; synchronous_standby_names must tell standbys apart", sb.ApplicationName, j)
			}
			apps[sb.ApplicationName] = i
		}
		if c.ok(p + ".slot") {
			if j, dup := slots[sb.Slot]; dup {
				c.errorf(p+".slot", "%s is already used by standbys[%d]; each standby needs its own replication slot", sb.Slot, j)
			}
			slots[sb.Slot] = i
		}
	}
	if c.siteNamesKnown() && c.ok("database.streaming.primary", "database.streaming.standbys") {
		for i, site := range c.t.Sites {
			if _, ok := role[site.Name]; !ok && !site.Witness {
				c.errorf(fmt.Sprintf("sites[%d].name", i), "site %s is neither database.streaming.primary nor a standby", site.Name)
			}
		}
	}
	if c.ok("database.streaming.synchronous", "database.streaming.synchronousStandbyNames", "database.streaming.standbys") && s.Synchronous {
		if len(s.SynchronousStandbyNames) == 0 {
			c.errorf("database.streaming.synchronousStandbyNames", "is empty, but synchronous: true needs at least one standby name")
		}
		for i, n := range s.SynchronousStandbyNames {
			if _, ok := apps[n]; !ok {
				c.errorf(fmt.Sprintf("database.streaming.synchronousStandbyNames[%d]", i), "%s matches no standby's applicationName (%s)", quote(n), strings.Join(sortedKeys(apps), ", "))
			}
		}
	}
	if c.ok("database.streaming.replicationUser") && s.ReplicationUser == contract.AgentRole {
		c.errorf("database.streaming.replicationUser", "%s is the role of hagen's health agent, which may not replicate and logs in over the local socket only; choose another name", quote(s.ReplicationUser))
	}
	if c.ok("database.version", "database.streaming.synchronous") && s.Synchronous && c.t.Database.Version < 15 && s.Manager != ManagerPatroni {
		c.warnf("database.version", "PostgreSQL %d cannot grant ALTER SYSTEM to a role that is not a superuser (15 can): the health agent reports the synchronous state but does not restore synchronous_standby_names after a failover, and logs the statement for an operator to run; use version 15 or later for that", c.t.Database.Version)
	}
	if c.t.VIP == nil && c.ok("vip") && s.Manager != ManagerPatroni {
		c.warnf("database.streaming", "no vip: nothing promotes a standby when the primary fails; failover is the runbook's manual procedure (add a vip for automatic promotion)")
	}
	if c.keepalivedFailover() && c.ok("database.streaming.synchronous", "database.streaming.onStandbyDown", "database.streaming.acceptSplitBrainRisk") &&
		s.Synchronous && s.OnStandbyDown == "async" && !s.AcceptSplitBrainRisk {
		c.errorf("database.streaming.onStandbyDown", `"async" with the keepalived failover (a vip, no other failover manager) can give two writable primaries: when the nodes lose each other but both still reach the witness, the standby promotes while the old primary stops waiting for it and goes on accepting writes; keep "block", or set database.streaming.acceptSplitBrainRisk: true to accept that risk`)
	}
	if c.keepalivedFailover() && c.ok("database.streaming.synchronous", "database.streaming.acceptSplitBrainRisk") &&
		!s.Synchronous && !s.AcceptSplitBrainRisk {
		c.errorf("database.streaming.synchronous", `false with the keepalived failover (a vip, no other failover manager) can give two writable primaries: the primary never waits for the standby, so when the nodes lose each other but both still reach the witness, the standby promotes while the old primary goes on accepting writes, and the writes of one of them are lost when they rejoin; set synchronous: true (with onStandbyDown "block"), or set database.streaming.acceptSplitBrainRisk: true to accept that risk`)
	}
	if s.Witness != "" && c.ok("database.streaming.witness") {
		for i, site := range c.t.Sites {
			if c.ok(fmt.Sprintf("sites[%d].address", i)) && site.Address == s.Witness {
				c.errorf("database.streaming.witness", "%s is the address of sites[%d]; the witness must be a third host", s.Witness, i)
			}
		}
	}
}

// keepalivedFailover reports whether keepalived alone decides failover:
// primary-standby with a virtual IP, and no other failover manager.
func (c *checker) keepalivedFailover() bool {
	return c.t.Database.Mode == PrimaryStandby && c.t.VIP != nil && c.ok("vip") && !c.t.ManagedByPatroni()
}

func (c *checker) vip() {
	v := c.t.VIP
	if v == nil {
		return
	}
	if v.Auth == "" && c.ok("vip.auth", "test") && !c.t.Test && !c.t.ManagedByPatroni() {
		c.warnf("vip", `no vip.auth: VRRP runs without authentication, so anyone on the LAN can send adverts and take the virtual IP; set vip.auth: "env:VRRP_AUTH_PASS" and put a password of at most 8 characters into each carrying site's hagen.env (set test: true to mark a test deployment)`)
	}
	if !c.ok("vip.priorities") || !c.siteNamesKnown() {
		return
	}
	if len(v.Priorities) < 2 {
		c.errorf("vip.priorities", "lists %d site(s); a virtual IP needs at least two sites to move between", len(v.Priorities))
	}
	idx := c.siteIndex()
	var lan string
	lanKnown := true
	byPrio := map[int]string{}
	for _, name := range sortedKeys(v.Priorities) {
		p := "vip.priorities." + quoteLabel(name)
		i, ok := idx[name]
		if !ok {
			c.errorf(p, "no site named %q (sites: %s)", name, strings.Join(c.siteNames(), ", "))
			continue
		}
		if other, dup := byPrio[v.Priorities[name]]; dup {
			c.errorf(p, "priority %d is also %s's; priorities must differ so one node wins", v.Priorities[name], other)
		}
		byPrio[v.Priorities[name]] = name
		site := c.t.Sites[i]
		if !c.ok(fmt.Sprintf("sites[%d].lan", i)) {
			lanKnown = false
			continue
		}
		if lan == "" {
			lan = site.LAN
		} else if site.LAN != lan {
			c.errorf(p, "site %s is on %s, not %s: a virtual IP moves only between nodes on one LAN", name, site.LAN, lan)
		}
	}
	addr, err := netip.ParseAddr(v.Address)
	if err != nil || !c.ok("vip.address") {
		return // CUE has reported it
	}
	if lan != "" && lanKnown {
		if prefix, err := netip.ParsePrefix(lan); err == nil {
			c.hostAddress("vip.address", addr, prefix)
		}
	}
	for i, s := range c.t.Sites {
		if c.ok(fmt.Sprintf("sites[%d].address", i)) && s.Address == v.Address {
			c.errorf("vip.address", "%s is the address of sites[%d] (%s); the virtual IP must be an unused address", v.Address, i, s.Name)
		}
	}
	if c.ok("clients.nameserver") && v.Address == c.t.Clients.Nameserver {
		c.errorf("vip.address", "%s is clients.nameserver; the virtual IP must be an unused address", v.Address)
	}
	if s := c.t.Database.Streaming; s != nil && c.ok("database.streaming.witness") && v.Address == s.Witness {
		c.errorf("vip.address", "%s is database.streaming.witness; a node that reaches the witness through the VIP only reaches itself, so the witness must be a third host", v.Address)
	}
	c.vipPromotion()
}

// vipPromotion relates the virtual IP to the streaming roles: the node that
// takes the VIP promotes its database, so on a fresh start the VIP must land
// on the primary, or the standby promotes beside a live primary.
func (c *checker) vipPromotion() {
	s, v := c.t.Database.Streaming, c.t.VIP
	if s == nil || !c.ok("database.streaming.primary") {
		return
	}
	prio, ok := v.Priorities[s.Primary]
	if !ok {
		c.errorf("vip.priorities", "does not list the primary %s; the virtual IP follows the writable primary, so the primary must carry it", s.Primary)
		return
	}
	for _, name := range sortedKeys(v.Priorities) {
		// Equal to the primary's is reported as a duplicate priority.
		if name != s.Primary && v.Priorities[name] > prio {
			c.errorf("vip.priorities."+quoteLabel(name), "%d is not below the primary %s's %d; the highest priority takes the VIP on a fresh start and promotes, so it must be the primary", v.Priorities[name], s.Primary, prio)
		}
	}
}

func (c *checker) proxy() {
	p := c.t.Proxy
	if p == nil {
		return
	}
	for i, s := range p.Sites {
		c.siteRef(fmt.Sprintf("proxy.sites[%d]", i), s)
	}
	active, seen := 0, map[string]int{}
	for i, s := range p.Servers {
		path := fmt.Sprintf("proxy.servers[%d].site", i)
		c.siteRef(path, s.Site)
		if !c.ok(path) {
			active++ // unknown: do not call every server a backup
			continue
		}
		if j, dup := seen[s.Site]; dup {
			c.errorf(path, "%s is already proxy.servers[%d]", s.Site, j)
		}
		seen[s.Site] = i
		if !s.Backup || !c.ok(fmt.Sprintf("proxy.servers[%d].backup", i)) {
			active++
		}
	}
	if active == 0 && c.ok("proxy.servers") {
		c.errorf("proxy.servers", "every server is a backup; at least one must be active")
	}
	if c.ok("proxy.fronts", "services") && p.Fronts == "app" && c.appService() == "" {
		c.errorf("proxy.fronts", "\"app\" needs a service with ports in services")
	}
}

// appService is the first service (by name) that publishes ports.
func (c *checker) appService() string {
	for _, n := range sortedKeys(c.t.Services) {
		if len(c.t.Services[n].Ports) > 0 {
			return n
		}
	}
	return ""
}

// Names of services (and, with the systemd target, units) hagen renders
// on a site itself.
var reservedServices = []string{"postgres_replication", "keepalived", "haproxy", "hagen-agent", "agent", "bucardo", "postgres"}

func (c *checker) services() {
	for _, name := range sortedKeys(c.t.Services) {
		s := c.t.Services[name]
		p := "services." + quoteLabel(name)
		if c.ok("database.service") && name == c.t.Database.Service {
			c.errorf(p, "%s is the database service's name", name)
		}
		for _, r := range reservedServices {
			if name == r && name != c.t.Database.Service {
				c.errorf(p, "%s is a service hagen renders itself; choose another name", name)
			}
		}
		if c.siteNamesKnown() && c.t.Site(name) != nil {
			c.errorf(p, "%s is also a site's name, and both would get the unit hagen-%s-%s.service; choose another name", name, c.t.Name, name)
		}
		for i, site := range s.Sites {
			c.siteRef(fmt.Sprintf("%s.sites[%d]", p, i), site)
		}
		for _, k := range sortedKeys(s.Environment) {
			ep := p + ".environment." + quoteLabel(k)
			if w := secretWord(k); w != "" {
				c.errorf(ep, "the name has the word %s, so the value looks like a secret, and environment values are written into the rendered files as they are; move it to %s.secrets.%s as env:NAME or file:/absolute/path", w, p, quoteLabel(k))
			} else if HasURLCredentials(s.Environment[k]) {
				c.errorf(ep, "holds a user name and password (user:password@) as in a URL; move the value to %s.secrets.%s as env:NAME or file:/absolute/path", p, quoteLabel(k))
			}
			if _, dup := s.Secrets[k]; dup {
				c.errorf(p+".secrets."+quoteLabel(k), "%s is also set in %s.environment", k, p)
			}
		}
		for i, arg := range s.Command {
			if HasURLCredentials(arg) {
				c.errorf(fmt.Sprintf("%s.command[%d]", p, i), "holds a user name and password (user:password@) as in a URL; pass the credential through %s.secrets (an environment variable) instead", p)
			}
		}
		if msg := imageProblem(s.Image); msg != "" && c.ok(p+".image") {
			c.errorf(p+".image", "%s %s", quote(s.Image), msg)
		}
	}
}

// hostPort is one port a site binds on its host.
type hostPort struct {
	path     string
	port     int
	protocol string
}

// ports checks that no two services bind one host port (and protocol) on
// a site. A clash on several sites is one error that names them all.
func (c *checker) ports() {
	type clash struct {
		path, first string
		port        int
		sites       []string
	}
	var clashes []*clash
	byPaths := map[[2]string]*clash{}
	for _, site := range c.t.Sites {
		bound := map[string]string{}
		for _, hp := range c.t.hostPorts(site.Name) {
			if !c.ok(hp.path) {
				continue
			}
			key := fmt.Sprintf("%d/%s", hp.port, hp.protocol)
			first, dup := bound[key]
			if !dup {
				bound[key] = hp.path
				continue
			}
			if cl := byPaths[[2]string{hp.path, first}]; cl != nil {
				cl.sites = append(cl.sites, site.Name)
				continue
			}
			cl := &clash{path: hp.path, first: first, port: hp.port, sites: []string{site.Name}}
			byPaths[[2]string{hp.path, first}] = cl
			clashes = append(clashes, cl)
		}
	}
	for _, cl := range clashes {
		c.errorf(cl.path, "port %d is already bound by %s on %s %s; each host port serves one service, so choose another", cl.port, cl.first, plural(len(cl.sites), "site", "sites"), strings.Join(cl.sites, ", "))
	}
}

// hostPorts lists every host port bound on a site, in spec order.
func (t *Topology) hostPorts(site string) []hostPort {
	etcd := t.etcdPorts()
	if s := t.Site(site); s != nil && s.Witness {
		return etcd
	}
	ports := []hostPort{{"database.publishedPort", t.Database.PublishedPort, "tcp"}}
	if s := t.Database.Streaming; s != nil {
		ports = append(ports, hostPort{"database.streaming.healthPort", s.HealthPort, "tcp"})
	}
	ports = append(ports, etcd...)
	for _, name := range sortedKeys(t.Services) {
		svc := t.Services[name]
		if !svc.RunsOn(site) {
			continue
		}
		for i, p := range svc.Ports {
			ports = append(ports, hostPort{fmt.Sprintf("services.%s.ports[%d].published", quoteLabel(name), i), p.Published, p.Protocol})
		}
	}
	if p := t.Proxy; p != nil && p.RunsOn(site) {
		ports = append(ports, hostPort{"proxy.port", p.Port, "tcp"})
		if p.ReadPort != 0 {
			ports = append(ports, hostPort{"proxy.readPort", p.ReadPort, "tcp"})
		}
		if p.Stats != nil {
			ports = append(ports, hostPort{"proxy.stats.port", p.Stats.Port, "tcp"})
		}
	}
	return ports
}

func (c *checker) security() {
	for i, cidr := range c.t.Security.AllowedClients {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			continue
		}
		if p.Masked() != p {
			c.errorf(fmt.Sprintf("security.allowedClients[%d]", i), "%s has host bits set; the network is %s", cidr, p.Masked())
		}
		if p.Bits() == 0 {
			c.errorf(fmt.Sprintf("security.allowedClients[%d]", i), "%s allows every address; name the client networks", cidr)
		}
	}
}

func (c *checker) targets() {
	if !c.ok("render.targets") {
		return
	}
	seen := map[string]bool{}
	for i, t := range c.t.Render.Targets {
		if seen[t] {
			c.errorf(fmt.Sprintf("render.targets[%d]", i), "%s is listed twice", t)
		}
		seen[t] = true
	}
	if len(c.t.Render.Targets) == 0 {
		c.errorf("render.targets", "is empty; name compose, systemd or both")
	}
	if msg := pathProblem(c.t.Render.InstallDir); msg != "" {
		c.errorf("render.installDir", "%s %s", quote(c.t.Render.InstallDir), msg)
	}
	if msg := imageProblem(c.t.Render.NodeImage); msg != "" {
		c.errorf("render.nodeImage", "%s %s", quote(c.t.Render.NodeImage), msg)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var envRef = regexp.MustCompile(`^env:[A-Z_][A-Z0-9_]*$`)

// secrets checks that every secret is a reference, never a literal. A
// literal is never echoed: it may be the password.
func (c *checker) secrets() {
	check := func(path string, ref SecretRef) {
		s := string(ref)
		switch {
		case strings.HasPrefix(s, "env:"):
			if !envRef.MatchString(s) {
				c.errorf(path, "%s is not a valid reference: env: takes a variable name of upper-case letters, digits and _, not starting with a digit (env:POSTGRES_PASSWORD)", quote(s))
			}
		case strings.HasPrefix(s, "file:"):
			if msg := pathProblem(ref.Path()); msg != "" {
				c.errorf(path, "%s is not a valid reference: the path after file: %s", quote(s), msg)
			}
		default:
			c.errorf(path, "a literal secret is not allowed; write a reference: env:NAME or file:/absolute/path")
		}
	}
	t := c.t
	check("database.password", t.Database.Password)
	if s := t.Database.Streaming; s != nil {
		check("database.streaming.replicationPassword", s.ReplicationPassword)
		if s.Patroni != nil {
			check("database.streaming.patroni.restApiPassword", s.Patroni.RestAPIPassword)
		}
	}
	if t.VIP != nil && t.VIP.Auth != "" {
		check("vip.auth", t.VIP.Auth)
	}
	if t.Proxy != nil && t.Proxy.Stats != nil {
		check("proxy.stats.password", t.Proxy.Stats.Password)
	}
	for _, name := range sortedKeys(t.Services) {
		for _, k := range sortedKeys(t.Services[name].Secrets) {
			check("services."+quoteLabel(name)+".secrets."+quoteLabel(k), t.Services[name].Secrets[k])
		}
	}
	// A password can also hide in a URL's user information.
	if c.ok("clients.url") {
		if HasURLCredentials(t.Clients.URL) {
			c.errorf("clients.url", "holds a user name and password (user:password@); remove them: clients take credentials from their own secret store")
		} else if msg := urlProblem(t.Clients.URL); msg != "" {
			// A URL with @ may hold a password this check missed: never
			// echo it.
			shown := quote(t.Clients.URL)
			if strings.Contains(t.Clients.URL, "@") {
				shown = "the URL"
			}
			c.errorf("clients.url", "%s %s", shown, msg)
		}
	}
}

// text checks every string of the spec, map keys included: no control
// characters anywhere, and free-form values within their length.
func (c *checker) text() {
	textFields(c.t, func(path string, key bool, s string) {
		if msg := textProblem(s); msg != "" {
			if key {
				c.errorf(path, "the name %s", msg)
			} else {
				c.errorf(path, "%s", msg)
			}
			if c.control == nil {
				c.control = map[string]bool{}
			}
			c.control[path] = true
			return
		}
		if !key && freeForm(path) && len(s) > MaxFreeTextBytes {
			c.errorf(path, "is %d bytes long; a value may have at most %d", len(s), MaxFreeTextBytes)
		}
	})
}

// freeForm reports whether path is a field whose value is free text,
// escaped by render for every file it reaches: an environment value or a
// command element.
func freeForm(path string) bool {
	sels := selectors(path)
	if len(sels) < 3 || sels[0].String() != "services" {
		return false
	}
	switch f := sels[2].String(); {
	case f == "environment" && len(sels) == 4:
		return true
	case f == "command" && len(sels) == 4 && sels[3].Type() == cue.IndexLabel:
		return true
	}
	return false
}
