package render_test

import (
	"strings"
	"testing"

	"github.com/hagen-ha/hagen/render"
)

// An IPv6 deployment: each format gets the address in its own form.
func TestIPv6Everywhere(t *testing.T) {
	top := loadTopology(t, "../examples/ipv6.cue")
	tree := mustRender(t, top)
	for p, wants := range map[string][]string{
		"db0/postgres/pg_hba.conf":                {"host     replication  replicator   2001:db8:232::12/128 scram-sha-256\n", "host     all          postgres     2001:db8:232::/64  scram-sha-256\n"},
		"db0/haproxy/haproxy.cfg":                 {"    bind :::5000 v4v6\n", "    server db1 [2001:db8:232::12]:5444 check", "    bind [2001:db8:232::11]:8404\n"},
		"db0/keepalived/keepalived.conf":          {"    version 3\n", "    unicast_src_ip 2001:db8:232::11\n", "        2001:db8:232::100/64 dev eth0\n"},
		"db0/keepalived/check.sh":                 {"peers=('[2001:db8:232::12]')\n"},
		"db0/keepalived/witness.sh":               {"witnesses=(2001:db8:232::fe)\n"},
		"db0/agent/agent.json":                    {`"health": "http://[2001:db8:232::12]:8008/health"`},
		"db0/docker-compose.yaml":                 {"      - '[2001:db8:232::11]:5444:5432'\n", "      - '[2001:db8:232::100]:5444:5432'\n"},
		"db0/systemd/hagen-ipv6-postgres.service": {"-c listen_addresses=localhost,2001:db8:232::11,2001:db8:232::100\n"},
		"db0/systemd/postgres-prepare.sh":         {"/proc/sys/net/ipv6/ip_nonlocal_bind"},
		"clients/v6.test.zone":                    {"0\tIN\tAAAA\t2001:db8:232::11\t; site db0\n", "ns\tIN\tAAAA\t2001:db8:232::53\t; name server\n"},
		"clients/named.conf":                      {"listen-on-v6 { any; };"},
		"RUNBOOK.md":                              {"dig +short AAAA @2001:db8:232::53 0.v6.test", "'http://[2001:db8:232::12]:8008/primary'", "net.ipv6.ip_nonlocal_bind = 1"},
	} {
		mustContain(t, p, file(t, tree, p), wants...)
	}
	if c := file(t, tree, "db0/keepalived/keepalived.conf"); strings.Contains(c, "auth_") || strings.Contains(c, "include") {
		t.Error("keepalived.conf of an IPv6 VIP has authentication")
	}
	// VRRP version 3 has no authentication: a Topology that slips past the
	// schema fails the render.
	top.VIP.Auth = "env:VRRP_AUTH_PASS"
	if _, err := render.Render(top); err == nil || !strings.Contains(err.Error(), "VRRP version 3") {
		t.Errorf("an IPv6 VIP with authentication rendered: %v", err)
	}
	// An IPv4 deployment keeps A records and no IPv6 listener.
	v4 := mustRender(t, loadTopology(t, "../examples/primary-standby.cue"))
	mustContain(t, "clients/named.conf", file(t, v4, "clients/named.conf"), "listen-on-v6 { none; };")
	mustContain(t, "db0/haproxy/haproxy.cfg", file(t, v4, "db0/haproxy/haproxy.cfg"), "    bind *:5000\n")
}
