package render_test

import (
	"strings"
	"testing"
)

// With security.tls every connection of hagen's processes to another
// site's database verifies the certificate against the CA
// (sslmode=verify-full); the server gets the files from the host's
// secrets at every start; the RUNBOOK says which names each certificate
// carries. Without TLS nothing of it is rendered.
func TestTLSBetweenSites(t *testing.T) {
	tree := mustRender(t, loadTopology(t, "../examples/quorum.cue"))
	const ca = "/run/hagen/postgres/tls/ca.crt"
	mustContain(t, "db0/postgres/postgresql.conf", file(t, tree, "db0/postgres/postgresql.conf"),
		"ssl = on\n", "ssl_cert_file = '/run/hagen/postgres/tls/server.crt'\n",
		"ssl_key_file = '/run/hagen/postgres/tls/server.key'\n", "ssl_ca_file = '"+ca+"'\n")
	mustContain(t, "db1/postgres/entrypoint.sh", file(t, tree, "db1/postgres/entrypoint.sh"),
		`install -o postgres -g postgres -m 0600 "${HAGEN_TLS_KEY_FILE:?`,
		`install -o postgres -g postgres -m 0644 "${HAGEN_TLS_CA_FILE:?`,
		"\ninstall_tls\n",
		"PGSSLMODE=verify-full PGSSLROOTCERT="+ca+" ",
		"sslmode=verify-full sslrootcert="+ca+"'",
	)
	mustContain(t, "db1/postgres/role.sh", file(t, tree, "db1/postgres/role.sh"),
		"readonly sslmode=verify-full\n", "readonly sslrootcert="+ca+"\n",
		`PGSSLMODE="$sslmode" PGSSLROOTCERT="$sslrootcert"`,
		"sslmode=$sslmode sslrootcert=$sslrootcert\" \"$slot\"",
		"passfile=$passfile sslmode=$sslmode sslrootcert=$sslrootcert\"; then")
	mustContain(t, "db1/keepalived/notify.sh", file(t, tree, "db1/keepalived/notify.sh"),
		"local sslmode=verify-full\n", "\t\tsslmode=require\n",
		`PGSSLMODE=$sslmode PGSSLROOTCERT="${HAGEN_TLS_CA_FILE:?`)
	mustContain(t, "db1/systemd/postgres-prepare.sh", file(t, tree, "db1/systemd/postgres-prepare.sh"),
		`install -o postgres -g postgres -m 0600 "${HAGEN_TLS_KEY_FILE:?`)
	compose := file(t, tree, "db1/docker-compose.yaml")
	mustContain(t, "db1/docker-compose.yaml", compose,
		"HAGEN_TLS_KEY_FILE: /run/secrets/etc_hagen_tls_server_key\n",
		"  etc_hagen_tls_server_key:\n    file: /etc/hagen/tls/server.key\n")
	rb := file(t, tree, "RUNBOOK.md")
	mustContain(t, "RUNBOOK.md", rb,
		"The certificate of db0 names `DNS:0.q.test,IP:10.233.0.11,IP:10.233.0.100,DNS:vip.q.test`",
		"The certificate of db2 names `DNS:2.q.test,IP:10.233.0.13,IP:10.233.0.100,DNS:vip.q.test`",
		"scp db1.key root@1.q.test:/etc/hagen/tls/server.key\n",
		"-keyout ca.key -out ca.crt\n")
	if n := strings.Count(rb, "-keyout ca.key"); n != 1 {
		t.Errorf("the RUNBOOK makes the CA %d times", n)
	}
	mustContain(t, "inventory.json", file(t, tree, "inventory.json"), `"sslmode": "verify-full"`, `"IP:10.233.0.12"`)

	// The agent reads no TLS file: it connects to its own node only.
	if strings.Contains(file(t, tree, "db1/systemd/hagen-quorum-agent.service"), "TLS") {
		t.Error("the agent's unit gets a TLS file")
	}

	top := loadTopology(t, "../examples/quorum.cue")
	top.Security.SSL, top.Security.TLS = false, nil
	for i := range top.Security.Access {
		top.Security.Access[i].Type = ""
	}
	plain := mustRender(t, top)
	for p, f := range plain {
		if s := string(f.Data); strings.Contains(s, "sslrootcert") || strings.Contains(s, "verify-full") || strings.Contains(s, "HAGEN_TLS") {
			t.Errorf("%s mentions TLS files without security.tls", p)
		}
	}
}

// Bucardo verifies the sites with the CA it installs for its own user.
func TestTLSBucardo(t *testing.T) {
	top := loadTopology(t, "../examples/dual-site.cue")
	withTLS(top)
	tree := mustRender(t, top)
	mustContain(t, "site0/bucardo/run.sh", file(t, tree, "site0/bucardo/run.sh"),
		"readonly sslmode=verify-full\n", "readonly sslrootcert=/run/hagen/bucardo/ca.crt\n",
		`install -o bucardo -g bucardo -m 0644 "${HAGEN_TLS_CA_FILE:?`,
		`printf ' sslrootcert=%s' "$sslrootcert"`)
	mustContain(t, "site0/bucardo/bucardo.json", file(t, tree, "site0/bucardo/bucardo.json"),
		`"host": "1.ha.test port=5444 sslmode=verify-full sslrootcert=/run/hagen/bucardo/ca.crt"`)
	mustContain(t, "site0/docker-compose.yaml", file(t, tree, "site0/docker-compose.yaml"), "HAGEN_TLS_CA_FILE: /run/secrets/etc_hagen_tls_ca_crt\n")
}
