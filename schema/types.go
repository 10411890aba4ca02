package schema

// Topology is a validated spec: the only input of render.
type Topology struct {
	Name     string             `json:"name"`
	Test     bool               `json:"test"`
	Domain   string             `json:"domain"`
	Sites    []Site             `json:"sites"`
	Database Database           `json:"database"`
	VIP      *VIP               `json:"vip,omitempty"`
	Proxy    *Proxy             `json:"proxy,omitempty"`
	Clients  Clients            `json:"clients"`
	Services map[string]Service `json:"services"`
	Security Security           `json:"security"`
	Render   Render             `json:"render"`

	// Source is the spec file as named on the command line; it goes into
	// the header of every rendered file.
	Source string `json:"-"`
}

// Site is one host of the deployment.
type Site struct {
	Name    string `json:"name"`
	Index   int    `json:"index"`
	Host    string `json:"host"`
	Address string `json:"address"`
	LAN     string `json:"lan"`
	// ProxyOnly: the site runs HAProxy (and optionally keepalived), no
	// database.
	ProxyOnly bool `json:"proxyOnly"`

	// Witness: the site runs only an etcd member (manager "patroni").
	Witness bool `json:"witness"`
}

// Database modes.
const (
	MultiMasterAsync = "multi-master-async"
	PrimaryStandby   = "primary-standby"
)

type Database struct {
	Engine        string     `json:"engine"`
	Version       int        `json:"version"`
	Name          string     `json:"name"`
	Service       string     `json:"service"`
	Port          int        `json:"port"`
	PublishedPort int        `json:"publishedPort"`
	Superuser     string     `json:"superuser"`
	Password      SecretRef  `json:"password"`
	Mode          string     `json:"mode"`
	Bucardo       *Bucardo   `json:"bucardo,omitempty"`
	Streaming     *Streaming `json:"streaming,omitempty"`

	Settings PGSettings `json:"settings"`
	// Parameters are further postgresql.conf parameters by name.
	Parameters map[string]string `json:"parameters"`
}

// PGSettings are the PostgreSQL settings of the source documents.
type PGSettings struct {
	// Listen is "all" or "host" (loopback, the site's address, the VIP).
	Listen         string `json:"listen"`
	HotStandby     bool   `json:"hotStandby"`
	ArchiveMode    string `json:"archiveMode"`
	ArchiveCommand string `json:"archiveCommand,omitempty"`
	WalKeepSize    string `json:"walKeepSize,omitempty"`
}

type Bucardo struct {
	Site             string   `json:"site"`
	SeedSite         string   `json:"seedSite"`
	Tables           Tables   `json:"tables"`
	ConflictStrategy string   `json:"conflictStrategy"`
	Watchdog         Watchdog `json:"watchdog"`
}

// Watchdog kicks stalled Bucardo syncs and restarts the service.
type Watchdog struct {
	Enabled    bool `json:"enabled"`
	Interval   int  `json:"interval"`
	StallAfter int  `json:"stallAfter"`
}

type Streaming struct {
	Primary                 string    `json:"primary"`
	Standbys                []Standby `json:"standbys"`
	Synchronous             bool      `json:"synchronous"`
	SynchronousStandbyNames []string  `json:"synchronousStandbyNames"`
	OnStandbyDown           string    `json:"onStandbyDown"`
	// AcceptSplitBrainRisk allows onStandbyDown "async", or asynchronous
	// replication, with keepalived's failover, which can give two writable
	// primaries.
	AcceptSplitBrainRisk bool      `json:"acceptSplitBrainRisk"`
	ReplicationUser      string    `json:"replicationUser"`
	ReplicationPassword  SecretRef `json:"replicationPassword"`
	Witness              string    `json:"witness,omitempty"`
	HealthPort           int       `json:"healthPort"`
	FailoverAfter        int       `json:"failoverAfter"`

	// SynchronousMethod is "first" or "any", SynchronousCount how many
	// standbys confirm each commit.
	SynchronousMethod string `json:"synchronousMethod"`
	SynchronousCount  int    `json:"synchronousCount"`
	// Witnesses are the split-brain checker's addresses besides Witness
	// (see WitnessList).
	Witnesses []string `json:"witnesses,omitempty"`
	// HealthPath is the URL path on HealthPort that answers 200 only on
	// the writable primary.
	HealthPath string `json:"healthPath"`
	// Manager decides failover: ManagerKeepalived or ManagerPatroni.
	Manager string   `json:"manager"`
	Patroni *Patroni `json:"patroni,omitempty"`
}

