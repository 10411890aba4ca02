package schema

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/token"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/internal/lazyregexp"
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
	// siteIdx and namesKnown hold siteIndex and siteNamesKnown once
	// asked: neither the sites nor what did not decode change during a
	// run, and every reference to a site asks both (per site of a large
	// spec, which made the rules quadratic in the sites).
	siteIdx    map[string]int
	namesKnown *bool
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

var plainLabel = lazyregexp.New(`^[A-Za-z_#][A-Za-z0-9_-]*$`)

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
	c.proxyOnly()
	c.addresses()
	c.patroni()
	c.readPort()
}

// dbSiteRef checks that path names a site with a database; it reports
// false without an error when the reference cannot be judged, or after
// one.
func (c *checker) dbSiteRef(path, name, what string) bool {
	if !c.siteRef(path, name) {
		return false
	}
	i := c.siteIndex()[name]
	if c.t.Sites[i].ProxyOnly && c.ok(fmt.Sprintf("sites[%d].proxyOnly", i)) {
		c.errorf(path, "%s is proxyOnly: it has no database, so it cannot be %s", name, what)
		return false
	}
	return true
}

// proxyOnly checks the sites that carry only HAProxy: they run one, and
// at least two sites are left for the database.
func (c *checker) proxyOnly() {
	if !c.siteNamesKnown() {
		return
	}
	dbSites, known := 0, true
	for i, s := range c.t.Sites {
		p := fmt.Sprintf("sites[%d].proxyOnly", i)
		if !c.ok(p) {
			known = false
			continue
		}
		if !s.ProxyOnly {
			dbSites++
			continue
		}
		switch {
		case c.t.Proxy == nil && c.ok("proxy"):
			c.errorf(p, "site %s carries only HAProxy, but the spec has no proxy; add one, or leave proxyOnly out", s.Name)
		case c.t.Proxy != nil && c.ok("proxy.sites") && !c.t.Proxy.RunsOn(s.Name):
			c.errorf(p, "site %s carries only HAProxy, but proxy.sites does not list it", s.Name)
		}
	}
	if known && dbSites < 2 && len(c.t.Sites) >= 2 {
		c.errorf("sites", "%d of the %d sites %s a database; the database needs two or more (proxyOnly sites carry only HAProxy)", dbSites, len(c.t.Sites), plural(dbSites, "has", "have"))
	}
}

// siteIndex maps site names to their position in sites.
func (c *checker) siteIndex() map[string]int {
	if c.siteIdx != nil {
		return c.siteIdx
	}
	m := make(map[string]int, len(c.t.Sites))
	for i, s := range c.t.Sites {
		if _, dup := m[s.Name]; !dup {
			m[s.Name] = i
		}
	}
	c.siteIdx = m
	return m
}

// siteNamesKnown reports whether every site's name decoded, so that a
// reference to a site can be judged.
func (c *checker) siteNamesKnown() bool {
	if c.namesKnown == nil {
		known := c.computeSiteNamesKnown()
		c.namesKnown = &known
	}
	return *c.namesKnown
}

