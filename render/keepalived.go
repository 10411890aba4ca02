package render

import (
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/internal/budget"
	"github.com/hagen-ha/hagen/schema"
)

// keepalivedComponent is the virtual IP: keepalived on every site that
// carries it, with run.sh (entrypoint), check.sh (tracks the local
// database), notify.sh (promotes on MASTER, fences on BACKUP, FAULT and
// STOP) and keepalived.conf.
type keepalivedComponent struct{}

// Paths of the keepalived concern inside the container.
const (
	// svcKeepalived is keepalived's compose service.
	svcKeepalived = "keepalived"
	keepalivedDir = etcDir + "/keepalived"
	// keepalivedRun holds what run.sh writes at start: the authentication
	// include (the only place the VRRP password is ever written), the
	// FIFO keepalived writes its state changes to (notify.sh reads it) and
	// the last VRRP state notify.sh handled.
	keepalivedRun = "/run/hagen/keepalived"
)

// notify.sh's timers. Before it asks a peer's database, a TCP connect to
// its port must succeed within notifyProbeMs (a dead or cut-off peer costs
// that, not a connect timeout); every psql it runs ends after
// notifySQLTimeout seconds, connecting included (a peer that accepts the
// connection and then hangs, a frozen node, costs that); it waits up to
// notifyPromoteWait seconds for pg_promote, then goes on waiting for the
// promotion without holding up the next state change's handling longer
// than the promotion takes.
const (
	notifyProbeMs     = 500
	notifySQLTimeout  = 3
	notifyPromoteWait = 5
)

// checkTimeoutRuns is a track script's timeout in intervals (see
// keepalived.conf.tmpl).
const checkTimeoutRuns = 3

// keepalivedView is everything the keepalived templates print.
type keepalivedView struct {
	Header   string
	Site     string
	Instance string
	// Interface, RouterID, Priority, AdvertInterval: the VRRP instance.
	Interface      string
	RouterID       int
	Priority       int
	AdvertInterval int
	// SrcIP is this site's address, Peers the other VIP sites'.
	SrcIP string
	Peers []keepalivedPeer
	// VIP is "<address>/<lan prefix>".
	VIP string
	// AuthInclude is the file run.sh writes from VRRP_AUTH_PASS; empty
	// when the spec sets no vip.auth.
	AuthInclude string
	Check       schema.Check
	// CheckTimeout is every track script's timeout: checkTimeoutRuns
	// intervals.
	CheckTimeout int
	// Witness is the address the split-brain checker pings; empty when
	// database.streaming.witness is unset.
	Witness string
	Ping    string
	// PrimaryCheck asks the local agent whether the database here is the
	// writable primary; PrimaryWeight is added to the priority while it
	// is (see primaryWeight).
	PrimaryCheck  string
	PrimaryWeight int
	CheckSh       string
	NotifySh      string
	NotifyFifo    string
	RunDir        string
	Conf          string

	// What check.sh and notify.sh need of the database.
	DBPort    int
	DBUser    string
	DBName    string
	Streaming bool
	// Role is this site's role in the spec (primary or standby).
	Role string
	// DBPeers are the other database sites notify.sh inspects and fences:
	// every other site in primary-standby mode.
	DBPeers []keepalivedPeer
	// HealthPort is the agents' port (check.sh reads the peers' /health).
	HealthPort int
	// What a node promoted here does with synchronous replication: see
	// syncCandidates.
	Synchronous   bool
	OnStandbyDown string
	SyncStandbys  []syncStandby
	// Followers are the other database sites as standbys of this node,
	// for notify.sh to make a peer that answered as a standby follow this
	// node once it promoted (several standbys; with one peer, that peer is
	// the primary that was lost).
	Followers []follower
	// AgentRoleSQL creates the agent's role on a node that becomes the
	// writable primary (notify.sh); empty without an agent.
	AgentRoleSQL string
	// ProbeTimeout (seconds, "0.5"), SQLTimeout and PromoteWait:
	// notify.sh's timers.
	ProbeTimeout            string
	SQLTimeout, PromoteWait int

	// SyncMethod (FIRST or ANY) and SyncCount: how many of SyncStandbys
	// confirm a commit, as the spec says.
	SyncMethod string
	SyncCount  int

	// Witnesses are the addresses the split-brain checker (WitnessSh)
	// pings; WitnessNeed how many must answer (a majority). Empty without
	// a witness.
	Witnesses   []string
	WitnessNeed int
	WitnessSh   string

	// TLS: notify.sh verifies the peers' certificates against the CA
	// (security.tls.ca, in HAGEN_TLS_CA_FILE) and uses TLS without a
	// check on loopback.
	TLS bool
	// ProxyOnly: the VIP moves between HAProxy hosts; the track script
	// (CheckName) checks that HAProxy accepts on ProxyPort.
	ProxyOnly bool
	ProxyPort int
	CheckName string
	// VRRPv3: the VIP is IPv6, which keepalived speaks in VRRP version 3.
	VRRPv3 bool
}

