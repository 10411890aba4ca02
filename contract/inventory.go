package contract

import (
	"fmt"
	"net/netip"
	"path"
	"path/filepath"
	"strings"
)

// Inventory is inventory.json, the deployment's machine-readable host list
// (the CCC document's inventory table): what each site runs, where it is,
// and the timers the rendered files use. hagen verify and hagen check read
// it with the rest of the rendered tree instead of the spec.
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
	// Budgets are the failover paths' RTO budgets, computed from the
	// rendered timers; hagen verify compares measured RTOs with them.
	Budgets []InventoryBudget `json:"budgets"`
	// Files are every file of the rendered tree, inventory.json included,
	// sorted by path, each with the program that reads it.
	Files []RenderedFile `json:"files"`

	// TLS is the TLS material between the sites (security.ssl), or nil.
	TLS *InventoryTLS `json:"tls,omitempty"`
}

// InventoryTLS names the TLS files on each host (each site's own
// certificate and key, the CA that signed them all) and how hagen's
// connections between sites verify them.
type InventoryTLS struct {
	Certificate string `json:"certificate"`
	Key         string `json:"key"`
	CA          string `json:"ca"`
	// SSLMode is libpq's sslmode of every connection between sites:
	// verify-full, so each site's certificate carries the names in its
	// tlsNames.
	SSLMode string `json:"sslmode"`
}

// RenderedFile is one file of the rendered tree and its reader.
type RenderedFile struct {
	// Path is slash-separated, relative to the tree.
	Path   string `json:"path"`
	Reader Reader `json:"reader"`
}

// InventoryDB is the database of every site.
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
	// FailoverAfter is the seconds the primary may be unreachable before a
	// standby promotes.
	FailoverAfter int `json:"failoverAfter,omitempty"`
	// SynchronousMethod ("first" or "any") and SynchronousCount: how many
	// standbys confirm each commit.
	SynchronousMethod string `json:"synchronousMethod,omitempty"`
	SynchronousCount  int    `json:"synchronousCount,omitempty"`
	// Witnesses are every witness address (Witness is the first); a node
	// that reaches fewer than a majority of them gives up the VIP.
	Witnesses []string `json:"witnesses,omitempty"`
	// HealthPath is the URL path on HealthPort that answers 200 only on
	// the writable primary (HAProxy's and keepalived's check).
	HealthPath string `json:"healthPath,omitempty"`

	// Manager decides failover in primary-standby mode: "keepalived" or
	// "patroni"; Patroni its facts with "patroni".
	Manager string            `json:"manager,omitempty"`
	Patroni *InventoryPatroni `json:"patroni,omitempty"`
}

// InventoryPatroni is Patroni on etcd: where to reach and observe each
// part, and the timers it runs with.
type InventoryPatroni struct {
	// Scope is Patroni's cluster name, Namespace its etcd key prefix: the
	// leader key is <namespace><scope>/leader in etcd's v2 keyspace.
	Scope     string `json:"scope"`
	Namespace string `json:"namespace"`
	// RestPort is Patroni's REST API port on every database site
	// (/primary, /replica, /health, /patroni, /cluster); RestUser the
	// user of its changing requests.
	RestPort int    `json:"restPort"`
	RestUser string `json:"restUser"`
	// The DCS timers, seconds (bootstrap.dcs; used at initialisation).
	TTL          int `json:"ttl"`
	LoopWait     int `json:"loopWait"`
	RetryTimeout int `json:"retryTimeout"`
	// SynchronousMode and SynchronousModeStrict as bootstrapped;
	// Relaxed: the agent turns strict mode off after a promotion that
	// leaves no standby (onStandbyDown "block").
	SynchronousMode       bool `json:"synchronousMode"`
	SynchronousModeStrict bool `json:"synchronousModeStrict"`
	Relaxed               bool `json:"relaxedAfterLonePromotion"`
	FailsafeMode          bool `json:"failsafeMode"`
	// EtcdAPI is the keyspace Patroni uses: "v2".
	EtcdAPI string `json:"etcdApi"`
	// Etcd are the members, one per database site and witness site.
	Etcd []InventoryEtcdMember `json:"etcd"`
	// PromotedAloneMark is the file Patroni's on_role_change callback
	// leaves on a primary promoted with no streaming standby.
	PromotedAloneMark string `json:"promotedAloneMark,omitempty"`
}

// InventoryEtcdMember is one etcd member.
type InventoryEtcdMember struct {
	Name      string `json:"name"`
	Site      string `json:"site"`
	ClientURL string `json:"clientUrl"`
	PeerURL   string `json:"peerUrl"`
	// Service is its compose service.
	Service string `json:"service"`
}

