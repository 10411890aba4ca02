package render

import (
	"fmt"
	"strings"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/internal/budget"
	"github.com/hagen-ha/hagen/schema"
)

// haproxyComponent is HAProxy on the sites proxy.sites names: haproxy.cfg
// and its entrypoint. In front of a primary-standby database every server
// is checked through its agent's /primary, so only the writable primary
// gets traffic; the backup flag orders the servers as the spec lists them.
type haproxyComponent struct{}

const (
	// svcHAProxy is HAProxy's compose service.
	svcHAProxy = "haproxy"
	haproxyDir = etcDir + "/haproxy"
)

// haproxyCheckTimeoutMs is haproxy.cfg's "timeout check": how long one
// server check may take to answer once connected. inventory.json publishes
// it for readers that bound how fast a dead server is marked down.
const haproxyCheckTimeoutMs = 2000

// haproxyConnectTimeoutMs is haproxy.cfg's "timeout connect"; a check
// connects within min(it, inter).
const haproxyConnectTimeoutMs = 5000

// haproxyPatroniDownInter is, in front of Patroni, how often HAProxy
// checks a server it has marked down (downinter, ms): a standby is down
// at /primary until Patroni promotes it, and with rise 1 the next check
// after the promotion marks it up. The write budgets keep the interval
// between checks (inter) as their bound.
const haproxyPatroniDownInter = 500

// haproxyDuration writes milliseconds in HAProxy's time format.
func haproxyDuration(ms int) string {
	if ms%1000 == 0 {
		return fmt.Sprintf("%ds", ms/1000)
	}
	return fmt.Sprintf("%dms", ms)
}

// haproxyView is everything the HAProxy templates print.
type haproxyView struct {
	Header  string
	Site    string
	Conf    string
	Fronts  string
	Name    string // the listen section: "database" or the app service
	Port    int
	Mode    string // tcp or http
	Balance string
	// Long-lived database sessions get long client/server timeouts.
	ClientTimeout string
	ServerTimeout string
	// HealthPath is the agent URL checked on every server's HealthPort
	// ("/primary"); empty for a plain connect check.
	HealthPath string
	HealthPort int
	Servers    []haproxyServer
	Check      schema.Check
	Stats      *schema.ProxyStats
	StatsVar   string
	// Address is the site's: the statistics page listens only there.
	Address string
	// CheckTimeout is "timeout check" (haproxyCheckTimeoutMs),
	// ConnectTimeout "timeout connect" (haproxyConnectTimeoutMs).
	CheckTimeout, ConnectTimeout string

	// Bind is the front's bind address: every IPv4 address, or with IPv6
	// sites every address of both families; StatsBind the statistics
	// page's, the site's address only.
	Bind, StatsBind string
	// Checker names what answers HealthPath: "its hagen agent" or
	// "Patroni's REST API".
	Checker string
	// ReadPort, when set, is a second listen section, Name + "_ro", to
	// the servers whose health endpoint answers /replica (primary-standby).
	ReadPort int
	// DownInter, when set, is the check interval of a server marked
	// down (ms): in front of Patroni, so that a promoted standby is
	// marked up sooner (haproxyPatroniDownInter).
	DownInter int
}

type haproxyServer struct {
	Name    string
	Address string
	Backup  bool
}

func (haproxyComponent) packages() hostPackages {
	return hostPackages{Packages: []string{"haproxy"}, DistUnits: []string{"haproxy"}}
}

