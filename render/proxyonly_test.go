package render_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/hagen-ha/hagen/contract"
)

// Sites that carry only HAProxy and the VIP: nothing of the database is
// rendered there, the database nodes admit them, and the VIP tracks
// HAProxy without promoting anything.
func TestProxyOnlySites(t *testing.T) {
	top := loadTopology(t, "../examples/proxy-hosts.cue")
	tree := mustRender(t, top)
	for _, p := range tree.Paths() {
		if strings.HasPrefix(p, "proxy") && (strings.Contains(p, "/postgres/") || strings.Contains(p, "/agent/") || strings.Contains(p, "postgres")) {
			t.Errorf("%s is rendered on a site without a database", p)
		}
	}
	compose := file(t, tree, "proxy0/docker-compose.yaml")
	mustContain(t, "proxy0/docker-compose.yaml", compose, "  haproxy:\n", "  keepalived:\n", "      haproxy:\n        condition: service_started\n")
	for _, no := range []string{"postgres", "POSTGRES_PASSWORD", "hagen-agent"} {
		if strings.Contains(compose, no) {
			t.Errorf("proxy0/docker-compose.yaml mentions %s:\n%s", no, compose)
		}
	}
	mustContain(t, "proxy0/keepalived/check.sh", file(t, tree, "proxy0/keepalived/check.sh"),
		"exec timeout 1 bash -c ': </dev/tcp/127.0.0.1/5000'\n")
	conf := file(t, tree, "proxy0/keepalived/keepalived.conf")
	mustContain(t, "proxy0/keepalived/keepalived.conf", conf, "vrrp_script hagen_proxy {", "        hagen_proxy\n", "between the HAProxy hosts")
	for _, no := range []string{"hagen_primary", "hagen_witness", "hagen_database"} {
		if strings.Contains(conf, no) {
			t.Errorf("proxy0/keepalived/keepalived.conf has %s", no)
		}
	}
	if notify := file(t, tree, "proxy0/keepalived/notify.sh"); strings.Contains(notify, "pg_promote") || strings.Contains(notify, "psql") {
		t.Error("notify.sh of an HAProxy host touches a database")
	}
	hba := file(t, tree, "db1/postgres/pg_hba.conf")
	mustContain(t, "db1/postgres/pg_hba.conf", hba, "# HAProxy on its own hosts (proxyOnly sites)", "host     servicedesk  all          10.235.0.0/24      scram-sha-256\n")
	agent, err := contract.ParseAgentConfig("db0/agent/agent.json", []byte(file(t, tree, "db0/agent/agent.json")))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range agent.Peers {
		if p.Site == "proxy0" || p.Address == "10.235.0.21" {
			t.Errorf("the agent counts an HAProxy host as a peer: %+v", agent.Peers)
		}
	}
	// HAProxy on the proxy host checks the health path: the agent admits it.
	if !slices.Contains(agent.AllowFrom, "10.235.0.21/32") {
		t.Errorf("the agent does not admit the HAProxy host: allowFrom %v", agent.AllowFrom)
	}
	inv := file(t, tree, "inventory.json")
	mustContain(t, "inventory.json", inv, `"role": "proxy"`)
	mustContain(t, "db0/postgres/postgresql.conf", file(t, tree, "db0/postgres/postgresql.conf"), "hot_standby = off\n")
	rb := file(t, tree, "RUNBOOK.md")
	mustContain(t, "RUNBOOK.md", rb, "the virtual IP 10.235.0.100/24\nmoves between the HAProxy hosts",
		"pg_ctl promote -D /var/lib/postgresql/data", "clients need no change")
	if strings.Contains(rb, ":8008/primary    # proxy0") {
		t.Error("the RUNBOOK asks an HAProxy host for its agent's health")
	}

	// With TLS, a database server's certificate also names the HAProxy
	// hosts and their VIP: HAProxy passes the sessions through.
	withTLS(top)
	tree = mustRender(t, top)
	mustContain(t, "RUNBOOK.md", file(t, tree, "RUNBOOK.md"),
		"The certificate of db1 names `DNS:db1.md.test,IP:10.235.0.12,DNS:proxy0.md.test,IP:10.235.0.21,DNS:proxy1.md.test,IP:10.235.0.22,IP:10.235.0.100,DNS:vip.md.test`")
	if _, ok := tree["proxy0/postgres/entrypoint.sh"]; ok {
		t.Error("TLS renders PostgreSQL on an HAProxy host")
	}
}
