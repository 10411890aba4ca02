package render

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/internal/budget"
	"github.com/hagen-ha/hagen/schema"
)

// patroniComponent is Patroni on every database site with
// database.streaming.manager "patroni": it creates, starts, promotes,
// demotes, rewinds and clones the site's PostgreSQL, with its leader lock
// in etcd (etcd.go). In DIR/<site>/patroni/: patroni.yml (with both render
// targets also patroni.systemd.yml for the native server), run.sh (the
// entrypoint: secrets into Patroni's environment, then Patroni as the
// postgres user), post_bootstrap.sh (the application database) and, with
// onStandbyDown "block", on_role_change.sh (the mark the agent reads). The
// postgres component still renders postgresql.conf (Patroni's custom_conf,
// without the settings Patroni owns), pg_hba.conf and pg_ident.conf.
type patroniComponent struct{}

const (
	patroniDir = etcDir + "/patroni"
	// patroniScopeNamespace is the etcd key prefix of every hagen
	// cluster: the leader key is /hagen/<name>/leader.
	patroniNamespace = "/hagen/"
	// patroniRestUser is the user of the REST API's changing requests.
	patroniRestUser = "hagen"
	// secretRestPassword is the variable hagen's processes read the REST
	// API's password from (Patroni's own PATRONI_RESTAPI_PASSWORD is set
	// from it by run.sh).
	secretRestPassword = "RESTAPI_PASSWORD"
	// patroniMarkDir holds the on_role_change callback's mark; with
	// compose it is a volume shared with the agent, and nothing else.
	patroniMarkDir  = "/run/hagen/patroni"
	patroniMark     = patroniMarkDir + "/promoted-alone"
	patroniPassFile = pgRunDir + "/pgpass"
	// patroniMaxLagOnFailover: a replica further behind than this many
	// bytes is not promoted (Patroni's default).
	patroniMaxLagOnFailover = 1 << 20
	// patroniCallbackTimeout bounds on_role_change's question to the
	// REST API (curl -m); patroniAgentInterval is how often the agent
	// looks for the callback's mark. Both are terms of the write budgets.
	patroniCallbackTimeout = 2 * time.Second
	patroniAgentInterval   = 100 * time.Millisecond
)

func (patroniComponent) packages() hostPackages {
	// Debian's patroni recommends, but does not depend on, its etcd and
	// PostgreSQL drivers; curl for the callback.
	return hostPackages{Packages: []string{"patroni", "python3-etcd", "python3-psycopg2", "curl"}, DistUnits: []string{"patroni"}}
}

// relaxesStrict reports whether the agent relaxes Patroni's strict
// synchronous mode after a promotion that leaves no standby: onStandbyDown
// "block" with synchronous replication.
func relaxesStrict(s *schema.Streaming) bool {
	return s.Synchronous && s.OnStandbyDown == "block"
}

// patroniTimers are the DCS timers from failoverAfter (validated ≥ 3).
func patroniTimers(s *schema.Streaming) budget.PatroniTimers {
	t, _ := budget.PatroniTimersFor(s.FailoverAfter)
	return t
}

// Patroni 3.0.2's configuration file, the keys hagen sets, in the order of
// Patroni's documentation.
type patroniConfig struct {
	Scope     string          `yaml:"scope"`
	Namespace string          `yaml:"namespace"`
	Name      string          `yaml:"name"`
	Log       patroniLog      `yaml:"log"`
	RestAPI   patroniRestAPI  `yaml:"restapi"`
	Etcd      patroniEtcd     `yaml:"etcd"`
	Bootstrap patroniBoot     `yaml:"bootstrap"`
	Postgres  patroniPostgres `yaml:"postgresql"`
	Watchdog  patroniWatchdog `yaml:"watchdog"`
	Tags      patroniTags     `yaml:"tags"`
}

type patroniLog struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

type patroniRestAPI struct {
	Listen         string `yaml:"listen"`
	ConnectAddress string `yaml:"connect_address"`
}

type patroniEtcd struct {
	Hosts    []string `yaml:"hosts"`
	Protocol string   `yaml:"protocol"`
}

