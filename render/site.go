package render

import (
	"fmt"
	"io/fs"
	"sort"

	"github.com/hagen-ha/hagen/schema"
)

func fileMode(m uint32) fs.FileMode { return fs.FileMode(m) }

// Paths inside every container (and, with the systemd target, below the
// site's install directory): each concern's directory of the site tree is
// mounted at /etc/hagen/<dir>.
const (
	etcDir  = "/etc/hagen"
	pgData  = "/var/lib/postgresql/data"
	bucData = "/var/lib/bucardo"
)

// Variable names under which hagen's own scripts receive each secret: the
// value in NAME, or a file holding it in NAME_FILE.
const (
	secretDBPassword   = "POSTGRES_PASSWORD"
	secretReplPassword = "REPLICATION_PASSWORD"
	secretVRRPAuth     = "VRRP_AUTH_PASS"
	secretStatsPass    = "HAPROXY_STATS_PASSWORD"
)

// siteView is everything the renderers of one site need, computed once.
type siteView struct {
	T    *schema.Topology
	Spec string // spec file name for headers
	Site schema.Site
	// Peers are the other sites, in spec order.
	Peers []schema.Site
	// Role is "primary" or "standby" in primary-standby mode.
	Role string
	// Bucardo is true on the site that runs the replication service.
	Bucardo bool
	VIP     bool // the site carries the virtual IP
	Proxy   bool // the site runs an HAProxy
	Dir     string
}

func newSiteView(t *schema.Topology, s schema.Site) *siteView {
	v := &siteView{
		T:    t,
		Spec: specName(t.Source),
		Site: s,
		Role: t.Role(s.Name),
		VIP:  t.CarriesVIP(s.Name),
		Dir:  s.Name,
	}
	for _, p := range t.Sites {
		if p.Name != s.Name {
			v.Peers = append(v.Peers, p)
		}
	}
	if b := t.Database.Bucardo; b != nil {
		v.Bucardo = b.Site == s.Name
	}
	if t.Proxy != nil {
		v.Proxy = t.Proxy.RunsOn(s.Name)
	}
	return v
}

// path joins a path inside the site's directory.
func (v *siteView) path(p string) string { return v.Dir + "/" + p }

// secretUse is one secret a service of the site needs, under the variable
// name that service reads.
type secretUse struct {
	Var string
	Ref schema.SecretRef
}

// dbSecrets are the secrets hagen's database-side scripts need.
func (v *siteView) dbSecrets() []secretUse {
	uses := []secretUse{{secretDBPassword, v.T.Database.Password}}
	if s := v.T.Database.Streaming; s != nil {
		uses = append(uses, secretUse{secretReplPassword, s.ReplicationPassword})
	}
	return uses
}

// allSecrets lists every secret used on the site, by service, so the env
// file template and the compose secrets can be derived from one list.
func (v *siteView) allSecrets() []secretUse {
	uses := v.dbSecrets()
	if v.VIP && v.T.VIP.Auth != "" {
		uses = append(uses, secretUse{secretVRRPAuth, v.T.VIP.Auth})
	}
	if v.Proxy && v.T.Proxy.Stats != nil {
		uses = append(uses, secretUse{secretStatsPass, v.T.Proxy.Stats.Password})
	}
	for _, name := range v.services() {
		svc := v.T.Services[name]
		for _, k := range sortedKeys(svc.Secrets) {
			uses = append(uses, secretUse{k, svc.Secrets[k]})
		}
	}
	return uses
}

// services are the names of the spec's services that run on this site.
func (v *siteView) services() []string {
	var names []string
	for _, n := range sortedKeys(v.T.Services) {
		if v.T.Services[n].RunsOn(v.Site.Name) {
			names = append(names, n)
		}
	}
	return names
}

// dbAddr is how other sites reach a site's database: host and published port.
func dbAddr(t *schema.Topology, s schema.Site) string {
	return fmt.Sprintf("%s:%d", s.Host, t.Database.PublishedPort)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
