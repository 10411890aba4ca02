package schema

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"
)

// checker holds the rules that relate several fields of a spec. Each
// violation names the field path and carries the position of that field.
type checker struct {
	v        cue.Value // the spec unified with #Topology
	user     cue.Value // the spec as written, for positions
	file     string    // the spec's file name, as in positions
	t        *Topology
	errs     errors.Error
	warnings []Warning
}

// pos is the position of path in the spec file: the field's value, as in
// CUE's own errors, or, where the unified value places the field in hagen's
// schema (vip.priorities) or the spec leaves it to a default, the nearest
// enclosing field the spec writes.
func (c *checker) pos(path string) token.Pos {
	if p := c.v.LookupPath(cue.MakePath(selectors(path)...)).Pos(); p.IsValid() && p.Filename() == c.file {
		return p
	}
	return specPos(c.user, path)
}

// specPos is the position of path, or of its nearest ancestor, in user.
func specPos(user cue.Value, path string) token.Pos {
	sels := selectors(path)
	for n := len(sels); n > 0; n-- {
		if p := user.LookupPath(cue.MakePath(sels[:n]...)).Pos(); p.IsValid() {
			return p
		}
	}
	return token.NoPos
}

// selectors splits a path as printed in messages (services.my-app.ports[0])
// into CUE selectors. cue.ParsePath would reject labels that are not
// identifiers, such as the service name my-app.
func selectors(path string) []cue.Selector {
	var sels []cue.Selector
	for _, part := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			sels = append(sels, cue.Str(name))
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			n, err := strconv.Atoi(idx)
			if err != nil {
				break
			}
			sels = append(sels, cue.Index(n))
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return sels
}

func (c *checker) errorf(path, format string, args ...any) {
	c.errs = errors.Append(c.errs, errors.Newf(c.pos(path), "%s: %s", path, fmt.Sprintf(format, args...)))
}

