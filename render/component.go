package render

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/schema"
)

// A component is one concern of the deployment. It states everything it
// contributes: for each site its files (each with the program that reads
// it), its processes as service descriptions, its inventory facts and its
// RUNBOOK facts; for the whole deployment its shared files, firewall ports
// and RUNBOOK sections; and the Debian packages its processes need. The
// assemblers (compose.go, systemd.go, envtemplate.go, runbook.go,
// inventory.go) loop over what the components declared and never name
// one.
type component interface {
	// site adds what the component contributes to one site; nothing on a
	// site it does not run on.
	site(v *siteView)
	// tree adds what belongs to the whole deployment, after every site.
	tree(d *deployment)
	// packages are the Debian packages the component's processes need,
	// on a host that runs them natively and in the node image.
	packages() hostPackages
}

// witnessComponent is a component that also runs on a witness site (one
// that carries only an etcd member); every other one is not asked about
// witness sites.
type witnessComponent interface {
	component
	onWitness()
}

// components is the registry: every concern, once, in the order in which
// their services start and the RUNBOOK and inventory list them.
var components = []component{
	libComponent{},
	etcdComponent{},
	postgresComponent{},
	tlsComponent{},
	patroniComponent{},
	streamingComponent{},
	bucardoComponent{},
	agentComponent{},
	keepalivedComponent{},
	haproxyComponent{},
	appsComponent{},
	clientsComponent{},
}

// siteAssemblers write the files of a site that are made of every
// component's declarations.
var siteAssemblers = []func(*siteView){
	renderCompose,
	renderEnvTemplate,
	renderSystemd,
}

// hostPackages are what a component's processes need from Debian.
type hostPackages struct {
	// Packages to install; "%d" stands for the PostgreSQL major version.
	Packages []string
	// HostOnly are packages a native host needs that the node image does
	// not (the Docker engine of services that run in their own image).
	HostOnly []string
	// DistUnits are the distribution's own units of those packages,
	// which a native host stops (they would take the same ports).
	DistUnits []string
}

// nodePGVersion is the PostgreSQL major version of the node image (Debian
// bookworm's).
const nodePGVersion = 15

