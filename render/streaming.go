package render

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hagen-ha/hagen/contract"
)

// streamingComponent is PostgreSQL streaming replication between one
// primary and its standbys: the role hook postgres/role.sh (the rejoin of
// an old primary as a standby when the node starts), the replication facts
// the database's files use (streamSite), and the RUNBOOK's procedure.
type streamingComponent struct{ noPackages }

// streamSite are a site's streaming replication facts, computed once.
type streamSite struct {
	// SpecApplicationName and SpecSlot name the site in
	// streaming.standbys; empty on the spec's primary.
	SpecApplicationName, SpecSlot string
	// ApplicationName and Slot name this node whenever it is a standby:
	// its standbys entry, or its site name with "-" as "_" (a slot name
	// allows only [a-z0-9_]) for the spec's primary after a failover.
	ApplicationName, Slot string
	// Slots: on the primary, one physical slot per standby.
	Slots []string
	// On a standby: where the primary is, and the primary_conninfo the
	// standby gets after its clone (no password, a passfile instead).
	PrimaryHost string
	PrimaryPort int
	Conninfo    string
	// SyncNames is synchronous_standby_names of the primary, empty when
	// commits are asynchronous.
	SyncNames string
	// SSLMode is the conninfo's sslmode value, followed by " sslrootcert=
	// <CA file>" with TLS.
	SSLMode string
}

// streaming returns the site's streaming facts, or nil when the database
// does not stream.
func (v *siteView) streaming() *streamSite {
	st := v.T.Database.Streaming
	if st == nil || v.Role == "" {
		return nil
	}
	if v.stream != nil {
		return v.stream
	}
	s := &streamSite{SSLMode: sslMode(v.T) + sslRootCert(v.T, pgTLSCAFile)}
	s.ApplicationName, s.Slot = standbyIdentity(v.d, v.Site.Name)
	if sb := v.d.standby(v.Site.Name); sb != nil {
		s.SpecApplicationName, s.SpecSlot = sb.ApplicationName, sb.Slot
	}
	if st.Synchronous && len(st.SynchronousStandbyNames) > 0 {
		s.SyncNames = contract.SyncStandbyNames(st.SynchronousMethod, st.SynchronousCount, st.SynchronousStandbyNames)
	}
	switch v.Role {
	case "primary":
		for _, sb := range st.Standbys {
			s.Slots = append(s.Slots, sb.Slot)
		}
	case "standby":
		primary := v.d.site(st.Primary)
		s.PrimaryHost = primary.Host
		s.PrimaryPort = v.T.Database.PublishedPort
		s.Conninfo = conninfo(primary.Host, v.T.Database.PublishedPort, st.ReplicationUser, s.SpecApplicationName, s.SSLMode)
	}
	v.stream = s
	return s
}

// conninfo is a standby's primary_conninfo.
func conninfo(host string, port int, user, app, sslmode string) string {
	return fmt.Sprintf("host=%s port=%d user=%s passfile=%s application_name=%s sslmode=%s",
		host, port, user, pgPassFile, app, sslmode)
}

// standbyIdentity is the application_name and slot a site uses when it is
// a standby: its entry in streaming.standbys, else its site name with "-"
// as "_" (a slot name allows only [a-z0-9_]; the RUNBOOK's rejoin name).
func standbyIdentity(d *deployment, site string) (app, slot string) {
	if sb := d.standby(site); sb != nil {
		return sb.ApplicationName, sb.Slot
	}
	name := strings.ReplaceAll(site, "-", "_")
	return name, name
}

// roleHookView is postgres/role.sh of a primary-standby site.
type roleHookView struct {
	Header          string
	Site            string
	PGBin           string
	PublishedPort   int
	Superuser       string
	Database        string
	ReplicationUser string
	ApplicationName string
	Slot            string
	SSLMode         string
	Peers           []rolePeer
	// SSLRootCert is the CA file that verifies the peers (with TLS).
	SSLRootCert string
}

type rolePeer struct{ Name, Host string }

