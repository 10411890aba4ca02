package render

import (
	"fmt"
	"strings"

	"github.com/hagen-ha/hagen/contract"
)

// etcdComponent is the consensus store of database.streaming.manager
// "patroni": one etcd member on every database site and on every witness
// site, so that the loss of one site leaves a majority. Patroni keeps its
// leader lock there. In DIR/<site>/etcd/: etcd.yml (etcd's --config-file)
// and run.sh, the entrypoint that runs etcd as the etcd user.
type etcdComponent struct{}

const (
	// svcEtcd is etcd's compose service.
	svcEtcd = "etcd"
	etcdDir = etcDir + "/etcd"
	// etcdState is the volume (in a container) or the package's directory
	// (natively) below which the member keeps its data directory.
	etcdState = "/var/lib/etcd"
)

func (etcdComponent) onWitness() {}

func (etcdComponent) packages() hostPackages {
	return hostPackages{Packages: []string{"etcd-server", "etcd-client"}, DistUnits: []string{"etcd"}}
}

// etcdMember is one member of the cluster.
type etcdMember struct {
	Name, Site, Address string
	ClientURL, PeerURL  string
}

// etcdMembers are the members of the deployment's etcd cluster, in spec
// order: every database site and every witness site.
func (d *deployment) etcdMembers() []etcdMember {
	p := d.t.Database.Streaming.Patroni
	var out []etcdMember
	for _, s := range d.t.EtcdMembers() {
		out = append(out, etcdMember{
			Name: s.Name, Site: s.Name, Address: s.Address,
			ClientURL: fmt.Sprintf("http://%s:%d", s.Address, p.EtcdClientPort),
			PeerURL:   fmt.Sprintf("http://%s:%d", s.Address, p.EtcdPeerPort),
		})
	}
	return out
}

// etcdConfig is etcd 3.4's configuration file, in its key order. etcd
// ignores keys it does not know: the field tags are the whole vocabulary.
type etcdConfig struct {
	Name                     string   `yaml:"name"`
	DataDir                  string   `yaml:"data-dir"`
	ListenPeerURLs           string   `yaml:"listen-peer-urls"`
	InitialAdvertisePeerURLs string   `yaml:"initial-advertise-peer-urls"`
	ListenClientURLs         string   `yaml:"listen-client-urls"`
	AdvertiseClientURLs      string   `yaml:"advertise-client-urls"`
	InitialCluster           string   `yaml:"initial-cluster"`
	InitialClusterState      string   `yaml:"initial-cluster-state"`
	InitialClusterToken      string   `yaml:"initial-cluster-token"`
	PreVote                  bool     `yaml:"pre-vote"`
	EnableV2                 bool     `yaml:"enable-v2"`
	EnableGRPCGateway        bool     `yaml:"enable-grpc-gateway"`
	HeartbeatInterval        int      `yaml:"heartbeat-interval"`
	ElectionTimeout          int      `yaml:"election-timeout"`
	AutoCompactionMode       string   `yaml:"auto-compaction-mode"`
	AutoCompactionRetention  string   `yaml:"auto-compaction-retention"`
	QuotaBackendBytes        int64    `yaml:"quota-backend-bytes"`
	Logger                   string   `yaml:"logger"`
	LogLevel                 string   `yaml:"log-level"`
	LogOutputs               []string `yaml:"log-outputs"`
}

type etcdRunView struct {
	Header, Site, Name, Conf, State, ClientURL string
}

