package render

import (
	"fmt"
	"path"
	"strings"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/schema"
)

// postgresComponent is the database of every site: in DIR/<site>/postgres/
// (mounted read-only at /etc/hagen/postgres) postgresql.conf, pg_hba.conf,
// pg_ident.conf and the container entrypoint; the data directory is the
// pgdata volume. Natively (systemd target) PostgreSQL runs from the Debian
// package after systemd/postgres-prepare.sh.
type postgresComponent struct{}

const (
	pgData      = "/var/lib/postgresql/data"
	pgConfDir   = etcDir + "/postgres"
	pgConfFile  = pgConfDir + "/postgresql.conf"
	pgHBAFile   = pgConfDir + "/pg_hba.conf"
	pgIdentFile = pgConfDir + "/pg_ident.conf"
	// pgHBANative is the site tree's pg_hba.conf of the native server when
	// the compose target is rendered too.
	pgHBANative = "postgres/pg_hba.systemd.conf"
	// dockerBridge is Docker's default bridge network, where docker run
	// puts a container.
	dockerBridge = "172.17.0.0/16"
	// pgSockDir is the server's Unix socket directory; the TLS files are
	// in pgTLSDir (tls.go).
	pgSockDir = "/var/run/postgresql"
	// pgRunDir holds what the entrypoint writes at run time from secrets:
	// the password file libpq reads (replication, pg_rewind, scripts).
	pgRunDir   = "/run/hagen/postgres"
	pgPassFile = pgRunDir + "/pgpass"
	// pgRoleHook is the role decision script another concern may render
	// into the postgres directory; the entrypoint runs it when present.
	pgRoleHook = pgConfDir + "/role.sh"
	// pgIdentMap maps the postgres OS user to a superuser with another name.
	pgIdentMap = "hagen"
	// pgPrepareScript is the site tree's script that the native postgres
	// unit runs before the server.
	pgPrepareScript = "systemd/postgres-prepare.sh"
)

// Connection limits. Bucardo holds, per sync, a controller and a worker
// connection to every database, plus its daemon's own; the rest is the
// applications' share.
const (
	pgMaxConnectionsMultiMaster = 200
	pgMaxConnections            = 100
	// WAL senders and slots: each standby holds one sender and one slot;
	// pg_basebackup -X stream takes two senders while it runs, and
	// pg_rewind or a second clone may run next to them.
	pgMinWalSenders = 10
)

func (postgresComponent) packages() hostPackages {
	return hostPackages{Packages: []string{"postgresql-%d"}, DistUnits: []string{"postgresql"}}
}

type postgresConfView struct {
	Header         string
	Site           string
	Mode           string
	Port           int
	HBAFile        string
	IdentFile      string
	SockDir        string
	MaxConnections int
	SSL            bool
	CertFile       string
	KeyFile        string
	// Primary-standby settings.
	Streaming         bool
	Primary           bool
	Standby           bool
	MaxWalSenders     int
	SyncStandbyNames  string // the value, empty when commits are asynchronous
	SynchronousCommit string
	PrimarySlotName   string

	// SyncComment says what synchronous_standby_names means on a primary.
	SyncComment []string

	// Listen is listen_addresses (unquoted); ListenComment says why.
	Listen        string
	ListenComment []string
	HotStandby    bool
	// ArchiveMode, ArchiveCommand (escaped), WalKeepSize: the spec's
	// database.settings.
	ArchiveMode    string
	ArchiveCommand string
	WalKeepSize    string
	// Parameters are the spec's database.parameters, values escaped.
	Parameters []pgParam
	// CAFile is ssl_ca_file (with SSL).
	CAFile string
	// Patroni runs the server (patroni.go): the file is its custom_conf,
	// without the settings Patroni sets itself.
	Patroni bool
}

// pgParam is one postgresql.conf line of the spec's parameters.
type pgParam struct{ Name, Value string }

// hbaLine is one pg_hba.conf record.
type hbaLine struct {
	Type, Database, User, Address, Method string
}

