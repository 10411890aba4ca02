package verify

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"

	"github.com/hagen-ha/hagen/contract"
)

// ErrIncompleteRender means the rendered tree lacks a file verify needs
// (for example a concern whose renderer is not written yet).
var ErrIncompleteRender = errors.New("rendered tree is incomplete")

// lan is one simulated network: a site LAN or the clients network.
type lan struct {
	Prefix  netip.Prefix
	ID      string
	Name    string     // the Docker network's
	Gateway netip.Addr // the Docker bridge's address
	Router  netip.Addr // the WAN router's address on this network
}

// site is one production host and the compose services on it.
type site struct {
	Inv     contract.InventorySite
	Addr    netip.Addr
	LAN     *lan
	HostID  string
	Project *types.Project
	// Containers by compose service name, and the names in start order.
	Containers map[string]string
	Started    []string
	// Redirects are the emulated published ports: published → target.
	Redirects [][2]int
}

// cluster is a running test deployment.
type cluster struct {
	e *engine
	// evidence is the open record of the scenario that is running (nil
	// between scenarios); evMu guards it, the clients write from their
	// own goroutines.
	evMu     sync.Mutex
	evidence *evidence
	inv      contract.Inventory
	dir      string // the rendered tree
	image    string
	hagenBin string
	secrets  secrets
	// tls is the run's TLS material when the spec has security.ssl.
	tls      *tlsMaterial
	lans     []*lan
	clients  *lan // the network of the name server and the clients
	routerID string
	dnsID    string
	clientID string
	// witnessID is the witness's own container (primary-standby).
	witnessID string
	// nodes are the created containers' descriptions by id.
	nodes map[string]node
	sites []*site
	// devs are the differences from production, shared by every
	// deployment of the run.
	devs     *[]string
	vols     map[string]bool
	progress func(format string, args ...any)
}

func (c *cluster) deviate(format string, args ...any) {
	if c.devs == nil {
		c.devs = &[]string{}
	}
	d := fmt.Sprintf(format, args...)
	if !slices.Contains(*c.devs, d) {
		*c.devs = append(*c.devs, d)
	}
}

// planLANs derives the simulated networks from the inventory: one per
// distinct site LAN, plus the /24 around the name server when no site LAN
// holds it. Every network gets a gateway and a router address that no
// rendered address (site, VIP, name server) uses.
func planLANs(inv contract.Inventory) ([]*lan, *lan, error) {
	used := map[netip.Addr]bool{}
	ns, err := netip.ParseAddr(inv.Nameserver)
	if err != nil {
		return nil, nil, fmt.Errorf("inventory nameserver %q: %w", inv.Nameserver, err)
	}
	used[ns] = true
	// The witnesses are addresses of their own (in production often the
	// LAN's router at .1): the bridge gateway must not take them.
	for _, w := range append([]string{inv.Database.Witness}, inv.Database.Witnesses...) {
		if a, err := netip.ParseAddr(w); err == nil {
			used[a] = true
		}
	}
	if inv.VIP != nil {
		if a, err := netip.ParseAddr(inv.VIP.Address); err == nil {
			used[a] = true
		}
	}
	var lans []*lan
	find := func(a netip.Addr) *lan {
		for _, l := range lans {
			if l.Prefix.Contains(a) {
				return l
			}
		}
		return nil
	}
	for _, s := range inv.Sites {
		p, err := netip.ParsePrefix(s.LAN)
		if err != nil {
			return nil, nil, fmt.Errorf("site %s lan: %w", s.Name, err)
		}
		a, err := netip.ParseAddr(s.Address)
		if err != nil {
			return nil, nil, fmt.Errorf("site %s address: %w", s.Name, err)
		}
		used[a] = true
		p = p.Masked()
		if !slices.ContainsFunc(lans, func(l *lan) bool { return l.Prefix == p }) {
			lans = append(lans, &lan{Prefix: p})
		}
	}
	clients := find(ns)
	if clients == nil {
		bits := 24
		if ns.Is6() {
			bits = 64
		}
		clients = &lan{Prefix: netip.PrefixFrom(ns, bits).Masked()}
		lans = append(lans, clients)
	}
	for _, l := range lans {
		if l.Prefix.Addr().BitLen()-l.Prefix.Bits() < 4 {
			return nil, nil, fmt.Errorf("network %s is too small for verify", l.Prefix)
		}
		// Gateway: the lowest free host address; router: the highest.
		for a := l.Prefix.Addr().Next(); l.Prefix.Contains(a); a = a.Next() {
			if !used[a] {
				l.Gateway = a
				used[a] = true
				break
			}
		}
		last := lastAddr(l.Prefix)
		for a := last.Prev(); l.Prefix.Contains(a); a = a.Prev() {
			if !used[a] {
				l.Router = a
				used[a] = true
				break
			}
		}
		if !l.Gateway.IsValid() || !l.Router.IsValid() {
			return nil, nil, fmt.Errorf("network %s has no free addresses", l.Prefix)
		}
	}
	return lans, clients, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As16()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	for i := bits; i < 128; i++ {
		a[i/8] |= 1 << (7 - uint(i%8))
	}
	if p.Addr().Is4() {
		return netip.AddrFrom16(a).Unmap()
	}
	return netip.AddrFrom16(a)
}

