package render

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/hagen-ha/hagen/schema"
)

// RunbookFile is the operator's procedure at the root of the tree: the
// source documents' manual steps, specialised to the spec's hosts, ports,
// services and files, in the order they are done.
const RunbookFile = "RUNBOOK.md"

// runbookView is everything RUNBOOK.md says, computed from the spec; the
// templates only place it in prose.
type runbookView struct {
	Header string
	Name   string
	Spec   string
	Test   bool
	// Compose is the command prefix on a site, run in its install dir.
	Compose    string
	EnvFile    string
	InstallDir string // <installDir>/<topology>
	NodeImage  string
	// NodeImageRuns lists what the deployment runs from the node image.
	NodeImageRuns string
	// Targets rendered.
	ComposeTarget, SystemdTarget bool

	MultiMaster bool
	Streaming   bool
	DB          rbDatabase
	Sites       []rbSite
	// Pairs are the ordered pairs of sites, for checks "both ways".
	Pairs   []rbPair
	Clients rbClients
	Apps    []rbApp
	// Images are the images every site needs, sorted.
	Images []string
	// Ports lists what to open in the firewall.
	Ports []rbPort

	Bucardo *rbBucardo
	Stream  *rbStreaming
	VIP     *rbVIP
	Proxy   *rbProxy
}

type rbDatabase struct {
	Name, Service, Superuser string
	Version, Port, Published int
	PGBin, PGData            string
	ConfFile                 string
	// PasswordVar is the variable hagen's scripts read the superuser
	// password from: secret POSTGRES_PASSWORD in a container.
	PasswordVar string
}

type rbSite struct {
	Name, Host, Address, LAN string
	Index                    int
	Dir                      string // install directory on the host
	TreeDir                  string // directory in the rendered tree
	Project                  string // compose project name
	Runs                     string // what the site runs, for the overview
	Role                     string
	// Services are the compose services, in start order.
	Services []string
	Apps     []rbApp
	// DBApps are the app services that use the database.
	DBApps []string
	// Through names the site's app services with an address, for tests.
	Through string
	Env     []rbSecret
	Files   []rbSecret
	// Units: the compose unit and the native ones (names).
	ComposeUnit string
	NativeUnits []string
	// Bucardo: this site runs the replication service; Seed: its data
	// seeds the others; Empty: it must start without data.
	Bucardo, Seed, Empty bool
	// Primary-standby.
	ApplicationName, Slot string
	// Conninfo is a standby's primary_conninfo; SyncExpected that it is
	// a synchronous standby name.
	Conninfo     string
	SyncExpected bool
	// HealthPrimary is what the agent's /primary answers at the start.
	HealthPrimary string
	// RejoinName is the application and slot name of the site when it
	// rejoins as a standby after a failover; RejoinConninfo the
	// primary_conninfo of the old primary when this site is the new one.
	RejoinName, RejoinConninfo string
	VIPPriority                int
	Proxy                      bool
	IsPrimary                  bool
	// Packages and DistUnits: what a host running the site natively
	// installs, and the distribution's units it stops.
	Packages, DistUnits string
}

type rbSecret struct {
	Name string // variable, or file path
	For  string // what reads it
}

type rbPair struct {
	From, To rbSite
}

type rbApp struct {
	Name  string
	Image string
	Ports string // "6060, 8000, 8001"
	// URL is an address to try it at on a site (the first published port).
	FirstPort int
}

type rbClients struct {
	URL            string
	Count          int
	ReconnectDelay int
	Names          []rbName
	Shares         []rbShare
	Zone, Hosts    string
	NamedConf      string
	Settings       string
	Nameserver     string
	Domain         string
	// HasWeights: some site has more than one name.
	HasWeights bool
}

type rbName struct {
	Name, Site, Address string
}

type rbShare struct {
	Site    string
	Names   int
	Percent int
	// Alone is the share when every other site is down: all of it.
}

type rbPort struct {
	Port, What, From string
}

type rbBucardo struct {
	Site       rbSite
	Seed       rbSite
	Targets    []rbSite // the sites the one-time copy fills
	Service    string
	Sync       string
	Tables     string // the list, when not all tables
	TablesAll  bool
	Conflict   string
	Watchdog   bool
	Interval   int
	StallAfter int
	DBs        []rbBucardoDB
	// Initial and Final are the files of the two phases, in the tree and
	// in the container (…In); Apply the script that applies one.
	Initial, Final     string
	InitialIn, FinalIn string
	Apply              string
	RunScript          string
	InitialSync        string
	PGPass, Configured string
	StatusEvery        int
}