type keepalivedPeer struct {
	Name    string
	Address string
	// URLHost is the address as the host of a URL (IPv6 in brackets).
	URLHost string
}

// follower is a peer as a standby of this node: the replication slot it
// streams over here and the primary_conninfo that points it here (a
// password file on the peer, never a password).
type follower struct {
	Name, Address, Slot, Conninfo string
}

// syncStandby is a site whose standby may stay synchronous after a
// promotion, and its application_name.
type syncStandby struct {
	Site            string
	ApplicationName string
}

func (keepalivedComponent) packages() hostPackages {
	// ping for the witness, curl for the agents' health, ip for the VIP.
	return hostPackages{Packages: []string{"keepalived", "iputils-ping", "curl", "iproute2"}, DistUnits: []string{"keepalived"}}
}

func (keepalivedComponent) site(v *siteView) {
	if !v.VIP {
		return
	}
	if v.T.ManagedByPatroni() {
		keepalivedPatroni(v) // keepalived_patroni.go
		return
	}
	vip := v.T.VIP
	lan, err := netip.ParsePrefix(v.Site.LAN)
	if err != nil {
		v.d.b.fail(fmt.Errorf("render keepalived for %s: %w", v.Site.Name, err))
		return
	}
	view := keepalivedView{
		Header:         header(v.Spec, "#"),
		Site:           v.Site.Name,
		Instance:       "hagen_vip",
		Interface:      vip.Interface,
		RouterID:       vip.RouterID,
		Priority:       vip.Priorities[v.Site.Name],
		AdvertInterval: vip.AdvertInterval,
		SrcIP:          v.Site.Address,
		VIP:            fmt.Sprintf("%s/%d", vip.Address, lan.Bits()),
		Check:          vip.Check,
		CheckTimeout:   checkTimeoutRuns * vip.Check.Interval,
		Ping:           "/usr/bin/ping",
		CheckSh:        keepalivedDir + "/check.sh",
		NotifySh:       keepalivedDir + "/notify.sh",
		NotifyFifo:     keepalivedRun + "/notify.fifo",
		RunDir:         keepalivedRun,
		Conf:           keepalivedDir + "/keepalived.conf",
		DBPort:         v.T.Database.PublishedPort,
		DBUser:         v.T.Database.Superuser,
		DBName:         v.T.Database.Name,
		Role:           v.Role,
		ProbeTimeout:   fmt.Sprintf("%g", float64(notifyProbeMs)/1000),
		SQLTimeout:     notifySQLTimeout,
		PromoteWait:    notifyPromoteWait,
		ProxyOnly:      v.ProxyOnly,
		CheckName:      "hagen_database",
		VRRPv3:         isIPv6(vip.Address),
	}
	if v.ProxyOnly {
		view.ProxyPort, view.CheckName = v.T.Proxy.Port, "hagen_proxy"
	}
	if vip.Auth != "" {
		if view.VRRPv3 {
			v.d.b.fail(fmt.Errorf("render keepalived for %s: vip.auth: VRRP version 3 (an IPv6 virtual IP) has no authentication", v.Site.Name))
			return
		}
		view.AuthInclude = keepalivedRun + "/auth.conf"
	}
	for _, p := range v.peers() {
		if v.T.CarriesVIP(p.Name) {
			view.Peers = append(view.Peers, keepalivedPeer{p.Name, p.Address, urlHost(p.Address)})
		}
	}
	if s := v.T.Database.Streaming; s != nil && !v.ProxyOnly {
		view.Streaming = true
		view.Witnesses = s.WitnessList()
		if len(view.Witnesses) > 0 {
			view.Witness = joinComma(view.Witnesses)
			view.WitnessNeed = s.WitnessMajority()
			view.WitnessSh = keepalivedDir + "/witness.sh"
		}
		view.HealthPort = s.HealthPort
		for _, p := range v.dbPeers() {
			view.DBPeers = append(view.DBPeers, keepalivedPeer{p.Name, p.Address, urlHost(p.Address)})
		}
		if ss := v.streaming(); ss != nil && len(view.DBPeers) > 1 {
			for _, p := range v.dbPeers() {
				app, slot := standbyIdentity(v.d, p.Name)
				view.Followers = append(view.Followers, follower{p.Name, p.Address, slot,
					conninfo(v.Site.Host, v.T.Database.PublishedPort, s.ReplicationUser, app, ss.SSLMode)})
			}
		}
		healthPath, err := keepalivedWord(s.HealthPath)
		if err != nil {
			v.d.b.fail(fmt.Errorf("render keepalived for %s: database.streaming.healthPath: %w", v.Site.Name, err))
			return
		}
		view.PrimaryCheck = fmt.Sprintf("/usr/bin/curl -sf -o /dev/null -m 1 http://127.0.0.1:%d%s", s.HealthPort, healthPath)
		view.PrimaryWeight = primaryWeight(vip.Priorities)
		view.Synchronous = s.Synchronous
		view.OnStandbyDown = s.OnStandbyDown
		view.SyncStandbys = syncCandidates(s, v.Site.Name)
		view.AgentRoleSQL = newAgentDatabase(v).RoleSQL
		view.TLS = tlsOn(v.T)
		view.SyncMethod = contract.SyncKeyword(s.SynchronousMethod)
		view.SyncCount = s.SynchronousCount
	}
	v.file("keepalived/keepalived.conf", 0o644, contract.ReaderKeepalived, "site/keepalived/keepalived.conf.tmpl", view)
	v.file("keepalived/run.sh", 0o755, contract.ReaderShell, "site/keepalived/run.sh.tmpl", view)
	v.file("keepalived/check.sh", 0o755, contract.ReaderShell, "site/keepalived/check.sh.tmpl", view)
	v.file("keepalived/notify.sh", 0o755, contract.ReaderShell, "site/keepalived/notify.sh.tmpl", view)
	if view.WitnessSh != "" {
		v.file("keepalived/witness.sh", 0o755, contract.ReaderShell, "site/keepalived/witness.sh.tmpl", view)
	}

	db := v.T.Database
	// notify.sh reads the superuser's password (it fences and promotes),
	// run.sh the VRRP password; none reads the replication password. On
	// a proxyOnly site notify.sh only logs.
	var secrets []secretUse
	if !v.ProxyOnly {
		secrets = append(secrets, secretUse{secretDBPassword, db.Password})
	}
	if vip.Auth != "" {
		secrets = append(secrets, secretUse{secretVRRPAuth, vip.Auth})
	}
	if view.Streaming {
		secrets = append(secrets, tlsCASecret(v.T)...)
	}
	v.service(&service{
		Name:        svcKeepalived,
		Unit:        "keepalived",
		Label:       "vip",
		What:        "keepalived virtual IP " + vip.Address,
		Runs:        fmt.Sprintf("keepalived (priority %d)", view.Priority),
		Product:     "keepalived",
		Image:       v.T.Render.NodeImage,
		Script:      "keepalived/run.sh",
		Env:         v.nodeEnv(),
		Secrets:     secrets,
		Mounts:      []string{"keepalived", "lib"},
		HostNetwork: true,
		CapAdd:      []string{"NET_ADMIN", "NET_BROADCAST", "NET_RAW"},
		// The track script follows the database (or HAProxy); keepalived
		// must keep running (and give up the VIP) while it is down.
		DependsOn: []dependency{{Service: keepalivedTracks(v)}},
	})
	v.inv.VIPPriority = view.Priority
	v.rb.VIPPriority = view.Priority
}

