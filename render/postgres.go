package render

import (
	"fmt"
	"path"
	"strings"

	"github.com/hagen-ha/hagen/schema"
)

// PostgreSQL files of a site, in DIR/<site>/postgres/ (mounted read-only at
// /etc/hagen/postgres): postgresql.conf, pg_hba.conf, pg_ident.conf and the
// container entrypoint. The data directory is the pgdata volume.
const (
	pgConfDir   = etcDir + "/postgres"
	pgConfFile  = pgConfDir + "/postgresql.conf"
	pgHBAFile   = pgConfDir + "/pg_hba.conf"
	pgIdentFile = pgConfDir + "/pg_ident.conf"
	// TLS files are the operator's: put into DIR/<site>/postgres/tls/,
	// referenced by postgresql.conf, never rendered.
	pgTLSDir  = pgConfDir + "/tls"
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
}

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
	// Primary-standby only.
	Streaming       bool
	ReplicationUser string
	Slots           []string // on the primary: one physical slot per standby
	PrimaryHost     string   // on a standby
	PrimaryPort     int
	Slot            string
	ApplicationName string
	// PrimaryConninfo is what the standby's postgresql.auto.conf gets after
	// the clone: no password, a passfile instead.
	PrimaryConninfo string
	SSLMode         string
}

func renderPostgres(b *builder, v *siteView) {
	db := v.T.Database
	ssl := v.T.Security.SSL
	hdr := header(v.Spec, "#")

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
		CertFile:       pgTLSDir + "/server.crt",
		KeyFile:        pgTLSDir + "/server.key",
	}
	if db.Mode == schema.MultiMasterAsync {
		conf.MaxConnections = pgMaxConnectionsMultiMaster
	}
	st := db.Streaming
	if st != nil {
		conf.Streaming = true
		conf.Primary = v.Role == "primary"
		conf.Standby = v.Role == "standby"
		conf.MaxWalSenders = max(pgMinWalSenders, 2*len(v.T.Sites)+2)
		conf.SynchronousCommit = "on"
		if conf.Primary && st.Synchronous && len(st.SynchronousStandbyNames) > 0 {
			conf.SyncStandbyNames = syncStandbyNames(st.SynchronousStandbyNames)
		}
		if sb := st.Standby(v.Site.Name); sb != nil {
			conf.PrimarySlotName = sb.Slot
		}
	}
	b.addTemplate(v.path("postgres/postgresql.conf"), 0o644, "postgresql.conf.tmpl", conf)

	b.addTemplate(v.path("postgres/pg_hba.conf"), 0o644, "pg_hba.conf.tmpl", hbaView{
		Header: hdr,
		Site:   v.Site.Name,
		Groups: hbaGroups(v),
	})

	ident := identView{Header: hdr, Map: pgIdentMap}
	if db.Superuser != "postgres" {
		ident.Superuser = db.Superuser
	}
	b.addTemplate(v.path("postgres/pg_ident.conf"), 0o644, "postgres_pg_ident.conf.tmpl", ident)

	b.addTemplate(v.path("postgres/entrypoint.sh"), 0o755, "postgres_entrypoint.sh.tmpl", entrypoint(v, hdr))
	if st != nil {
		b.addTemplate(v.path("postgres/role.sh"), 0o755, "postgres_role.sh.tmpl", roleHook(v, hdr))
	}
}

// roleHookView is postgres/role.sh of a primary-standby site: the rejoin
// of an old primary as a standby when the node starts.
type roleHookView struct {
	Header          string
	Site            string
	PGBin           string
	PublishedPort   int
	Superuser       string
	Database        string
	ReplicationUser string
	// ApplicationName and Slot name this node as a standby: the spec's
	// standby entry, or the site's name for a node the spec lists as the
	// primary.
	ApplicationName string
	Slot            string
	SSLMode         string
	Peers           []rolePeer
}

type rolePeer struct{ Name, Host string }