func (etcdComponent) site(v *siteView) {
	if !v.T.ManagedByPatroni() || !v.Witness && v.Role == "" {
		return
	}
	var me etcdMember
	var cluster []string
	for _, m := range v.d.etcdMembers() {
		cluster = append(cluster, m.Name+"="+m.PeerURL)
		if m.Site == v.Site.Name {
			me = m
		}
	}
	cfg := etcdConfig{
		Name:                     me.Name,
		DataDir:                  etcdState + "/" + v.T.Name,
		ListenPeerURLs:           me.PeerURL,
		InitialAdvertisePeerURLs: me.PeerURL,
		ListenClientURLs:         me.ClientURL,
		AdvertiseClientURLs:      me.ClientURL,
		InitialCluster:           strings.Join(cluster, ","),
		InitialClusterState:      "new",
		InitialClusterToken:      "hagen-" + v.T.Name,
		PreVote:                  true,
		EnableV2:                 true,
		EnableGRPCGateway:        true,
		HeartbeatInterval:        100,
		ElectionTimeout:          1000,
		AutoCompactionMode:       "periodic",
		AutoCompactionRetention:  "1h",
		QuotaBackendBytes:        256 << 20,
		Logger:                   "zap",
		LogLevel:                 "warn",
		LogOutputs:               []string{"stderr"},
	}
	what := "a database site"
	if v.Witness {
		what = "the witness site, which runs nothing else"
	}
	head := header(v.Spec, "#") +
		"# etcd member " + commentText(me.Name) + " of the " + commentText(v.T.Name) + " cluster, on " + what + ".\n" +
		"# One member per database site and witness site: the loss of one site leaves\n" +
		"# a majority, which Patroni's leader lock needs.\n"
	data, err := yamlDoc(head, cfg, map[string][]string{
		"listen-client-urls": {"Only the site's address: Patroni, etcdctl and the health check name it."},
		"initial-cluster-state": {
			`"new" at the first start; a member that restarts with its data directory`,
			"ignores every initial-* setting. A member whose data directory is lost is",
			"removed and added again with etcdctl and started once with \"existing\"",
			"(RUNBOOK.md, \"An etcd member lost\").",
		},
		"pre-vote": {
			"Off by default in 3.4: without it a member that was cut off and returns with",
			"a higher term forces an election, a leaderless second at every healed partition.",
		},
		"enable-v2":           {"Patroni's \"etcd:\" section reads and writes etcd's v2 keyspace."},
		"enable-grpc-gateway": {"The HTTP/JSON gateway (/v3/...): a configuration file that does not name it turns it off."},
		"election-timeout":    {"At least 5 × heartbeat-interval (etcd refuses less)."},
	})
	if err != nil {
		v.d.b.fail(fmt.Errorf("render etcd for %s: %w", v.Site.Name, err))
		return
	}
	v.d.b.add(v.path("etcd/etcd.yml"), 0o644, contract.ReaderEtcd, data)
	v.file("etcd/run.sh", 0o755, contract.ReaderShell, "site/etcd/run.sh.tmpl", etcdRunView{
		Header: header(v.Spec, "#"), Site: v.Site.Name, Name: me.Name,
		Conf: etcdDir + "/etcd.yml", State: etcdState, ClientURL: me.ClientURL,
	})
	v.service(&service{
		Name:        svcEtcd,
		Unit:        "etcd",
		Label:       "etcd",
		What:        "etcd member " + me.Name,
		Runs:        "etcd",
		Product:     "etcd",
		Image:       v.T.Render.NodeImage,
		Script:      "etcd/run.sh",
		Env:         v.nodeEnv(),
		Mounts:      []string{"etcd", "lib"},
		Volumes:     []volume{{Name: "etcd-data", Target: etcdState}},
		HostNetwork: true,
		Health: &healthCheck{
			Test:     []string{"etcdctl", "--endpoints=" + me.ClientURL, "--command-timeout=2s", "endpoint", "health"},
			Interval: "5s", Timeout: "5s", Retries: 3, StartAfter: "60s",
		},
		StopGrace: "10s",
		Native: native{
			Comment: []string{
				"etcd member " + me.Name + ": runs " + v.installPath("etcd/run.sh") + " as root, which starts etcd as the etcd user",
				"with its data below " + etcdState + ". Debian's own etcd.service must stay disabled.",
			},
		},
	})
}

func (etcdComponent) tree(d *deployment) {
	if !d.t.ManagedByPatroni() || d.t.Database.Streaming.Patroni == nil {
		return
	}
	p := d.t.Database.Streaming.Patroni
	members := d.etcdMembers()
	var addrs []string
	inv := d.patroniInventory()
	for _, m := range members {
		addrs = append(addrs, m.Address)
		inv.Etcd = append(inv.Etcd, contract.InventoryEtcdMember{
			Name: m.Name, Site: m.Site, ClientURL: m.ClientURL, PeerURL: m.PeerURL, Service: svcEtcd,
		})
	}
	d.port(rbPort{fmt.Sprintf("%d/tcp", p.EtcdClientPort), "etcd clients (Patroni, etcdctl); no authentication: open it to these hosts only", joinComma(addrs)})
	d.port(rbPort{fmt.Sprintf("%d/tcp", p.EtcdPeerPort), "etcd peers", joinComma(addrs)})
}