// keepalivedTracks is the service keepalived's track script checks: the
// database, or HAProxy on a proxyOnly site.
func keepalivedTracks(v *siteView) string {
	if v.ProxyOnly {
		return svcHAProxy
	}
	return v.T.Database.Service
}

func (keepalivedComponent) tree(d *deployment) {
	t := d.t
	vip := t.VIP
	if vip == nil {
		return
	}
	var from []string
	for _, s := range t.Sites {
		if !s.Witness {
			from = append(from, s.Address)
		}
	}
	d.port(rbPort{"IP protocol 112 (VRRP)", "keepalived advertisements, unicast between the VIP nodes", joinComma(from)})

	inv := &contract.InventoryVIP{Address: vip.Address, Interface: vip.Interface, RouterID: vip.RouterID, Advert: vip.AdvertInterval,
		Check: contract.InventoryCheck{Interval: vip.Check.Interval, Fall: vip.Check.Fall, Rise: vip.Check.Rise}}
	for _, s := range t.Sites {
		if t.CarriesVIP(s.Name) {
			if p, err := netip.ParsePrefix(s.LAN); err == nil {
				inv.Prefix = p.Bits()
			}
			break
		}
	}
	d.inv.VIP = inv
	if t.ManagedByPatroni() {
		keepalivedPatroniTree(d, inv)
		return
	}

	rv := d.rv
	r := &rbVIP{
		Address: vip.Address, Interface: vip.Interface, Name: "vip." + t.Domain,
		RouterID: vip.RouterID, Advert: vip.AdvertInterval, Check: vip.Check,
		FaultAfter: vip.Check.Interval * vip.Check.Fall,
		OnProxies:  t.VIPOnProxies(),
	}
	for _, s := range rv.Sites {
		if s.VIPPriority > 0 {
			r.Sites = append(r.Sites, s)
		}
	}
	if len(r.Sites) == 0 {
		return // a site's keepalived failed to render; the render fails
	}
	sort.SliceStable(r.Sites, func(i, j int) bool { return r.Sites[i].VIPPriority > r.Sites[j].VIPPriority })
	r.Master = r.Sites[0]
	if t.Database.Streaming != nil && !r.OnProxies {
		r.PrimaryWeight = primaryWeight(vip.Priorities)
	}
	// A backup declares the master dead after 3 advertisements plus its
	// skew (vrrpTakeover).
	r.TakeoverMS = int(vrrpTakeover(t).Value / time.Millisecond)
	if inv.Prefix > 0 {
		r.Address = fmt.Sprintf("%s/%d", vip.Address, inv.Prefix)
	}
	rv.VIP = r
	rv.section(slotNetwork, "runbook/vip.md.tmpl")
}