func (c *cluster) lanOf(a netip.Addr) *lan {
	for _, l := range c.lans {
		if l.Prefix.Contains(a) {
			return l
		}
	}
	return nil
}

func (c *cluster) name(parts ...string) string {
	return "hagen-" + c.e.runID + "-" + strings.Join(parts, "-")
}

// createNetworks creates one Docker network per simulated LAN, after
// removing what killed earlier runs left (their networks would clash with
// these subnets). A subnet that clashes with a network that is not a
// stale run's is reported with that network's name.
func (c *cluster) createNetworks(ctx context.Context) error {
	if err := reapStale(ctx, c.e.cli, c.progress); err != nil {
		return err
	}
	for _, l := range c.lans {
		// Dynamic addresses (none are expected: every container gets a
		// static one) come from a range that avoids the rendered ones.
		opts := []tcnetwork.NetworkCustomizer{
			tcnetwork.WithDriver("bridge"),
			tcnetwork.WithIPAM(&network.IPAM{Config: []network.IPAMConfig{{
				Subnet: l.Prefix, Gateway: l.Gateway,
			}}}),
			tcnetwork.WithLabels(c.e.labels(map[string]string{labelLAN: l.Prefix.String()})),
		}
		if l.Prefix.Addr().Is6() {
			// An IPv6 LAN: Docker (20.10) gives every network an IPv4
			// subnet too, from its default pools; nothing of the
			// deployment uses it.
			opts = append(opts, tcnetwork.WithEnableIPv6())
			c.deviate("an IPv6 LAN is a Docker network with IPv6 enabled and the spec's subnet; Docker also gives it an IPv4 subnet of its own, which no rendered file and no client uses")
		}
		nw, err := tcnetwork.New(ctx, opts...)
		if err != nil {
			return fmt.Errorf("create network %s: %w%s", l.Prefix, err, c.subnetHolder(ctx, l.Prefix))
		}
		l.ID, l.Name = nw.ID, nw.Name
	}
	return nil
}

// labelLAN names the simulated LAN a network stands for.
const labelLAN = "dev.hagen.lan"

// subnetHolder names the Docker networks whose subnet overlaps p, for an
// error message ("" when none is found).
func (c *cluster) subnetHolder(ctx context.Context, p netip.Prefix) string {
	ns, err := c.e.cli.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return ""
	}
	var holders []string
	for _, n := range ns.Items {
		ins, err := c.e.cli.NetworkInspect(ctx, n.ID, client.NetworkInspectOptions{})
		if err != nil {
			continue
		}
		for _, cfg := range ins.Network.IPAM.Config {
			if cfg.Subnet.IsValid() && cfg.Subnet.Overlaps(p) {
				who := fmt.Sprintf("Docker network %q (subnet %s", n.Name, cfg.Subnet)
				if run := n.Labels[LabelRun]; run != "" {
					who += ", hagen verify run " + run
					if o := n.Labels[labelOwner]; o != "" {
						who += " of process " + o
					}
					if n.Labels[labelKeep] == "true" {
						who += ", kept with --keep; remove it with: " + strings.Join(CleanupCommands(run), "; ")
					}
				}
				holders = append(holders, who+")")
			}
		}
	}
	if len(holders) == 0 {
		return ""
	}
	return "; the subnet " + p.String() + " overlaps " + strings.Join(holders, ", ")
}

