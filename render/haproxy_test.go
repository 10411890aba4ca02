package render_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestHAProxyDatabasePrimaryStandby(t *testing.T) {
	tree := renderSpec(t, psExample)
	for _, site := range []string{"db0", "db1"} {
		p := site + "/haproxy/haproxy.cfg"
		cfg := file(t, tree, p)
		mustContain(t, p, cfg,
			"log stdout format raw local0\n",
			"listen database\n    bind *:5000\n    mode tcp\n",
			"balance roundrobin\n",
			"option httpchk GET /primary\n",
			"http-check expect status 200\n",
			"server db0 10.232.0.11:5444 check port 8008 inter 1000 fall 2 rise 1 on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions\n",
			"server db1 10.232.0.12:5444 check port 8008 inter 1000 fall 2 rise 1 on-marked-down shutdown-sessions backup\n",
			"listen stats\n    # Only on the site's own address: the page is for operators.\n    bind "+map[string]string{"db0": "10.232.0.11", "db1": "10.232.0.12"}[site]+":8404\n    mode http\n",
			"stats uri /stats\n",
			`stats auth admin:"${HAPROXY_STATS_PASSWORD}"`,
		)
		if strings.Contains(cfg, "daemon") {
			t.Errorf("%s runs as a daemon:\n%s", p, cfg)
		}
		run := file(t, tree, site+"/haproxy/run.sh")
		mustContain(t, site+"/haproxy/run.sh", run,
			"HAPROXY_STATS_PASSWORD=$(secret HAPROXY_STATS_PASSWORD)\nexport HAPROXY_STATS_PASSWORD\n",
			`exec haproxy -W -db -f "$conf"`)
	}
}

// In front of the app, HAProxy balances over the app service's first
// published port; without stats no password is read.
func TestHAProxyApp(t *testing.T) {
	tree := renderEdited(t, psExample,
		`fronts: "database"`, `fronts: "app"`,
		`url:            "postgres://vip.ps.test:5000/orders"`, `url:            "http://vip.ps.test:5000/"`,
		`	stats: {
		port:     8404
		password: "env:HAPROXY_STATS_PASSWORD"
	}
`, "")
	cfg := file(t, tree, "db0/haproxy/haproxy.cfg")
	mustContain(t, "db0/haproxy/haproxy.cfg", cfg,
		"listen orders\n    bind *:5000\n    mode http\n    option httplog\n",
		"server db0 10.232.0.11:8080 check inter 1000 fall 2 rise 1 on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions\n",
		"server db1 10.232.0.12:8080 check inter 1000 fall 2 rise 1 on-marked-down shutdown-sessions backup\n")
	for _, no := range []string{"httpchk", "listen stats"} {
		if strings.Contains(cfg, no) {
			t.Errorf("app haproxy.cfg has %q:\n%s", no, cfg)
		}
	}
	if run := file(t, tree, "db0/haproxy/run.sh"); strings.Contains(run, "secret ") {
		t.Errorf("run.sh reads a secret without stats:\n%s", run)
	}
}

// A multi-master database behind HAProxy has no agent: servers get a
// plain connect check.
func TestHAProxyDatabaseMultiMaster(t *testing.T) {
	tree := renderSpec(t, "../examples/dual-site.cue")
	for _, p := range tree.Paths() {
		if strings.HasSuffix(p, "/agent/agent.json") {
			t.Errorf("multi-master renders %s", p)
		}
		if strings.HasSuffix(p, "/haproxy/haproxy.cfg") && strings.Contains(string(tree[p].Data), "httpchk") {
			t.Errorf("%s checks an agent that multi-master does not run", p)
		}
	}
}

func TestAgentJSON(t *testing.T) {
	tree := renderSpec(t, psExample)
	var cfg struct {
		Site       string
		Listen     string
		AlsoListen []string
		AllowFrom  []string
		Database   struct {
			Host, User, Name, PasswordEnv, PasswordFileEnv string
			Port                                           int
		}
		Peers []struct{ Site, Address, Health string }
	}
	data := file(t, tree, "db1/agent/agent.json")
	if err := json.Unmarshal([]byte(data), &cfg); err != nil {
		t.Fatal(err)
	}
	// Peer authentication over the socket, named by the published port
	// (the entrypoint links it): no password, no secret.
	if cfg.Site != "db1" || cfg.Listen != "10.232.0.12:8008" || cfg.Database.Host != "/var/run/postgresql" || cfg.Database.Port != 5444 ||
		cfg.Database.User != "hagen_agent" || cfg.Database.Name != "postgres" || cfg.Database.PasswordEnv != "" || cfg.Database.PasswordFileEnv != "" {
		t.Errorf("db1/agent/agent.json = %+v", cfg)
	}
	if !slices.Equal(cfg.AlsoListen, []string{"127.0.0.1:8008"}) {
		t.Errorf("db1 alsoListen = %q, want keepalived's 127.0.0.1:8008", cfg.AlsoListen)
	}
	if want := []string{"127.0.0.1/32", "10.232.0.11/32", "10.232.0.12/32", "10.232.0.100/32", "10.232.0.0/24"}; !slices.Equal(cfg.AllowFrom, want) {
		t.Errorf("db1 allowFrom = %q, want %q", cfg.AllowFrom, want)
	}
	if strings.Contains(data, "PASSWORD") {
		t.Errorf("agent.json names a password:\n%s", data)
	}
	if len(cfg.Peers) != 1 || cfg.Peers[0].Site != "db0" || cfg.Peers[0].Health != "http://10.232.0.11:8008/health" {
		t.Errorf("db1 peers = %+v", cfg.Peers)
	}
	if !strings.HasSuffix(data, "}\n") || !strings.HasPrefix(data, "{\n  \"site\"") {
		t.Errorf("agent.json is not indented by two with a trailing newline:\n%s", data)
	}
}