// primaryWeight lifts the node with the writable primary above every other
// VIP node: one more than the spread of the priorities. Elections happen
// on a simultaneous start (a whole cluster restarting after a failover)
// and when two masters meet after a partition; the weight makes the VIP
// land where the data is writable instead of on the highest base
// priority, which would fence that primary and promote a standby.
// nopreempt still keeps a working master's VIP. keepalived caps an
// effective priority at 254.
func primaryWeight(prios map[string]int) int {
	lo, hi := 255, 0
	for _, p := range prios {
		lo, hi = min(lo, p), max(hi, p)
	}
	return hi - lo + 1
}

// syncCandidates are the standbys that may stay synchronous when the node
// on site is promoted: the spec's synchronous standbys other than site
// itself. notify.sh keeps those that answered as standbys just before the
// promotion, and only when onStandbyDown is "block"; the failed primary is
// never among them. With none left it clears synchronous_standby_names:
// in a two-node pair the other node is always the failed one, and keeping
// the setting would block every write of the new primary (the Inmanta
// document comments it out on the standby for this reason).
func syncCandidates(s *schema.Streaming, site string) []syncStandby {
	var out []syncStandby
	for _, name := range s.SynchronousStandbyNames {
		for _, sb := range s.Standbys {
			if sb.ApplicationName == name && sb.Site != site {
				out = append(out, syncStandby{sb.Site, sb.ApplicationName})
			}
		}
	}
	return out
}