// hbaGroup is a set of records with the comment that says why they exist.
type hbaGroup struct {
	Comment []string
	Lines   []hbaLine
}

type hbaView struct {
	Header string
	Site   string
	Groups []hbaGroup
	// Reject: some record rejects (the agent's role from the network).
	Reject bool
	// Native: the file of the server the systemd units run.
	Native bool
}

type identView struct {
	Header string
	Map    string
	// Superuser is the database superuser the postgres OS user maps to;
	// empty when it is "postgres" and peer authentication needs no map.
	Superuser string
}

type entrypointView struct {
	Header    string
	Site      string
	Version   int
	PGBin     string
	PGData    string
	ConfFile  string
	SockDir   string
	Port      int
	Superuser string
	Database  string
	Mode      string
	Role      string
	RunDir    string
	PassFile  string
	RoleHook  string
	SSL       bool
	CertFile  string
	KeyFile   string
	SSLMode   string
	// Agent: what the database does for hagen's agent on the site.
	Agent agentDatabase
	// Primary-standby only (streamSite).
	Streaming       bool
	ReplicationUser string
	Slots           []string
	PrimaryHost     string
	PrimaryPort     int
	Slot            string
	ApplicationName string
	PrimaryConninfo string

	// TLSDir and CAFile: where the TLS files are installed (with SSL);
	// SSLRootCert the conninfo fragment that names the CA.
	TLSDir, CAFile, SSLRootCert string
}

