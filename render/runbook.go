package render

import (
	"bytes"
	"path"
	"strings"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/schema"
)

// RunbookFile is the operator's procedure at the root of the tree: the
// source documents' manual steps, specialised to the spec's hosts, ports,
// services and files, in the order they are done.
const RunbookFile = "RUNBOOK.md"

// The RUNBOOK is templates/RUNBOOK.md.tmpl (the deployment, preparing and
// installing the sites) followed by the components' sections, slot by
// slot and, within a slot, in component order. Every template runs over
// the same runbookView, whose parts each component fills from the facts it
// computed for its own files.
const (
	slotSetup   = iota // bringing the database up (steps 2 to 5)
	slotNetwork        // the virtual IP and the proxy
	slotClients        // configuring the clients (step 6)
	slotOperate        // testing, monitoring, failover (steps 7 on)
	slotNative         // running natively with systemd
	slotCount
)

// runbookView is everything RUNBOOK.md says, computed from the spec; the
// templates only place it in prose.
type runbookView struct {
	Header string
	Name   string
	Spec   string
	// VerifyCommand is `hagen verify <spec>`, quoted for the shell and as
	// Markdown code.
	VerifyCommand string
	Test          bool
	// Compose is the command prefix on a site, run in its install dir.
	Compose    string
	EnvFile    string
	InstallDir string // <installDir>/<topology>
	NodeImage  string
	// NodeImageRuns lists what the deployment runs from the node image.
	NodeImageRuns string
	// Targets rendered.
	ComposeTarget, SystemdTarget bool

	MultiMaster bool
	Streaming   bool
	DB          rbDatabase
	Sites       []*rbSite
	Clients     rbClients
	Apps        []rbApp
	// Images are the images every site needs, sorted.
	Images []string
	// Ports lists what to open in the firewall.
	Ports []rbPort

	Bucardo *rbBucardo
	Stream  *rbStreaming
	VIP     *rbVIP
	Proxy   *rbProxy

	// Parts are the facts of components that have no field above: a new
	// component puts its view here under its name, and its sections read
	// {{.Parts.<name>}}, so that adding one changes no other file.
	Parts map[string]any

	// sections are the components' templates by slot; notes their
	// installation notes.
	sections [slotCount][]string
	notes    []rbNote
}

type rbDatabase struct {
	Name, Service, Superuser string
	Version, Port, Published int
	PGBin, PGData            string
	ConfFile                 string
	// PasswordVar is the variable hagen's scripts read the superuser
	// password from: secret POSTGRES_PASSWORD in a container.
	PasswordVar string
}

type rbSite struct {
	Name, Host, Address, LAN string
	Index                    int
	Dir                      string // install directory on the host
	TreeDir                  string // directory in the rendered tree
	Project                  string // compose project name
	Runs                     string // what the site runs, for the overview
	Role                     string
	// Services are the compose services, in start order.
	Services []string
	Apps     []rbApp
	// DBApps are the app services that use the database.
	DBApps []string
	// Through names the site's app services with an address, for tests.
	Through string
	Env     []rbSecret
	Files   []rbSecret
	// Units: the compose unit and the native ones (names).
	ComposeUnit string
	NativeUnits []string
	// Bucardo: this site runs the replication service; Seed: its data
	// seeds the others; Empty: it must start without data.
	Bucardo, Seed, Empty bool
	// Primary-standby.
	ApplicationName, Slot string
	// Conninfo is a standby's primary_conninfo; SyncExpected that it is
	// a synchronous standby name.
	Conninfo     string
	SyncExpected bool
	// HealthPrimary is what the agent's /primary answers at the start.
	HealthPrimary string
	// RejoinName is the application and slot name of the site when it
	// rejoins as a standby after a failover; RejoinConninfo the
	// primary_conninfo of the old primary when this site is the new one.
	RejoinName, RejoinConninfo string
	VIPPriority                int
	Proxy                      bool
	IsPrimary                  bool
	// Packages and DistUnits: what a host running the site natively
	// installs, and the distribution's units it stops.
	Packages, DistUnits string
	// InstallNotes are the components' notes on installing the site.
	InstallNotes []string
	// Parts are site facts of components without a field above, by
	// component (see runbookView.Parts).
	Parts map[string]any

	// RejoinSyncNames is synchronous_standby_names on this site when it is
	// the new primary and the old one has rejoined: the spec's method and
	// count over the other synchronous standbys and the old primary.
	RejoinSyncNames string
	// ProxyOnly: the site carries only HAProxy (and maybe the VIP).
	ProxyOnly bool
	// URLHost is Address as the host of a URL (IPv6 in brackets).
	URLHost string
}