// budgets: the VIP reaches a live node after its holder is lost or fails
// its database check; with streaming replication, writes through the VIP
// succeed again once the standby there is promoted.
func (keepalivedComponent) budgets(t *schema.Topology) []pathBudget {
	if t.VIP == nil || t.ManagedByPatroni() {
		return nil // with Patroni the VIP follows its leader: patroni.go
	}
	takeover, check := vrrpTakeover(t), trackScriptFall(t)
	out := []pathBudget{
		{contract.BudgetPathVIP, contract.BudgetFaultNodeLost, budget.Sum("the VIP moves after its node is lost", takeover)},
		{contract.BudgetPathVIP, contract.BudgetFaultDatabaseCheck, budget.Sum("the VIP moves after its database fails the check", check, takeover)},
	}
	if t.Database.Streaming != nil {
		promote := notifyPromotion()
		out = append(out,
			pathBudget{contract.BudgetPathVIPWrites, contract.BudgetFaultPrimaryLost, budget.Sum("writes through the VIP after the primary is lost", takeover, promote)},
			pathBudget{contract.BudgetPathVIPWrites, contract.BudgetFaultDatabaseCheck, budget.Sum("writes through the VIP after the primary's database fails", check, takeover, promote)})
	}
	return out
}

// vrrpTakeover is the worst-case takeover after the master stops
// advertising: every node can be the master, and the backup that takes
// over is the one with the highest priority left, so the worst case is
// the second-highest priority (the master's agent weight in
// primary-standby goes to the master only).
func vrrpTakeover(t *schema.Topology) budget.Term {
	first, second := 0, 0
	for _, p := range t.VIP.Priorities {
		switch {
		case p > first:
			first, second = p, first
		case p > second:
			second = p
		}
	}
	return budget.VRRPTakeover(seconds(t.VIP.AdvertInterval), second)
}

// trackScriptFall is keepalived's detection of a failed database check:
// keepalived.conf runs check.sh every vip.check.interval with a timeout
// of checkTimeoutRuns intervals, and vip.check.fall failures put the node
// in FAULT.
func trackScriptFall(t *schema.Topology) budget.Term {
	c := t.VIP.Check
	return budget.TrackScriptFall(seconds(c.Interval), seconds(checkTimeoutRuns*c.Interval), c.Fall)
}

// notifyPromotion is notify.sh MASTER on the new master: the lost primary
// costs at most its TCP probe and one bounded psql (a frozen node accepts
// the connection and answers nothing), then pg_promote's wait. It sets
// synchronous_standby_names in the same run, so no commit waits for the
// agent (failoverAfter 0).
func notifyPromotion() budget.Term {
	peer := time.Duration(notifyProbeMs)*time.Millisecond + seconds(notifySQLTimeout)
	return budget.Promotion(0, 1, peer, seconds(notifyPromoteWait))
}
