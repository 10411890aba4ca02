package render_test

import (
	"strings"
	"testing"
)

// The archive command and the parameters reach postgresql.conf as quoted
// strings that PostgreSQL reads back unchanged, however hostile the text;
// a default of hagen's that a parameter replaces is commented out.
func TestPostgresqlConfSettings(t *testing.T) {
	hostile := `test ! -f '/arch/%f' && cp %p "/arch/%f" \ $HOME; echo \n`
	top := loadTopology(t, "../examples/quorum.cue")
	top.Database.Settings.ArchiveCommand = hostile
	top.Database.Parameters["application_name"] = `it's \ 'x'`
	tree := mustRender(t, top)
	conf := file(t, tree, "db1/postgres/postgresql.conf")
	mustContain(t, "db1/postgres/postgresql.conf", conf,
		`archive_command = 'test ! -f ''/arch/%f'' && cp %p "/arch/%f" \\ $HOME; echo \\n'`+"\n",
		`application_name = 'it''s \\ ''x'''`+"\n",
		"#shared_buffers = 128MB  (set below by database.parameters)\n",
		"shared_buffers = '256MB'\n",
		"archive_mode = on\n",
		"wal_keep_size = '512MB'\n",
		"hot_standby = on\n",
	)
	if strings.Count(conf, "\nshared_buffers = ") != 1 {
		t.Errorf("shared_buffers is set more than once:\n%s", conf)
	}
}

// listen "host": natively the file names loopback, the site's address and
// the VIP; with the compose target the container listens on its own
// network, the compose file publishes on those addresses and the native
// unit sets listen_addresses on its command line.
func TestPostgresListenHost(t *testing.T) {
	top := loadTopology(t, "../examples/quorum.cue")
	tree := mustRender(t, top)
	mustContain(t, "db0/postgres/postgresql.conf", file(t, tree, "db0/postgres/postgresql.conf"), "listen_addresses = '*'\n")
	mustContain(t, "db0/docker-compose.yaml", file(t, tree, "db0/docker-compose.yaml"),
		"      - 127.0.0.1:5432:5432\n      - 10.233.0.11:5432:5432\n      - 10.233.0.100:5432:5432\n")
	mustContain(t, "db0/systemd/hagen-quorum-postgres.service", file(t, tree, "db0/systemd/hagen-quorum-postgres.service"),
		" -c listen_addresses=localhost,10.233.0.11,10.233.0.100\n")
	mustContain(t, "db0/systemd/postgres-prepare.sh", file(t, tree, "db0/systemd/postgres-prepare.sh"),
		`if [ "$(cat /proc/sys/net/ipv4/ip_nonlocal_bind)" != 1 ]; then`)
	mustContain(t, "RUNBOOK.md", file(t, tree, "RUNBOOK.md"), "echo 'net.ipv4.ip_nonlocal_bind = 1' > /etc/sysctl.d/90-hagen.conf")

	top = loadTopology(t, "../examples/quorum.cue")
	top.Render.Targets = []string{"systemd"}
	tree = mustRender(t, top)
	mustContain(t, "db1/postgres/postgresql.conf", file(t, tree, "db1/postgres/postgresql.conf"),
		"listen_addresses = 'localhost,10.233.0.12,10.233.0.100'\n")
	if strings.Contains(file(t, tree, "db1/systemd/hagen-quorum-postgres.service"), "listen_addresses") {
		t.Error("the native unit overrides listen_addresses although postgresql.conf is its own")
	}

	// "all" is PostgreSQL's '*' and a port published on every address.
	top = loadTopology(t, "../examples/quorum.cue")
	top.Database.Settings.Listen = "all"
	tree = mustRender(t, top)
	mustContain(t, "db0/docker-compose.yaml", file(t, tree, "db0/docker-compose.yaml"), "      - 5432:5432\n")
	if strings.Contains(file(t, tree, "RUNBOOK.md"), "ip_nonlocal_bind") {
		t.Error("the RUNBOOK asks for nonlocal binds although PostgreSQL binds no VIP")
	}
}

// hot_standby off where the spec says so (without a vip: the Inmanta
// document's manual failover).
func TestPostgresWarmStandby(t *testing.T) {
	top := loadTopology(t, "../examples/primary-standby.cue")
	top.VIP = nil
	top.Database.Settings.HotStandby = false
	if err := top.Validate(); err != nil {
		t.Fatal(err)
	}
	tree := mustRender(t, top)
	for _, s := range []string{"db0", "db1"} {
		mustContain(t, s+"/postgres/postgresql.conf", file(t, tree, s+"/postgres/postgresql.conf"), "hot_standby = off\n")
	}
}