func roleHook(v *siteView, hdr string) roleHookView {
	db := v.T.Database
	st := db.Streaming
	app, slot := standbyIdentity(st, v.Site.Name)
	r := roleHookView{
		Header: hdr, Site: v.Site.Name, PGBin: pgBin(db.Version), PublishedPort: db.PublishedPort,
		Superuser: db.Superuser, Database: db.Name, ReplicationUser: st.ReplicationUser,
		ApplicationName: app, Slot: slot, SSLMode: "prefer",
	}
	if v.T.Security.SSL {
		r.SSLMode = "require"
	}
	for _, p := range v.Peers {
		if v.T.Role(p.Name) != "" {
			r.Peers = append(r.Peers, rolePeer{p.Name, v.T.Site(p.Name).Host})
		}
	}
	return r
}

// standbyIdentity is the application_name and slot a site uses when it is
// a standby: its entry in streaming.standbys, else its site name with "-"
// as "_" (a slot name allows only [a-z0-9_]; the RUNBOOK's rejoin name).
func standbyIdentity(st *schema.Streaming, site string) (app, slot string) {
	if sb := st.Standby(site); sb != nil {
		return sb.ApplicationName, sb.Slot
	}
	name := strings.ReplaceAll(site, "-", "_")
	return name, name
}

// syncStandbyNames is synchronous_standby_names for the given application
// names: FIRST 1, so that one standby at a time confirms each commit and
// the others, in list order, take over when it disconnects.
func syncStandbyNames(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = `"` + n + `"`
	}
	return fmt.Sprintf("FIRST 1 (%s)", strings.Join(quoted, ", "))
}

// hbaGroups are the site's pg_hba.conf records, most specific first. Every
// network record needs a SCRAM password; with security.ssl also TLS.
func hbaGroups(v *siteView) []hbaGroup {
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
	groups := []hbaGroup{
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
	}

	su := hbaGroup{Comment: []string{
		"The superuser from every site's host address, to every database:",
		"replication tools dial each site as the superuser from their own host",
		"(Bucardo from its site, pg_rewind from a peer), and host-network services",
		"dial their own host name.",
	}}
	for _, s := range v.T.Sites {
		su.Lines = append(su.Lines, hbaLine{host, "all", db.Superuser, s.Address + "/32", scram})
	}
	groups = append(groups, su, hbaGroup{
		Comment: []string{
			"Containers of this site's compose network reach " + db.Service + ":" + fmt.Sprint(db.Port) + ",",
			"the application database only.",
		},
		Lines: []hbaLine{{host, db.Name, "all", "samenet", scram}},
	})
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
		for _, p := range v.Peers {
			if v.T.Role(p.Name) != "" {
				g.Lines = append(g.Lines, hbaLine{host, "replication", st.ReplicationUser, p.Address + "/32", scram})
			}
		}
		if len(g.Lines) > 0 {
			groups = append(groups, g)
		}
	}
	return groups
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
		SSL:       v.T.Security.SSL,
		CertFile:  pgTLSDir + "/server.crt",
		KeyFile:   pgTLSDir + "/server.key",
		SSLMode:   "prefer",
	}
	if e.SSL {
		e.SSLMode = "require"
	}
	st := db.Streaming
	if st == nil {
		return e
	}
	e.Streaming = true
	e.ReplicationUser = st.ReplicationUser
	switch v.Role {
	case "primary":
		for _, sb := range st.Standbys {
			e.Slots = append(e.Slots, sb.Slot)
		}
	case "standby":
		sb := st.Standby(v.Site.Name)
		primary := v.T.Site(st.Primary)
		e.PrimaryHost = primary.Host
		e.PrimaryPort = db.PublishedPort
		e.Slot = sb.Slot
		e.ApplicationName = sb.ApplicationName
		e.PrimaryConninfo = fmt.Sprintf("host=%s port=%d user=%s passfile=%s application_name=%s sslmode=%s",
			primary.Host, db.PublishedPort, st.ReplicationUser, pgPassFile, sb.ApplicationName, e.SSLMode)
	}
	return e
}

// pgBin is where the Debian packages put a PostgreSQL version's programs.
func pgBin(version int) string { return path.Join("/usr/lib/postgresql", fmt.Sprint(version), "bin") }