func (postgresComponent) site(v *siteView) {
	if v.ProxyOnly {
		return
	}
	db := v.T.Database
	ssl := v.T.Security.SSL
	hdr := header(v.Spec, "#")
	st := v.streaming()

	conf := postgresConfView{
		Header:         hdr,
		Site:           v.Site.Name,
		Mode:           db.Mode,
		Port:           db.Port,
		HBAFile:        pgHBAFile,
		IdentFile:      pgIdentFile,
		SockDir:        pgSockDir,
		MaxConnections: pgMaxConnections,
		SSL:            ssl,
		CertFile:       pgTLSCert,
		KeyFile:        pgTLSKey,
		CAFile:         pgTLSCAFile,
	}
	if ssl && v.T.Security.TLS == nil {
		v.d.b.fail(fmt.Errorf("render postgres for %s: security.ssl is on but security.tls names no certificate", v.Site.Name))
		return
	}
	if db.Mode == schema.MultiMasterAsync {
		conf.MaxConnections = pgMaxConnectionsMultiMaster
	}
	if v.T.ManagedByPatroni() {
		conf.Patroni = true
	} else if st != nil {
		conf.Streaming = true
		conf.Primary = v.Role == "primary"
		conf.Standby = v.Role == "standby"
		conf.MaxWalSenders = max(pgMinWalSenders, 2*len(v.T.Sites)+2)
		conf.SynchronousCommit = "on"
		if conf.Primary {
			conf.SyncStandbyNames = st.SyncNames
			conf.SyncComment = syncComment(db.Streaming)
		}
		conf.PrimarySlotName = st.SpecSlot
	}
	if !pgSettingsView(v, &conf) {
		return
	}
	confData, err := execute("site/postgres/postgresql.conf.tmpl", conf)
	if err != nil {
		v.d.b.fail(err)
		return
	}
	v.d.b.add(v.path("postgres/postgresql.conf"), 0o644, contract.ReaderPGConf, replaceDefaults(confData, sortedKeys(db.Parameters)))
	// One pg_hba.conf per render target (see hbaGroups): pg_hba.conf,
	// which postgresql.conf names, for the container; with both targets the
	// native server reads pg_hba.systemd.conf instead.
	v.file("postgres/pg_hba.conf", 0o644, contract.ReaderPGHBA, "site/postgres/pg_hba.conf.tmpl", hbaView{
		Header: hdr,
		Site:   v.Site.Name,
		Groups: hbaGroups(v, !v.Compose),
		Native: !v.Compose,
		Reject: agentRuns(v),
	})
	if v.Compose && v.Systemd {
		v.file(pgHBANative, 0o644, contract.ReaderPGHBA, "site/postgres/pg_hba.conf.tmpl", hbaView{
			Header: hdr,
			Site:   v.Site.Name,
			Groups: hbaGroups(v, true),
			Native: true,
			Reject: agentRuns(v),
		})
	}
	ident := identView{Header: hdr, Map: pgIdentMap}
	if db.Superuser != "postgres" {
		ident.Superuser = db.Superuser
	}
	v.file("postgres/pg_ident.conf", 0o644, contract.ReaderPGIdent, "site/postgres/pg_ident.conf.tmpl", ident)
	if conf.Patroni {
		return // Patroni runs the server: patroni.go
	}
	v.file("postgres/entrypoint.sh", 0o755, contract.ReaderShell, "site/postgres/entrypoint.sh.tmpl", entrypoint(v, hdr))

	secrets := []secretUse{{secretDBPassword, db.Password}}
	if st != nil {
		secrets = append(secrets, secretUse{secretReplPassword, db.Streaming.ReplicationPassword})
	}
	secrets = append(secrets, tlsServerSecrets(v.T)...)
	svc := &service{
		Name:    db.Service,
		Unit:    "postgres",
		Label:   "database",
		What:    fmt.Sprintf("PostgreSQL %d", db.Version),
		Runs:    fmt.Sprintf("PostgreSQL %d", db.Version),
		Product: "PostgreSQL",
		Image:   v.T.Render.NodeImage,
		Script:  "postgres/entrypoint.sh",
		Env:     v.nodeEnv(),
		Secrets: secrets,
		Mounts:  []string{"postgres", "lib"},
		Volumes: []volume{{Name: "pgdata", Target: pgData}},
		Ports:   pgPorts(v),
		Health: &healthCheck{
			Test:     []string{"pg_isready", "-h", "127.0.0.1", "-p", fmt.Sprint(db.Port), "-U", db.Superuser, "-d", db.Name},
			Interval: "2s", Timeout: "5s", Retries: 3, StartAfter: "120s",
		},
		// SIGINT is PostgreSQL's fast shutdown; SIGTERM ("smart") waits
		// for every client, and the other site's Bucardo never leaves.
		StopSignal: "SIGINT",
		StopGrace:  "30s",
		Native:     postgresNative(v, secrets),
	}
	if v.Role != "" {
		svc.Runs += " " + v.Role
	}
	v.service(svc)
	if v.Systemd {
		renderPostgresPrepare(v)
	}
	if key := pgNonlocalBind(v); key != "" {
		v.rb.Parts["postgres"] = pgInstallView{VIP: v.T.VIP.Address, Sysctl: key}
		v.d.rv.installNote(v.rb, "runbook/postgres-listen-install.md.tmpl")
	}
}

// pgInstallView is what the postgres component's installation note says.
type pgInstallView struct{ VIP, Sysctl string }

// pgNonlocalBind is the sysctl a site needs when PostgreSQL (natively)
// and Docker's port publishing bind the virtual IP, which the host holds
// only while it is keepalived's MASTER: "" when it binds no VIP.
func pgNonlocalBind(v *siteView) string {
	if !v.VIP || v.T.Database.Settings.Listen != "host" {
		return ""
	}
	if strings.Contains(v.T.VIP.Address, ":") {
		return "net.ipv6.ip_nonlocal_bind"
	}
	return "net.ipv4.ip_nonlocal_bind"
}