// node describes a container to create.
type node struct {
	Name  string
	Image string
	// User is compose's user: (the agent runs as its own uid for peer
	// authentication over the socket).
	User       string
	Entrypoint []string
	Cmd        []string
	Env        []string
	Labels     map[string]string
	Mounts     []mount.Mount
	CapAdd     []string
	Sysctls    map[string]string
	ExtraHosts []string
	DNS        []netip.Addr
	Health     *container.HealthConfig
	Restart    string
	// Either LAN+IP (own network namespace) or NetNS (a container id).
	LAN   *lan
	IP    netip.Addr
	NetNS string
	Init  bool
	// StopSignal and StopTimeout (seconds) as compose's stop_signal and
	// stop_grace_period.
	StopSignal  string
	StopTimeout *int
}

// create creates (does not start) a container through testcontainers.
func (c *cluster) create(ctx context.Context, n node) (string, error) {
	env := map[string]string{}
	for _, kv := range n.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	req := testcontainers.ContainerRequest{
		Name: n.Name, Image: n.Image, Entrypoint: n.Entrypoint, Cmd: n.Cmd, Env: env,
		Labels: n.Labels,
		ConfigModifier: func(cfg *container.Config) {
			cfg.User, cfg.Healthcheck = n.User, n.Health
			cfg.StopSignal, cfg.StopTimeout = n.StopSignal, n.StopTimeout
		},
		HostConfigModifier: func(hc *container.HostConfig) {
			init := n.Init
			hc.CapAdd, hc.Sysctls, hc.ExtraHosts, hc.DNS = n.CapAdd, n.Sysctls, n.ExtraHosts, n.DNS
			hc.Mounts, hc.Init = n.Mounts, &init
			if n.Restart != "" && n.Restart != "no" {
				hc.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyMode(n.Restart)}
			}
			if n.NetNS != "" {
				hc.NetworkMode = container.NetworkMode("container:" + n.NetNS)
			} else {
				hc.NetworkMode = container.NetworkMode(n.LAN.Name)
			}
		},
	}
	if n.NetNS == "" {
		req.Networks = []string{n.LAN.Name}
		req.EndpointSettingsModifier = func(eps map[string]*network.EndpointSettings) {
			ep := eps[n.LAN.Name]
			if ep == nil {
				ep = &network.EndpointSettings{NetworkID: n.LAN.ID}
				eps[n.LAN.Name] = ep
			}
			ep.IPAMConfig = endpointIP(n.IP)
		}
	}
	id, err := c.e.createContainer(ctx, req)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", n.Name, err)
	}
	if c.nodes == nil {
		c.nodes = map[string]node{}
	}
	c.nodes[id] = n
	return id, nil
}

// endpointIP is the static address of an endpoint, of either family.
func endpointIP(a netip.Addr) *network.EndpointIPAMConfig {
	if a.Is6() {
		return &network.EndpointIPAMConfig{IPv6Address: a}
	}
	return &network.EndpointIPAMConfig{IPv4Address: a}
}

// iptables is the packet filter command for an address family: ip6tables
// for IPv6 addresses and prefixes, iptables otherwise.
func iptables(addr string) string {
	if strings.Contains(addr, ":") {
		return "ip6tables"
	}
	return "iptables"
}

// start starts a container created by create; an address clash names
// the address and who holds it.
func (c *cluster) start(ctx context.Context, id string) error {
	n := c.nodes[id]
	err := c.e.start(ctx, id)
	if err != nil && strings.Contains(err.Error(), "ddress already in use") && n.LAN != nil {
		return fmt.Errorf("start %s at %s: the address %s is already in use on %s (held by %s): %w", n.Name, n.IP, n.IP, n.LAN.Prefix, c.addrHolder(ctx, n.LAN, n.IP), err)
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", n.Name, err)
	}
	return nil
}

// addrHolder names what holds an address on a simulated network: the
// Docker bridge (the network's gateway), a container, or something
// outside this run.
func (c *cluster) addrHolder(ctx context.Context, l *lan, a netip.Addr) string {
	res, err := c.e.cli.NetworkInspect(ctx, l.ID, client.NetworkInspectOptions{})
	if err != nil {
		return "unknown: " + err.Error()
	}
	for _, cfg := range res.Network.IPAM.Config {
		if cfg.Gateway == a {
			return fmt.Sprintf("the gateway of Docker network %s, the Docker bridge's own address", res.Network.Name)
		}
	}
	for _, ep := range res.Network.Containers {
		if ep.IPv4Address.Addr() == a || ep.IPv6Address.Addr() == a {
			return "container " + ep.Name
		}
	}
	return "something outside this run (another network on the host with the same subnet?)"
}

