package render

import (
	"fmt"

	"github.com/hagen-ha/hagen/contract"
)

// agentComponent is hagen's agent on every primary-standby site: it serves
// the node's health on database.streaming.healthPort (/primary, /replica,
// /health) from the local database and keeps the primary's
// synchronous_standby_names. Its configuration is agent/agent.json
// (contract.AgentConfig).
//
// It needs no superuser and no secret: it connects as the role
// contract.AgentRole by peer authentication over PostgreSQL's Unix socket,
// running as the OS user of the same name (uid agentUID in a container).
// The database's files make that possible (agentDatabase): the OS user in
// the postgres container, the socket shared through the pgsocket volume, a
// socket name for the published port, the pg_hba.conf records that admit
// the role over the socket only, and the role itself, created with the
// cluster.
type agentComponent struct{ noPackages }

const (
	// svcAgent is the agent's compose service.
	svcAgent = "hagen-agent"
	// agentBinary is where the hagen binary is on a site host.
	agentBinary = "/usr/local/bin/hagen"
	// agentUID is the uid (and gid) of the agent's OS user in the
	// containers: the agent's container runs as it, and the postgres
	// container maps it to contract.AgentRole for peer authentication.
	agentUID = 7432
	// agentSocketVolume holds PostgreSQL's socket directory, shared by
	// the database's container and, read-only, the agent's.
	agentSocketVolume = "pgsocket"
)

// agentRuns reports whether the agent runs on the site: on every
// database site of primary-standby mode; with Patroni, which serves the
// health URLs itself, only to keep onStandbyDown "block" (patroni.go).
func agentRuns(v *siteView) bool {
	s := v.T.Database.Streaming
	return v.Role != "" && s != nil && (!v.T.ManagedByPatroni() || relaxesStrict(s))
}

// agentDatabase is what the database's files of a site do for the agent;
// the zero value (no agent on the site) does nothing.
type agentDatabase struct {
	// User is the agent's OS user and database role, UID its uid in the
	// containers; empty when the agent does not run on the site.
	User string
	UID  int
	// SocketLink names the server's socket by the published port, which
	// agent.json names for both render targets; empty when the ports are
	// equal.
	SocketLink, Socket string
	// RoleSQL creates the role (contract.AgentRoleSQL).
	RoleSQL string
}

func newAgentDatabase(v *siteView) agentDatabase {
	if !agentRuns(v) {
		return agentDatabase{}
	}
	db := v.T.Database
	a := agentDatabase{User: contract.AgentRole, UID: agentUID, RoleSQL: contract.AgentRoleSQL()}
	if db.Port != db.PublishedPort {
		a.Socket = fmt.Sprintf(".s.PGSQL.%d", db.Port)
		a.SocketLink = fmt.Sprintf("%s/.s.PGSQL.%d", pgSockDir, db.PublishedPort)
	}
	return a
}

// hba are the agent's pg_hba.conf records, first in the file: its
// role by peer over the socket, and never over the network.
func (a agentDatabase) hba() []hbaGroup {
	if a.User == "" {
		return nil
	}
	return []hbaGroup{{
		Comment: []string{
			"hagen's agent: the role " + a.User + " over the socket as the OS user of that",
			"name (peer), never over the network.",
		},
		Lines: []hbaLine{
			{"local", "all", a.User, "", "peer"},
			{"host", "all", a.User, "0.0.0.0/0", "reject"},
			{"host", "all", a.User, "::/0", "reject"},
		},
	}}
}