// postgresNative runs the site's PostgreSQL from the Debian package with
// the rendered configuration, on the published port: on a host there is no
// port mapping, and the other sites dial <host>:<publishedPort>. Before it
// starts, systemd/postgres-prepare.sh (as root) creates the runtime
// directories, checks that the data directory holds a cluster and, for
// streaming replication, writes the password file that primary_conninfo
// names, as the container entrypoint does. The server itself runs without
// the secrets in its environment.
func postgresNative(v *siteView, secrets []secretUse) native {
	db := v.T.Database
	n := native{
		Comment: []string{
			fmt.Sprintf("PostgreSQL %d of site %s, listening on port %d (the published port).", db.Version, v.Site.Name, db.PublishedPort),
			"The data directory " + pgData + " must hold a cluster first; see RUNBOOK.md,",
			"\"Running natively with systemd\" (the container entrypoint does this for compose).",
		},
		Type:  "notify",
		User:  "postgres",
		Group: "postgres",
		Env:   []envVar{{"PGDATA", pgData}},
		// The server reads no secret. The preparation reads them only for
		// replication: natively the cluster is created by hand
		// (RUNBOOK.md).
		OwnSecrets: true,
		Prepare:    pgPrepareScript,
		Exec: []string{
			path.Join(pgBin(db.Version), "postgres"),
			"-D", pgData,
			"-c", "config_file=" + v.installPath("postgres/postgresql.conf"),
			"-c", fmt.Sprintf("port=%d", db.PublishedPort),
		},
		Reload: true,
		// PostgreSQL's own recommendation: SIGINT is a fast shutdown, and
		// only the postmaster gets it. Restart only after a failure: a
		// server an operator stopped on purpose (pg_ctl stop before
		// pg_rewind) stays down.
		KillMode:         "mixed",
		KillSignal:       "SIGINT",
		TimeoutStop:      "30",
		RestartOnFailure: true,
	}
	if v.Compose {
		n.Exec = append(n.Exec, "-c", "hba_file="+etcDir+"/"+pgHBANative)
		if l := pgListen(v); l != "" {
			n.Exec = append(n.Exec, "-c", "listen_addresses="+l)
		}
	}
	if db.Streaming != nil || tlsOn(v.T) {
		n.PrepareSecrets = secrets
	}
	return n
}

// pgListen is listen_addresses natively for database.settings.listen
// "host": loopback, the site's address, the VIP where the site carries
// it, and Docker's bridge gateway where app containers that docker run
// starts dial the database through the host gateway. "" for "all".
func pgListen(v *siteView) string {
	if v.T.Database.Settings.Listen != "host" {
		return ""
	}
	list := []string{"localhost", v.Site.Address}
	if v.VIP {
		list = append(list, v.T.VIP.Address)
	}
	if len(v.appServices()) > 0 {
		list = append(list, dockerBridgeGateway)
	}
	return strings.Join(list, ",")
}

// dockerBridgeGateway is the host's address on Docker's default bridge
// (docker0), which --add-host NAME:host-gateway names.
const dockerBridgeGateway = "172.17.0.1"

// pgSettingsView fills the settings of database.settings and
// database.parameters into the postgresql.conf view; false when a value
// cannot be written (the render fails).
func pgSettingsView(v *siteView, conf *postgresConfView) bool {
	db := v.T.Database
	st := db.Settings
	conf.Listen = "*"
	if native := pgListen(v); native != "" {
		if v.Compose {
			conf.ListenComment = []string{
				"The container's own network (database.settings.listen: host): the compose file",
				"publishes the port on " + strings.Join(pgPublishIPs(v), ", ") + " only; natively the unit",
				"sets listen_addresses = '" + native + "'.",
			}
		} else {
			conf.Listen = native
			conf.ListenComment = []string{"Loopback, the site's address, the VIP where the site carries it and, for",
				"app containers, Docker's bridge gateway only (database.settings.listen: host)."}
		}
	}
	conf.HotStandby = st.HotStandby
	conf.ArchiveMode = st.ArchiveMode
	conf.WalKeepSize = st.WalKeepSize
	if st.ArchiveCommand != "" {
		s, err := pgConfString(st.ArchiveCommand)
		if err != nil {
			v.d.b.fail(fmt.Errorf("render postgresql.conf for %s: database.settings.archiveCommand: %w", v.Site.Name, err))
			return false
		}
		conf.ArchiveCommand = s
	}
	for _, name := range sortedKeys(db.Parameters) {
		s, err := pgConfString(db.Parameters[name])
		if err != nil {
			v.d.b.fail(fmt.Errorf("render postgresql.conf for %s: database.parameters.%s: %w", v.Site.Name, name, err))
			return false
		}
		conf.Parameters = append(conf.Parameters, pgParam{name, s})
	}
	return true
}