func (haproxyComponent) site(v *siteView) {
	if !v.Proxy {
		return
	}
	p := v.T.Proxy
	view := haproxyView{
		Header:   header(v.Spec, "#"),
		Site:     v.Site.Name,
		Conf:     haproxyDir + "/haproxy.cfg",
		Fronts:   p.Fronts,
		Port:     p.Port,
		Balance:  p.Balance,
		Check:    p.Check,
		Stats:    p.Stats,
		StatsVar: secretStatsPass,
		Address:  v.Site.Address,

		CheckTimeout:   haproxyDuration(haproxyCheckTimeoutMs),
		ConnectTimeout: haproxyDuration(haproxyConnectTimeoutMs),
		Bind:           fmt.Sprintf("*:%d", p.Port),
	}
	if isIPv6(v.Site.Address) {
		view.Bind = fmt.Sprintf(":::%d v4v6", p.Port)
	}
	if p.Stats != nil {
		view.StatsBind = hostPort(v.Site.Address, p.Stats.Port)
	}
	port := 0
	switch p.Fronts {
	case "database":
		view.Name = "database"
		view.Mode = "tcp"
		view.ClientTimeout, view.ServerTimeout = "30m", "30m"
		port = v.T.Database.PublishedPort
		if s := v.T.Database.Streaming; s != nil {
			view.HealthPath = s.HealthPath
			view.HealthPort = s.HealthPort
			view.Checker = "its hagen agent"
			if v.T.ManagedByPatroni() {
				view.Checker = "Patroni's REST API"
				view.DownInter = haproxyPatroniDownInter
			}
			view.ReadPort = p.ReadPort
		}
	case "app":
		name := appService(v.T)
		if name == "" {
			v.d.b.fail(fmt.Errorf("render haproxy for %s: proxy.fronts is app but no service publishes a port", v.Site.Name))
			return
		}
		view.Name = name
		port = v.T.Services[name].Ports[0].Published
		view.Mode = "tcp"
		if strings.HasPrefix(v.T.Clients.URL, "http://") {
			view.Mode = "http"
		}
		view.ClientTimeout, view.ServerTimeout = "50s", "50s"
	default:
		v.d.b.fail(fmt.Errorf("render haproxy for %s: unknown proxy.fronts %q", v.Site.Name, p.Fronts))
		return
	}
	for _, s := range p.Servers {
		site := v.d.site(s.Site)
		if site == nil {
			v.d.b.fail(fmt.Errorf("render haproxy for %s: no site %q", v.Site.Name, s.Site))
			return
		}
		view.Servers = append(view.Servers, haproxyServer{
			Name:    site.Name,
			Address: hostPort(site.Address, port),
			Backup:  s.Backup,
		})
	}
	v.file("haproxy/haproxy.cfg", 0o644, contract.ReaderHAProxy, "site/haproxy/haproxy.cfg.tmpl", view)
	v.file("haproxy/run.sh", 0o755, contract.ReaderShell, "site/haproxy/run.sh.tmpl", view)

	var secrets []secretUse
	if p.Stats != nil {
		secrets = append(secrets, secretUse{secretStatsPass, p.Stats.Password})
	}
	v.service(&service{
		Name:        svcHAProxy,
		Unit:        "haproxy",
		Label:       "proxy",
		What:        fmt.Sprintf("HAProxy on port %d", p.Port),
		Runs:        "HAProxy",
		Product:     "HAProxy",
		Image:       v.T.Render.NodeImage,
		Script:      "haproxy/run.sh",
		Env:         v.nodeEnv(),
		Secrets:     secrets,
		Mounts:      []string{"haproxy", "lib"},
		HostNetwork: true,
	})
	v.rb.Proxy = true
}

