package render

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/internal/budget"
)

// With database.streaming.manager "patroni" the keepalived component
// renders this variant: the virtual IP follows Patroni's leader. A track
// script asks the local Patroni's GET /primary; every node that does not
// get 200 is in FAULT, so at most the leader is eligible. VRRP version 3
// with 0.2 s adverts moves the address within a second of the promotion.
// No notify script and no VRRP password: Patroni promotes and demotes,
// and VRRPv3 has no authentication. Beside keepalived runs the lease gate
// (lease-gate.sh): keepalived's and HAProxy's checks need seconds to let
// go of a node that lost the leader lock, the gate drops packets to the
// VIP there within a poll of Patroni's /primary.

// Fixed timers of the Patroni variant (the spec's vip.advertInterval and
// vip.check are refused with Patroni).
const (
	patroniVRRPAdvert = 200 * time.Millisecond
	// Patroni's /primary is checked every second, with 2 s to answer;
	// 4 failures in a row ride out failsafe mode's 503 windows, 1 success
	// moves the VIP to a promoted node.
	patroniCheckInterval = 1
	patroniCheckTimeout  = 2
	patroniCheckFall     = 4
	patroniCheckRise     = 1
)

// The lease gate's timers and chain: /primary every gatePoll, each answer
// within gateTimeout; gateSlow answers in a row that time out close the
// gate (an answer other than 200 closes it at once).
const (
	gatePoll    = 200 * time.Millisecond
	gateTimeout = 500 * time.Millisecond
	gateSlow    = 2
	gateChain   = "hagen-vip-lease"
)

// leaseGate is what the lease gate's script and its RUNBOOK paragraph
// print: its chain, timers (seconds, "0.2") and the packet filter command
// of the VIP's address family.
type leaseGate struct {
	GateChain, GatePoll, GateTimeout, GateIPTables string
	GateSlow                                       int
}

func leaseGateOf(vip string) leaseGate {
	ipt := "iptables"
	if isIPv6(vip) {
		ipt = "ip6tables"
	}
	return leaseGate{GateChain: gateChain, GatePoll: fmt.Sprintf("%g", gatePoll.Seconds()),
		GateTimeout: fmt.Sprintf("%g", gateTimeout.Seconds()), GateIPTables: ipt, GateSlow: gateSlow}
}

type keepalivedPatroniView struct {
	keepalivedView
	leaseGate
	Advert       string
	CheckTimeout int
	// The lease gate's script, the URL it polls and the VIP's address
	// (no prefix).
	GateSh, GateURL, GateVIP string
}