type rbBucardoDB struct {
	ID   string // db0, db1, ...
	Site rbSite
}

type rbStreaming struct {
	Primary       rbSite
	Standbys      []rbSite
	User          string
	Synchronous   bool
	SyncNames     string // synchronous_standby_names on the primary
	OnStandbyDown string
	Witness       string
	HealthPort    int
	FailoverAfter int
	Entrypoint    string
	PassVar       string // REPLICATION_PASSWORD
	// SyncPotential: more than one synchronous name (FIRST 1 picks one);
	// SinglePair: one standby, none left after a promotion; Blocks: a
	// missing synchronous standby blocks commits (onStandbyDown: block).
	SyncPotential, SinglePair, Blocks bool
}

type rbVIP struct {
	Address, Interface, Name string
	RouterID, Advert         int
	Sites                    []rbSite // by priority, highest first
	Master                   rbSite   // the first MASTER: the highest priority
	Check                    schema.Check
	// PrimaryWeight is added to the priority of the node whose agent
	// answers /primary (primary-standby only).
	PrimaryWeight int
	// TakeoverMS is keepalived's worst-case takeover after the master
	// stops advertising: 3 × advert + skew.
	TakeoverMS int
	FaultAfter int // seconds of failed track checks before FAULT
}

type rbProxy struct {
	Fronts        string
	Port          int
	Sites         []rbSite
	Active        []string
	Backup        []string
	Balance       string
	Stats         bool
	StatsPort     int
	StatsURI      string
	StatsUser     string
	StatsVar      string
	HealthPath    string
	DownAfterMS   int
	ClientAddress string // where clients reach the proxy
	Target        string // an address to check the proxy at
	CheckCmd      string // a command that checks the proxy from a client
	StatsHost     string // a host to open the statistics page on
}

// runbookComposePrefix is how every compose command on a site starts.
const runbookComposePrefix = "docker compose --env-file " + EnvFile

func renderRunbook(b *builder) {
	view, err := newRunbookView(b.t)
	if err != nil {
		b.fail(err)
		return
	}
	b.addTemplate(RunbookFile, 0o644, "runbook.md.tmpl", view)
}

func newRunbookView(t *schema.Topology) (*runbookView, error) {
	db := t.Database
	rv := &runbookView{
		Header:        "<!-- " + strings.TrimSpace(header(specName(t.Source), "")) + " -->\n",
		Name:          t.Name,
		Spec:          specName(t.Source),
		Test:          t.Test,
		Compose:       runbookComposePrefix,
		EnvFile:       EnvFile,
		InstallDir:    path.Join(t.Render.InstallDir, t.Name),
		NodeImage:     t.Render.NodeImage,
		ComposeTarget: hasTarget(t, "compose"),
		SystemdTarget: hasTarget(t, "systemd"),
		MultiMaster:   db.Mode == schema.MultiMasterAsync,
		Streaming:     db.Mode == schema.PrimaryStandby,
		DB: rbDatabase{
			Name: db.Name, Service: db.Service, Superuser: db.Superuser,
			Version: db.Version, Port: db.Port, Published: db.PublishedPort,
			PGBin: pgBin(db.Version), PGData: pgData, ConfFile: pgConfFile,
			PasswordVar: secretDBPassword,
		},
	}
	images := map[string]bool{t.Render.NodeImage: true}
	for _, s := range t.Sites {
		site := newRunbookSite(t, newSiteView(t, s))
		rv.Sites = append(rv.Sites, site)
		for _, a := range site.Apps {
			images[a.Image] = true
		}
	}
	rv.Images = sortedKeys(images)
	runs := []string{"PostgreSQL"}
	if db.Bucardo != nil {
		runs = append(runs, "Bucardo")
	}
	if t.VIP != nil {
		runs = append(runs, "keepalived")
	}
	if t.Proxy != nil {
		runs = append(runs, "HAProxy")
	}
	rv.NodeImageRuns = runs[0]
	if n := len(runs); n > 1 {
		rv.NodeImageRuns = strings.Join(runs[:n-1], ", ") + " and " + runs[n-1]
	}
	for _, a := range rv.Sites {
		for _, b := range rv.Sites {
			if a.Name != b.Name {
				rv.Pairs = append(rv.Pairs, rbPair{a, b})
			}
		}
	}
	for _, name := range sortedKeys(t.Services) {
		rv.Apps = append(rv.Apps, newRunbookApp(name, t.Services[name]))
	}
	rv.Clients = runbookClients(t)
	rv.Ports = runbookPorts(t)
	if bu := db.Bucardo; bu != nil {
		rv.Bucardo = runbookBucardo(t, rv, bu)
	}
	if st := db.Streaming; st != nil {
		rv.Stream = runbookStreaming(rv, st)
	}
	if t.VIP != nil {
		rv.VIP = runbookVIP(t, rv)
	}
	if t.Proxy != nil {
		rv.Proxy = runbookProxy(t, rv)
	}
	return rv, nil
}