type patroniBoot struct {
	DCS           patroniDCS `yaml:"dcs"`
	Initdb        []any      `yaml:"initdb"`
	PgHBA         []string   `yaml:"pg_hba"`
	PostBootstrap string     `yaml:"post_bootstrap"`
}

type patroniDCS struct {
	TTL                  int                `yaml:"ttl"`
	LoopWait             int                `yaml:"loop_wait"`
	RetryTimeout         int                `yaml:"retry_timeout"`
	MaxLagOnFailover     int                `yaml:"maximum_lag_on_failover"`
	SynchronousMode      bool               `yaml:"synchronous_mode"`
	SynchronousStrict    bool               `yaml:"synchronous_mode_strict"`
	SynchronousNodeCount int                `yaml:"synchronous_node_count"`
	FailsafeMode         bool               `yaml:"failsafe_mode"`
	CheckTimeline        bool               `yaml:"check_timeline"`
	Postgres             patroniDCSPostgres `yaml:"postgresql"`
}

type patroniDCSPostgres struct {
	UsePgRewind bool           `yaml:"use_pg_rewind"`
	UseSlots    bool           `yaml:"use_slots"`
	Parameters  map[string]any `yaml:"parameters"`
}

type patroniPostgres struct {
	Listen         string              `yaml:"listen"`
	ConnectAddress string              `yaml:"connect_address"`
	DataDir        string              `yaml:"data_dir"`
	BinDir         string              `yaml:"bin_dir"`
	CustomConf     string              `yaml:"custom_conf"`
	PgPass         string              `yaml:"pgpass"`
	UseUnixSocket  bool                `yaml:"use_unix_socket"`
	Basebackup     []map[string]string `yaml:"basebackup"`
	Authentication patroniAuth         `yaml:"authentication"`
	Parameters     map[string]string   `yaml:"parameters"`
	Callbacks      map[string]string   `yaml:"callbacks,omitempty"`
}

type patroniAuth struct {
	Superuser   patroniUser `yaml:"superuser"`
	Replication patroniUser `yaml:"replication"`
	Rewind      patroniUser `yaml:"rewind"`
}

type patroniUser struct {
	Username string `yaml:"username"`
}

type patroniWatchdog struct {
	Mode string `yaml:"mode"`
}

type patroniTags struct {
	NoFailover    bool `yaml:"nofailover"`
	NoLoadBalance bool `yaml:"noloadbalance"`
	CloneFrom     bool `yaml:"clonefrom"`
	NoSync        bool `yaml:"nosync"`
}

// patroniRunView is run.sh.
type patroniRunView struct {
	Header, Site, Role, Config, NativeConfig string
	PGData, SockDir, RunDir, MarkDir         string
	RestUser                                 string
	// Members are the etcd client URLs and InitializeKey the v2 key a
	// standby with an empty data directory waits for.
	Members       []string
	InitializeKey string
	// Agent: the agent's OS user, socket link and role (agent.go).
	Agent agentDatabase
}

type patroniScriptView struct {
	Header, Site, Database, SockDir, Mark, API string
	Port                                       int
	Agent                                      agentDatabase
	// CallbackTimeout bounds on_role_change's REST question, in seconds.
	CallbackTimeout int
}

