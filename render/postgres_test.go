package render_test

import (
	"net/netip"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/schema"
)

// pgVariant is a spec, possibly changed after loading, to render.
type pgVariant struct {
	name   string
	spec   string
	change func(*schema.Topology)
}

// pgVariants are the examples as written plus the settings that change
// the PostgreSQL and Bucardo files: TLS, a superuser not named postgres,
// asynchronous streaming, a list of tables, no watchdog, file secrets.
func pgVariants() []pgVariant {
	return []pgVariant{
		{name: "dual-site", spec: "../examples/dual-site.cue"},
		{name: "primary-standby", spec: "../examples/primary-standby.cue"},
		{name: "weighted", spec: "../examples/weighted.cue"},
		{name: "dual-site-ssl", spec: "../examples/dual-site.cue", change: func(t *schema.Topology) { t.Security.SSL = true }},
		{name: "primary-standby-ssl", spec: "../examples/primary-standby.cue", change: func(t *schema.Topology) { t.Security.SSL = true }},
		{name: "primary-standby-async", spec: "../examples/primary-standby.cue", change: func(t *schema.Topology) { t.Database.Streaming.Synchronous = false }},
		{name: "dual-site-admin", spec: "../examples/dual-site.cue", change: func(t *schema.Topology) {
			t.Database.Superuser = "admin"
			t.Database.Password = "file:/etc/hagen-secrets/pg.pass"
			t.Database.Bucardo.Tables = schema.Tables{List: []string{"public.items", "orders"}}
			t.Database.Bucardo.Watchdog.Enabled = false
		}},
	}
}

func pgRender(t *testing.T, v pgVariant) (*schema.Topology, render.Tree) {
	t.Helper()
	top, _, err := schema.Load(v.spec)
	if err != nil {
		t.Fatalf("load %s: %v", v.spec, err)
	}
	if v.change != nil {
		v.change(top)
	}
	tree, err := render.Render(top)
	if err != nil {
		t.Fatalf("render %s: %v", v.name, err)
	}
	return top, tree
}

// hbaRecord is one non-comment line of pg_hba.conf.
type hbaRecord struct {
	Type, Database, User, Address, Method string
}

func parseHBA(t *testing.T, name string, data []byte) []hbaRecord {
	t.Helper()
	var recs []hbaRecord
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		var r hbaRecord
		switch {
		case len(f) >= 4 && f[0] == "local":
			r = hbaRecord{f[0], f[1], f[2], "", strings.Join(f[3:], " ")}
		case len(f) >= 5:
			r = hbaRecord{f[0], f[1], f[2], f[3], strings.Join(f[4:], " ")}
		default:
			t.Errorf("%s:%d: not a pg_hba record: %q", name, i+1, line)
			continue
		}
		recs = append(recs, r)
	}
	return recs
}

func TestPgHBANeverTrusts(t *testing.T) {
	for _, v := range pgVariants() {
		top, tree := pgRender(t, v)
		for _, s := range top.Sites {
			p := s.Name + "/postgres/pg_hba.conf"
			data, ok := tree[p]
			if !ok {
				t.Fatalf("%s: %s is not rendered", v.name, p)
			}
			if regexp.MustCompile(`(?m)^[^#]*\btrust\b`).Match(data.Data) {
				t.Errorf("%s: %s has a trust record:\n%s", v.name, p, data.Data)
			}
			for _, r := range parseHBA(t, p, data.Data) {
				ok := r.Type == "local" && strings.HasPrefix(r.Method, "peer") || r.Method == "scram-sha-256" ||
					r.Method == "reject" && r.User == contract.AgentRole
				if !ok {
					t.Errorf("%s: %s: %+v authenticates with neither peer (socket) nor scram-sha-256", v.name, p, r)
				}
			}
		}
	}
}

// The agent's role gets in by peer over the socket only: its records come
// before every other, and reject it from every network address.
func TestPgHBAAgentPeerOnly(t *testing.T) {
	for _, v := range pgVariants() {
		top, tree := pgRender(t, v)
		for _, s := range top.Sites {
			for _, p := range []string{s.Name + "/postgres/pg_hba.conf", s.Name + "/postgres/pg_hba.systemd.conf"} {
				f, ok := tree[p]
				if !ok {
					continue
				}
				recs := parseHBA(t, p, f.Data)
				want := []hbaRecord{
					{"local", "all", contract.AgentRole, "", "peer"},
					{"host", "all", contract.AgentRole, "0.0.0.0/0", "reject"},
					{"host", "all", contract.AgentRole, "::/0", "reject"},
				}
				if top.Database.Streaming == nil {
					for _, r := range recs {
						if r.User == contract.AgentRole {
							t.Errorf("%s: %s names the agent's role without an agent: %+v", v.name, p, r)
						}
					}
					continue
				}
				if len(recs) < len(want) || !slices.Equal(recs[:len(want)], want) {
					t.Errorf("%s: %s does not start with the agent's records %+v:\n%s", v.name, p, want, f.Data)
				}
			}
		}
	}
}