func (haproxyComponent) tree(d *deployment) {
	t := d.t
	p := t.Proxy
	if p == nil {
		return
	}
	d.port(rbPort{fmt.Sprintf("%d/tcp", p.Port), "HAProxy (" + p.Fronts + ")", "clients"})
	if p.ReadPort != 0 {
		d.port(rbPort{fmt.Sprintf("%d/tcp", p.ReadPort), "HAProxy (reads from the standbys)", "clients"})
	}
	if p.Stats != nil {
		d.port(rbPort{fmt.Sprintf("%d/tcp", p.Stats.Port), "HAProxy statistics", "operators"})
	}

	ip := &contract.InventoryProxy{Fronts: p.Fronts, Port: p.Port, Interval: p.Check.Interval, Fall: p.Check.Fall, Rise: p.Check.Rise,
		CheckTimeout: haproxyCheckTimeoutMs, ReadPort: p.ReadPort}
	for _, s := range t.Sites {
		if p.RunsOn(s.Name) {
			ip.Sites = append(ip.Sites, s.Name)
		}
	}
	for _, s := range p.Servers {
		if s.Backup {
			ip.Backup = append(ip.Backup, s.Site)
		} else {
			ip.Active = append(ip.Active, s.Site)
		}
	}
	d.inv.Proxy = ip

	rv := d.rv
	r := &rbProxy{
		Fronts: p.Fronts, Port: p.Port, Balance: p.Balance,
		DownAfterMS: p.Check.Interval * p.Check.Fall,
		Active:      ip.Active, Backup: ip.Backup,
	}
	for _, s := range rv.Sites {
		if s.Proxy {
			r.Sites = append(r.Sites, s)
		}
	}
	if p.Stats != nil {
		r.Stats = true
		r.StatsPort, r.StatsURI, r.StatsUser, r.StatsVar = p.Stats.Port, p.Stats.URI, p.Stats.User, secretStatsPass
	}
	if p.Fronts == "database" && t.Database.Streaming != nil {
		r.HealthPath = t.Database.Streaming.HealthPath
		r.Checker = "its agent"
		if t.ManagedByPatroni() {
			r.Checker = "its Patroni's REST API"
		}
		r.ReadPort = p.ReadPort
	}
	if p.Stats != nil && len(r.Sites) > 0 {
		r.StatsPage = fmt.Sprintf("http://<host>:%d%s", p.Stats.Port, p.Stats.URI)
		r.StatsCurl = fmt.Sprintf("curl -u %s %s", shWord(p.Stats.User), shWord(fmt.Sprintf("http://%s:%d%s;csv", r.Sites[0].Host, p.Stats.Port, p.Stats.URI)))
	}
	r.ClientAddress = "each HAProxy site's host"
	if len(r.Sites) > 0 {
		r.Target, r.StatsHost = r.Sites[0].Host, r.Sites[0].Host
	}
	if t.VIP != nil {
		r.ClientAddress = "vip." + t.Domain + " (" + t.VIP.Address + ")"
		r.Target = t.VIP.Address
	}
	r.CheckCmd = fmt.Sprintf("pg_isready -h %s -p %d", r.Target, p.Port)
	if p.Fronts == "app" {
		r.CheckCmd = fmt.Sprintf("curl -s -o /dev/null -w '%%{http_code}\\n' http://%s/", hostPort(r.Target, p.Port))
	}
	rv.Proxy = r
	rv.section(slotNetwork, "runbook/proxy.md.tmpl")
}

// appService is the service HAProxy fronts with fronts: "app": the first
// service by name that publishes a port (the rule schema checks).
func appService(t *schema.Topology) string {
	for _, n := range sortedKeys(t.Services) {
		if len(t.Services[n].Ports) > 0 {
			return n
		}
	}
	return ""
}

// budgets: sessions through HAProxy reach a working server again. In front
// of a primary-standby database that is the new primary: HAProxy must mark
// the lost primary down and, once the standby with the VIP is promoted,
// the new one up, whichever takes longer (without a VIP promotion is the
// runbook's manual step: no budget). In front of anything else, the lost
// server is marked down; with a VIP, a client that reaches HAProxy
// through it also waits for the VIP to move.
func (haproxyComponent) budgets(t *schema.Topology) []pathBudget {
	p := t.Proxy
	if p == nil || p.Fronts == "database" && t.ManagedByPatroni() {
		return nil // in front of Patroni: patroni.go
	}
	inter, connect, check := millis(p.Check.Interval), millis(haproxyConnectTimeoutMs), millis(haproxyCheckTimeoutMs)
	down := budget.Sum("the lost server marked down", budget.HAProxyDown(inter, p.Check.Fall, connect, check))
	if p.Fronts == "database" && t.Database.Streaming != nil {
		if t.VIP == nil {
			return nil
		}
		up := budget.Sum("the new primary marked up", vrrpTakeover(t), notifyPromotion(), budget.HAProxyUp(inter, p.Check.Rise, connect, check))
		return []pathBudget{{contract.BudgetPathHAProxy, contract.BudgetFaultPrimaryLost,
			budget.Max("writes through HAProxy after the primary is lost", down, up)}}
	}
	b := down
	if t.VIP != nil {
		b = budget.Max("sessions through HAProxy after a server is lost", budget.Sum("the VIP moves", vrrpTakeover(t)), down)
	}
	return []pathBudget{{contract.BudgetPathHAProxy, contract.BudgetFaultServerLost, b}}
}