func (patroniComponent) site(v *siteView) {
	t := v.T
	if !t.ManagedByPatroni() || v.Role == "" || t.Database.Streaming.Patroni == nil {
		return
	}
	db := t.Database
	s := db.Streaming
	hdr := header(v.Spec, "#")
	both := v.Compose && v.Systemd
	conf := patroniConfigFor(v, !v.Compose)
	if !v.patroniFile("patroni/patroni.yml", conf, !v.Compose) {
		return
	}
	nativeConfig := ""
	if both {
		if !v.patroniFile("patroni/patroni.systemd.yml", patroniConfigFor(v, true), true) {
			return
		}
		nativeConfig = patroniDir + "/patroni.systemd.yml"
	}
	run := patroniRunView{
		Header: hdr, Site: v.Site.Name, Role: v.Role,
		Config: patroniDir + "/patroni.yml", NativeConfig: nativeConfig,
		PGData: pgData, SockDir: pgSockDir, RunDir: pgRunDir, MarkDir: patroniMarkDir,
		RestUser:      patroniRestUser,
		InitializeKey: "/v2/keys" + patroniNamespace + t.Name + "/initialize",
		Agent:         newAgentDatabase(v),
	}
	for _, m := range v.d.etcdMembers() {
		run.Members = append(run.Members, m.ClientURL)
	}
	v.file("patroni/run.sh", 0o755, contract.ReaderShell, "site/patroni/run.sh.tmpl", run)
	scripts := patroniScriptView{
		Header: hdr, Site: v.Site.Name, Database: db.Name, SockDir: pgSockDir, Mark: patroniMark,
		API: fmt.Sprintf("http://127.0.0.1:%d", s.HealthPort), Port: db.Port,
		Agent: newAgentDatabase(v), CallbackTimeout: int(patroniCallbackTimeout / time.Second),
	}
	v.file("patroni/post_bootstrap.sh", 0o755, contract.ReaderShell, "site/patroni/post_bootstrap.sh.tmpl", scripts)
	if relaxesStrict(s) {
		v.file("patroni/on_role_change.sh", 0o755, contract.ReaderShell, "site/patroni/on_role_change.sh.tmpl", scripts)
	}

	// Patroni reads all three: the superuser's password (superuser and
	// pg_rewind), the replication password and its REST API's.
	secrets := []secretUse{
		{secretDBPassword, db.Password},
		{secretReplPassword, s.ReplicationPassword},
		{secretRestPassword, s.Patroni.RestAPIPassword},
	}
	svc := &service{
		Name:    db.Service,
		Unit:    "patroni",
		Label:   "database",
		What:    fmt.Sprintf("Patroni with PostgreSQL %d", db.Version),
		Runs:    fmt.Sprintf("Patroni with PostgreSQL %d (%s at the first start)", db.Version, v.Role),
		Product: "Patroni with PostgreSQL",
		Image:   t.Render.NodeImage,
		Script:  "patroni/run.sh",
		Env:     v.nodeEnv(),
		Secrets: secrets,
		Mounts:  []string{"patroni", "postgres", "lib"},
		Volumes: []volume{{Name: "pgdata", Target: pgData}, {Name: "patroni-mark", Target: patroniMarkDir}},
		Ports: []port{
			{Published: db.PublishedPort, Target: db.Port},
			{Published: s.HealthPort, Target: s.HealthPort},
		},
		Health: &healthCheck{
			// 200 while PostgreSQL runs, primary or replica.
			Test:     []string{"curl", "-sf", "-o", "/dev/null", "-m", "2", fmt.Sprintf("http://127.0.0.1:%d/health", s.HealthPort)},
			Interval: "2s", Timeout: "5s", Retries: 3, StartAfter: "120s",
		},
		DependsOn: []dependency{{Service: svcEtcd}},
		// SIGTERM: Patroni stops PostgreSQL and hands the leader lock
		// over before it exits.
		StopSignal: "SIGTERM",
		StopGrace:  "30s",
		Native: native{
			Comment: []string{
				"Patroni on site " + v.Site.Name + ": runs " + v.installPath("patroni/run.sh") + " as root, which starts Patroni as the",
				"postgres user; Patroni runs PostgreSQL " + fmt.Sprint(db.Version) + " on port " + fmt.Sprint(db.PublishedPort) + ". KillMode=process: systemd must",
				"leave PostgreSQL to Patroni, which stops it and releases the leader lock.",
			},
			KillMode:    "process",
			TimeoutStop: "60",
		},
	}
	if both {
		svc.Native.Env = []envVar{{"HAGEN_PATRONI_CONFIG", nativeConfig}}
	}
	v.service(svc)
	v.rb.Parts["patroni"] = &rbPatroniSite{
		Member: v.Site.Name, Slot: schema.PatroniSlot(v.Site.Name),
		API:     fmt.Sprintf("http://%s:%d", v.Site.Address, s.HealthPort),
		NoSync:  conf.Tags.NoSync,
		Primary: v.Role == "primary",
	}
}