// pgPorts publishes the database's port: on every address, or with
// database.settings.listen "host" on pgPublishIPs only.
func pgPorts(v *siteView) []port {
	db := v.T.Database
	if db.Settings.Listen != "host" {
		return []port{{Published: db.PublishedPort, Target: db.Port}}
	}
	var ports []port
	for _, ip := range pgPublishIPs(v) {
		ports = append(ports, port{Published: db.PublishedPort, Target: db.Port, HostIP: ip})
	}
	return ports
}

// pgPublishIPs are the host addresses the compose file publishes the
// database on with database.settings.listen "host".
func pgPublishIPs(v *siteView) []string {
	ips := []string{"127.0.0.1", v.Site.Address}
	if v.VIP {
		ips = append(ips, v.T.VIP.Address)
	}
	return ips
}

// replaceDefaults comments out hagen's default line of each parameter the
// spec sets (the spec's lines come last): "name = value" becomes
// "#name = value  (set below by database.parameters)".
func replaceDefaults(conf []byte, names []string) []byte {
	if len(names) == 0 {
		return conf
	}
	lines := strings.SplitAfter(string(conf), "\n")
	section := false
	for i, l := range lines {
		if strings.HasPrefix(l, pgParamsHeading) {
			section = true
		}
		if section {
			continue
		}
		for _, n := range names {
			if strings.HasPrefix(l, n+" = ") {
				lines[i] = "#" + strings.TrimSuffix(l, "\n") + "  (set below by database.parameters)\n"
			}
		}
	}
	return []byte(strings.Join(lines, ""))
}

// pgParamsHeading starts the section of the spec's parameters in
// postgresql.conf.tmpl.
const pgParamsHeading = "# The spec's parameters"

// syncComment explains the primary's synchronous_standby_names.
func syncComment(st *schema.Streaming) []string {
	switch {
	case !st.Synchronous || len(st.SynchronousStandbyNames) == 0:
		return []string{"Empty: commits do not wait for a standby."}
	case st.SynchronousMethod == contract.SyncAny:
		return []string{fmt.Sprintf("ANY %d: a quorum; each commit waits until any %d of the listed standbys", st.SynchronousCount, st.SynchronousCount),
			"confirm it, whichever they are."}
	case st.SynchronousCount == 1:
		return []string{"FIRST 1: one standby at a time confirms each commit; the next in the",
			"list takes over when it disconnects."}
	default:
		return []string{fmt.Sprintf("FIRST %d: the first %d connected standbys of the list confirm each", st.SynchronousCount, st.SynchronousCount),
			"commit; the next in the list takes over when one disconnects."}
	}
}

// renderPostgresPrepare writes pgPrepareScript.
func renderPostgresPrepare(v *siteView) {
	view := struct {
		Header, Site, Unit, PGData, SockDir, RunDir, PassFile string
		Streaming                                             bool
		ReplicationUser, Superuser                            string
		Agent                                                 agentDatabase
		// NonlocalBind is the sysctl file that must hold 1 when
		// PostgreSQL binds the VIP (pgNonlocalBind); VIP its address.
		NonlocalBind, VIP string
		// TLS: install the TLS files as the entrypoint does.
		TLS                               bool
		TLSDir, CertFile, KeyFile, CAFile string
	}{
		Header: header(v.Spec, "#"), Site: v.Site.Name, Unit: v.unitName("postgres"),
		PGData: pgData, SockDir: pgSockDir, RunDir: pgRunDir, PassFile: pgPassFile,
		Superuser: v.T.Database.Superuser,
		Agent:     newAgentDatabase(v),
	}
	if key := pgNonlocalBind(v); key != "" {
		view.NonlocalBind, view.VIP = "/proc/sys/"+strings.ReplaceAll(key, ".", "/"), v.T.VIP.Address
	}
	if tlsOn(v.T) {
		view.TLS, view.TLSDir, view.CertFile, view.KeyFile, view.CAFile = true, pgTLSDir, pgTLSCert, pgTLSKey, pgTLSCAFile
	}
	if s := v.T.Database.Streaming; s != nil {
		view.Streaming = true
		view.ReplicationUser = s.ReplicationUser
	}
	v.file(pgPrepareScript, 0o755, contract.ReaderShell, "site/systemd/postgres-prepare.sh.tmpl", view)
}