// Failover managers of primary-standby mode.
const (
	ManagerKeepalived = "keepalived"
	ManagerPatroni    = "patroni"
)

// Patroni holds the settings of manager "patroni".
type Patroni struct {
	// RestAPIPassword authenticates the REST API's changing requests.
	RestAPIPassword SecretRef `json:"restApiPassword"`
	EtcdClientPort  int       `json:"etcdClientPort"`
	EtcdPeerPort    int       `json:"etcdPeerPort"`
}

type Standby struct {
	Site            string `json:"site"`
	ApplicationName string `json:"applicationName"`
	Slot            string `json:"slot"`
}

type VIP struct {
	Address        string         `json:"address"`
	Interface      string         `json:"interface"`
	RouterID       int            `json:"routerId"`
	AdvertInterval int            `json:"advertInterval"`
	Priorities     map[string]int `json:"priorities"`
	Auth           SecretRef      `json:"auth,omitempty"`
	Check          Check          `json:"check"`
}

// Check is a periodic health check: every Interval, Fall failures mark a
// target down and Rise successes mark it up again.
type Check struct {
	Interval int `json:"interval"`
	Fall     int `json:"fall"`
	Rise     int `json:"rise"`
}

type Proxy struct {
	Fronts  string        `json:"fronts"`
	Sites   []string      `json:"sites,omitempty"`
	Port    int           `json:"port"`
	Balance string        `json:"balance"`
	Servers []ProxyServer `json:"servers"`
	Check   Check         `json:"check"`
	Stats   *ProxyStats   `json:"stats,omitempty"`

	// ReadPort, when set, fronts the streaming standbys (primary-standby).
	ReadPort int `json:"readPort,omitempty"`
}

type ProxyServer struct {
	Site   string `json:"site"`
	Backup bool   `json:"backup"`
}

type ProxyStats struct {
	Port     int       `json:"port"`
	URI      string    `json:"uri"`
	User     string    `json:"user"`
	Password SecretRef `json:"password"`
}

type Clients struct {
	Servers        []ClientServer `json:"servers"`
	URL            string         `json:"url"`
	ReconnectDelay int            `json:"reconnectDelay"`
	RequestTimeout int            `json:"requestTimeout"`
	Nameserver     string         `json:"nameserver"`
}

type ClientServer struct {
	Name string `json:"name"`
	Site string `json:"site"`
}

type Service struct {
	Image             string               `json:"image"`
	Sites             []string             `json:"sites,omitempty"`
	Command           []string             `json:"command,omitempty"`
	Ports             []ServicePort        `json:"ports"`
	Environment       map[string]string    `json:"environment"`
	Secrets           map[string]SecretRef `json:"secrets"`
	DependsOnDatabase bool                 `json:"dependsOnDatabase"`
}

type ServicePort struct {
	Published int    `json:"published"`
	Target    int    `json:"target"`
	Protocol  string `json:"protocol"`
}

type Security struct {
	AllowedClients []string `json:"allowedClients"`
	SSL            bool     `json:"ssl"`

	// Access are further pg_hba.conf records, after hagen's own.
	Access []AccessRule `json:"access"`
	// TLS is the certificate, key and CA of ssl: true.
	TLS *TLSFiles `json:"tls,omitempty"`
}

// TLSFiles are file references (file:/path) to a site's certificate and
// key and to the CA that signed every site's certificate.
type TLSFiles struct {
	Certificate SecretRef `json:"certificate"`
	Key         SecretRef `json:"key"`
	CA          SecretRef `json:"ca"`
}

// AccessRule is one pg_hba.conf record of the spec: TYPE DATABASE USER
// NETWORK METHOD for each network.
type AccessRule struct {
	Type     string   `json:"type,omitempty"`
	Database string   `json:"database"`
	User     string   `json:"user"`
	Networks []string `json:"networks"`
	Method   string   `json:"method"`
}

// HBAType is the rule's pg_hba.conf record type: its type, else hostssl
// with ssl and host without.
func (r AccessRule) HBAType(ssl bool) string {
	switch {
	case r.Type != "":
		return r.Type
	case ssl:
		return "hostssl"
	}
	return "host"
}

type Render struct {
	Targets    []string `json:"targets"`
	InstallDir string   `json:"installDir"`
	NodeImage  string   `json:"nodeImage"`
}