// patroniFile renders one Patroni configuration file; false after a
// failure.
func (v *siteView) patroniFile(p string, c patroniConfig, native bool) bool {
	s := v.T.Database.Streaming
	tm := patroniTimers(s)
	target := "in the container (compose)"
	if native {
		target = "on the host (systemd units)"
	}
	head := header(v.Spec, "#") +
		"# Patroni on site " + commentText(v.Site.Name) + " (" + v.Site.Address + "), for PostgreSQL running " + target + ".\n" +
		"# No secret is in this file: patroni/run.sh sets them in Patroni's environment\n" +
		"# (PATRONI_SUPERUSER_PASSWORD and PATRONI_REWIND_PASSWORD from database.password,\n" +
		"# PATRONI_REPLICATION_PASSWORD, PATRONI_RESTAPI_USERNAME and PATRONI_RESTAPI_PASSWORD).\n" +
		"# bootstrap is read once, when the cluster is initialised: change a running\n" +
		"# cluster's settings with patronictl edit-config (RUNBOOK.md).\n"
	strict := []string{"onStandbyDown \"async\": a standby that is lost is dropped from", "synchronous_standby_names, and writes go on."}
	if c.Bootstrap.DCS.SynchronousStrict {
		strict = []string{
			"onStandbyDown \"block\": writes wait for the synchronous standby; after a",
			"promotion that leaves no standby the agent turns strict mode off until one",
			"streams again.",
		}
	}
	comments := map[string][]string{
		"etcd": {"etcd's v2 keyspace (etcd runs with enable-v2)."},
		"bootstrap.dcs.ttl": {fmt.Sprintf("failoverAfter = %d s: ttl %d, loop_wait %d, retry_timeout %d (loop_wait + 2 × retry_timeout ≤ ttl).",
			s.FailoverAfter, tm.TTL, tm.LoopWait, tm.RetryTimeout)},
		"bootstrap.dcs.synchronous_mode_strict": strict,
		"bootstrap.dcs.failsafe_mode": {
			"The primary keeps running while etcd is unreachable or without a majority,",
			"as long as it reaches every member's REST API.",
		},
		"bootstrap.dcs.check_timeline": {"Needs the local replication line of pg_hba.conf (127.0.0.1)."},
		"bootstrap.pg_hba":             {"patroni --validate-config requires it; the cluster reads hba_file."},
		"postgresql.custom_conf":       {"hagen's postgresql.conf without the settings Patroni owns."},
		"postgresql.basebackup":        {"A new replica is a pg_basebackup of the leader, without a spread checkpoint."},
		"watchdog": {
			"/dev/watchdog where the host has one; Patroni uses none while ttl is below",
			"about 2 × loop_wait plus its safety margin.",
		},
	}
	if _, ok := c.Postgres.Callbacks["on_role_change"]; ok {
		comments["postgresql.callbacks"] = []string{"Marks a promotion that leaves no streaming standby (see agent/agent.json)."}
	}
	data, err := yamlDoc(head, c, comments)
	if err != nil {
		v.d.b.fail(fmt.Errorf("render %s for %s: %w", p, v.Site.Name, err))
		return false
	}
	v.d.b.add(v.path(p), 0o644, contract.ReaderPatroni, data)
	return true
}