// InventorySite is one host of the deployment.
type InventorySite struct {
	Name    string `json:"name"`
	Index   int    `json:"index"`
	Host    string `json:"host"`
	Address string `json:"address"`
	LAN     string `json:"lan"`
	// Role: "primary" or "standby" (primary-standby), "proxy" (a site
	// that carries only HAProxy, no database), "" otherwise.
	Role string `json:"role,omitempty"`
	// Dir is the site's directory in the tree; Compose its compose file.
	Dir     string `json:"dir"`
	Compose string `json:"compose,omitempty"`
	// Services are the compose services, in start order.
	Services []string `json:"services"`
	// Apps are the spec's application services among them.
	Apps        []InventoryApp `json:"apps,omitempty"`
	VIPPriority int            `json:"vipPriority,omitempty"`

	// TLSNames are the subjectAltName entries the site's certificate must
	// carry (DNS:<name>, IP:<address>), with TLS.
	TLSNames []string `json:"tlsNames,omitempty"`
	// Witness: the site runs only an etcd member (Patroni).
	Witness bool `json:"witness,omitempty"`
}

// RoleProxy is the inventory role of a site that carries only HAProxy
// (and maybe the virtual IP): no database.
const RoleProxy = "proxy"

// InventoryApp is an application service of a site and its published ports.
type InventoryApp struct {
	Service string `json:"service"`
	Ports   []int  `json:"ports"`
}

// InventoryClient is the client side: the DNS names and the reconnect delay.
type InventoryClient struct {
	URL            string   `json:"url"`
	Names          []string `json:"names"`
	Sites          []string `json:"sites"` // Sites[i] is the site Names[i] points at
	ReconnectDelay int      `json:"reconnectDelay"`
	RequestTimeout int      `json:"requestTimeout"`
	Port           int      `json:"port"` // the port in the client URL
}

// InventoryVIP is the keepalived virtual IP and its timers.
type InventoryVIP struct {
	Address   string `json:"address"`
	Prefix    int    `json:"prefix"`
	Interface string `json:"interface"`
	RouterID  int    `json:"routerId"`
	Advert    int    `json:"advertInterval"`
	// Check is keepalived's track script on the local database: every
	// Interval seconds, Fall failures mark the node FAULT.
	Check InventoryCheck `json:"check"`

	// Version is the VRRP version when it is not 2, AdvertMs the
	// advertisement interval in milliseconds when it is below a second
	// (Advert is then 0): keepalived following Patroni speaks VRRPv3 with
	// 200 ms adverts.
	Version  int `json:"vrrpVersion,omitempty"`
	AdvertMs int `json:"advertIntervalMs,omitempty"`
}

// InventoryCheck is a periodic health check's timers.
type InventoryCheck struct {
	Interval int `json:"interval"`
	Fall     int `json:"fall"`
	Rise     int `json:"rise"`
}

// InventoryProxy is HAProxy and the timers of its server checks.
type InventoryProxy struct {
	Fronts   string   `json:"fronts"`
	Port     int      `json:"port"`
	Sites    []string `json:"sites"`
	Active   []string `json:"active"`
	Backup   []string `json:"backup"`
	Interval int      `json:"checkIntervalMs"`
	Fall     int      `json:"fall"`
	Rise     int      `json:"rise"`
	// CheckTimeout is haproxy.cfg's "timeout check": how long one server
	// check may take before it counts as failed.
	CheckTimeout int `json:"checkTimeoutMs"`

	// ReadPort fronts the streaming standbys (0: none).
	ReadPort int `json:"readPort,omitempty"`
}

// InventoryBudget is one failover path's RTO budget: the worst-case time
// from Fault until the path works again, by the protocols' own rules and
// the timers the rendered files set (internal/budget holds the formulas).
type InventoryBudget struct {
	// Path is what recovers (BudgetPath…), Fault what broke it
	// (BudgetFault…).
	Path  string `json:"path"`
	Fault string `json:"fault"`
	// Budget is the bound in milliseconds, rounded up.
	Budget int64 `json:"budgetMs"`
	// Formula is how it was computed, each term with its inputs:
	// "VRRP takeover (3 × 1s + (256 − 100)/256 × 1s) + promotion (…)".
	Formula string `json:"formula"`
}

// The failover paths of InventoryBudget.Path.
const (
	// BudgetPathVIP: the virtual IP is on a live node (keepalived).
	BudgetPathVIP = "vip"
	// BudgetPathVIPWrites: writes through the virtual IP succeed again
	// (primary-standby: the VIP moved and the standby there promoted).
	BudgetPathVIPWrites = "vip-writes"
	// BudgetPathHAProxy: sessions through HAProxy reach a working server
	// again (in front of a primary-standby database: the new primary).
	BudgetPathHAProxy = "haproxy"
	// BudgetPathClient: a client of the rendered DNS names reaches a live
	// server again, after its reconnect delays.
	BudgetPathClient = "client"
	// BudgetPathMultiMasterWrites: a client of a lost site writes again
	// on another site (multi-master: every site is writable).
	BudgetPathMultiMasterWrites = "multi-master-writes"
)