// hbaGroups are the site's pg_hba.conf records, most specific first. Every
// network record needs a SCRAM password; with security.ssl also TLS.
//
// The two render targets differ in who reaches the database from the site
// itself. In a container (compose), the site's app services share the
// compose network, the container's only network: samenet admits exactly
// it. Natively (systemd), samenet would admit every subnet of the host;
// the app containers that docker run starts sit on Docker's default
// bridge, and only that network is admitted, and only when the site runs
// app services.
func hbaGroups(v *siteView, native bool) []hbaGroup {
	db := v.T.Database
	host := "host"
	if v.T.Security.SSL {
		host = "hostssl"
	}
	const scram = "scram-sha-256"
	local := hbaLine{"local", "all", "all", "", "peer"}
	if db.Superuser != "postgres" {
		local.Method = "peer map=" + pgIdentMap
	}
	// The agent's records come first: its role must never match a
	// password record.
	groups := append(newAgentDatabase(v).hba(), []hbaGroup{
		{
			Comment: []string{"hagen's scripts in the container connect over the socket as the postgres OS user."},
			Lines:   []hbaLine{local},
		},
		{
			Comment: []string{"Tools inside the container over loopback, with a password."},
			Lines: []hbaLine{
				{host, "all", "all", "127.0.0.1/32", scram},
				{host, "all", "all", "::1/128", scram},
			},
		},
	}...)

	// Who dials this site as the superuser: host-network services of the
	// site itself (its own address), and Bucardo from its site
	// (multi-master) or every other database node (primary-standby:
	// pg_rewind, role.sh, notify.sh's fencing).
	su := hbaGroup{Comment: []string{
		"The superuser, to every database, from the hosts that dial this site as the",
		"superuser: its own (host-network services dial their own host name) and",
	}}
	var addrs []string
	if b := db.Bucardo; b != nil {
		su.Comment = append(su.Comment, "Bucardo's site "+b.Site+".")
		dialers := []schema.Site{v.Site}
		if b.Site != v.Site.Name {
			dialers = append(dialers, *v.d.site(b.Site))
		}
		addrs = hbaAddresses(dialers)
	} else {
		su.Comment = append(su.Comment, "the other database nodes (pg_rewind, role.sh, notify.sh), one line per LAN.")
		addrs = v.d.hbaDatabaseNodes("")
		if v.Role == "" {
			addrs = append(hbaAddresses([]schema.Site{v.Site}), addrs...)
		}
	}
	for _, a := range addrs {
		su.Lines = append(su.Lines, hbaLine{host, "all", db.Superuser, a, scram})
	}
	groups = append(groups, su)
	switch {
	case !native:
		groups = append(groups, hbaGroup{
			Comment: []string{
				"Containers of this site's compose network reach " + db.Service + ":" + fmt.Sprint(db.Port) + ",",
				"the application database only.",
			},
			Lines: []hbaLine{{host, db.Name, "all", "samenet", scram}},
		})
	case len(v.appServices()) > 0:
		groups = append(groups, hbaGroup{
			Comment: []string{
				"The app containers docker run starts, on Docker's default bridge (docker0),",
				"reach " + db.Service + ":" + fmt.Sprint(db.PublishedPort) + " through the host gateway, the application database only.",
			},
			Lines: []hbaLine{{host, db.Name, "all", dockerBridge, scram}},
		})
	}
	if proxies := proxyOnlyDialers(v); len(proxies) > 0 {
		g := hbaGroup{Comment: []string{"HAProxy on its own hosts (proxyOnly sites) forwards the clients' sessions,",
			"the application database only."}}
		for _, a := range proxies {
			g.Lines = append(g.Lines, hbaLine{host, db.Name, "all", a, scram})
		}
		groups = append(groups, g)
	}
	if len(v.T.Security.AllowedClients) > 0 {
		g := hbaGroup{Comment: []string{"Client networks (security.allowedClients), the application database only."}}
		for _, cidr := range v.T.Security.AllowedClients {
			g.Lines = append(g.Lines, hbaLine{host, db.Name, "all", cidr, scram})
		}
		groups = append(groups, g)
	}
	if st := db.Streaming; st != nil {
		g := hbaGroup{Comment: []string{
			"Streaming replication (clone, WAL stream) only from the other database",
			"nodes, as " + st.ReplicationUser + ": any of them may be the standby of this one.",
		}}
		for _, a := range v.d.hbaDatabaseNodes(v.Site.Name) {
			g.Lines = append(g.Lines, hbaLine{host, "replication", st.ReplicationUser, a, scram})
		}
		if len(g.Lines) > 0 {
			groups = append(groups, g)
		}
		if v.T.ManagedByPatroni() {
			groups = append(groups, hbaGroup{
				Comment: []string{
					"Patroni's own replication connection to the local node (check_timeline,",
					"pg_rewind's checks): without it a standby's leader race fails and it never promotes.",
				},
				Lines: []hbaLine{{host, "replication", st.ReplicationUser, "127.0.0.1/32", scram}},
			})
		}
	}
	if rules := v.T.Security.Access; len(rules) > 0 {
		g := hbaGroup{Comment: []string{"The spec's access rules (security.access), in order, after hagen's own."}}
		for _, r := range rules {
			for _, n := range r.Networks {
				g.Lines = append(g.Lines, hbaLine{r.HBAType(v.T.Security.SSL), r.Database, r.User, n, r.Method})
			}
		}
		groups = append(groups, g)
	}
	return groups
}