// routes makes every other network reachable through the router.
func (c *cluster) routes(ctx context.Context, id string, on *lan) error {
	for _, l := range c.lans {
		if l == on {
			continue
		}
		if _, err := c.e.mustExec(ctx, id, nil, "ip", "route", "replace", l.Prefix.String(), "via", on.Router.String()); err != nil {
			return fmt.Errorf("route to %s: %w", l.Prefix, err)
		}
	}
	return nil
}

var sleeper = []string{"sleep", "infinity"}

// startRouter starts the WAN: one container on every network that
// forwards between them.
func (c *cluster) startRouter(ctx context.Context) error {
	first := c.lans[0]
	id, err := c.create(ctx, node{
		Name: c.name("wan-router"), Image: c.image, Entrypoint: sleeper, Init: true,
		CapAdd:  []string{"NET_ADMIN", "NET_RAW"},
		Sysctls: map[string]string{"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.default.rp_filter": "0", "net.ipv6.conf.all.forwarding": "1"},
		LAN:     first, IP: first.Router,
		Labels: map[string]string{labelRole: "router"},
	})
	if err != nil {
		return err
	}
	c.routerID = id
	for _, l := range c.lans[1:] {
		if _, err := c.e.cli.NetworkConnect(ctx, l.ID, client.NetworkConnectOptions{
			Container:      id,
			EndpointConfig: &network.EndpointSettings{IPAMConfig: endpointIP(l.Router)},
		}); err != nil {
			return fmt.Errorf("connect router to %s: %w", l.Prefix, err)
		}
	}
	return c.start(ctx, id)
}

// startDNS runs BIND with the rendered clients/named.conf at the
// inventory's name server address.
func (c *cluster) startDNS(ctx context.Context) error {
	dir := filepath.Join(c.dir, "clients")
	if _, err := os.Stat(filepath.Join(dir, "named.conf")); err != nil {
		return fmt.Errorf("%w: %v", ErrIncompleteRender, err)
	}
	ns := netip.MustParseAddr(c.inv.Nameserver)
	id, err := c.create(ctx, node{
		Name: c.name("dns"), Image: c.image, Init: true,
		Entrypoint: []string{"named", "-g", "-c", "/etc/hagen/clients/named.conf"},
		CapAdd:     []string{"NET_ADMIN"},
		Mounts:     []mount.Mount{{Type: mount.TypeBind, Source: dir, Target: "/etc/hagen/clients", ReadOnly: true}},
		LAN:        c.clients, IP: ns,
		Labels: map[string]string{labelRole: "dns"},
	})
	if err != nil {
		return err
	}
	c.dnsID = id
	if err := c.start(ctx, id); err != nil {
		return err
	}
	if err := c.routes(ctx, id, c.clients); err != nil {
		return err
	}
	// Ready when it answers for the first client name (an AAAA record
	// when the sites are on IPv6).
	qtype := "A"
	if len(c.sites) > 0 && c.sites[0].Addr.Is6() {
		qtype = "AAAA"
	}
	return poll(ctx, "name server answers", func() error {
		out, err := c.e.mustExec(ctx, id, nil, "dig", "+short", "+time=1", "+tries=1", "@127.0.0.1", c.inv.Clients.Names[0], qtype)
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) == "" {
			return errors.New("empty answer")
		}
		return nil
	})
}

// startSiteHost starts the container standing in for a site's host: it
// owns the site address, and the site's services share its network.
func (c *cluster) startSiteHost(ctx context.Context, s *site) error {
	var hosts []string
	for name := range s.Project.Services {
		hosts = append(hosts, name+":127.0.0.1")
	}
	slices.Sort(hosts)
	// The hagen binary, for the slow link's relay (hagen netdelay).
	var mounts []mount.Mount
	if c.hagenBin != "" {
		m, err := c.hagenMount()
		if err != nil {
			return err
		}
		mounts = m
	}
	id, err := c.create(ctx, node{
		Name: c.name(s.Inv.Name, "host"), Image: c.image, Entrypoint: sleeper, Init: true,
		Mounts:     mounts,
		CapAdd:     []string{"NET_ADMIN", "NET_RAW", "NET_BROADCAST"},
		Sysctls:    map[string]string{"net.ipv4.ip_nonlocal_bind": "1", "net.ipv6.ip_nonlocal_bind": "1"},
		ExtraHosts: hosts,
		DNS:        []netip.Addr{netip.MustParseAddr(c.inv.Nameserver)},
		LAN:        s.LAN, IP: s.Addr,
		Labels: map[string]string{labelRole: roleNetworkOwner, "dev.hagen.site": s.Inv.Name},
	})
	if err != nil {
		return err
	}
	s.HostID = id
	return c.bootSiteHost(ctx, s)
}