func TestPgHBASSL(t *testing.T) {
	for _, v := range pgVariants() {
		top, tree := pgRender(t, v)
		for _, s := range top.Sites {
			p := s.Name + "/postgres/pg_hba.conf"
			for _, r := range parseHBA(t, p, tree[p].Data) {
				want := "host"
				if top.Security.SSL {
					want = "hostssl"
				}
				if r.Method == "reject" {
					want = "host" // rejects every TCP connection, TLS or not
				}
				if r.Type != "local" && r.Type != want {
					t.Errorf("%s: %s: %+v is not %s (security.ssl %v)", v.name, p, r, want, top.Security.SSL)
				}
			}
			conf := string(tree[s.Name+"/postgres/postgresql.conf"].Data)
			if got := strings.Contains(conf, "\nssl = on\n"); got != top.Security.SSL {
				t.Errorf("%s: %s postgresql.conf has ssl = on: %v, security.ssl: %v", v.name, s.Name, got, top.Security.SSL)
			}
			if top.Security.SSL {
				for _, k := range []string{"ssl_cert_file", "ssl_key_file"} {
					if !regexp.MustCompile(`(?m)^` + k + ` = '/etc/hagen/postgres/tls/[^']+'$`).MatchString(conf) {
						t.Errorf("%s: %s: %s is not a file under /etc/hagen/postgres/tls/", v.name, s.Name, k)
					}
				}
			}
		}
	}
}

func TestPgHBAReplicationOnlyFromPeerDatabases(t *testing.T) {
	for _, v := range pgVariants() {
		top, tree := pgRender(t, v)
		for _, s := range top.Sites {
			p := s.Name + "/postgres/pg_hba.conf"
			var got []string
			for _, r := range parseHBA(t, p, tree[p].Data) {
				if r.Database != "replication" {
					continue
				}
				if top.Database.Streaming == nil || r.User != top.Database.Streaming.ReplicationUser {
					t.Errorf("%s: %s: replication record %+v for the wrong user", v.name, p, r)
				}
				got = append(got, r.Address)
			}
			var want []string
			if top.Database.Streaming != nil {
				for _, peer := range top.Sites {
					if peer.Name != s.Name && top.Role(peer.Name) != "" {
						want = append(want, peer.Address+"/32")
					}
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s: replication records from %v, want exactly the peer database hosts %v", v.name, p, got, want)
			}
		}
	}
}

func TestPgHBAAccess(t *testing.T) {
	for _, v := range pgVariants() {
		top, tree := pgRender(t, v)
		db := top.Database
		for _, s := range top.Sites {
			p := s.Name + "/postgres/pg_hba.conf"
			recs := parseHBA(t, p, tree[p].Data)
			has := func(database, user, addr string) bool {
				return slices.ContainsFunc(recs, func(r hbaRecord) bool {
					return r.Database == database && r.User == user && r.Address == addr
				})
			}
			if !has("all", "all", "") || recs[0].Type != "local" {
				t.Errorf("%s: %s: the first record is not the local socket's", v.name, p)
			}
			for _, addr := range []string{"127.0.0.1/32", "::1/128"} {
				if !has("all", "all", addr) {
					t.Errorf("%s: %s: no loopback record for %s", v.name, p, addr)
				}
			}
			// The superuser reaches every database from the sites that
			// dial this one as the superuser: itself, and Bucardo's site
			// (multi-master) or every database node (primary-standby);
			// from no other.
			for _, other := range top.Sites {
				dials := other.Name == s.Name || db.Bucardo != nil && db.Bucardo.Site == other.Name || db.Streaming != nil
				admitted := slices.ContainsFunc(recs, func(r hbaRecord) bool {
					return r.Database == "all" && r.User == db.Superuser && prefixHolds(r.Address, other.Address)
				})
				if admitted != dials {
					t.Errorf("%s: %s: the superuser %s from %s (%s): admitted %v, dials %v", v.name, p, db.Superuser, other.Name, other.Address, admitted, dials)
				}
			}
			if !has(db.Name, "all", "samenet") {
				t.Errorf("%s: %s: the compose network cannot reach %s", v.name, p, db.Name)
			}
			for _, cidr := range top.Security.AllowedClients {
				if !has(db.Name, "all", cidr) {
					t.Errorf("%s: %s: the client network %s cannot reach %s", v.name, p, cidr, db.Name)
				}
			}
			// Client networks never reach other databases.
			for _, r := range recs {
				if slices.Contains(top.Security.AllowedClients, r.Address) && r.Database != db.Name && r.User != db.Superuser {
					t.Errorf("%s: %s: client network record %+v reaches more than %s", v.name, p, r, db.Name)
				}
			}
			if db.Superuser != "postgres" {
				if recs[0].Method != "peer map=hagen" {
					t.Errorf("%s: %s: the socket record does not map the postgres OS user: %+v", v.name, p, recs[0])
				}
				ident := string(tree[s.Name+"/postgres/pg_ident.conf"].Data)
				if !regexp.MustCompile(`(?m)^hagen\s+postgres\s+` + db.Superuser + `$`).MatchString(ident) {
					t.Errorf("%s: %s pg_ident.conf does not map postgres to %s:\n%s", v.name, s.Name, db.Superuser, ident)
				}
			}
		}
	}
}

// pgSettings parses postgresql.conf into name → value (quotes removed).
func pgSettings(t *testing.T, name string, data []byte) map[string]string {
	t.Helper()
	m := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, val, ok := strings.Cut(line, " = ")
		if !ok {
			t.Errorf("%s:%d: not a setting: %q", name, i+1, line)
			continue
		}
		if _, dup := m[k]; dup {
			t.Errorf("%s:%d: %s is set twice", name, i+1, k)
		}
		m[k] = strings.Trim(val, "'")
	}
	return m
}