func newRunbookSite(t *schema.Topology, v *siteView) rbSite {
	s := rbSite{
		Name: v.Site.Name, Host: v.Site.Host, Address: v.Site.Address, LAN: v.Site.LAN,
		Index:       v.Site.Index,
		Dir:         v.siteInstallDir(),
		TreeDir:     v.Dir,
		Project:     t.Name + "-" + v.Site.Name,
		Role:        v.Role,
		ComposeUnit: v.composeUnitName(),
		Bucardo:     v.Bucardo,
		Proxy:       v.Proxy,
	}
	runs := []string{fmt.Sprintf("PostgreSQL %d", t.Database.Version)}
	if v.Role != "" {
		runs[0] += " " + v.Role
	}
	s.Services = []string{t.Database.Service}
	if v.Bucardo {
		s.Services = append(s.Services, svcBucardo)
		runs = append(runs, "Bucardo")
	}
	if v.Role != "" {
		s.Services = append(s.Services, svcAgent)
		runs = append(runs, "hagen agent")
	}
	if v.VIP {
		s.Services = append(s.Services, svcKeepalived)
		s.VIPPriority = t.VIP.Priorities[v.Site.Name]
		runs = append(runs, fmt.Sprintf("keepalived (priority %d)", s.VIPPriority))
	}
	if v.Proxy {
		s.Services = append(s.Services, svcHAProxy)
		runs = append(runs, "HAProxy")
	}
	for _, name := range v.services() {
		s.Services = append(s.Services, name)
		s.Apps = append(s.Apps, newRunbookApp(name, t.Services[name]))
		if t.Services[name].DependsOnDatabase {
			s.DBApps = append(s.DBApps, name)
		}
		runs = append(runs, name)
	}
	s.Runs = strings.Join(runs, ", ")
	var through []string
	for _, a := range s.Apps {
		if a.FirstPort > 0 {
			through = append(through, fmt.Sprintf("%s at %s:%d", a.Name, s.Host, a.FirstPort))
		}
	}
	s.Through = strings.Join(through, " or ")
	if bu := t.Database.Bucardo; bu != nil {
		s.Seed = bu.SeedSite == v.Site.Name
		s.Empty = !s.Seed
	}
	if st := t.Database.Streaming; st != nil {
		s.Empty = v.Role == "standby"
		s.HealthPrimary = "503"
		if v.Role == "primary" {
			s.HealthPrimary = "200"
		}
		e := entrypoint(v, "")
		if sb := st.Standby(v.Site.Name); sb != nil {
			s.ApplicationName, s.Slot, s.Conninfo = sb.ApplicationName, sb.Slot, e.PrimaryConninfo
			s.SyncExpected = st.Synchronous && slices.Contains(st.SynchronousStandbyNames, sb.ApplicationName)
		}
		s.RejoinName = strings.ReplaceAll(v.Site.Name, "-", "_")
		if v.Role == "standby" {
			old := t.Site(st.Primary)
			s.RejoinConninfo = fmt.Sprintf("host=%s port=%d user=%s passfile=%s application_name=%s sslmode=%s",
				v.Site.Host, t.Database.PublishedPort, st.ReplicationUser, pgPassFile, strings.ReplaceAll(old.Name, "-", "_"), e.SSLMode)
		}
	}
	env, files := map[string][]string{}, map[string][]string{}
	var envOrder, fileOrder []string
	for _, u := range v.allSecrets() {
		if u.Ref.IsEnv() {
			if _, ok := env[u.Ref.Env()]; !ok {
				envOrder = append(envOrder, u.Ref.Env())
			}
			env[u.Ref.Env()] = appendUnique(env[u.Ref.Env()], u.Var)
			continue
		}
		if _, ok := files[u.Ref.Path()]; !ok {
			fileOrder = append(fileOrder, u.Ref.Path())
		}
		files[u.Ref.Path()] = appendUnique(files[u.Ref.Path()], u.Var)
	}
	for _, n := range envOrder {
		s.Env = append(s.Env, rbSecret{n, strings.Join(env[n], ", ")})
	}
	for _, p := range fileOrder {
		s.Files = append(s.Files, rbSecret{p, strings.Join(files[p], ", ")})
	}
	if hasTarget(t, "systemd") {
		for _, u := range v.nativeUnits() {
			s.NativeUnits = append(s.NativeUnits, u.Name)
		}
	}
	s.IsPrimary = v.Role == "primary"
	ver := t.Database.Version
	pkgs := []string{fmt.Sprintf("postgresql-%d", ver)}
	dist := []string{"postgresql"}
	if v.Bucardo {
		pkgs = append(pkgs, fmt.Sprintf("postgresql-plperl-%d", ver), "bucardo")
	}
	if v.VIP {
		pkgs = append(pkgs, "keepalived")
		dist = append(dist, "keepalived")
		if st := t.Database.Streaming; st != nil && st.Witness != "" {
			pkgs = append(pkgs, "iputils-ping")
		}
	}
	if v.Proxy {
		pkgs = append(pkgs, "haproxy")
		dist = append(dist, "haproxy")
	}
	if len(s.Apps) > 0 {
		pkgs = append(pkgs, "docker.io")
	}
	s.Packages, s.DistUnits = strings.Join(pkgs, " "), strings.Join(dist, " ")
	return s
}