// patroniConfigFor is the site's Patroni configuration; native for the
// server on the host (no port mapping: PostgreSQL listens on the
// published port, and reads the native pg_hba.conf).
func patroniConfigFor(v *siteView, native bool) patroniConfig {
	t := v.T
	db := t.Database
	s := db.Streaming
	tm := patroniTimers(s)
	var hosts []string
	for _, m := range v.d.etcdMembers() {
		hosts = append(hosts, fmt.Sprintf("%s:%d", m.Address, s.Patroni.EtcdClientPort))
	}
	dataSites := 0
	for _, site := range t.Sites {
		if v.d.role(site.Name) != "" {
			dataSites++
		}
	}
	senders := max(pgMinWalSenders, 2*dataSites+2)
	wait := fmt.Sprintf("%ds", max(3, s.FailoverAfter))
	listen := db.Port
	hba := pgHBAFile
	if native {
		listen = db.PublishedPort
		if v.Compose {
			hba = etcDir + "/" + pgHBANative
		}
	}
	local := "local all all peer"
	if db.Superuser != "postgres" {
		local += " map=" + pgIdentMap
	}
	c := patroniConfig{
		Scope:     t.Name,
		Namespace: patroniNamespace,
		Name:      v.Site.Name,
		Log:       patroniLog{Level: "INFO", Format: "%(asctime)s %(levelname)s: %(message)s"},
		RestAPI: patroniRestAPI{
			Listen:         fmt.Sprintf("0.0.0.0:%d", s.HealthPort),
			ConnectAddress: fmt.Sprintf("%s:%d", v.Site.Address, s.HealthPort),
		},
		Etcd: patroniEtcd{Hosts: hosts, Protocol: "http"},
		Bootstrap: patroniBoot{
			DCS: patroniDCS{
				TTL: tm.TTL, LoopWait: tm.LoopWait, RetryTimeout: tm.RetryTimeout,
				MaxLagOnFailover:     patroniMaxLagOnFailover,
				SynchronousMode:      s.Synchronous,
				SynchronousStrict:    relaxesStrict(s),
				SynchronousNodeCount: max(1, s.SynchronousCount),
				FailsafeMode:         true,
				CheckTimeline:        true,
				Postgres: patroniDCSPostgres{
					UsePgRewind: true,
					UseSlots:    true,
					Parameters: map[string]any{
						"wal_level":             "replica",
						"hot_standby":           "on",
						"wal_log_hints":         "on",
						"max_connections":       pgMaxConnections,
						"max_wal_senders":       senders,
						"max_replication_slots": senders,
						"wal_keep_size":         "256MB",
						"synchronous_commit":    "on",
						// A lost standby or primary is noticed after this
						// long, not after the default 60 s.
						"wal_sender_timeout":          wait,
						"wal_receiver_timeout":        wait,
						"wal_retrieve_retry_interval": "1s",
					},
				},
			},
			Initdb: []any{
				"data-checksums",
				map[string]string{"encoding": "UTF8"},
				map[string]string{"locale": "C.UTF-8"},
				map[string]string{"auth-local": "peer"},
				map[string]string{"auth-host": "scram-sha-256"},
			},
			PgHBA:         []string{local},
			PostBootstrap: patroniDir + "/post_bootstrap.sh",
		},
		Postgres: patroniPostgres{
			Listen:         fmt.Sprintf("0.0.0.0:%d", listen),
			ConnectAddress: fmt.Sprintf("%s:%d", v.Site.Address, db.PublishedPort),
			DataDir:        pgData,
			BinDir:         pgBin(db.Version),
			CustomConf:     pgConfFile,
			PgPass:         patroniPassFile,
			UseUnixSocket:  true,
			Basebackup:     []map[string]string{{"checkpoint": "fast"}},
			Authentication: patroniAuth{
				Superuser:   patroniUser{db.Superuser},
				Replication: patroniUser{s.ReplicationUser},
				Rewind:      patroniUser{db.Superuser},
			},
			Parameters: map[string]string{
				"unix_socket_directories": pgSockDir,
				"hba_file":                hba,
				"ident_file":              pgIdentFile,
			},
		},
		Watchdog: patroniWatchdog{Mode: "automatic"},
		Tags: patroniTags{
			NoSync: s.Synchronous && !slices.Contains(s.SynchronousStandbyNames, v.Site.Name) && v.Role == "standby",
		},
	}
	if relaxesStrict(s) {
		c.Postgres.Callbacks = map[string]string{"on_role_change": patroniDir + "/on_role_change.sh"}
	}
	return c
}

// patroniInventory is inventory.json's Patroni section, made on first use.
func (d *deployment) patroniInventory() *contract.InventoryPatroni {
	if d.inv.Database.Patroni == nil {
		d.inv.Database.Patroni = &contract.InventoryPatroni{}
	}
	return d.inv.Database.Patroni
}

// rbPatroniSite is a site's part of the RUNBOOK's Patroni sections.
type rbPatroniSite struct {
	Member, Slot, API string
	NoSync, Primary   bool
}