func (c *checker) computeSiteNamesKnown() bool {
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
		if err != nil {
			c.errorf(lanPath, "%s is not a network in CIDR form (e.g. 10.231.0.0/24 or 2001:db8:231::/64)", s.LAN)
			continue
		}
		if lan.Masked() != lan {
			c.errorf(lanPath, "%s has host bits set; the network is %s", s.LAN, lan.Masked())
			continue
		}
		if most := lan.Addr().BitLen() - 2; lan.Bits() > most {
			c.errorf(lanPath, "%s leaves no room for hosts; use a prefix of /%d or shorter", s.LAN, most)
			continue
		}
		addr, err := netip.ParseAddr(s.Address)
		if err != nil || !c.ok(fmt.Sprintf("sites[%d].address", i)) {
			continue // CUE has reported it
		}
		if addr.Is4() != lan.Addr().Is4() {
			c.errorf(fmt.Sprintf("sites[%d].address", i), "%s is an %s address but lan %s is an %s network", addr, family(addr), lan, family(lan.Addr()))
			continue
		}
		c.hostAddress(fmt.Sprintf("sites[%d].address", i), addr, lan)
	}
	// One address family for the sites.
	first := -1
	for i, site := range c.t.Sites {
		p := fmt.Sprintf("sites[%d].address", i)
		a, err := netip.ParseAddr(site.Address)
		if err != nil || !c.ok(p) {
			continue
		}
		if first < 0 {
			first = i
			continue
		}
		if f, _ := netip.ParseAddr(c.t.Sites[first].Address); f.Is4() != a.Is4() {
			c.errorf(p, "%s is an %s address but sites[%d].address is %s; the sites of a deployment have one address family (hagen renders no mixed IPv4/IPv6 deployment)", a, family(a), first, family(f))
		}
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
	if addr.Is4() && addr == broadcast(lan) {
		c.errorf(path, "%s is the broadcast address of %s; use a host address", addr, lan)
		return false
	}
	return true
}