// bootSiteHost starts the site host and sets up what a fresh network
// namespace lacks: routes over the WAN and the published-port redirects.
// Also used to power a site back on after a kill.
func (c *cluster) bootSiteHost(ctx context.Context, s *site) error {
	if err := c.start(ctx, s.HostID); err != nil {
		return err
	}
	if err := c.routes(ctx, s.HostID, s.LAN); err != nil {
		return err
	}
	for _, r := range s.Redirects {
		pub, tgt := strconv.Itoa(r[0]), strconv.Itoa(r[1])
		if pub == tgt {
			continue
		}
		// Both families, as Docker publishes a port: the rendered
		// scripts reach the published port at 127.0.0.1 also on an IPv6
		// site.
		for _, ipt := range []string{"iptables", "ip6tables"} {
			if ipt == "ip6tables" && !s.Addr.Is6() {
				continue
			}
			for _, rule := range [][]string{
				{ipt, "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", pub, "-j", "REDIRECT", "--to-ports", tgt},
				{ipt, "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-m", "addrtype", "--dst-type", "LOCAL", "--dport", pub, "-j", "REDIRECT", "--to-ports", tgt},
			} {
				if _, err := c.e.mustExec(ctx, s.HostID, nil, rule...); err != nil {
					return fmt.Errorf("site %s port %s→%s: %w", s.Inv.Name, pub, tgt, err)
				}
			}
		}
	}
	return nil
}

func (c *cluster) volume(ctx context.Context, s *site, name string) (string, error) {
	v := c.name(s.Inv.Name, name)
	if c.vols[v] {
		return v, nil
	}
	if _, err := c.e.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: v, Labels: c.e.labels(nil)}); err != nil {
		return "", fmt.Errorf("create volume %s: %w", v, err)
	}
	c.vols[v] = true
	return v, nil
}

// override replaces what a compose service runs, for stand-ins.
type override struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	Mounts     []mount.Mount
}