type rbSecret struct {
	Name string // variable, or file path
	For  string // what reads it
}

type rbApp struct {
	Name  string
	Image string
	Ports string // "6060, 8000, 8001"
	// URL is an address to try it at on a site (the first published port).
	FirstPort int
}

type rbClients struct {
	URL            string
	Count          int
	ReconnectDelay int
	Names          []rbName
	Shares         []rbShare
	Zone, Hosts    string
	NamedConf      string
	Settings       string
	Nameserver     string
	Domain         string
	// HasWeights: some site has more than one name.
	HasWeights bool
	// Explicit: the names are not all the guide's <n>.<domain>, so the
	// clients take the list; Outside lists those outside the domain, as
	// Markdown code.
	Explicit bool
	Outside  string
}

type rbName struct {
	Name, Site, Address string
	// Outside: the name is outside the domain; its record is in another
	// zone.
	Outside bool
	// Query is dig's query type: "" (A) or " AAAA".
	Query string
}

type rbShare struct {
	Site    string
	Names   int
	Percent int
	// Alone is the share when every other site is down: all of it.
}

type rbPort struct {
	Port, What, From string
}

type rbBucardo struct {
	Site       *rbSite
	Seed       *rbSite
	Targets    []*rbSite // the sites the one-time copy fills
	Service    string
	Sync       string
	Tables     string // the list, when not all tables
	TablesAll  bool
	Conflict   string
	Watchdog   bool
	Interval   int
	StallAfter int
	DBs        []rbBucardoDB
	// Initial and Final are the files of the two phases, in the tree and
	// in the container (…In); Apply the script that applies one.
	Initial, Final     string
	InitialIn, FinalIn string
	Apply              string
	RunScript          string
	InitialSync        string
	PGPass, Configured string
	StatusEvery        int
}

type rbBucardoDB struct {
	ID   string // db0, db1, ...
	Site *rbSite
}

type rbStreaming struct {
	Primary       *rbSite
	Standbys      []*rbSite
	User          string
	Synchronous   bool
	SyncNames     string // synchronous_standby_names on the primary
	OnStandbyDown string
	Witness       string
	HealthPort    int
	FailoverAfter int
	Entrypoint    string
	PassVar       string // REPLICATION_PASSWORD
	// SyncPotential: more synchronous names than standbys that confirm
	// a commit (FIRST n picks n of them);
	// SinglePair: one standby, none left after a promotion; Blocks: a
	// missing synchronous standby blocks commits (onStandbyDown: block).
	SyncPotential, SinglePair, Blocks bool
	// SyncAny: a quorum (ANY n) of the names confirms each commit;
	// SyncCount is n.
	SyncAny   bool
	SyncCount int
	// WitnessCount witnesses (Witness names them), of which a node must
	// reach WitnessNeed.
	WitnessCount, WitnessNeed int
	// HealthPath is the spec's health URL path (/primary by default).
	HealthPath string
	// With TLS, SSLEnv sets libpq's sslmode and CA in a command's
	// environment ("PGSSLMODE=… PGSSLROOTCERT=… "), SSLConn adds them to
	// a connection string (" sslmode=… sslrootcert=…"); both empty
	// without.
	SSLEnv, SSLConn string
	// SSLPrepare installs the CA where SSLEnv names it, in a container
	// the entrypoint did not prepare.
	SSLPrepare string
	// KeepalivedFailover: keepalived on the database nodes promotes (a
	// VIP on them); false without a VIP or with the VIP on the HAProxy
	// hosts. HotStandby: a standby takes read-only sessions.
	KeepalivedFailover, HotStandby bool
}

type rbVIP struct {
	Address, Interface, Name string
	RouterID, Advert         int
	Sites                    []*rbSite // by priority, highest first
	Master                   *rbSite   // the first MASTER: the highest priority
	Check                    schema.Check
	// PrimaryWeight is added to the priority of the node whose agent
	// answers /primary (primary-standby only).
	PrimaryWeight int
	// TakeoverMS is keepalived's worst-case takeover after the master
	// stops advertising: 3 × advert + skew.
	TakeoverMS int
	FaultAfter int // seconds of failed track checks before FAULT
	// OnProxies: the VIP moves between proxyOnly HAProxy hosts.
	OnProxies bool
}

type rbProxy struct {
	Fronts        string
	Port          int
	Sites         []*rbSite
	Active        []string
	Backup        []string
	Balance       string
	Stats         bool
	StatsPort     int
	StatsURI      string
	StatsUser     string
	StatsVar      string
	HealthPath    string
	Checker       string // what answers HealthPath: "its agent"
	ReadPort      int    // the port to the standbys, 0 for none
	DownAfterMS   int
	ClientAddress string // where clients reach the proxy
	Target        string // an address to check the proxy at
	CheckCmd      string // a command that checks the proxy from a client
	StatsHost     string // a host to open the statistics page on
	// StatsPage is the page's URL on any HAProxy host, StatsCurl a
	// command that fetches it as CSV.
	StatsPage, StatsCurl string
}