func (agentComponent) site(v *siteView) {
	s := v.T.Database.Streaming
	if !agentRuns(v) {
		return
	}
	patroni := v.T.ManagedByPatroni()
	db := v.T.Database
	cfg := contract.AgentConfig{
		Site:   v.Site.Name,
		Listen: hostPort(v.Site.Address, s.HealthPort),
		// keepalived's scripts ask the local agent at 127.0.0.1.
		AlsoListen: []string{hostPort("127.0.0.1", s.HealthPort)},
		// Peer authentication over the socket: no password. The socket
		// is named by the published port on both targets (see
		// agentDatabase.SocketLink).
		Database: contract.AgentDatabase{
			Host:           pgSockDir,
			Port:           db.PublishedPort,
			User:           contract.AgentRole,
			Name:           "postgres",
			SSLMode:        "disable",
			ConnectTimeout: 2,
		},
		Peers: make([]contract.AgentPeer, 0, len(v.T.Sites)),
		Streaming: contract.AgentStreaming{
			Primary:                 s.Primary,
			Synchronous:             s.Synchronous,
			SynchronousStandbyNames: append([]string{}, s.SynchronousStandbyNames...),
			OnStandbyDown:           s.OnStandbyDown,
			FailoverAfter:           s.FailoverAfter,
			SynchronousMethod:       s.SynchronousMethod,
			SynchronousCount:        s.SynchronousCount,
		},
	}
	shared := v.d.agentShared()
	cfg.AllowFrom = shared.allowFrom
	cfg.Streaming.StandbyNames = shared.standbyNames
	for _, p := range shared.peers {
		if p.Site != v.Site.Name {
			cfg.Peers = append(cfg.Peers, p)
		}
	}
	if s.HealthPath != "/primary" {
		cfg.PrimaryPath = s.HealthPath
	}
	var volumes []volume
	if patroni {
		agentPatroni(v, &cfg) // patroni.go
		volumes = []volume{{Name: "patroni-mark", Target: patroniMarkDir}}
	}
	v.d.b.contractFile(v.path(contract.AgentConfigFile), contract.ReaderAgent, cfg)

	// The database's container shares its socket directory.
	if pg := v.serviceNamed(db.Service); pg != nil {
		pg.Volumes = append(pg.Volumes, volume{Name: agentSocketVolume, Target: pgSockDir})
	}
	// The agent reads no secret of the database; with Patroni the REST
	// API's password (its changing requests).
	var secrets []secretUse
	if patroni {
		secrets = []secretUse{{secretRestPassword, s.Patroni.RestAPIPassword}}
	}
	v.service(&service{
		Name:        svcAgent,
		Unit:        "agent",
		Label:       "agent",
		What:        "hagen agent (" + v.Role + ")",
		Runs:        "hagen agent",
		Image:       v.T.Render.NodeImage,
		User:        fmt.Sprintf("%d:%d", agentUID, agentUID),
		Command:     []string{agentBinary, "agent", "--config", etcDir + "/" + contract.AgentConfigFile},
		Env:         v.nodeEnv(),
		Mounts:      []string{"agent"},
		Secrets:     secrets,
		Volumes:     append([]volume{{Name: agentSocketVolume, Target: pgSockDir, ReadOnly: true}}, volumes...),
		Binds:       []bind{{Source: agentBinary, Target: agentBinary, Override: "HAGEN_BINARY"}},
		HostNetwork: true,
		DependsOn:   []dependency{{Service: db.Service}},
		Native: native{
			Comment: []string{
				"The hagen binary must be installed at " + agentBinary + ".",
				"It runs as " + contract.AgentRole + " (created by " + pgPrepareScript + "), which PostgreSQL admits",
				"over its socket by peer authentication; it reads no secret.",
			},
			User:  contract.AgentRole,
			Group: contract.AgentRole,
			Hardening: []string{
				"NoNewPrivileges=yes",
				"ProtectSystem=strict",
				"CapabilityBoundingSet=",
				"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
			},
		},
	})
	if patroni {
		agentPatroniNative(v.serviceNamed(svcAgent)) // patroni.go
	}
}

// agentFacts are the parts of agent.json that are the same on every site,
// computed once per render: every site asks them, and computing them per
// site made the render's time grow with the cube of the sites.
type agentFacts struct {
	// allowFrom: who asks the agent: keepalived here (loopback), the
	// sites' HAProxy, keepalived and agents (their addresses), the holder
	// of the VIP, and the client networks (monitoring, load balancers).
	allowFrom []string
	// standbyNames: each database site's application_name as a standby.
	standbyNames map[string]string
	// peers: every database site; a site's agent.json lists the others.
	peers []contract.AgentPeer
}

// agentShared returns the agent's facts common to every site, computed on
// first use. The values are shared by every site's configuration and
// never changed.
func (d *deployment) agentShared() *agentFacts {
	if d.agent != nil {
		return d.agent
	}
	t, s := d.t, d.t.Database.Streaming
	f := &agentFacts{standbyNames: map[string]string{}}
	seen := map[string]bool{}
	add := func(cidr string) {
		if !seen[cidr] {
			seen[cidr] = true
			f.allowFrom = append(f.allowFrom, cidr)
		}
	}
	add("127.0.0.1/32")
	for _, site := range t.Sites {
		add(hostCIDR(site.Address))
	}
	if t.VIP != nil {
		add(hostCIDR(t.VIP.Address))
	}
	for _, cidr := range t.Security.AllowedClients {
		add(cidr)
	}
	for _, site := range t.Sites {
		if d.role(site.Name) != "" {
			f.standbyNames[site.Name], _ = standbyIdentity(d, site.Name)
		}
		if !site.ProxyOnly {
			f.peers = append(f.peers, contract.AgentPeer{
				Site:    site.Name,
				Address: site.Address,
				Health:  "http://" + hostPort(site.Address, s.HealthPort) + "/health",
			})
		}
	}
	d.agent = f
	return f
}

func (agentComponent) tree(d *deployment) {
	st := d.t.Database.Streaming
	if st == nil {
		return
	}
	var from []string
	for _, s := range d.t.Sites {
		if !s.Witness {
			from = append(from, s.Address)
		}
	}
	what := "hagen agent health endpoint"
	if d.t.ManagedByPatroni() {
		what = "Patroni's REST API (health endpoints; switchover and configuration with its password)"
	}
	d.port(rbPort{fmt.Sprintf("%d/tcp", st.HealthPort), what, joinComma(from)})
	if d.t.ManagedByPatroni() {
		return // the RUNBOOK's Patroni sections say what the agent does
	}
	d.rv.Parts["agent"] = rbAgent{
		Role:  contract.AgentRole,
		UID:   agentUID,
		Limit: contract.AgentRoleConnectionLimit,
		VIP:   d.t.VIP != nil,

		SQLCommand: agentBinary + " agent --role-sql",
	}
	d.rv.section(slotNetwork, "runbook/agent.md.tmpl")
}

// rbAgent is the RUNBOOK's view of the agent.
type rbAgent struct {
	Role       string
	UID, Limit int
	// VIP: keepalived's notify.sh also runs the role's SQL.
	VIP bool
	// SQLCommand prints the role's SQL (contract.AgentRoleSQL).
	SQLCommand string
}