func newRunbookApp(name string, svc schema.Service) rbApp {
	a := rbApp{Name: name, Image: svc.Image}
	var ports []string
	for _, p := range svc.Ports {
		ports = append(ports, fmt.Sprint(p.Published))
	}
	a.Ports = strings.Join(ports, ", ")
	if len(svc.Ports) > 0 {
		a.FirstPort = svc.Ports[0].Published
	}
	return a
}

func runbookClients(t *schema.Topology) rbClients {
	c := rbClients{
		URL:            t.Clients.URL,
		Count:          len(t.Clients.Servers),
		ReconnectDelay: t.Clients.ReconnectDelay,
		Zone:           "clients/" + t.Domain + ".zone",
		Hosts:          "clients/hosts",
		NamedConf:      "clients/named.conf",
		Settings:       "clients/client.json",
		Nameserver:     t.Clients.Nameserver,
		Domain:         t.Domain,
	}
	count := map[string]int{}
	for _, s := range t.Clients.Servers {
		c.Names = append(c.Names, rbName{s.Name, s.Site, t.Site(s.Site).Address})
		count[s.Site]++
	}
	for _, s := range t.Sites {
		if n := count[s.Name]; n > 0 {
			c.Shares = append(c.Shares, rbShare{Site: s.Name, Names: n, Percent: n * 100 / c.Count})
			if n > 1 {
				c.HasWeights = true
			}
		}
	}
	return c
}

func runbookPorts(t *schema.Topology) []rbPort {
	db := t.Database
	var others []string
	for _, s := range t.Sites {
		others = append(others, s.Address)
	}
	ports := []rbPort{{
		Port: fmt.Sprintf("%d/tcp", db.PublishedPort),
		What: "PostgreSQL (" + db.Service + ")",
		From: strings.Join(append(others, t.Security.AllowedClients...), ", "),
	}}
	if st := db.Streaming; st != nil {
		ports = append(ports, rbPort{fmt.Sprintf("%d/tcp", st.HealthPort), "hagen agent health endpoint", strings.Join(others, ", ")})
	}
	if t.VIP != nil {
		ports = append(ports, rbPort{"IP protocol 112 (VRRP)", "keepalived advertisements, unicast between the VIP nodes", strings.Join(others, ", ")})
	}
	if p := t.Proxy; p != nil {
		ports = append(ports, rbPort{fmt.Sprintf("%d/tcp", p.Port), "HAProxy (" + p.Fronts + ")", "clients"})
		if p.Stats != nil {
			ports = append(ports, rbPort{fmt.Sprintf("%d/tcp", p.Stats.Port), "HAProxy statistics", "operators"})
		}
	}
	for _, name := range sortedKeys(t.Services) {
		for _, p := range t.Services[name].Ports {
			ports = append(ports, rbPort{fmt.Sprintf("%d/%s", p.Published, p.Protocol), "service " + name, "clients"})
		}
	}
	return ports
}