func TestPostgresqlConf(t *testing.T) {
	for _, v := range pgVariants() {
		top, tree := pgRender(t, v)
		db := top.Database
		for _, s := range top.Sites {
			p := s.Name + "/postgres/postgresql.conf"
			conf := pgSettings(t, p, tree[p].Data)
			want := map[string]string{
				"listen_addresses":    "*",
				"port":                "5432",
				"hba_file":            "/etc/hagen/postgres/pg_hba.conf",
				"password_encryption": "scram-sha-256",
				"log_destination":     "stderr",
				"log_connections":     "off",
				"cluster_name":        s.Name,
			}
			if st := db.Streaming; st != nil {
				role := top.Role(s.Name)
				want["wal_level"] = "replica"
				want["hot_standby"] = "on"
				want["wal_log_hints"] = "on"
				want["synchronous_commit"] = "on"
				want["synchronous_standby_names"] = ""
				if role == "primary" && st.Synchronous {
					var q []string
					for _, n := range st.SynchronousStandbyNames {
						q = append(q, `"`+n+`"`)
					}
					want["synchronous_standby_names"] = "FIRST 1 (" + strings.Join(q, ", ") + ")"
				}
				if sb := st.Standby(s.Name); sb != nil {
					want["primary_slot_name"] = sb.Slot
				} else if _, ok := conf["primary_slot_name"]; ok {
					t.Errorf("%s: %s: primary_slot_name on a node that is not a standby", v.name, p)
				}
			} else {
				if _, ok := conf["synchronous_standby_names"]; ok {
					t.Errorf("%s: %s: synchronous_standby_names in %s mode", v.name, p, db.Mode)
				}
				if n, err := strconv.Atoi(conf["max_connections"]); err != nil || n < 150 {
					t.Errorf("%s: %s: max_connections %s leaves little room for Bucardo", v.name, p, conf["max_connections"])
				}
			}
			for k, w := range want {
				if got, ok := conf[k]; !ok || got != w {
					t.Errorf("%s: %s: %s = %q, want %q", v.name, p, k, got, w)
				}
			}
		}
	}
}