func (c *checker) warnf(path, format string, args ...any) {
	c.warnings = append(c.warnings, Warning{Pos: c.pos(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) run() {
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

// siteRef checks that path names an existing site.
func (c *checker) siteRef(path, name string) bool {
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
		if j, dup := seen[field][value]; dup {
			c.errorf(fmt.Sprintf("sites[%d].%s", i, field), "%s is already used by sites[%d]; each site needs its own", value, j)
			return
		}
		seen[field][value] = i
	}
	for i, s := range c.t.Sites {
		unique(i, "name", s.Name)
		unique(i, "index", fmt.Sprint(s.Index))
		unique(i, "host", s.Host)
		unique(i, "address", s.Address)
		lan, err := netip.ParsePrefix(s.LAN)
		if err != nil || !lan.Addr().Is4() {
			c.errorf(fmt.Sprintf("sites[%d].lan", i), "%s is not an IPv4 network in CIDR form (e.g. 10.231.0.0/24)", s.LAN)
			continue
		}
		if lan.Masked() != lan {
			c.errorf(fmt.Sprintf("sites[%d].lan", i), "%s has host bits set; the network is %s", s.LAN, lan.Masked())
			continue
		}
		if lan.Bits() > 30 {
			c.errorf(fmt.Sprintf("sites[%d].lan", i), "%s leaves no room for hosts; use a prefix of /30 or shorter", s.LAN)
			continue
		}
		addr, err := netip.ParseAddr(s.Address)
		if err != nil {
			continue // CUE has reported it
		}
		c.hostAddress(fmt.Sprintf("sites[%d].address", i), addr, lan)
	}
	// Sites on different LANs must not overlap.
	for i, a := range c.t.Sites {
		pa, err := netip.ParsePrefix(a.LAN)
		if err != nil {
			continue
		}
		for j := 0; j < i; j++ {
			pb, err := netip.ParsePrefix(c.t.Sites[j].LAN)
			if err != nil || pa == pb {
				continue
			}
			if pa.Overlaps(pb) {
				c.errorf(fmt.Sprintf("sites[%d].lan", i), "%s overlaps sites[%d].lan %s; sites share a LAN only with the same prefix", a.LAN, j, c.t.Sites[j].LAN)
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
		want := fmt.Sprintf("%d.%s", i, c.t.Domain)
		if s.Name != want {
			c.errorf(fmt.Sprintf("clients.servers[%d].name", i), "%s is out of sequence; the names run 0.%s, 1.%s, ... without gaps, so this one is %s", s.Name, c.t.Domain, c.t.Domain, want)
		}
		if !c.siteRef(fmt.Sprintf("clients.servers[%d].site", i), s.Site) {
			continue
		}
		// The first site with this host name: a second one is already
		// reported as a duplicate host.
		for j, site := range c.t.Sites {
			if site.Host == s.Name {
				if site.Name != s.Site {
					c.errorf(fmt.Sprintf("clients.servers[%d].site", i), "%s is the host name of sites[%d] (%s), so it must point at %s", s.Name, j, site.Name, site.Name)
				}
				break
			}
		}
	}
	for i, site := range c.t.Sites {
		if site.Address == cl.Nameserver {
			c.errorf("clients.nameserver", "%s is the address of sites[%d]; the name server must be its own host", cl.Nameserver, i)
		}
	}
	if cl.ReconnectDelay < 60 && !c.t.Test {
		c.warnf("clients.reconnectDelay", "%d s is a test value; production uses about 180 s (set test: true to mark a test deployment)", cl.ReconnectDelay)
	}
}

func (c *checker) database() {
	db := c.t.Database
	switch db.Mode {
	case MultiMasterAsync:
		b := db.Bucardo
		c.siteRef("database.bucardo.site", b.Site)
		c.siteRef("database.bucardo.seedSite", b.SeedSite)
		tableName := regexp.MustCompile(`^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$`)
		seen := map[string]bool{}
		for i, tb := range b.Tables.List {
			p := fmt.Sprintf("database.bucardo.tables[%d]", i)
			if !tableName.MatchString(tb) {
				c.errorf(p, "%q is not a schema-qualified table name (e.g. public.orders)", tb)
			}
			if seen[tb] {
				c.errorf(p, "%s is listed twice", tb)
			}
			seen[tb] = true
		}
		if b.Watchdog.Enabled && b.Watchdog.StallAfter <= b.Watchdog.Interval {
			c.errorf("database.bucardo.watchdog.stallAfter", "%d s must be longer than watchdog.interval (%d s)", b.Watchdog.StallAfter, b.Watchdog.Interval)
		}
	case PrimaryStandby:
		c.streaming(db.Streaming)
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
		if j, dup := apps[sb.ApplicationName]; dup {
			c.errorf(p+".applicationName", "%s is already used by standbys[%d]; synchronous_standby_names must tell standbys apart", sb.ApplicationName, j)
		}
		apps[sb.ApplicationName] = i
		if j, dup := slots[sb.Slot]; dup {
			c.errorf(p+".slot", "%s is already used by standbys[%d]; each standby needs its own replication slot", sb.Slot, j)
		}
		slots[sb.Slot] = i
	}
	for i, site := range c.t.Sites {
		if _, ok := role[site.Name]; !ok {
			c.errorf(fmt.Sprintf("sites[%d].name", i), "site %s is neither database.streaming.primary nor a standby", site.Name)
		}
	}
	if s.Synchronous {
		if len(s.SynchronousStandbyNames) == 0 {
			c.errorf("database.streaming.synchronousStandbyNames", "is empty, but synchronous: true needs at least one standby name")
		}
		for i, n := range s.SynchronousStandbyNames {
			if _, ok := apps[n]; !ok {
				c.errorf(fmt.Sprintf("database.streaming.synchronousStandbyNames[%d]", i), "%q matches no standby's applicationName (%s)", n, strings.Join(sortedKeys(apps), ", "))
			}
		}
	}
	if c.t.VIP == nil {
		c.warnf("database.streaming", "no vip: nothing promotes a standby when the primary fails; failover is the runbook's manual procedure (add a vip for automatic promotion)")
	}
	if s.Witness != "" {
		for i, site := range c.t.Sites {
			if site.Address == s.Witness {
				c.errorf("database.streaming.witness", "%s is the address of sites[%d]; the witness must be a third host", s.Witness, i)
			}
		}
	}
}

func (c *checker) vip() {
	v := c.t.VIP
	if v == nil {
		return
	}
	addr, err := netip.ParseAddr(v.Address)
	if err != nil {
		return // CUE has reported it
	}
	if len(v.Priorities) < 2 {
		c.errorf("vip.priorities", "lists %d site(s); a virtual IP needs at least two sites to move between", len(v.Priorities))
	}
	idx := c.siteIndex()
	var lan string
	byPrio := map[int]string{}
	for _, name := range sortedKeys(v.Priorities) {
		p := "vip.priorities." + name
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
		if lan == "" {
			lan = site.LAN
		} else if site.LAN != lan {
			c.errorf(p, "site %s is on %s, not %s: a virtual IP moves only between nodes on one LAN", name, site.LAN, lan)
		}
	}
	if lan != "" {
		if prefix, err := netip.ParsePrefix(lan); err == nil {
			c.hostAddress("vip.address", addr, prefix)
		}
	}
	for i, s := range c.t.Sites {
		if s.Address == v.Address {
			c.errorf("vip.address", "%s is the address of sites[%d] (%s); the virtual IP must be an unused address", v.Address, i, s.Name)
		}
	}
	if v.Address == c.t.Clients.Nameserver {
		c.errorf("vip.address", "%s is clients.nameserver; the virtual IP must be an unused address", v.Address)
	}
	if s := c.t.Database.Streaming; s != nil && v.Address == s.Witness {
		c.errorf("vip.address", "%s is database.streaming.witness; a node that reaches the witness through the VIP only reaches itself, so the witness must be a third host", v.Address)
	}
	c.vipPromotion()
}

// vipPromotion relates the virtual IP to the streaming roles: the node that
// takes the VIP promotes its database, so on a fresh start the VIP must land
// on the primary, or the standby promotes beside a live primary.
func (c *checker) vipPromotion() {
	s, v := c.t.Database.Streaming, c.t.VIP
	if s == nil {
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
			c.errorf("vip.priorities."+name, "%d is not below the primary %s's %d; the highest priority takes the VIP on a fresh start and promotes, so it must be the primary", v.Priorities[name], s.Primary, prio)
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
		if j, dup := seen[s.Site]; dup {
			c.errorf(path, "%s is already proxy.servers[%d]", s.Site, j)
		}
		seen[s.Site] = i
		if !s.Backup {
			active++
		}
	}
	if active == 0 {
		c.errorf("proxy.servers", "every server is a backup; at least one must be active")
	}
	if p.Fronts == "app" && c.appService() == "" {
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

var secretish = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|SECRET|TOKEN|APIKEY|API_KEY|PRIVATE_KEY)`)

// Names of services hagen itself renders on a site.
// Names of services (and, with the systemd target, units) hagen renders
// on a site itself.
var reservedServices = []string{"postgres_replication", "keepalived", "haproxy", "hagen-agent", "agent", "bucardo", "postgres"}

func (c *checker) services() {
	for _, name := range sortedKeys(c.t.Services) {
		s := c.t.Services[name]
		p := "services." + name
		if name == c.t.Database.Service {
			c.errorf(p, "%s is the database service's name", name)
		}
		for _, r := range reservedServices {
			if name == r && name != c.t.Database.Service {
				c.errorf(p, "%s is a service hagen renders itself; choose another name", name)
			}
		}
		if c.t.Site(name) != nil {
			c.errorf(p, "%s is also a site's name, and both would get the unit hagen-%s-%s.service; choose another name", name, c.t.Name, name)
		}
		for i, site := range s.Sites {
			c.siteRef(fmt.Sprintf("%s.sites[%d]", p, i), site)
		}
		for _, k := range sortedKeys(s.Environment) {
			if secretish.MatchString(k) {
				c.errorf(p+".environment."+k, "looks like a secret given as a literal; move it to %s.secrets.%s as env:NAME or file:PATH", p, k)
			}
			if _, dup := s.Secrets[k]; dup {
				c.errorf(p+".secrets."+k, "%s is also set in %s.environment", k, p)
			}
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
	ports := []hostPort{{"database.publishedPort", t.Database.PublishedPort, "tcp"}}
	if s := t.Database.Streaming; s != nil {
		ports = append(ports, hostPort{"database.streaming.healthPort", s.HealthPort, "tcp"})
	}
	for _, name := range sortedKeys(t.Services) {
		svc := t.Services[name]
		if !svc.RunsOn(site) {
			continue
		}
		for i, p := range svc.Ports {
			ports = append(ports, hostPort{fmt.Sprintf("services.%s.ports[%d].published", name, i), p.Published, p.Protocol})
		}
	}
	if p := t.Proxy; p != nil && p.RunsOn(site) {
		ports = append(ports, hostPort{"proxy.port", p.Port, "tcp"})
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
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var secretRef = regexp.MustCompile(`^(env:[A-Z_][A-Z0-9_]*|file:/[^\s]+)$`)

// secrets checks that every secret is a reference, never a literal.
func (c *checker) secrets() {
	check := func(path string, ref SecretRef) {
		if secretRef.MatchString(string(ref)) {
			return
		}
		if strings.HasPrefix(string(ref), "env:") || strings.HasPrefix(string(ref), "file:") {
			c.errorf(path, "%q is not a valid reference: env: takes an upper-case variable name (env:POSTGRES_PASSWORD), file: an absolute path (file:/etc/hagen/pg.pass)", string(ref))
			return
		}
		c.errorf(path, "a literal secret is not allowed; write a reference: env:NAME or file:/absolute/path")
	}
	t := c.t
	check("database.password", t.Database.Password)
	if s := t.Database.Streaming; s != nil {
		check("database.streaming.replicationPassword", s.ReplicationPassword)
	}
	if t.VIP != nil && t.VIP.Auth != "" {
		check("vip.auth", t.VIP.Auth)
	}
	if t.Proxy != nil && t.Proxy.Stats != nil {
		check("proxy.stats.password", t.Proxy.Stats.Password)
	}
	for _, name := range sortedKeys(t.Services) {
		for _, k := range sortedKeys(t.Services[name].Secrets) {
			check("services."+name+".secrets."+k, t.Services[name].Secrets[k])
		}
	}
	// A password can also hide in a URL's user information.
	if urlPassword(t.Clients.URL) {
		c.errorf("clients.url", "holds a literal password (user:password@); remove it: clients take credentials from their own secret store")
	}
	for _, name := range sortedKeys(t.Services) {
		env := t.Services[name].Environment
		for _, k := range sortedKeys(env) {
			if urlPassword(env[k]) && !secretish.MatchString(k) {
				c.errorf("services."+name+".environment."+k, "holds a URL with a literal password (user:password@); move it to services.%s.secrets.%s as env:NAME or file:PATH", name, k)
			}
		}
	}
}

// urlPassword reports whether s is a URL whose user information carries a
// password.
func urlPassword(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return false
	}
	_, ok := u.User.Password()
	return ok
}
