package render

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"

	"github.com/hagen-ha/hagen/contract"
)

func renderInventory(b *builder) {
	t := b.t
	inv := contract.Inventory{
		Name:       t.Name,
		Spec:       specName(t.Source),
		Test:       t.Test,
		Domain:     t.Domain,
		Nameserver: t.Clients.Nameserver,
		NodeImage:  t.Render.NodeImage,
		InstallDir: t.Render.InstallDir,
		Mode:       t.Database.Mode,
		Database: contract.InventoryDB{
			Name:          t.Database.Name,
			Service:       t.Database.Service,
			Port:          t.Database.Port,
			PublishedPort: t.Database.PublishedPort,
			Superuser:     t.Database.Superuser,
		},
		Clients: contract.InventoryClient{
			URL:            t.Clients.URL,
			ReconnectDelay: t.Clients.ReconnectDelay,
			Port:           urlPort(t.Clients.URL),
		},
	}
	if bu := t.Database.Bucardo; bu != nil {
		inv.Database.BucardoSite = bu.Site
		inv.Database.BucardoService = svcBucardo
		inv.Database.ConflictStrategy = bu.ConflictStrategy
	}
	if s := t.Database.Streaming; s != nil {
		inv.Database.Synchronous = s.Synchronous
		inv.Database.OnStandbyDown = s.OnStandbyDown
		inv.Database.ReplicationUser = s.ReplicationUser
		inv.Database.HealthPort = s.HealthPort
		inv.Database.Witness = s.Witness
		inv.Database.FailoverAfter = s.FailoverAfter
	}
	for _, c := range t.Clients.Servers {
		inv.Clients.Names = append(inv.Clients.Names, c.Name)
		inv.Clients.Sites = append(inv.Clients.Sites, c.Site)
	}
	for _, s := range t.Sites {
		v := newSiteView(t, s)
		is := contract.InventorySite{
			Name: s.Name, Index: s.Index, Host: s.Host, Address: s.Address, LAN: s.LAN,
			Role: v.Role, Dir: v.Dir,
		}
		if hasTarget(t, "compose") {
			is.Compose = v.path("docker-compose.yaml")
		}
		is.Services = append(is.Services, t.Database.Service)
		if v.Bucardo {
			is.Services = append(is.Services, svcBucardo)
		}
		if v.Role != "" {
			is.Services = append(is.Services, svcAgent)
		}
		if v.VIP {
			is.Services = append(is.Services, svcKeepalived)
			is.VIPPriority = t.VIP.Priorities[s.Name]
		}
		if v.Proxy {
			is.Services = append(is.Services, svcHAProxy)
		}
		for _, name := range v.services() {
			is.Services = append(is.Services, name)
			app := contract.InventoryApp{Service: name}
			for _, p := range t.Services[name].Ports {
				app.Ports = append(app.Ports, p.Published)
			}
			is.Apps = append(is.Apps, app)
		}
		inv.Sites = append(inv.Sites, is)
	}
	if vip := t.VIP; vip != nil {
		inv.VIP = &contract.InventoryVIP{Address: vip.Address, Interface: vip.Interface, RouterID: vip.RouterID, Advert: vip.AdvertInterval,
			Check: contract.InventoryCheck{Interval: vip.Check.Interval, Fall: vip.Check.Fall, Rise: vip.Check.Rise}}
		for _, s := range t.Sites {
			if t.CarriesVIP(s.Name) {
				if p, err := netip.ParsePrefix(s.LAN); err == nil {
					inv.VIP.Prefix = p.Bits()
				}
				break
			}
		}
	}
	if p := t.Proxy; p != nil {
		ip := &contract.InventoryProxy{Fronts: p.Fronts, Port: p.Port, Interval: p.Check.Interval, Fall: p.Check.Fall, Rise: p.Check.Rise,
			CheckTimeout: haproxyCheckTimeoutMs}
		for _, s := range t.Sites {
			if p.RunsOn(s.Name) {
				ip.Sites = append(ip.Sites, s.Name)
			}
		}
		for _, s := range p.Servers {
			if s.Backup {
				ip.Backup = append(ip.Backup, s.Site)
			} else {
				ip.Active = append(ip.Active, s.Site)
			}
		}
		inv.Proxy = ip
	}
	data, err := contract.Encode(inv)
	if err != nil {
		b.fail(fmt.Errorf("render inventory: %w", err))
		return
	}
	b.add(contract.InventoryFile, 0o644, data)
}

// urlPort is the port of a URL like grpc://ha.test:8001, or 0.
func urlPort(raw string) int {
	u, err := url.Parse(raw)
	if err != nil {
		return 0
	}
	port, _ := strconv.Atoi(u.Port())
	return port
}