// rbPatroni is the RUNBOOK's Patroni sections (Parts["patroni"]).
type rbPatroni struct {
	Scope, Namespace, Config, RestUser, RestVar string
	TTL, LoopWait, RetryTimeout, FailoverAfter  int
	HealthPort, PublishedPort                   int
	Synchronous, Strict, Relaxes                bool
	Primary                                     *rbSite
	Sites                                       []*rbSite // database sites
	Witnesses                                   []*rbSite
	Endpoints                                   string // etcdctl --endpoints
	Members                                     []etcdMember
	PeerPort                                    int
	Budget                                      string // promotion budget, in words
	VIPBudget                                   string
	Mark                                        string
	// Ctl runs patronictl in the database service of a site; CtlAuth
	// the same with the REST API's credentials (switchover, pause,
	// edit-config, reinit), read from the service's secret.
	Ctl, CtlAuth string
}

func (patroniComponent) tree(d *deployment) {
	t := d.t
	if !t.ManagedByPatroni() || t.Database.Streaming.Patroni == nil {
		return
	}
	s := t.Database.Streaming
	tm := patroniTimers(s)
	inv := d.patroniInventory()
	inv.Scope, inv.Namespace = t.Name, patroniNamespace
	inv.RestPort, inv.RestUser = s.HealthPort, patroniRestUser
	inv.TTL, inv.LoopWait, inv.RetryTimeout = tm.TTL, tm.LoopWait, tm.RetryTimeout
	inv.SynchronousMode, inv.SynchronousModeStrict = s.Synchronous, relaxesStrict(s)
	inv.Relaxed = relaxesStrict(s)
	inv.FailsafeMode = true
	inv.EtcdAPI = "v2"
	if relaxesStrict(s) {
		inv.PromotedAloneMark = patroniMark
	}
	d.inv.Database.Manager = s.Manager

	rv := d.rv
	r := &rbPatroni{
		Scope: t.Name, Namespace: patroniNamespace, Config: patroniDir + "/patroni.yml",
		RestUser: patroniRestUser, RestVar: secretRestPassword,
		TTL: tm.TTL, LoopWait: tm.LoopWait, RetryTimeout: tm.RetryTimeout, FailoverAfter: s.FailoverAfter,
		HealthPort: s.HealthPort, PublishedPort: t.Database.PublishedPort,
		Synchronous: s.Synchronous, Strict: relaxesStrict(s), Relaxes: relaxesStrict(s),
		Members: d.etcdMembers(), PeerPort: s.Patroni.EtcdPeerPort, Mark: patroniMark,
		Budget: termWords(budget.PatroniPromotion(tm)),
	}
	r.Ctl = fmt.Sprintf("%s exec %s patronictl -c %s", runbookComposePrefix, t.Database.Service, r.Config)
	r.CtlAuth = fmt.Sprintf("%s exec %s bash -c %s patronictl", runbookComposePrefix, t.Database.Service,
		shWord(fmt.Sprintf(`. /etc/hagen/lib/hagen.sh && PATRONI_RESTAPI_USERNAME=%s PATRONI_RESTAPI_PASSWORD="$(secret %s)" exec patronictl -c %s "$@"`,
			patroniRestUser, secretRestPassword, r.Config)))
	var eps []string
	for _, m := range r.Members {
		eps = append(eps, m.ClientURL)
	}
	r.Endpoints = strings.Join(eps, ",")
	for _, site := range rv.Sites {
		switch {
		case site.Role == "primary":
			r.Primary = site
			r.Sites = append(r.Sites, site)
		case site.Role != "":
			r.Sites = append(r.Sites, site)
		case d.site(site.Name).Witness:
			r.Witnesses = append(r.Witnesses, site)
		}
	}
	rv.Parts["patroni"] = r
	rv.section(slotSetup, "runbook/patroni-setup.md.tmpl")
	rv.section(slotOperate, "runbook/patroni-operate.md.tmpl")
	if rv.SystemdTarget {
		rv.section(slotNative, "runbook/patroni-native.md.tmpl")
	}
}