// NodePackages are the Debian packages every component's processes need,
// for the node image's PostgreSQL version: the node image must carry them
// all.
func NodePackages() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range components {
		for _, p := range c.packages().Packages {
			p = pkgName(p, nodePGVersion)
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

func pkgName(p string, version int) string {
	if strings.Contains(p, "%d") {
		return fmt.Sprintf(p, version)
	}
	return p
}

// service is one long-running process of a site, described once: the
// compose assembler makes a compose service of it, the systemd assembler a
// unit that runs it natively.
type service struct {
	// Name is the compose service name.
	Name string
	// Unit names the native unit: hagen-<topology>-<Unit>.service.
	Unit string
	// Label is the dev.hagen.component label.
	Label string
	// What completes the unit's Description: "hagen <topology>: <What> on
	// site <site>".
	What string
	// Runs is what the RUNBOOK's overview says the site runs; Product what
	// the node image provides for it (empty: nothing of the node image).
	Runs, Product string

	Image string
	// User is the uid:gid the container runs as; empty: the image's
	// (root). Natively, native.User.
	User string
	// Script is the site-tree path of the entrypoint script, mounted at
	// /etc/hagen/<Script> in a container and run from the install
	// directory natively; Command is the argv of a process without one.
	Script  string
	Command []string
	// Env are plain variables, in order.
	Env []envVar
	// Secrets are the secrets the process reads, each under its variable.
	Secrets []secretUse
	// Mounts are concern directories of the site tree, mounted read-only
	// at /etc/hagen/<dir>.
	Mounts []string
	// Volumes are named volumes (containers only).
	Volumes []volume
	// Binds are host files bound into the container.
	Binds       []bind
	Ports       []port
	HostNetwork bool
	CapAdd      []string
	Health      *healthCheck
	DependsOn   []dependency
	StopSignal  string
	StopGrace   string

	Native native
}

// native is how a service runs under systemd where that differs from the
// defaults: a root process running Script (or Command) from the install
// directory with the service's secrets, restarted always.
type native struct {
	// Comment replaces the default comment of the unit.
	Comment []string
	// Type, User, Group: the unit's; Type defaults to simple.
	Type, User, Group string
	// Env are variables only the native process gets.
	Env []envVar
	// Prepare is a site-tree script run as root before the start, which
	// reads PrepareSecrets.
	Prepare        string
	PrepareSecrets []secretUse
	// Exec replaces Script or Command.
	Exec []string
	// Reload: ExecReload sends SIGHUP to the main process.
	Reload bool
	// KillMode, KillSignal, TimeoutStop: the unit's.
	KillMode, KillSignal, TimeoutStop string
	// Hardening are sandboxing directives of the unit's [Service]
	// section, each "Name=value".
	Hardening []string
	// RestartOnFailure: restart after a failure only (a process an
	// operator stopped stays down), instead of always.
	RestartOnFailure bool
	// OwnSecrets: Secrets replaces the service's secrets (those of its
	// container) as what the native process reads.
	OwnSecrets bool
	Secrets    []secretUse
	// Docker runs the service's image with docker run, in the
	// foreground: the container Container, with HostAliases resolving to
	// the host.
	Docker      bool
	Container   string
	HostAliases []string
}

type envVar struct{ Name, Value string }

// volume mounts a named volume at Target, read-only when ReadOnly.
type volume struct {
	Name, Target string
	ReadOnly     bool
}

// bind binds a host file into the container; the compose file lets the
// variable Override replace the host path.
type bind struct{ Source, Target, Override string }

// port publishes Target as Published; Protocol "" writes neither. HostIP
// binds the published port to one address of the host ("" for all).
type port struct {
	Published, Target int
	Protocol          string
	HostIP            string
}

type healthCheck struct {
	Test                          []string
	Interval, Timeout, StartAfter string
	Retries                       int
}

// dependency: the service starts after Service; Healthy waits for its
// health check, else for its start.
type dependency struct {
	Service string
	Healthy bool
}

// secretUse is one secret a process reads, under the variable Var.
type secretUse struct {
	Var string
	Ref schema.SecretRef
}

// Paths inside every container (and, with the systemd target, below the
// site's install directory): each concern's directory of the site tree is
// mounted at /etc/hagen/<dir>.
const etcDir = "/etc/hagen"

// Variable names under which hagen's own processes receive each secret:
// the value in NAME, or a file holding it in NAME_FILE.
const (
	secretDBPassword   = "POSTGRES_PASSWORD"
	secretReplPassword = "REPLICATION_PASSWORD"
	secretVRRPAuth     = "VRRP_AUTH_PASS"
	secretStatsPass    = "HAPROXY_STATS_PASSWORD"
)

// EnvFile is the file, next to the compose file, that holds the site's
// secret values; hagen renders only its template.
const EnvFile = "hagen.env"

// deployment is the state of one render: the sites, the files, and what
// the components declared for the whole tree.
type deployment struct {
	t     *schema.Topology
	b     *builder
	spec  string
	sites []*siteView
	// ports are the firewall openings, in component order.
	ports []rbPort
	rv    *runbookView
	inv   *contract.Inventory
	// Lookups by site name, built once: the schema's helpers scan lists,
	// which every site asking about every peer would make cubic.
	byName   map[string]*schema.Site
	roles    map[string]string
	standbys map[string]*schema.Standby
	// dbLANs groups the database sites by LAN (hbaDatabaseNodes).
	dbLANs []lanSites
	// agent holds agent.json's facts common to every site (agent.go).
	agent *agentFacts
}

// site is the spec's site of that name, or nil.
func (d *deployment) site(name string) *schema.Site { return d.byName[name] }

// role is a site's role in primary-standby mode ("primary", "standby"),
// else "".
func (d *deployment) role(name string) string { return d.roles[name] }

// standby is a site's entry in streaming.standbys, or nil.
func (d *deployment) standby(name string) *schema.Standby { return d.standbys[name] }

func newDeployment(t *schema.Topology) *deployment {
	d := &deployment{
		t:    t,
		b:    &builder{tree: Tree{}, readers: map[string]contract.Reader{}},
		spec: specName(t.Source),
	}
	d.byName = map[string]*schema.Site{}
	d.roles = map[string]string{}
	d.standbys = map[string]*schema.Standby{}
	for i := range t.Sites {
		d.byName[t.Sites[i].Name] = &t.Sites[i]
	}
	if st := t.Database.Streaming; st != nil {
		d.roles[st.Primary] = "primary"
		for i := range st.Standbys {
			d.roles[st.Standbys[i].Site] = "standby"
			d.standbys[st.Standbys[i].Site] = &st.Standbys[i]
		}
	}
	d.rv = newRunbookView(d)
	d.inv = &contract.Inventory{}
	for _, s := range t.Sites {
		v := newSiteView(d, s)
		d.sites = append(d.sites, v)
		d.rv.Sites = append(d.rv.Sites, v.rb)
	}
	return d
}

// port adds a firewall opening to the RUNBOOK's list.
func (d *deployment) port(p rbPort) { d.ports = append(d.ports, p) }

// siteView is one site: its facts, computed once, and what the components
// declared for it.
type siteView struct {
	d    *deployment
	T    *schema.Topology
	Spec string // spec file name for headers
	Site schema.Site
	// Role is "primary" or "standby" in primary-standby mode.
	Role string
	// Bucardo is true on the site that runs the replication service.
	Bucardo bool
	VIP     bool // the site carries the virtual IP
	Proxy   bool // the site runs an HAProxy
	// ProxyOnly: the site carries HAProxy (and maybe the VIP), no
	// database; components of the database render nothing on it.
	ProxyOnly bool
	// Witness: the site runs only an etcd member (Patroni).
	Witness bool
	Dir     string
	// Compose and Systemd: the render targets.
	Compose, Systemd bool

	services  []*service
	pkgs      []string
	distUnits []string
	// units are the native unit names (systemd target), in service order.
	units []string
	rb    *rbSite
	inv   *contract.InventorySite
	// stream holds the site's streaming replication facts (streaming.go).
	stream *streamSite
}

func newSiteView(d *deployment, s schema.Site) *siteView {
	t := d.t
	v := &siteView{
		d:       d,
		T:       t,
		Spec:    d.spec,
		Site:    s,
		Role:    d.role(s.Name),
		VIP:     t.CarriesVIP(s.Name),
		Dir:     s.Name,
		Compose: hasTarget(t, "compose"),
		Systemd: hasTarget(t, "systemd"),
	}
	if b := t.Database.Bucardo; b != nil {
		v.Bucardo = b.Site == s.Name
	}
	if t.Proxy != nil {
		v.Proxy = t.Proxy.RunsOn(s.Name)
	}
	v.ProxyOnly = s.ProxyOnly
	if s.Witness {
		v.Witness, v.VIP, v.Proxy = true, false, false
	}
	v.inv = &contract.InventorySite{
		Name: s.Name, Index: s.Index, Host: s.Host, Address: s.Address, LAN: s.LAN,
		Role: v.Role, Dir: v.Dir, Witness: s.Witness,
	}
	if s.ProxyOnly {
		v.inv.Role = contract.RoleProxy
	}
	v.rb = newRunbookSite(v)
	return v
}

// dbPeers are the other sites with a database, in spec order.
func (v *siteView) dbPeers() []*schema.Site {
	out := make([]*schema.Site, 0, len(v.T.Sites)-1)
	for i := range v.T.Sites {
		if p := &v.T.Sites[i]; p.Name != v.Site.Name && !p.ProxyOnly {
			out = append(out, p)
		}
	}
	return out
}

// peers are the other sites, in spec order. Only what names every peer
// asks for them: a site's own files do not grow with the deployment.
func (v *siteView) peers() []*schema.Site {
	out := make([]*schema.Site, 0, len(v.T.Sites)-1)
	for i := range v.T.Sites {
		if p := &v.T.Sites[i]; p.Name != v.Site.Name {
			out = append(out, p)
		}
	}
	return out
}

// path joins a path inside the site's directory.
func (v *siteView) path(p string) string { return v.Dir + "/" + p }

// installDir is where the site's tree is installed on its host.
func (v *siteView) installDir() string {
	return path.Join(v.T.Render.InstallDir, v.T.Name, v.Site.Name)
}

// installPath is a site-tree path on the installed host.
func (v *siteView) installPath(p string) string { return path.Join(v.installDir(), p) }

// unitName is the file name of one of the site's native units.
func (v *siteView) unitName(component string) string {
	return "hagen-" + v.T.Name + "-" + component + ".service"
}

// composeUnitName is the name of the unit that runs the compose project.
func (v *siteView) composeUnitName() string { return v.unitName(v.Site.Name) }

// file renders a template into the site's directory.
func (v *siteView) file(p string, mode fs.FileMode, reader contract.Reader, tmpl string, view any) {
	v.d.b.template(v.path(p), mode, reader, tmpl, view)
}

// service declares a process of the site.
func (v *siteView) service(s *service) { v.services = append(v.services, s) }

// uses records the packages of a component that runs on the site.
func (v *siteView) uses(p hostPackages) {
	for _, name := range append(p.Packages, p.HostOnly...) {
		v.pkgs = appendUnique(v.pkgs, pkgName(name, v.T.Database.Version))
	}
	for _, u := range p.DistUnits {
		v.distUnits = appendUnique(v.distUnits, u)
	}
}

// secrets lists every secret a process of the site reads, in service
// order, once per variable and reference: the env template, the RUNBOOK
// and the processes that must not see secrets all derive from it.
func (v *siteView) secrets() []secretUse {
	var out []secretUse
	seen := map[secretUse]bool{}
	for _, s := range v.services {
		for _, u := range s.Secrets {
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
	}
	return out
}

// appServices are the names of the spec's services that run on this site.
func (v *siteView) appServices() []string {
	var names []string
	for _, n := range sortedKeys(v.T.Services) {
		if v.T.ServiceRunsOn(v.T.Services[n], v.Site.Name) {
			names = append(names, n)
		}
	}
	return names
}

// nodeEnv is the environment every process of the node image gets.
func (v *siteView) nodeEnv() []envVar { return []envVar{{"HAGEN_SITE", v.Site.Name}} }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func hasTarget(t *schema.Topology, target string) bool {
	for _, x := range t.Render.Targets {
		if x == target {
			return true
		}
	}
	return false
}

// noTree is embedded by components with nothing deployment-wide.
type noTree struct{}

func (noTree) tree(*deployment) {}

// noSite is embedded by deployment-wide components.
type noSite struct{}

func (noSite) site(*siteView) {}

// noPackages is embedded by components that need nothing from Debian.
type noPackages struct{}

func (noPackages) packages() hostPackages { return hostPackages{} }