// startService creates and starts one compose service of a site in the
// site host's network namespace, as rendered unless ov is given.
func (c *cluster) startService(ctx context.Context, s *site, name string, ov *override) (string, error) {
	svc, ok := s.Project.Services[name]
	if !ok {
		return "", fmt.Errorf("site %s has no compose service %s", s.Inv.Name, name)
	}
	for _, v := range svc.Volumes {
		if v.Type == types.VolumeTypeBind {
			if _, err := os.Stat(v.Source); err != nil {
				return "", fmt.Errorf("%w: service %s mounts %s: %v", ErrIncompleteRender, name, v.Source, err)
			}
		}
		if v.Type == types.VolumeTypeVolume {
			if _, err := c.volume(ctx, s, v.Source); err != nil {
				return "", err
			}
		}
	}
	mounts, err := serviceMounts(svc, func(v string) string { return c.name(s.Inv.Name, v) })
	if err != nil {
		return "", err
	}
	// Compose's file secrets: read-only at /run/secrets/<target>.
	for _, ref := range svc.Secrets {
		def, ok := s.Project.Secrets[ref.Source]
		if !ok || def.File == "" {
			return "", fmt.Errorf("site %s service %s: secret %s is not a file: secret", s.Inv.Name, name, ref.Source)
		}
		content, isTLS := c.tls.file(c.inv.TLS, s.Inv.Name, def.File)
		src, err := fileSecret(filepath.Join(c.dir, s.Inv.Dir, ".secrets"), ref.Source, content)
		if err != nil {
			return "", err
		}
		target := ref.Target
		if target == "" {
			target = ref.Source
		}
		if !strings.HasPrefix(target, "/") {
			target = "/run/secrets/" + target
		}
		if isTLS {
			c.deviate("the TLS file %s (secret %s) is the run's own, in its temporary directory: a throwaway CA and for each site a certificate with the names of its inventory tlsNames, valid %s", def.File, ref.Source, tlsValidity)
		} else {
			c.deviate("the file: secret %s is a fresh random file in the run's temporary directory, not %s on the host", ref.Source, def.File)
		}
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: src, Target: target, ReadOnly: true})
	}
	n := node{
		Name: c.name(s.Inv.Name, name), Image: svc.Image, User: svc.User,
		Entrypoint: svc.Entrypoint, Cmd: svc.Command, Env: serviceEnv(svc.Environment),
		Mounts: mounts, CapAdd: svc.CapAdd, Health: healthConfig(svc.HealthCheck),
		Restart: svc.Restart, NetNS: s.HostID, Init: svc.Init != nil && *svc.Init,
		Labels:     map[string]string{"dev.hagen.site": s.Inv.Name, "dev.hagen.service": name},
		StopSignal: svc.StopSignal,
	}
	if svc.StopGracePeriod != nil {
		secs := int(time.Duration(*svc.StopGracePeriod).Seconds())
		n.StopTimeout = &secs
	}
	if len(svc.Sysctls) > 0 {
		n.Sysctls = map[string]string{}
		for k, v := range svc.Sysctls {
			n.Sysctls[k] = v
		}
	}
	if ov != nil {
		n.Image, n.Entrypoint, n.Cmd = c.image, ov.Entrypoint, ov.Cmd
		n.Env = append(n.Env, ov.Env...)
		n.Mounts = ov.Mounts
		n.Health = nil
	}
	id, err := c.create(ctx, n)
	if err != nil {
		return "", err
	}
	s.Containers[name] = id
	s.Started = append(s.Started, name)
	if err := c.start(ctx, id); err != nil {
		return "", fmt.Errorf("site %s service %s: %w", s.Inv.Name, name, err)
	}
	return id, nil
}

// publishedPorts collects the published → target ports of a project.
func publishedPorts(p *types.Project) [][2]int {
	var out [][2]int
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range p.Services {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, port := range p.Services[name].Ports {
			pub, err := strconv.Atoi(port.Published)
			if err != nil || pub == 0 {
				continue
			}
			out = append(out, [2]int{pub, int(port.Target)})
		}
	}
	return out
}

// down removes everything of the run.
func (c *cluster) down(ctx context.Context) error {
	return Cleanup(ctx, c.e.cli, c.e.runID)
}

// startOtherApp starts an app service no scenario talks to (a web front
// end of the closed product) as `hagen probe serve` on its first target
// port, so that the site runs every service it runs in production, and
// waits until it answers.
func (c *cluster) startOtherApp(ctx context.Context, s *site, name string) error {
	svc := s.Project.Services[name]
	if len(svc.Ports) == 0 {
		c.deviate("app service %s publishes no port and is not started (closed product)", name)
		return nil
	}
	port := int(svc.Ports[0].Target)
	mounts, err := c.hagenMount()
	if err != nil {
		return err
	}
	c.deviate("app service %s runs `hagen probe serve` (stand-in for the closed product) on its port %d", name, port)
	id, err := c.startService(ctx, s, name, &override{
		Entrypoint: []string{hagenInContainer},
		Cmd: []string{"probe", "serve", "--site", s.Inv.Name, "--listen", ":" + strconv.Itoa(port),
			"--db-host", c.inv.Database.Service, "--db-port", strconv.Itoa(c.inv.Database.Port),
			"--db-name", c.inv.Database.Name, "--db-user", c.inv.Database.Superuser,
			"--password-env", "HAGEN_PROBE_DB_PASSWORD"},
		Env:    []string{"HAGEN_PROBE_DB_PASSWORD=" + c.secrets["POSTGRES_PASSWORD"]},
		Mounts: mounts,
	})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, c.timers().service)
	defer cancel()
	return poll(wctx, "app "+name+" on "+s.Inv.Name, func() error {
		if st, err := c.e.state(wctx, id); err == nil && !st.Running {
			return fmt.Errorf("app %s exited %d: %s", name, st.ExitCode, c.e.tail(wctx, id, 5))
		}
		_, err := c.e.mustExec(wctx, s.HostID, nil, "curl", "-sf", "-m", "2", "http://127.0.0.1:"+strconv.Itoa(port)+"/site")
		return err
	})
}