// proxyOnlyDialers are the pg_hba.conf addresses of the proxyOnly sites
// whose HAProxy sends database sessions to this site (proxy.fronts
// "database", this site one of proxy.servers).
func proxyOnlyDialers(v *siteView) []string {
	p := v.T.Proxy
	if p == nil || p.Fronts != "database" {
		return nil
	}
	server := false
	for _, s := range p.Servers {
		server = server || s.Site == v.Site.Name
	}
	if !server {
		return nil
	}
	var sites []schema.Site
	for _, s := range v.T.Sites {
		if s.ProxyOnly && p.RunsOn(s.Name) {
			sites = append(sites, s)
		}
	}
	return hbaAddresses(sites)
}

// hbaAddresses are the pg_hba.conf addresses that admit the given sites:
// a site's own address, or its LAN where the LAN holds more than one of
// them (one line then admits them all, and the file does not grow with
// the number of sites on a LAN), in order of first appearance.
func hbaAddresses(sites []schema.Site) []string {
	count := map[string]int{}
	for _, s := range sites {
		count[s.LAN]++
	}
	var out []string
	for _, s := range sites {
		a := hostCIDR(s.Address)
		if count[s.LAN] > 1 {
			a = s.LAN
		}
		out = appendUnique(out, a)
	}
	return out
}