func (streamingComponent) site(v *siteView) {
	s := v.streaming()
	if s == nil {
		return
	}
	db := v.T.Database
	st := db.Streaming
	if v.T.ManagedByPatroni() {
		return // Patroni decides roles: patroni.go
	}
	r := roleHookView{
		Header: header(v.Spec, "#"), Site: v.Site.Name, PGBin: pgBin(db.Version), PublishedPort: db.PublishedPort,
		Superuser: db.Superuser, Database: db.Name, ReplicationUser: st.ReplicationUser,
		ApplicationName: s.ApplicationName, Slot: s.Slot, SSLMode: sslMode(v.T),
	}
	if tlsOn(v.T) {
		r.SSLRootCert = pgTLSCAFile
	}
	for _, p := range v.peers() {
		if v.d.role(p.Name) != "" {
			r.Peers = append(r.Peers, rolePeer{p.Name, p.Host})
		}
	}
	v.file("postgres/role.sh", 0o755, contract.ReaderShell, "site/postgres/role.sh.tmpl", r)

	rs := v.rb
	rs.Empty = v.Role == "standby"
	rs.IsPrimary = v.Role == "primary"
	rs.HealthPrimary = "503"
	if v.Role == "primary" {
		rs.HealthPrimary = "200"
	}
	rs.ApplicationName, rs.Slot, rs.Conninfo = s.SpecApplicationName, s.SpecSlot, s.Conninfo
	if s.SpecApplicationName != "" {
		rs.SyncExpected = st.Synchronous && slices.Contains(st.SynchronousStandbyNames, s.SpecApplicationName)
	}
	rs.RejoinName = strings.ReplaceAll(v.Site.Name, "-", "_")
	if v.Role == "standby" {
		old := v.d.site(st.Primary)
		rs.RejoinConninfo = conninfo(v.Site.Host, db.PublishedPort, st.ReplicationUser, strings.ReplaceAll(old.Name, "-", "_"), s.SSLMode)
		var names []string
		for _, n := range st.SynchronousStandbyNames {
			if n != s.SpecApplicationName {
				names = append(names, n)
			}
		}
		oldApp, _ := standbyIdentity(v.d, old.Name)
		rs.RejoinSyncNames = contract.SyncStandbyNames(st.SynchronousMethod, st.SynchronousCount, append(names, oldApp))
	}
}

func (streamingComponent) tree(d *deployment) {
	st := d.t.Database.Streaming
	if st == nil {
		return
	}
	rv := d.rv
	r := &rbStreaming{
		User:          st.ReplicationUser,
		Synchronous:   st.Synchronous,
		OnStandbyDown: st.OnStandbyDown,
		Witness:       joinAnd(st.WitnessList()),
		HealthPort:    st.HealthPort,
		FailoverAfter: st.FailoverAfter,
		Entrypoint:    "postgres/entrypoint.sh",
		PassVar:       secretReplPassword,
	}
	if st.Synchronous && len(st.SynchronousStandbyNames) > 0 {
		r.SyncNames = contract.SyncStandbyNames(st.SynchronousMethod, st.SynchronousCount, st.SynchronousStandbyNames)
	}
	r.SyncPotential = st.Synchronous && len(st.SynchronousStandbyNames) > st.SynchronousCount
	r.WitnessCount, r.WitnessNeed = len(st.WitnessList()), st.WitnessMajority()
	r.HealthPath = st.HealthPath
	r.KeepalivedFailover = d.t.VIP != nil && !d.t.VIPOnProxies()
	r.HotStandby = d.t.Database.Settings.HotStandby
	if tlsOn(d.t) {
		r.SSLEnv = "PGSSLMODE=" + sslMode(d.t) + " PGSSLROOTCERT=" + pgTLSCAFile + " "
		r.SSLConn = " sslmode=" + sslMode(d.t) + sslRootCert(d.t, pgTLSCAFile)
		r.SSLPrepare = fmt.Sprintf(`install -d -o postgres -g postgres %s && install -o postgres -m 0644 "$%s_FILE" %s`, pgTLSDir, secretTLSCA, pgTLSCAFile)
	}
	r.SyncAny = st.SynchronousMethod == contract.SyncAny
	r.SyncCount = st.SynchronousCount
	r.SinglePair = len(st.Standbys) == 1
	r.Blocks = st.OnStandbyDown == "block"
	for _, s := range rv.Sites {
		switch s.Role {
		case "primary":
			r.Primary = s
		case "standby":
			r.Standbys = append(r.Standbys, s)
			if !d.t.ManagedByPatroni() {
				rv.installNote(s, "runbook/streaming-install.md.tmpl")
			}
		}
	}
	rv.Streaming = true
	rv.Stream = r
	if !d.t.ManagedByPatroni() { // Patroni's sections: patroni.go
		rv.section(slotSetup, "runbook/streaming-setup.md.tmpl")
		rv.section(slotOperate, "runbook/streaming-operate.md.tmpl")
	}

	db := &d.inv.Database
	db.Synchronous = st.Synchronous
	db.OnStandbyDown = st.OnStandbyDown
	db.ReplicationUser = st.ReplicationUser
	db.HealthPort = st.HealthPort
	db.HealthPath = st.HealthPath
	if w := st.WitnessList(); len(w) > 0 {
		db.Witness, db.Witnesses = w[0], w
	}
	db.FailoverAfter = st.FailoverAfter
	if st.Synchronous {
		db.SynchronousMethod, db.SynchronousCount = st.SynchronousMethod, st.SynchronousCount
	}
}