// The faults of InventoryBudget.Fault.
const (
	// BudgetFaultNodeLost: the node holding the VIP stops (killed,
	// powered off, cut off).
	BudgetFaultNodeLost = "node-lost"
	// BudgetFaultDatabaseCheck: the database of the node holding the VIP
	// fails keepalived's check while the node runs on.
	BudgetFaultDatabaseCheck = "database-check-fails"
	// BudgetFaultPrimaryLost: the node of the writable primary stops.
	BudgetFaultPrimaryLost = "primary-lost"
	// BudgetFaultServerLost: a server behind HAProxy stops.
	BudgetFaultServerLost = "server-lost"
	// BudgetFaultSiteLost: a whole site stops.
	BudgetFaultSiteLost = "site-lost"
)

// Budget returns the budget of a path and fault, or nil.
func (inv *Inventory) Budget(path, fault string) *InventoryBudget {
	for i := range inv.Budgets {
		if inv.Budgets[i].Path == path && inv.Budgets[i].Fault == fault {
			return &inv.Budgets[i]
		}
	}
	return nil
}

// ParseInventory decodes inventory.json strictly; name is used in errors.
func ParseInventory(name string, data []byte) (*Inventory, error) {
	var inv Inventory
	if err := decode(name, data, &inv); err != nil {
		return nil, err
	}
	return &inv, nil
}

// ReadInventory reads and decodes the inventory.json of the rendered tree
// in dir.
func ReadInventory(dir string) (*Inventory, error) {
	return readFile(filepath.Join(dir, filepath.FromSlash(InventoryFile)), ParseInventory)
}

// Validate checks what the JSON shape cannot: the fields every reader
// relies on are set and the addresses parse.
func (inv *Inventory) Validate() error {
	var p problems
	p.need("name", inv.Name)
	p.need("domain", inv.Domain)
	p.need("mode", inv.Mode)
	if _, err := netip.ParseAddr(inv.Nameserver); err != nil {
		p.add("nameserver %q is not an IP address", inv.Nameserver)
	}
	if len(inv.Sites) == 0 {
		p.add("sites is empty")
	}
	p.need("database.name", inv.Database.Name)
	p.need("database.service", inv.Database.Service)
	p.port("database.port", inv.Database.Port)
	p.port("database.publishedPort", inv.Database.PublishedPort)
	seen := map[string]bool{}
	for i, s := range inv.Sites {
		f := fmt.Sprintf("sites[%d]", i)
		p.need(f+".name", s.Name)
		if seen[s.Name] {
			p.add("%s.name %q is listed twice", f, s.Name)
		}
		seen[s.Name] = true
		if _, err := netip.ParseAddr(s.Address); err != nil {
			p.add("%s.address %q is not an IP address", f, s.Address)
		}
		if _, err := netip.ParsePrefix(s.LAN); err != nil {
			p.add("%s.lan %q is not a network", f, s.LAN)
		}
		p.need(f+".dir", s.Dir)
	}
	if len(inv.Clients.Names) != len(inv.Clients.Sites) {
		p.add("clients.names has %d entries but clients.sites %d", len(inv.Clients.Names), len(inv.Clients.Sites))
	}
	for i, s := range inv.Clients.Sites {
		if !seen[s] {
			p.add("clients.sites[%d] %q is not a site", i, s)
		}
	}
	if v := inv.VIP; v != nil {
		if _, err := netip.ParseAddr(v.Address); err != nil {
			p.add("vip.address %q is not an IP address", v.Address)
		}
	}
	budgets := map[[2]string]bool{}
	for i, b := range inv.Budgets {
		f := fmt.Sprintf("budgets[%d]", i)
		p.need(f+".path", b.Path)
		p.need(f+".fault", b.Fault)
		p.need(f+".formula", b.Formula)
		if b.Budget <= 0 {
			p.add("%s.budgetMs %d must be positive", f, b.Budget)
		}
		if budgets[[2]string{b.Path, b.Fault}] {
			p.add("%s: path %q and fault %q are listed twice", f, b.Path, b.Fault)
		}
		budgets[[2]string{b.Path, b.Fault}] = true
	}
	files := map[string]bool{}
	for i, f := range inv.Files {
		switch {
		case f.Path == "" || path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || strings.HasPrefix(f.Path, "../"):
			p.add("files[%d].path %q is not a clean relative path", i, f.Path)
		case files[f.Path]:
			p.add("files[%d].path %q is listed twice", i, f.Path)
		}
		files[f.Path] = true
		if !f.Reader.Known() {
			p.add("files[%d].reader %q is not a reader hagen knows", i, f.Reader)
		}
	}
	if len(inv.Files) > 0 && !files[InventoryFile] {
		p.add("files does not list %s itself", InventoryFile)
	}
	return p.err()
}

// Reader returns the reader inventory.json lists for the file at p
// (slash-separated, relative to the tree), and whether it lists the file.
func (inv *Inventory) Reader(p string) (Reader, bool) {
	for _, f := range inv.Files {
		if f.Path == p {
			return f.Reader, true
		}
	}
	return "", false
}

// Site returns the site of that name, or nil.
func (inv *Inventory) Site(name string) *InventorySite {
	for i := range inv.Sites {
		if inv.Sites[i].Name == name {
			return &inv.Sites[i]
		}
	}
	return nil
}