func runbookBucardo(t *schema.Topology, rv *runbookView, bu *schema.Bucardo) *rbBucardo {
	r := &rbBucardo{
		Service:     svcBucardo,
		Sync:        bucMainSync,
		Conflict:    bu.ConflictStrategy,
		Watchdog:    bu.Watchdog.Enabled,
		Interval:    bu.Watchdog.Interval,
		StallAfter:  bu.Watchdog.StallAfter,
		Initial:     "bucardo/initial.json",
		Final:       "bucardo/bucardo.json",
		InitialIn:   bucConfDir + "/initial.json",
		FinalIn:     bucConfDir + "/bucardo.json",
		Apply:       bucConfDir + "/apply.sh",
		RunScript:   "bucardo/run.sh",
		InitialSync: bucInitialSync,
		PGPass:      bucPGPass,
		Configured:  bucConfigured,
		StatusEvery: bucStatusEvery,
		TablesAll:   bu.Tables.All,
		Tables:      strings.Join(bu.Tables.List, ", "),
	}
	for _, s := range rv.Sites {
		r.DBs = append(r.DBs, rbBucardoDB{ID: fmt.Sprintf("db%d", s.Index), Site: s})
		switch {
		case s.Bucardo && s.Seed:
			r.Site, r.Seed = s, s
		case s.Bucardo:
			r.Site = s
			r.Targets = append(r.Targets, s)
		case s.Seed:
			r.Seed = s
		default:
			r.Targets = append(r.Targets, s)
		}
	}
	return r
}

func runbookStreaming(rv *runbookView, st *schema.Streaming) *rbStreaming {
	r := &rbStreaming{
		User:          st.ReplicationUser,
		Synchronous:   st.Synchronous,
		OnStandbyDown: st.OnStandbyDown,
		Witness:       st.Witness,
		HealthPort:    st.HealthPort,
		FailoverAfter: st.FailoverAfter,
		Entrypoint:    "postgres/entrypoint.sh",
		PassVar:       secretReplPassword,
	}
	if st.Synchronous && len(st.SynchronousStandbyNames) > 0 {
		r.SyncNames = syncStandbyNames(st.SynchronousStandbyNames)
	}
	r.SyncPotential = st.Synchronous && len(st.SynchronousStandbyNames) > 1
	r.SinglePair = len(st.Standbys) == 1
	r.Blocks = st.OnStandbyDown == "block"
	for _, s := range rv.Sites {
		switch s.Role {
		case "primary":
			r.Primary = s
		case "standby":
			r.Standbys = append(r.Standbys, s)
		}
	}
	return r
}

func runbookVIP(t *schema.Topology, rv *runbookView) *rbVIP {
	v := t.VIP
	r := &rbVIP{
		Address: v.Address, Interface: v.Interface, Name: "vip." + t.Domain,
		RouterID: v.RouterID, Advert: v.AdvertInterval, Check: v.Check,
		FaultAfter: v.Check.Interval * v.Check.Fall,
	}
	for _, s := range rv.Sites {
		if s.VIPPriority > 0 {
			r.Sites = append(r.Sites, s)
		}
	}
	sort.SliceStable(r.Sites, func(i, j int) bool { return r.Sites[i].VIPPriority > r.Sites[j].VIPPriority })
	r.Master = r.Sites[0]
	if t.Database.Streaming != nil {
		r.PrimaryWeight = primaryWeight(v.Priorities)
	}
	// A backup declares the master dead after 3 advertisements plus its
	// skew, (256 - priority) / 256 advertisement intervals.
	if len(r.Sites) > 1 {
		prio := r.Sites[1].VIPPriority
		r.TakeoverMS = 3*v.AdvertInterval*1000 + (256-prio)*v.AdvertInterval*1000/256
	}
	if p, err := netip.ParsePrefix(r.Sites[0].LAN); err == nil {
		r.Address = fmt.Sprintf("%s/%d", v.Address, p.Bits())
	}
	return r
}

func runbookProxy(t *schema.Topology, rv *runbookView) *rbProxy {
	p := t.Proxy
	r := &rbProxy{
		Fronts: p.Fronts, Port: p.Port, Balance: p.Balance,
		DownAfterMS: p.Check.Interval * p.Check.Fall,
	}
	for _, s := range rv.Sites {
		if s.Proxy {
			r.Sites = append(r.Sites, s)
		}
	}
	for _, s := range p.Servers {
		if s.Backup {
			r.Backup = append(r.Backup, s.Site)
		} else {
			r.Active = append(r.Active, s.Site)
		}
	}
	if p.Stats != nil {
		r.Stats = true
		r.StatsPort, r.StatsURI, r.StatsUser, r.StatsVar = p.Stats.Port, p.Stats.URI, p.Stats.User, secretStatsPass
	}
	if p.Fronts == "database" && t.Database.Streaming != nil {
		r.HealthPath = "/primary"
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
		r.CheckCmd = fmt.Sprintf("curl -s -o /dev/null -w '%%{http_code}\\n' http://%s:%d/", r.Target, p.Port)
	}
	return r
}
