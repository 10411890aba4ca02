package render

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hagen-ha/hagen/schema"
)

// Paths of the keepalived concern inside the container.
const (
	keepalivedDir = etcDir + "/keepalived"
	// keepalivedRun holds what run.sh writes at start: the authentication
	// include (the only place the VRRP password is ever written), the lock
	// that serialises notify.sh and the last VRRP state it handled.
	keepalivedRun = "/run/hagen/keepalived"
)

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
	// Witness is the address the split-brain checker pings; empty when
	// database.streaming.witness is unset.
	Witness  string
	Ping     string
	CheckSh  string
	NotifySh string
	RunDir   string
	Conf     string

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
	// SyncNames is what a node promoted here sets synchronous_standby_names
	// to, SyncReason the reason it logs; see syncAfterPromotion.
	SyncNames  string
	SyncReason string
}

type keepalivedPeer struct {
	Name    string
	Address string
}

// renderKeepalived writes the VRRP configuration and its scripts for a site
// that carries the virtual IP: run.sh (entrypoint), check.sh (tracks the
// local database), notify.sh (promotes on MASTER, fences on BACKUP, FAULT
// and STOP) and keepalived.conf.
func renderKeepalived(b *builder, v *siteView) {
	if !v.VIP {
		return
	}
	vip := v.T.VIP
	lan, err := netip.ParsePrefix(v.Site.LAN)
	if err != nil {
		b.fail(fmt.Errorf("render keepalived for %s: %w", v.Site.Name, err))
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
		Ping:           "/usr/bin/ping",
		CheckSh:        keepalivedDir + "/check.sh",
		NotifySh:       keepalivedDir + "/notify.sh",
		RunDir:         keepalivedRun,
		Conf:           keepalivedDir + "/keepalived.conf",
		DBPort:         v.T.Database.PublishedPort,
		DBUser:         v.T.Database.Superuser,
		DBName:         v.T.Database.Name,
		Role:           v.Role,
	}
	if vip.Auth != "" {
		view.AuthInclude = keepalivedRun + "/auth.conf"
	}
	for _, p := range v.Peers {
		if v.T.CarriesVIP(p.Name) {
			view.Peers = append(view.Peers, keepalivedPeer{p.Name, p.Address})
		}
	}
	if s := v.T.Database.Streaming; s != nil {
		view.Streaming = true
		view.Witness = s.Witness
		for _, p := range v.Peers {
			view.DBPeers = append(view.DBPeers, keepalivedPeer{p.Name, p.Address})
		}
		view.SyncNames, view.SyncReason = syncAfterPromotion(s, v.Site.Name)
	}
	b.addTemplate(v.path("keepalived/keepalived.conf"), 0o644, "keepalived.conf.tmpl", view)
	b.addTemplate(v.path("keepalived/run.sh"), 0o755, "keepalived-run.sh.tmpl", view)
	b.addTemplate(v.path("keepalived/check.sh"), 0o755, "keepalived-check.sh.tmpl", view)
	b.addTemplate(v.path("keepalived/notify.sh"), 0o755, "keepalived-notify.sh.tmpl", view)
}

// syncAfterPromotion is the synchronous_standby_names a node sets when it
// is promoted on site, and why. The standbys that remain are the spec's
// synchronous names other than the promoted site's own. A two-node
// synchronous pair has none left: keeping the setting would block every
// write of the new primary (the Inmanta document comments it out on the
// standby for this reason), so it is cleared whatever onStandbyDown says.
// With standbys left, onStandbyDown decides: "block" keeps them
// synchronous, "async" commits without waiting until one reconnects.
func syncAfterPromotion(s *schema.Streaming, site string) (names, reason string) {
	if !s.Synchronous {
		return "", "replication is asynchronous (database.streaming.synchronous: false)"
	}
	own := ""
	if sb := s.Standby(site); sb != nil {
		own = sb.ApplicationName
	}
	var left []string
	for _, n := range s.SynchronousStandbyNames {
		if n != own {
			left = append(left, n)
		}
	}
	if len(left) == 0 {
		return "", "no synchronous standby is left after this promotion; keeping synchronous_standby_names would block every write"
	}
	if s.OnStandbyDown == "async" {
		return "", "onStandbyDown is async: commit without waiting until a standby reconnects"
	}
	return strings.Join(left, ", "), "onStandbyDown is block: the remaining standbys stay synchronous"
}
