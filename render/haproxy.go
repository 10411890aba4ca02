package render

import (
	"fmt"
	"strings"

	"github.com/hagen-ha/hagen/schema"
)

const haproxyDir = etcDir + "/haproxy"

// haproxyCheckTimeoutMs is haproxy.cfg's "timeout check": how long one
// server check may take. inventory.json publishes it for readers that
// bound how fast a dead server is marked down.
const haproxyCheckTimeoutMs = 2000

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
	// CheckTimeout is "timeout check" (haproxyCheckTimeoutMs).
	CheckTimeout string
}

type haproxyServer struct {
	Name    string
	Address string
	Backup  bool
}

// renderHAProxy writes haproxy.cfg and its entrypoint for a site that runs
// an HAProxy. In front of a primary-standby database every server is
// checked through its agent's /primary, so only the writable primary gets
// traffic; the backup flag orders the servers as the spec lists them.
func renderHAProxy(b *builder, v *siteView) {
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

		CheckTimeout: haproxyDuration(haproxyCheckTimeoutMs),
	}
	port := 0
	switch p.Fronts {
	case "database":
		view.Name = "database"
		view.Mode = "tcp"
		view.ClientTimeout, view.ServerTimeout = "30m", "30m"
		port = v.T.Database.PublishedPort
		if s := v.T.Database.Streaming; s != nil {
			view.HealthPath = "/primary"
			view.HealthPort = s.HealthPort
		}
	case "app":
		name := appService(v.T)
		if name == "" {
			b.fail(fmt.Errorf("render haproxy for %s: proxy.fronts is app but no service publishes a port", v.Site.Name))
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
		b.fail(fmt.Errorf("render haproxy for %s: unknown proxy.fronts %q", v.Site.Name, p.Fronts))
		return
	}
	for _, s := range p.Servers {
		site := v.T.Site(s.Site)
		if site == nil {
			b.fail(fmt.Errorf("render haproxy for %s: no site %q", v.Site.Name, s.Site))
			return
		}
		view.Servers = append(view.Servers, haproxyServer{
			Name:    site.Name,
			Address: fmt.Sprintf("%s:%d", site.Address, port),
			Backup:  s.Backup,
		})
	}
	b.addTemplate(v.path("haproxy/haproxy.cfg"), 0o644, "haproxy.cfg.tmpl", view)
	b.addTemplate(v.path("haproxy/run.sh"), 0o755, "haproxy-run.sh.tmpl", view)
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