// TestPostgresEntrypoint checks the entrypoint's promises that a reader
// cannot see from a run: what it runs and what it never does with a secret.
func TestPostgresEntrypoint(t *testing.T) {
	for _, v := range pgVariants() {
		top, tree := pgRender(t, v)
		for _, s := range top.Sites {
			p := s.Name + "/postgres/entrypoint.sh"
			f, ok := tree[p]
			if !ok {
				t.Fatalf("%s: %s is not rendered", v.name, p)
			}
			if f.Mode != 0o755 {
				t.Errorf("%s: %s has mode %v", v.name, p, f.Mode)
			}
			sh := string(f.Data)
			for _, want := range []string{
				"#!/usr/bin/env bash\n",
				"set -euo pipefail\n",
				". /etc/hagen/lib/hagen.sh\n",
				`exec "${as_postgres[@]}" postgres -D "$PGDATA" -c config_file="$conf"`,
				`readonly role_hook=/etc/hagen/postgres/role.sh`,
				`if [ -x "$role_hook" ]; then`,
			} {
				if !strings.Contains(sh, want) {
					t.Errorf("%s: %s lacks %q", v.name, p, want)
				}
			}
			for _, bad := range []string{"set -x", "PGPASSWORD=", "password=", "--password"} {
				if strings.Contains(sh, bad) {
					t.Errorf("%s: %s contains %q", v.name, p, bad)
				}
			}
			switch top.Role(s.Name) {
			case "standby":
				st := top.Database.Streaming
				sb := st.Standby(s.Name)
				for _, want := range []string{
					"pg_basebackup --pgdata=\"$PGDATA\" --write-recovery-conf --wal-method=stream",
					"--slot=" + sb.Slot + " ",
					"application_name=" + sb.ApplicationName + " ",
					"passfile=/run/hagen/postgres/pgpass ",
				} {
					if !strings.Contains(sh, want) {
						t.Errorf("%s: %s (standby) lacks %q", v.name, p, want)
					}
				}
				if strings.Contains(sh, "initdb") {
					t.Errorf("%s: %s: a standby runs initdb", v.name, p)
				}
			default:
				for _, want := range []string{"initdb --pgdata=\"$PGDATA\" --data-checksums", "--pwfile=\"$pwfile\"", `CREATE DATABASE "` + top.Database.Name + `"`} {
					if !strings.Contains(sh, want) {
						t.Errorf("%s: %s lacks %q", v.name, p, want)
					}
				}
				if top.Role(s.Name) == "primary" {
					for _, sb := range top.Database.Streaming.Standbys {
						if !strings.Contains(sh, "pg_create_physical_replication_slot('"+sb.Slot+"')") {
							t.Errorf("%s: %s: no slot for the standby %s", v.name, p, sb.Site)
						}
					}
					if !strings.Contains(sh, "PASSWORD :'pw'") {
						t.Errorf("%s: %s does not set the replication password through a psql variable", v.name, p)
					}
				}
			}
		}
	}
}

// TestRenderedSecretsAreReferences renders with every secret variable set
// in the environment and requires that no value reaches a rendered file of
// PostgreSQL or Bucardo, and that each password field is a reference.
func TestRenderedSecretsAreReferences(t *testing.T) {
	const sentinel = "Sentinel-Secret-Value-42"
	for _, name := range []string{"POSTGRES_PASSWORD", "REPLICATION_PASSWORD", "VRRP_AUTH_PASS", "HAPROXY_STATS_PASSWORD"} {
		t.Setenv(name, sentinel)
	}
	passField := regexp.MustCompile(`"pass":\s*"([^"]*)"`)
	for _, v := range pgVariants() {
		_, tree := pgRender(t, v)
		for _, p := range tree.Paths() {
			dir := path.Base(path.Dir(p))
			if dir != "postgres" && dir != "bucardo" {
				continue
			}
			data := string(tree[p].Data)
			if strings.Contains(data, sentinel) {
				t.Errorf("%s: %s contains a secret value from the environment", v.name, p)
			}
			for _, m := range passField.FindAllStringSubmatch(data, -1) {
				if !regexp.MustCompile(`^(env:[A-Z_][A-Z0-9_]*|file:/\S+)$`).MatchString(m[1]) {
					t.Errorf("%s: %s: pass %q is not a secret reference", v.name, p, m[1])
				}
			}
		}
	}
}

// TestRenderedScriptsShellcheck runs bash -n and shellcheck on the
// PostgreSQL and Bucardo scripts of every variant.
func TestRenderedScriptsShellcheck(t *testing.T) {
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck is not on PATH: install it (Debian package shellcheck) to check the rendered scripts")
	}
	for _, v := range pgVariants() {
		_, tree := pgRender(t, v)
		dir := t.TempDir()
		var scripts []string
		for _, p := range tree.Paths() {
			dst := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, tree[p].Data, tree[p].Mode); err != nil {
				t.Fatal(err)
			}
			if d := path.Base(path.Dir(p)); path.Ext(p) == ".sh" && (d == "postgres" || d == "bucardo") {
				scripts = append(scripts, dst)
			}
		}
		if len(scripts) == 0 {
			t.Fatalf("%s: no PostgreSQL or Bucardo scripts rendered", v.name)
		}
		for _, s := range scripts {
			if out, err := exec.Command("bash", "-n", s).CombinedOutput(); err != nil {
				t.Errorf("%s: bash -n %s: %v\n%s", v.name, s, err, out)
			}
			if out, err := exec.Command(shellcheck, "-x", s).CombinedOutput(); err != nil {
				t.Errorf("%s: shellcheck %s: %v\n%s", v.name, s, err, out)
			}
		}
	}
}

// prefixHolds reports whether the pg_hba.conf address cidr admits ip.
func prefixHolds(cidr, ip string) bool {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return false
	}
	return p.Contains(netip.MustParseAddr(ip))
}