// hbaDatabaseNodes are the pg_hba.conf addresses that admit every
// database node of primary-standby mode but except ("" for none), as
// hbaAddresses would give them; the grouping by LAN is computed once for
// the deployment, so that every site pays for its LANs, not its peers.
func (d *deployment) hbaDatabaseNodes(except string) []string {
	if d.dbLANs == nil {
		idx := map[string]int{}
		for i := range d.t.Sites {
			s := &d.t.Sites[i]
			if d.role(s.Name) == "" {
				continue
			}
			j, ok := idx[s.LAN]
			if !ok {
				j = len(d.dbLANs)
				idx[s.LAN] = j
				d.dbLANs = append(d.dbLANs, lanSites{LAN: s.LAN})
			}
			d.dbLANs[j].Sites = append(d.dbLANs[j].Sites, s)
		}
	}
	var out []string
	for _, g := range d.dbLANs {
		var left []*schema.Site
		for _, s := range g.Sites {
			if s.Name != except {
				left = append(left, s)
			}
			if len(left) > 1 {
				break
			}
		}
		switch len(left) {
		case 0:
		case 1:
			out = append(out, hostCIDR(left[0].Address))
		default:
			out = append(out, g.LAN)
		}
	}
	return out
}

// lanSites are the database sites of one LAN.
type lanSites struct {
	LAN   string
	Sites []*schema.Site
}

func entrypoint(v *siteView, hdr string) entrypointView {
	db := v.T.Database
	e := entrypointView{
		Header:    hdr,
		Site:      v.Site.Name,
		Version:   db.Version,
		PGBin:     pgBin(db.Version),
		PGData:    pgData,
		ConfFile:  pgConfFile,
		SockDir:   pgSockDir,
		Port:      db.Port,
		Superuser: db.Superuser,
		Database:  db.Name,
		Mode:      db.Mode,
		Role:      v.Role,
		RunDir:    pgRunDir,
		PassFile:  pgPassFile,
		RoleHook:  pgRoleHook,
		SSL:       tlsOn(v.T),
		CertFile:  pgTLSCert,
		KeyFile:   pgTLSKey,
		SSLMode:   sslMode(v.T),
		Agent:     newAgentDatabase(v),
	}
	e.TLSDir, e.CAFile = pgTLSDir, pgTLSCAFile
	e.SSLRootCert = sslRootCert(v.T, pgTLSCAFile)
	if st := v.streaming(); st != nil {
		e.Streaming = true
		e.ReplicationUser = db.Streaming.ReplicationUser
		e.Slots = st.Slots
		e.PrimaryHost = st.PrimaryHost
		e.PrimaryPort = st.PrimaryPort
		e.Slot = st.SpecSlot
		e.ApplicationName = st.SpecApplicationName
		e.PrimaryConninfo = st.Conninfo
	}
	return e
}

// accessNetworks are the client networks pg_hba.conf admits: the allowed
// clients, then the networks of the access rules, each once.
func accessNetworks(t *schema.Topology) []string {
	out := append([]string{}, t.Security.AllowedClients...)
	for _, r := range t.Security.Access {
		for _, n := range r.Networks {
			out = appendUnique(out, n)
		}
	}
	return out
}

// pgBin is where the Debian packages put a PostgreSQL version's programs.
func pgBin(version int) string { return path.Join("/usr/lib/postgresql", fmt.Sprint(version), "bin") }

func (postgresComponent) tree(d *deployment) {
	t := d.t
	db := t.Database
	var from []string
	for _, s := range t.Sites {
		if !s.Witness {
			from = append(from, s.Address)
		}
	}
	d.port(rbPort{
		Port: fmt.Sprintf("%d/tcp", db.PublishedPort),
		What: "PostgreSQL (" + db.Service + ")",
		From: strings.Join(append(from, accessNetworks(t)...), ", "),
	})
	d.rv.DB = rbDatabase{
		Name: db.Name, Service: db.Service, Superuser: db.Superuser,
		Version: db.Version, Port: db.Port, Published: db.PublishedPort,
		PGBin: pgBin(db.Version), PGData: pgData, ConfFile: pgConfFile,
		PasswordVar: secretDBPassword,
	}
	if d.rv.SystemdTarget && !t.ManagedByPatroni() {
		d.rv.section(slotNative, "runbook/native.md.tmpl")
	}
	inv := &d.inv.Database
	inv.Name, inv.Service, inv.Superuser = db.Name, db.Service, db.Superuser
	inv.Port, inv.PublishedPort = db.Port, db.PublishedPort
}
