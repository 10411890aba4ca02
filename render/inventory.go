package render

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
)

// Inventory is the deployment's machine-readable host list (the CCC
// document's inventory table): what each site runs and where it is. hagen
// verify and hagen check read it with the rest of the rendered tree.
type Inventory struct {
	Name       string `json:"name"`
	Spec       string `json:"spec"`
	Test       bool   `json:"test"`
	Domain     string `json:"domain"`
	Nameserver string `json:"nameserver"`
	NodeImage  string `json:"nodeImage"`
	// InstallDir is where each site's tree lives on its host:
	// <installDir>/<name>/<site>.
	InstallDir string          `json:"installDir"`
	Mode       string          `json:"mode"`
	Database   InventoryDB     `json:"database"`
	Sites      []InventorySite `json:"sites"`
	Clients    InventoryClient `json:"clients"`
	VIP        *InventoryVIP   `json:"vip,omitempty"`
	Proxy      *InventoryProxy `json:"proxy,omitempty"`
}

type InventoryDB struct {
	Name          string `json:"name"`
	Service       string `json:"service"`
	Port          int    `json:"port"`
	PublishedPort int    `json:"publishedPort"`
	Superuser     string `json:"superuser"`
	// Bucardo only.
	BucardoSite      string `json:"bucardoSite,omitempty"`
	BucardoService   string `json:"bucardoService,omitempty"`
	ConflictStrategy string `json:"conflictStrategy,omitempty"`
	// Primary-standby only.
	Synchronous     bool   `json:"synchronous,omitempty"`
	OnStandbyDown   string `json:"onStandbyDown,omitempty"`
	ReplicationUser string `json:"replicationUser,omitempty"`
	HealthPort      int    `json:"healthPort,omitempty"`
	Witness         string `json:"witness,omitempty"`
}

type InventorySite struct {
	Name    string `json:"name"`
	Index   int    `json:"index"`
	Host    string `json:"host"`
	Address string `json:"address"`
	LAN     string `json:"lan"`
	// Role: "primary" or "standby" (primary-standby), "" otherwise.
	Role string `json:"role,omitempty"`
	// Dir is the site's directory in the tree; Compose its compose file.
	Dir     string `json:"dir"`
	Compose string `json:"compose,omitempty"`
	// Services are the compose services, in start order.
	Services []string `json:"services"`
	// Apps are the spec's application services among them.
	Apps        []InventoryApp `json:"apps,omitempty"`
	VIPPriority int            `json:"vipPriority,omitempty"`
}

type InventoryApp struct {
	Service string `json:"service"`
	Ports   []int  `json:"ports"`
}

type InventoryClient struct {
	URL            string   `json:"url"`
	Names          []string `json:"names"`
	Sites          []string `json:"sites"` // Sites[i] is the site Names[i] points at
	ReconnectDelay int      `json:"reconnectDelay"`
	Port           int      `json:"port"` // the port in the client URL
}

type InventoryVIP struct {
	Address   string `json:"address"`
	Prefix    int    `json:"prefix"`
	Interface string `json:"interface"`
	RouterID  int    `json:"routerId"`
	Advert    int    `json:"advertInterval"`
}

type InventoryProxy struct {
	Fronts   string   `json:"fronts"`
	Port     int      `json:"port"`
	Sites    []string `json:"sites"`
	Active   []string `json:"active"`
	Backup   []string `json:"backup"`
	Interval int      `json:"checkIntervalMs"`
	Fall     int      `json:"fall"`
	Rise     int      `json:"rise"`
}

func renderInventory(b *builder) {
	t := b.t
	inv := Inventory{
		Name:       t.Name,
		Spec:       specName(t.Source),
		Test:       t.Test,
		Domain:     t.Domain,
		Nameserver: t.Clients.Nameserver,
		NodeImage:  t.Render.NodeImage,
		InstallDir: t.Render.InstallDir,
		Mode:       t.Database.Mode,
		Database: InventoryDB{
			Name:          t.Database.Name,
			Service:       t.Database.Service,
			Port:          t.Database.Port,
			PublishedPort: t.Database.PublishedPort,
			Superuser:     t.Database.Superuser,
		},
		Clients: InventoryClient{
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
	}
	for _, c := range t.Clients.Servers {
		inv.Clients.Names = append(inv.Clients.Names, c.Name)
		inv.Clients.Sites = append(inv.Clients.Sites, c.Site)
	}
	for _, s := range t.Sites {
		v := newSiteView(t, s)
		is := InventorySite{
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
			app := InventoryApp{Service: name}
			for _, p := range t.Services[name].Ports {
				app.Ports = append(app.Ports, p.Published)
			}
			is.Apps = append(is.Apps, app)
		}
		inv.Sites = append(inv.Sites, is)
	}
	if vip := t.VIP; vip != nil {
		inv.VIP = &InventoryVIP{Address: vip.Address, Interface: vip.Interface, RouterID: vip.RouterID, Advert: vip.AdvertInterval}
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
		ip := &InventoryProxy{Fronts: p.Fronts, Port: p.Port, Interval: p.Check.Interval, Fall: p.Check.Fall, Rise: p.Check.Rise}
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
	data, err := json.MarshalIndent(inv, "", "  ")
	if err != nil {
		b.fail(fmt.Errorf("render inventory: %w", err))
		return
	}
	b.add("inventory.json", 0o644, append(data, '\n'))
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