// agentPatroni turns the agent's configuration into the Patroni keeper's:
// no HTTP (Patroni's REST API is on the health port), and the local
// Patroni's API and the callback's mark.
func agentPatroni(v *siteView, cfg *contract.AgentConfig) {
	s := v.T.Database.Streaming
	cfg.Listen = ""
	cfg.AlsoListen = nil
	cfg.AllowFrom = nil
	peers := cfg.Peers[:0]
	for _, p := range cfg.Peers {
		if v.d.role(p.Site) != "" {
			peers = append(peers, p)
		}
	}
	cfg.Peers = peers
	cfg.Patroni = &contract.AgentPatroni{
		API:               fmt.Sprintf("http://%s:%d", v.Site.Address, s.HealthPort),
		User:              patroniRestUser,
		PasswordEnv:       secretRestPassword,
		PasswordFileEnv:   secretRestPassword + "_FILE",
		PromotedAloneMark: patroniMark,
		IntervalMs:        int(patroniAgentInterval / time.Millisecond),
	}
}

// termWords is a budget term as the RUNBOOK says it: "7.5 s (ttl 3s + …)".
func termWords(t budget.Term) string {
	return fmt.Sprintf("%s (%s)", budget.Seconds(t.Value), t.Formula)
}

// budgets are the failover paths Patroni decides: after the leader's node
// is lost, its lock expires and the standby is promoted
// (budget.PatroniPromotion); the VIP follows /primary within a check and
// a VRRP version 3 takeover; HAProxy marks the old leader down and the
// new one up.
func (patroniComponent) budgets(t *schema.Topology) []pathBudget {
	if !t.ManagedByPatroni() {
		return nil
	}
	tm := patroniTimers(t.Database.Streaming)
	promote := budget.PatroniPromotion(tm)
	// Writes after a promotion that left no standby wait until the agent
	// relaxes strict mode (onStandbyDown "block" with one standby).
	writable := []budget.Term{promote}
	if relaxesStrict(t.Database.Streaming) {
		writable = append(writable, budget.PatroniRelaxStrict(patroniCallbackTimeout, patroniAgentInterval, time.Duration(tm.LoopWait)*time.Second))
	}
	var out []pathBudget
	if v := t.VIP; v != nil {
		lowest := 255
		for _, p := range v.Priorities {
			lowest = min(lowest, p)
		}
		follow := budget.PatroniVIP(patroniCheckInterval*time.Second, patroniVRRPAdvert, lowest)
		out = append(out,
			pathBudget{contract.BudgetPathVIP, contract.BudgetFaultPrimaryLost, budget.Sum("the VIP moves to the promoted standby", promote, follow)},
			pathBudget{contract.BudgetPathVIPWrites, contract.BudgetFaultPrimaryLost, budget.Sum("writes through the VIP after the primary is lost", append(slices.Clone(writable), follow)...)})
	}
	if p := t.Proxy; p != nil && p.Fronts == "database" {
		inter, connect, check := millis(p.Check.Interval), millis(haproxyConnectTimeoutMs), millis(haproxyCheckTimeoutMs)
		down := budget.Sum("the lost primary marked down", budget.HAProxyDown(inter, p.Check.Fall, connect, check))
		up := budget.Sum("the promoted standby marked up", append(slices.Clone(writable), budget.HAProxyUp(inter, p.Check.Rise, connect, check))...)
		out = append(out, pathBudget{contract.BudgetPathHAProxy, contract.BudgetFaultPrimaryLost,
			budget.Max("writes through HAProxy after the primary is lost", down, up)})
	}
	return out
}

// agentPatroniNative adapts the agent's native unit to Patroni: the
// agent's user comes from patroni/run.sh, and it removes the callback's
// mark below an otherwise read-only file system.
func agentPatroniNative(s *service) {
	s.Native.Comment = []string{
		"The hagen binary must be installed at " + agentBinary + ".",
		"It runs as " + contract.AgentRole + " (created by patroni/run.sh), which PostgreSQL admits",
		"over its socket by peer authentication; it reads the REST API's password only.",
	}
	s.Native.Hardening = append(s.Native.Hardening, "ReadWritePaths=-"+patroniMarkDir)
}