// keepalivedPatroni renders keepalived for a site that carries the VIP
// with Patroni.
func keepalivedPatroni(v *siteView) {
	vip := v.T.VIP
	s := v.T.Database.Streaming
	lan, err := netip.ParsePrefix(v.Site.LAN)
	if err != nil {
		v.d.b.fail(fmt.Errorf("render keepalived for %s: %w", v.Site.Name, err))
		return
	}
	view := keepalivedPatroniView{
		keepalivedView: keepalivedView{
			Header:    header(v.Spec, "#"),
			Site:      v.Site.Name,
			Instance:  "hagen_vip",
			Interface: vip.Interface,
			RouterID:  vip.RouterID,
			Priority:  vip.Priorities[v.Site.Name],
			SrcIP:     v.Site.Address,
			VIP:       fmt.Sprintf("%s/%d", vip.Address, lan.Bits()),
			Conf:      keepalivedDir + "/keepalived.conf",
			PrimaryCheck: fmt.Sprintf("/usr/bin/curl -sf -o /dev/null -m %d http://%s:%d/primary",
				patroniCheckInterval, urlHost(v.Site.Address), s.HealthPort),
		},
		Advert:       "0.2",
		CheckTimeout: patroniCheckTimeout,
		leaseGate:    leaseGateOf(vip.Address),
		GateSh:       keepalivedDir + "/lease-gate.sh",
		GateURL:      shWord(fmt.Sprintf("http://%s:%d/primary", urlHost(v.Site.Address), s.HealthPort)),
		GateVIP:      vip.Address,
	}
	view.Check.Interval, view.Check.Fall, view.Check.Rise = patroniCheckInterval, patroniCheckFall, patroniCheckRise
	for _, p := range v.peers() {
		if v.T.CarriesVIP(p.Name) {
			view.Peers = append(view.Peers, keepalivedPeer{p.Name, p.Address, urlHost(p.Address)})
		}
	}
	v.file("keepalived/keepalived.conf", 0o644, contract.ReaderKeepalived, "site/keepalived/keepalived.conf.patroni.tmpl", view)
	v.file("keepalived/run.sh", 0o755, contract.ReaderShell, "site/keepalived/run.sh.patroni.tmpl", view)
	v.file("keepalived/lease-gate.sh", 0o755, contract.ReaderShell, "site/keepalived/lease-gate.sh.tmpl", view)
	// The gate's packet filter: a package of this variant only (the node
	// image carries it for verify's faults).
	v.uses(hostPackages{Packages: []string{"iptables"}})
	v.service(&service{
		Name:        svcKeepalived,
		Unit:        "keepalived",
		Label:       "vip",
		What:        "keepalived virtual IP " + vip.Address,
		Runs:        fmt.Sprintf("keepalived (priority %d, follows Patroni)", view.Priority),
		Product:     "keepalived",
		Image:       v.T.Render.NodeImage,
		Script:      "keepalived/run.sh",
		Env:         v.nodeEnv(),
		Mounts:      []string{"keepalived", "lib"},
		HostNetwork: true,
		CapAdd:      []string{"NET_ADMIN", "NET_BROADCAST", "NET_RAW"},
		DependsOn:   []dependency{{Service: v.T.Database.Service}},
	})
	v.inv.VIPPriority = view.Priority
	v.rb.VIPPriority = view.Priority
}

// keepalivedPatroniTree is the deployment-wide part of the variant: the
// inventory's VIP with the fixed timers, and the RUNBOOK's section.
func keepalivedPatroniTree(d *deployment, inv *contract.InventoryVIP) {
	inv.Advert = 0
	inv.AdvertMs = int(patroniVRRPAdvert / time.Millisecond)
	inv.Version = 3
	inv.Check = contract.InventoryCheck{Interval: patroniCheckInterval, Fall: patroniCheckFall, Rise: patroniCheckRise}
	rv := d.rv
	lowest := 255
	var sites []*rbSite
	for _, s := range rv.Sites {
		if s.VIPPriority > 0 {
			sites = append(sites, s)
			lowest = min(lowest, s.VIPPriority)
		}
	}
	vip := d.t.VIP
	address := vip.Address
	if inv.Prefix > 0 {
		address = fmt.Sprintf("%s/%d", vip.Address, inv.Prefix)
	}
	// The frame's facts (which sites carry which address); the section is
	// this variant's own.
	rv.VIP = &rbVIP{Address: vip.Address, Interface: vip.Interface, Name: "vip." + d.t.Domain, RouterID: vip.RouterID, Sites: sites}
	rv.Parts["patroniVIP"] = &rbPatroniVIP{IP: vip.Address,
		Address: address, Interface: vip.Interface, RouterID: vip.RouterID, Sites: sites,
		Interval: patroniCheckInterval, Fall: patroniCheckFall,
		Budget:    termWords(budget.PatroniVIP(patroniCheckInterval*time.Second, patroniVRRPAdvert, lowest)),
		leaseGate: leaseGateOf(vip.Address),
	}
	rv.section(slotNetwork, "runbook/patroni-vip.md.tmpl")
}

// rbPatroniVIP is the RUNBOOK's section on the VIP with Patroni.
type rbPatroniVIP struct {
	IP, Address, Interface string
	RouterID               int
	Sites                  []*rbSite
	Interval, Fall         int
	Budget                 string
	leaseGate
}