// family names an address's family.
func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// addresses checks that every address and network of the spec is written
// in its canonical form: hagen compares them as text and writes them into
// files that other programs compare with their own output (ip addr prints
// 2001:db8::1, never 2001:DB8:0::1).
func (c *checker) addresses() {
	check := func(path, s string, prefix bool) {
		if !c.ok(path) || s == "" {
			return
		}
		var canon string
		if prefix {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return // CUE or another rule reports it
			}
			canon = p.String()
		} else {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return
			}
			canon = a.String()
		}
		if canon != s {
			c.errorf(path, "%s is not in the canonical form; write %s (hagen compares addresses as text, as ip addr prints them)", s, canon)
		}
	}
	t := c.t
	for i, s := range t.Sites {
		check(fmt.Sprintf("sites[%d].address", i), s.Address, false)
		check(fmt.Sprintf("sites[%d].lan", i), s.LAN, true)
	}
	if st := t.Database.Streaming; st != nil {
		for _, w := range witnessPaths(st) {
			check(w[0], w[1], false)
		}
	}
	if t.VIP != nil {
		check("vip.address", t.VIP.Address, false)
	}
	check("clients.nameserver", t.Clients.Nameserver, false)
	for i, n := range t.Security.AllowedClients {
		check(fmt.Sprintf("security.allowedClients[%d]", i), n, true)
	}
	for i, r := range t.Security.Access {
		for j, n := range r.Networks {
			check(fmt.Sprintf("security.access[%d].networks[%d]", i, j), n, true)
		}
	}
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
	names := map[string]int{}
	for i, s := range cl.Servers {
		namePath := fmt.Sprintf("clients.servers[%d].name", i)
		// The guide's scheme, <n>.<domain>, numbers the names by their
		// position; any other name is the operator's own.
		if want := fmt.Sprintf("%d.%s", i, c.t.Domain); c.ok(namePath, "domain") && schemeName(s.Name, c.t.Domain) && s.Name != want {
			c.errorf(namePath, "%s is out of sequence; numbered names run 0.%s, 1.%s, ... by position, without gaps, so this one is %s (or a name of your own that is not a number)", s.Name, c.t.Domain, c.t.Domain, want)
		}
		if c.ok(namePath) {
			if j, dup := names[s.Name]; dup {
				c.errorf(namePath, "%s is already clients.servers[%d]; a site listed twice takes two names", s.Name, j)
			} else {
				names[s.Name] = i
			}
		}
		if c.ok(namePath, "domain") {
			switch {
			case s.Name == "ns."+c.t.Domain:
				c.errorf(namePath, "%s is the name server's name in the rendered zone; choose another", s.Name)
			case s.Name == "vip."+c.t.Domain && c.t.VIP != nil:
				c.errorf(namePath, "%s is the virtual IP's name in the rendered zone; choose another", s.Name)
			case !InDomain(s.Name, c.t.Domain):
				c.warnf(namePath, "%s is outside the domain %s, so the rendered zone cannot hold it: create its address record in the DNS that serves it (clients/hosts lists it)", s.Name, c.t.Domain)
			}
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

// schemeName reports whether name is of the guide's form <n>.<domain>.
func schemeName(name, domain string) bool {
	first, rest, ok := strings.Cut(name, ".")
	if !ok || rest != domain || first == "" {
		return false
	}
	for _, r := range first {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// InDomain reports whether name is domain itself or a name below it: a
// name the zone of domain can hold.
func InDomain(name, domain string) bool {
	return name == domain || strings.HasSuffix(name, "."+domain)
}

var tableName = lazyregexp.New(`^[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}$`)

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
		c.dbSiteRef("database.bucardo.site", b.Site, "Bucardo's site")
		c.dbSiteRef("database.bucardo.seedSite", b.SeedSite, "the seed site")
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
	c.pgSettings()
}

// pgOwned are the postgresql.conf parameters hagen sets itself, each with
// the field of the spec that decides it (or why it is hagen's); the spec's
// parameters may not set them.
var pgOwned = map[string]string{
	"listen_addresses":              "database.settings.listen",
	"port":                          "database.port",
	"unix_socket_directories":       "hagen's socket directory, which its scripts use",
	"hba_file":                      "hagen's pg_hba.conf",
	"ident_file":                    "hagen's pg_ident.conf",
	"config_file":                   "hagen's postgresql.conf",
	"data_directory":                "the pgdata volume",
	"external_pid_file":             "hagen's process management",
	"password_encryption":           "scram-sha-256, which every pg_hba.conf record needs",
	"ssl":                           "security.ssl",
	"ssl_cert_file":                 "security.tls",
	"ssl_key_file":                  "security.tls",
	"ssl_ca_file":                   "security.tls",
	"ssl_min_protocol_version":      "security.ssl (TLS 1.2 or later)",
	"cluster_name":                  "the site's name, which a standby reports",
	"wal_level":                     "replica, which streaming replication and pg_rewind need",
	"wal_log_hints":                 "on, which pg_rewind needs",
	"max_wal_senders":               "the number of sites",
	"max_replication_slots":         "the number of sites",
	"hot_standby":                   "database.settings.hotStandby",
	"synchronous_commit":            "database.streaming.synchronous",
	"synchronous_standby_names":     "database.streaming.synchronousStandbyNames, synchronousMethod and synchronousCount",
	"primary_conninfo":              "the standby's clone and role.sh",
	"primary_slot_name":             "database.streaming.standbys[].slot",
	"default_transaction_read_only": "keepalived's fencing of a stale primary",
	"archive_mode":                  "database.settings.archiveMode",
	"archive_command":               "database.settings.archiveCommand",
	"wal_keep_size":                 "database.settings.walKeepSize",
	"log_destination":               "stderr, which the container runtime and journald collect",
	"logging_collector":             "off: the container runtime and journald collect stderr",
	"include":                       "a directive, not a parameter: hagen renders the whole file",
	"include_dir":                   "a directive, not a parameter: hagen renders the whole file",
	"include_if_exists":             "a directive, not a parameter: hagen renders the whole file",
}

// PGOwned lists the parameters hagen sets itself, sorted.
func PGOwned() []string { return sortedKeys(pgOwned) }

// pgSettings checks database.settings and database.parameters against
// each other, the mode and the parameters hagen owns.
func (c *checker) pgSettings() {
	db := c.t.Database
	st := db.Settings
	streaming := db.Mode == PrimaryStandby
	if c.ok("database.settings.hotStandby", "database.mode") && !st.HotStandby {
		switch {
		case !streaming:
			c.errorf("database.settings.hotStandby", "false has no effect without standbys (database.mode %s); leave it out", db.Mode)
		case c.keepalivedFailover():
			c.errorf("database.settings.hotStandby", "false makes a standby refuse every connection, so keepalived's track script (pg_isready) fails on it, it stays in FAULT and never takes over; keep true, or drop the vip for the Inmanta document's manual failover")
		default:
			c.warnf("database.settings.hotStandby", "false: a standby refuses every connection, so its agent reports it unreachable, its compose health check fails and app services that depend on the database do not start there; promote it by hand (RUNBOOK.md)")
		}
	}
	if c.ok("database.settings.walKeepSize", "database.mode") && st.WalKeepSize != "" && !streaming {
		c.errorf("database.settings.walKeepSize", "has no effect without standbys (database.mode %s); leave it out", db.Mode)
	}
	if c.ok("database.settings.archiveMode", "database.settings.archiveCommand") {
		switch {
		case st.ArchiveMode != "off" && strings.TrimSpace(st.ArchiveCommand) == "":
			c.errorf("database.settings.archiveMode", "%s needs database.settings.archiveCommand: without one PostgreSQL keeps every WAL segment for the archiver, until the disk is full", st.ArchiveMode)
		case st.ArchiveMode == "off" && st.ArchiveCommand != "":
			c.errorf("database.settings.archiveCommand", "is set but archiveMode is off, so PostgreSQL never runs it; set archiveMode: \"on\" or leave the command out")
		}
	}
	for _, name := range sortedKeys(db.Parameters) {
		p := "database.parameters." + quoteLabel(name)
		if why, ok := pgOwned[name]; ok {
			c.errorf(p, "%s is set by hagen (%s); hagen's own parameters are %s", name, why, strings.Join(PGOwned(), ", "))
		}
	}
}

func (c *checker) streaming(s *Streaming) {
	role := map[string]string{}
	if c.dbSiteRef("database.streaming.primary", s.Primary, "the primary") {
		role[s.Primary] = "primary"
	}
	apps, slots := map[string]int{}, map[string]int{}
	for i, sb := range s.Standbys {
		p := fmt.Sprintf("database.streaming.standbys[%d]", i)
		if c.dbSiteRef(p+".site", sb.Site, "a standby") {
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
			if _, ok := role[site.Name]; !ok && !site.ProxyOnly && !site.Witness {
				c.errorf(fmt.Sprintf("sites[%d].name", i), "site %s is neither database.streaming.primary nor a standby (a site that carries only HAProxy is proxyOnly: true; one that runs only etcd for Patroni is witness: true)", site.Name)
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
	if c.ok("database.streaming.synchronous", "database.streaming.synchronousStandbyNames", "database.streaming.synchronousCount") &&
		s.Synchronous && len(s.SynchronousStandbyNames) > 0 && s.SynchronousCount > len(s.SynchronousStandbyNames) {
		c.errorf("database.streaming.synchronousCount", "%d is more than the %d %s of synchronousStandbyNames (%s): every commit would wait for standbys that do not exist; write at most %d",
			s.SynchronousCount, len(s.SynchronousStandbyNames), plural(len(s.SynchronousStandbyNames), "name", "names"), strings.Join(s.SynchronousStandbyNames, ", "), len(s.SynchronousStandbyNames))
	}
	if c.t.VIP == nil && c.ok("vip") && s.Manager != ManagerPatroni {
		c.warnf("database.streaming", "no vip: nothing promotes a standby when the primary fails; failover is the runbook's manual procedure (add a vip for automatic promotion)")
	} else if c.t.VIPOnProxies() && c.ok("vip") {
		c.warnf("database.streaming", "the vip moves between the HAProxy hosts, and nothing promotes a standby when the primary fails; failover is the runbook's manual procedure (HAProxy follows the node whose agent answers the health path)")
	}
	if c.keepalivedFailover() && c.ok("database.streaming.synchronous", "database.streaming.onStandbyDown", "database.streaming.acceptSplitBrainRisk") &&
		s.Synchronous && s.OnStandbyDown == "async" && !s.AcceptSplitBrainRisk {
		c.errorf("database.streaming.onStandbyDown", `"async" with the keepalived failover (a vip, no other failover manager) can give two writable primaries: when the nodes lose each other but both still reach the witness, the standby promotes while the old primary stops waiting for it and goes on accepting writes; keep "block", or set database.streaming.acceptSplitBrainRisk: true to accept that risk`)
	}
	if c.keepalivedFailover() && c.ok("database.streaming.synchronous", "database.streaming.acceptSplitBrainRisk") &&
		!s.Synchronous && !s.AcceptSplitBrainRisk {
		c.errorf("database.streaming.synchronous", `false with the keepalived failover (a vip, no other failover manager) can give two writable primaries: the primary never waits for the standby, so when the nodes lose each other but both still reach the witness, the standby promotes while the old primary goes on accepting writes, and the writes of one of them are lost when they rejoin; set synchronous: true (with onStandbyDown "block"), or set database.streaming.acceptSplitBrainRisk: true to accept that risk`)
	}
	c.witnesses(s)
	if c.ok("database.streaming.healthPath") {
		segs := strings.Split(s.HealthPath, "/")[1:]
		for i, seg := range segs {
			if seg == "." || seg == ".." || seg == "" && i < len(segs)-1 {
				c.errorf("database.streaming.healthPath", "%s has an empty, . or .. segment, which HTTP clients remove before they ask; write the path as it is asked for (e.g. /var/modules/mirror/ready.txt)", s.HealthPath)
				break
			}
		}
		switch s.HealthPath {
		case "/replica", "/health":
			c.errorf("database.streaming.healthPath", "%s is the agent's URL for %s; the health path answers 200 only on the writable primary, so choose another path (or /primary)", s.HealthPath, map[string]string{"/replica": "a streaming standby", "/health": "the node's whole status"}[s.HealthPath])
		}
	}
}

// witnessPaths are the witness addresses of the spec with their paths.
func witnessPaths(s *Streaming) [][2]string {
	var out [][2]string
	if s.Witness != "" {
		out = append(out, [2]string{"database.streaming.witness", s.Witness})
	}
	for i, w := range s.Witnesses {
		out = append(out, [2]string{fmt.Sprintf("database.streaming.witnesses[%d]", i), w})
	}
	return out
}

// witnesses checks the split-brain checker's addresses: third hosts, each
// once, witness or witnesses but not both.
func (c *checker) witnesses(s *Streaming) {
	if s.Witness != "" && len(s.Witnesses) > 0 && c.ok("database.streaming.witness", "database.streaming.witnesses") {
		c.errorf("database.streaming.witnesses", "is set together with database.streaming.witness; witness: %s is the same as witnesses: [%s], so write every address in witnesses and drop witness", s.Witness, s.Witness)
	}
	seen := map[string]string{}
	for _, w := range witnessPaths(s) {
		path, addr := w[0], w[1]
		if !c.ok(path) {
			continue
		}
		if first, dup := seen[addr]; dup {
			c.errorf(path, "%s is already %s; each witness counts once toward the majority", addr, first)
			continue
		}
		seen[addr] = path
		for i, site := range c.t.Sites {
			if c.ok(fmt.Sprintf("sites[%d].address", i)) && site.Address == addr {
				c.errorf(path, "%s is the address of sites[%d]; the witness must be a third host", addr, i)
			}
		}
	}
	if n := len(s.WitnessList()); n > 1 && n%2 == 0 && c.ok("database.streaming.witness", "database.streaming.witnesses") {
		c.warnf("database.streaming.witnesses", "%d witnesses: a node must reach a majority, %d of them, so %d tolerate no more unreachable witnesses than %d would (%d); use an odd number", n, n/2+1, n, n-1, n/2-1)
	}
}

// keepalivedFailover reports whether keepalived alone decides failover:
// primary-standby with a virtual IP, and no other failover manager.
func (c *checker) keepalivedFailover() bool {
	return c.t.Database.Mode == PrimaryStandby && c.t.VIP != nil && c.ok("vip") && !c.t.VIPOnProxies() && !c.t.ManagedByPatroni()
}

func (c *checker) vip() {
	v := c.t.VIP
	if v == nil {
		return
	}
	ipv6 := strings.Contains(v.Address, ":") && c.ok("vip.address")
	switch {
	case ipv6 && v.Auth != "" && c.ok("vip.auth"):
		c.errorf("vip.auth", "an IPv6 virtual IP needs VRRP version 3, which has no authentication (keepalived refuses auth_type PASS with it); leave vip.auth out and keep the LAN closed to other VRRP speakers")
	case ipv6 && c.ok("test") && !c.t.Test:
		c.warnf("vip", "an IPv6 virtual IP needs VRRP version 3, which has no authentication, so anyone on the LAN can send adverts and take the virtual IP; keep the LAN closed to other VRRP speakers (set test: true to mark a test deployment)")
	case v.Auth == "" && c.ok("vip.auth", "test") && !c.t.Test && !c.t.ManagedByPatroni():
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
	if s := c.t.Database.Streaming; s != nil {
		for _, w := range witnessPaths(s) {
			if c.ok(w[0]) && v.Address == w[1] {
				c.errorf("vip.address", "%s is %s; a node that reaches the witness through the VIP only reaches itself, so the witness must be a third host", v.Address, w[0])
			}
		}
	}
	var proxies, dbs []string
	for _, name := range sortedKeys(v.Priorities) {
		if i, ok := idx[name]; ok && c.ok(fmt.Sprintf("sites[%d].proxyOnly", i)) {
			if c.t.Sites[i].ProxyOnly {
				proxies = append(proxies, name)
			} else {
				dbs = append(dbs, name)
			}
		}
	}
	if len(proxies) > 0 && len(dbs) > 0 {
		c.errorf("vip.priorities", "lists proxyOnly sites (%s) and database sites (%s); the virtual IP moves between the HAProxy hosts or follows the writable database, not both", strings.Join(proxies, ", "), strings.Join(dbs, ", "))
		return
	}
	if len(proxies) == 0 {
		c.vipPromotion()
	}
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
		if c.siteRef(path, s.Site) && c.ok("proxy.fronts") {
			switch site := c.t.Site(s.Site); {
			case p.Fronts == "database" && site.ProxyOnly:
				c.errorf(path, "%s is proxyOnly: it has no database for HAProxy to send sessions to", s.Site)
			case p.Fronts == "app" && c.ok("services") && c.appService() != "" && !c.t.ServiceRunsOn(c.t.Services[c.appService()], s.Site):
				c.errorf(path, "%s does not run the app service %s that HAProxy fronts", s.Site, c.appService())
			}
		}
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
			sp := fmt.Sprintf("%s.sites[%d]", p, i)
			if c.siteRef(sp, site) && s.DependsOnDatabase && c.ok(p+".dependsOnDatabase") && c.t.Site(site).ProxyOnly {
				c.errorf(sp, "%s is proxyOnly: it has no database for the service to depend on; set dependsOnDatabase: false or run it elsewhere", site)
			}
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
	var ports []hostPort
	if !t.HasDatabase(site) {
		etcd = nil // an HAProxy host runs no etcd member
	} else {
		ports = append(ports, hostPort{"database.publishedPort", t.Database.PublishedPort, "tcp"})
		if s := t.Database.Streaming; s != nil {
			ports = append(ports, hostPort{"database.streaming.healthPort", s.HealthPort, "tcp"})
		}
	}
	ports = append(ports, etcd...)
	for _, name := range sortedKeys(t.Services) {
		svc := t.Services[name]
		if !t.ServiceRunsOn(svc, site) {
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
	c.access()
	c.tls()
}

// tls checks the TLS material: there exactly when ssl is on, files on the
// host, three different ones.
func (c *checker) tls() {
	sec := c.t.Security
	if !c.ok("security.ssl", "security.tls") {
		return
	}
	switch {
	case sec.SSL && sec.TLS == nil:
		c.errorf("security.tls", "missing: security.ssl: true needs the TLS material, as file references on each host: tls: {certificate: \"file:/etc/hagen/tls/server.crt\", key: \"file:/etc/hagen/tls/server.key\", ca: \"file:/etc/hagen/tls/ca.crt\"} (RUNBOOK.md says how to make them)")
		return
	case !sec.SSL && sec.TLS != nil:
		c.errorf("security.tls", "is set but security.ssl is false, so nothing would use it; set ssl: true or leave tls out")
		return
	case sec.TLS == nil:
		return
	}
	seen := map[string]string{}
	for _, f := range []struct {
		field string
		ref   SecretRef
	}{{"certificate", sec.TLS.Certificate}, {"key", sec.TLS.Key}, {"ca", sec.TLS.CA}} {
		p := "security.tls." + f.field
		if !c.ok(p) || !f.ref.IsFile() {
			if c.ok(p) && f.ref.IsEnv() {
				c.errorf(p, "%s is a variable; TLS material is a file on the host: write file:/absolute/path", quote(string(f.ref)))
			}
			continue
		}
		if other, dup := seen[f.ref.Path()]; dup {
			c.errorf(p, "%s is also security.tls.%s; the certificate, its key and the CA are three files", f.ref.Path(), other)
		}
		seen[f.ref.Path()] = f.field
	}
}

// hbaKeywords are words pg_hba.conf reads as keywords in the database
// field, not as names.
var hbaKeywords = map[string]string{
	"sameuser":    "the database named like the user",
	"samerole":    "the databases of the user's roles",
	"samegroup":   "the databases of the user's roles",
	"replication": "replication connections, which hagen admits itself for database.streaming.replicationUser from the database nodes",
}

// access checks the spec's pg_hba.conf records: SCRAM only, TLS as
// security.ssl says, real networks, names that are not keywords.
func (c *checker) access() {
	ssl := c.t.Security.SSL
	for i, r := range c.t.Security.Access {
		p := fmt.Sprintf("security.access[%d]", i)
		if c.ok(p+".method") && r.Method != "scram-sha-256" {
			why := "a stored MD5 hash is as good as the password; hagen stores SCRAM verifiers (password_encryption = scram-sha-256), for which PostgreSQL uses SCRAM on an md5 record anyway"
			switch r.Method {
			case "trust":
				why = "it lets anyone from these networks in without a password"
			case "password":
				why = "it sends the password in clear text"
			case "md5":
			default:
				why = "hagen renders password authentication only"
			}
			c.errorf(p+".method", "%s is refused: %s; write scram-sha-256 (the default)", quote(r.Method), why)
		}
		if c.ok(p+".type", "security.ssl") {
			switch {
			case r.Type == "hostssl" && !ssl:
				c.errorf(p+".type", "hostssl needs security.ssl: true; without TLS on the server the record never matches")
			case r.Type == "host" && ssl:
				c.errorf(p+".type", "host would let %s in without TLS while security.ssl: true makes every other network record hostssl; write hostssl or leave type out", r.User)
			}
		}
		if what, ok := hbaKeywords[r.Database]; ok && c.ok(p+".database") {
			c.errorf(p+".database", "%s is a pg_hba.conf keyword, not a database name: it means %s", r.Database, what)
		}
		for j, cidr := range r.Networks {
			np := fmt.Sprintf("%s.networks[%d]", p, j)
			n, err := netip.ParsePrefix(cidr)
			if err != nil || !c.ok(np) {
				continue
			}
			if n.Masked() != n {
				c.errorf(np, "%s has host bits set; the network is %s", cidr, n.Masked())
			}
			if n.Bits() == 0 {
				c.errorf(np, "%s allows every address; name the client networks", cidr)
			}
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

var envRef = lazyregexp.New(`^env:[A-Z_][A-Z0-9_]*$`)

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
	if tls := t.Security.TLS; tls != nil {
		check("security.tls.certificate", tls.Certificate)
		check("security.tls.key", tls.Key)
		check("security.tls.ca", tls.CA)
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
// escaped by render for every file it reaches: an environment value, a
// command element, a PostgreSQL parameter's value or the archive command.
func freeForm(path string) bool {
	sels := selectors(path)
	if len(sels) == 3 && sels[0].String() == "database" {
		switch {
		case sels[1].String() == "parameters":
			return true
		case sels[1].String() == "settings" && sels[2].String() == "archiveCommand":
			return true
		}
	}
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