// runbookComposePrefix is how every compose command on a site starts.
const runbookComposePrefix = "docker compose --env-file " + EnvFile

func newRunbookView(d *deployment) *runbookView {
	t := d.t
	return &runbookView{
		Header:        htmlHeader(d.spec),
		Name:          t.Name,
		Spec:          d.spec,
		VerifyCommand: mdCode("hagen verify " + shWord(d.spec)),
		Test:          t.Test,
		Compose:       runbookComposePrefix,
		EnvFile:       EnvFile,
		InstallDir:    path.Join(t.Render.InstallDir, t.Name),
		NodeImage:     t.Render.NodeImage,
		ComposeTarget: hasTarget(t, "compose"),
		SystemdTarget: hasTarget(t, "systemd"),
		Parts:         map[string]any{},
	}
}

// section adds a component's section to a slot of the RUNBOOK.
func (rv *runbookView) section(slot int, tmpl string) {
	rv.sections[slot] = append(rv.sections[slot], tmpl)
}

// installNote adds a component's note to a site's installation step: the
// template runs over the view and the site.
func (rv *runbookView) installNote(s *rbSite, tmpl string) {
	rv.notes = append(rv.notes, rbNote{s, tmpl})
}

type rbNote struct {
	site *rbSite
	tmpl string
}

// rbNoteView is what a note's template sees: the whole view and its site.
type rbNoteView struct {
	*runbookView
	Site *rbSite
}

func newRunbookSite(v *siteView) *rbSite {
	return &rbSite{
		Name: v.Site.Name, Host: v.Site.Host, Address: v.Site.Address, LAN: v.Site.LAN,
		Index:       v.Site.Index,
		Dir:         v.installDir(),
		TreeDir:     v.Dir,
		Project:     v.T.Name + "-" + v.Site.Name,
		Role:        v.Role,
		ComposeUnit: v.composeUnitName(),
		Parts:       map[string]any{},
		ProxyOnly:   v.Site.ProxyOnly,
		URLHost:     urlHost(v.Site.Address),
	}
}

// renderRunbook writes RUNBOOK.md from what the components declared.
func renderRunbook(d *deployment) {
	rv := d.rv
	images := map[string]bool{}
	var products []string
	for _, v := range d.sites {
		s := v.rb
		var runs []string
		for _, svc := range v.services {
			s.Services = append(s.Services, svc.Name)
			runs = append(runs, svc.Runs)
			images[svc.Image] = true
			if svc.Product != "" {
				products = appendUnique(products, svc.Product)
			}
		}
		s.Runs = strings.Join(runs, ", ")
		env, files := secretSources(v.secrets())
		for _, e := range env {
			s.Env = append(s.Env, rbSecret{e.Source, strings.Join(e.Vars, ", ")})
		}
		for _, f := range files {
			s.Files = append(s.Files, rbSecret{f.Source, strings.Join(f.Vars, ", ")})
		}
		s.NativeUnits = v.units
		s.Packages, s.DistUnits = strings.Join(v.pkgs, " "), strings.Join(v.distUnits, " ")
	}
	rv.Images = sortedKeys(images)
	rv.NodeImageRuns = joinAnd(products)
	rv.Ports = d.ports
	for _, n := range rv.notes {
		var buf bytes.Buffer
		if err := executeTo(&buf, n.tmpl, rbNoteView{rv, n.site}); err != nil {
			d.b.fail(err)
			return
		}
		n.site.InstallNotes = append(n.site.InstallNotes, buf.String())
	}
	buf := getBuffer()
	if err := executeTo(buf, "RUNBOOK.md.tmpl", rv); err != nil {
		putBuffer(buf)
		d.b.fail(err)
		return
	}
	for _, slot := range rv.sections {
		for _, tmpl := range slot {
			if err := executeTo(buf, tmpl, rv); err != nil {
				putBuffer(buf)
				d.b.fail(err)
				return
			}
		}
	}
	d.b.add(RunbookFile, 0o644, contract.ReaderPeople, takeBytes(buf))
}

// joinAnd joins a list as prose: "a", "a and b", "a, b and c".
func joinAnd(list []string) string {
	switch n := len(list); n {
	case 0:
		return ""
	case 1:
		return list[0]
	default:
		return strings.Join(list[:n-1], ", ") + " and " + list[n-1]
	}
}

func joinComma(list []string) string { return strings.Join(list, ", ") }
