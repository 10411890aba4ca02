package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hagen-ha/hagen/contract"
	nodeimage "github.com/hagen-ha/hagen/verify/image"
)

// realPG is a primary (socket port 5432) and a streaming standby (5433)
// of PostgreSQL 15 in a throwaway node-image container, reached from this
// process through a socket directory shared with the container, as the
// rendered agent reaches the database.
type realPG struct {
	dir string // the socket directory, here
}

// The container's setup: a cluster whose pg_hba admits the agent's role by
// peer only (this process runs as root: pg_ident maps root to hagen_agent,
// where the rendered deployment maps the agent's own OS user), the role
// created by contract.AgentRoleSQL, and a standby cloned from it.
const realPGScript = `set -euo pipefail
export PATH=/usr/lib/postgresql/15/bin:$PATH
as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --)
chmod 0777 /sock
"${as_pg[@]}" initdb -D /tmp/p -U postgres --auth-local=peer --auth-host=reject >/dev/null
cat >/tmp/p/pg_hba.conf <<'EOF'
local all         postgres    peer map=admin
local all         hagen_agent peer map=agent
local replication postgres    peer
local all         all         reject
EOF
cat >/tmp/p/pg_ident.conf <<'EOF'
admin postgres postgres
admin root     postgres
agent root     hagen_agent
EOF
cat >>/tmp/p/postgresql.conf <<'EOF'
listen_addresses = ''
unix_socket_directories = '/sock'
port = 5432
wal_level = replica
hot_standby = on
synchronous_standby_names = 'FIRST 1 ("db1")'
EOF
"${as_pg[@]}" pg_ctl -D /tmp/p -w -l /tmp/p.log start >/dev/null
# Setup commits wait for no standby (there is none yet).
psql() { PGOPTIONS='-c synchronous_commit=local' "${as_pg[@]}" /usr/lib/postgresql/15/bin/psql -X -q -v ON_ERROR_STOP=1 -h /sock -p 5432 -U postgres -d postgres "$@"; }
# A role left over with too much: the SQL must take it back.
psql -c 'CREATE ROLE hagen_agent SUPERUSER CREATEDB LOGIN' -c 'GRANT pg_read_server_files TO hagen_agent' -c 'GRANT ALTER SYSTEM ON PARAMETER work_mem TO hagen_agent'
psql -f /sock/role.sql
psql -f /sock/role.sql
"${as_pg[@]}" pg_basebackup -h /sock -p 5432 -U postgres -D /tmp/s -R -X stream -C -S db1 >/dev/null
"${as_pg[@]}" pg_ctl -D /tmp/s -w -l /tmp/s.log -o "-p 5433 -c cluster_name=db1" start >/dev/null
touch /sock/ready
exec sleep infinity
`

func startRealPG(t *testing.T) *realPG {
	t.Helper()
	if testing.Short() {
		t.Skip("starts PostgreSQL in Docker: not with -short")
	}
	skip := func(msg string) {
		if os.Getenv("HAGEN_REQUIRE_DOCKER") == "1" {
			t.Fatalf("HAGEN_REQUIRE_DOCKER=1 but %s", msg)
		}
		t.Skipf("skipping: %s (set HAGEN_REQUIRE_DOCKER=1 to fail instead)", msg)
	}
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		skip(fmt.Sprintf("no Docker engine answers: %s", strings.TrimSpace(string(out))))
	}
	// $HAGEN_NODE_IMAGE, else the node image of this build, built when
	// missing (once, whichever test package gets there first).
	image := os.Getenv("HAGEN_NODE_IMAGE")
	if image == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		res, err := nodeimage.Build(ctx, nodeimage.Options{})
		cancel()
		if err != nil {
			skip(fmt.Sprintf("the node image cannot be built here: %v", err))
		}
		image = res.Tag
	}
	if out, err := exec.Command("docker", "image", "inspect", image).CombinedOutput(); err != nil {
		skip(fmt.Sprintf("no node image %s (hagen images build): %s", image, strings.TrimSpace(string(out))))
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "role.sql"), []byte(contract.AgentRoleSQL()), 0o644); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("hagen-agent-pg-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		out, err := exec.Command("docker", "rm", "-f", "-v", name).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "No such container") {
			t.Errorf("docker rm %s: %v: %s", name, err, out)
		}
	})
	out, err := exec.Command("docker", "run", "-d", "--name", name, "--label", "dev.hagen.check=agent-pg-test",
		"-v", dir+":/sock", "--entrypoint", "bash", image, "-c", realPGScript).CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v: %s", err, out)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			logs, _ := exec.Command("docker", "logs", name).CombinedOutput()
			t.Fatalf("PostgreSQL did not come up in 2 minutes:\n%s", logs)
		}
		if st, _ := exec.Command("docker", "inspect", "-f", "{{.State.Running}}", name).Output(); strings.TrimSpace(string(st)) == "false" {
			logs, _ := exec.Command("docker", "logs", name).CombinedOutput()
			t.Fatalf("the container stopped:\n%s", logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return &realPG{dir: dir}
}

func (r *realPG) db(port int) contract.AgentDatabase {
	return contract.AgentDatabase{Host: r.dir, Port: port, User: contract.AgentRole, Name: "postgres", SSLMode: "disable", ConnectTimeout: 2}
}

// connect opens a session as user over the socket (peer authentication).
func (r *realPG) connect(t *testing.T, port int, user string) *pgx.Conn {
	t.Helper()
	db := r.db(port)
	db.User = user
	cfg, err := connConfig(db)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// The agent's queries work as hagen_agent (pg_monitor, no superuser) on a
// real primary and standby, the sync keeper's change works through the
// ALTER SYSTEM grant of PostgreSQL 15, and the role can do nothing else.
func TestRealPostgresLeastPrivilege(t *testing.T) {
	pg := startRealPG(t)
	ctx := context.Background()
	spec := contract.AgentStreaming{Synchronous: true}

	// The role as AgentRoleSQL leaves it, even over a role that had more.
	admin := pg.connect(t, 5432, "postgres")
	var super, createdb bool
	var limit int
	var members, params string
	if err := admin.QueryRow(ctx, `SELECT rolsuper, rolcreatedb, rolconnlimit,
		(SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid),
		(SELECT string_agg(p.parname, ',' ORDER BY p.parname) FROM pg_parameter_acl p, aclexplode(p.paracl) a WHERE a.grantee = r.oid)
		FROM pg_roles r WHERE rolname = 'hagen_agent'`).Scan(&super, &createdb, &limit, &members, &params); err != nil {
		t.Fatal(err)
	}
	if super || createdb || limit != contract.AgentRoleConnectionLimit || members != "pg_monitor" || params != "default_transaction_read_only,synchronous_standby_names" {
		t.Errorf("hagen_agent: superuser %v, createdb %v, connection limit %d, member of %q, parameter grants %q", super, createdb, limit, members, params)
	}

	primary := newPgSource(newPool(pg.db(5432)), spec)
	standby := newPgSource(newPool(pg.db(5433)), spec)
	var st status
	var err error
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err = primary.status(ctx)
		if err == nil && st.Sync != nil && st.Sync.State == "sync" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the primary never reported a synchronous standby: %+v %v", st, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st.Role != rolePrimary || !st.Writable || st.Timeline != 1 || len(st.Replicas) != 1 {
		t.Fatalf("primary as hagen_agent: %+v", st)
	}
	r := st.Replicas[0]
	if r.ApplicationName != "db1" || r.State != "streaming" || r.SyncState != "sync" || r.ReplayLagBytes == nil {
		t.Errorf("pg_stat_replication as hagen_agent: %+v (replay_lsn must be visible: pg_monitor)", r)
	}

	sst, err := standby.status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sst.Role != roleStandby || sst.Standby == nil || !sst.Standby.Streaming || sst.Standby.SenderHost != "/sock" || sst.Standby.Slot != "db1" || sst.Standby.ReceiveLSN == "" || sst.Timeline != 1 {
		t.Errorf("standby as hagen_agent: %+v %+v", sst, sst.Standby)
	}

	// pg_monitor is what makes the standby's receiver visible: without it
	// the sender and LSNs read as NULL. Running the role SQL again
	// restores it.
	if _, err := admin.Exec(ctx, "REVOKE pg_monitor FROM hagen_agent"); err != nil {
		t.Fatal(err)
	}
	fresh := newPgSource(newPool(pg.db(5433)), spec)
	if s, err := fresh.status(ctx); err != nil || s.Standby == nil || s.Standby.SenderHost != "" || s.Standby.ReceiveLSN != "" {
		t.Errorf("without pg_monitor the receiver's details were visible, so the grant is not needed: %+v %v", s.Standby, err)
	}
	if _, err := admin.Exec(ctx, contract.AgentRoleSQL()); err != nil {
		t.Fatalf("the role SQL as one statement: %v", err)
	}

	// The sync keeper's change, as hagen_agent.
	ok, why, err := primary.canKeepSync(ctx)
	if err != nil || !ok {
		t.Fatalf("canKeepSync on PostgreSQL 15 = %v %q %v", ok, why, err)
	}
	if err := primary.setSyncStandbyNames(ctx, ""); err != nil {
		t.Fatalf("ALTER SYSTEM as hagen_agent: %v", err)
	}
	waitSync := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, err := primary.status(ctx)
			if err == nil && st.Sync.State == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("sync state never became %s: %+v %v", want, st.Sync, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitSync("async")
	if err := primary.setSyncStandbyNames(ctx, contract.SyncStandbyNames(contract.SyncFirst, 1, []string{"db1"})); err != nil {
		t.Fatal(err)
	}
	waitSync("sync")

	// Nothing else.
	agent := pg.connect(t, 5432, contract.AgentRole)
	for stmt, want := range map[string]string{
		"ALTER SYSTEM SET work_mem = '8MB'": "42501",
		"CREATE TABLE public.x (i int)":     "42501",
		"SELECT rolpassword FROM pg_authid": "42501",
		"SELECT pg_read_file('PG_VERSION')": "42501",
		"CREATE ROLE y":                     "42501",
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'postgres'": "42501",
		"SELECT pg_sleep(2)":                              "57014", // statement_timeout 1 s
		"COPY (SELECT 1) TO PROGRAM 'true'":               "42501",
		"SET ROLE postgres":                               "42501",
		"SELECT pg_promote()":                             "42501",
		"SELECT pg_create_physical_replication_slot('x')": "42501",
	} {
		_, err := agent.Exec(ctx, stmt)
		if got := sqlState(err); got != want {
			t.Errorf("%s as hagen_agent: %v (SQLSTATE %q), want %q", stmt, err, got, want)
		}
	}

	// CONNECTION LIMIT: the role cannot hold more than its limit.
	var conns []*pgx.Conn
	defer func() {
		for _, c := range conns {
			c.Close(ctx)
		}
	}()
	var limited error
	for range contract.AgentRoleConnectionLimit + 1 {
		cfg, _ := connConfig(pg.db(5432))
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			limited = err
			break
		}
		conns = append(conns, c)
	}
	if sqlState(limited) != "53300" {
		t.Errorf("hagen_agent opened %d sessions (%v), want refusal at its limit of %d", len(conns), limited, contract.AgentRoleConnectionLimit)
	}
}

// The whole agent against a real primary: 300 parallel checks and 1,100
// idle connections. The numbers are reported; the assertions are that
// every check is answered 200 within HAProxy's 2 s and that PostgreSQL
// never sees more than the pool's sessions of hagen_agent.
func TestRealPostgresLoad(t *testing.T) {
	pg := startRealPG(t)
	cfg := agentConfig(pg.db(5432), true)
	addr, logged := runAgent(t, cfg)
	admin := pg.connect(t, 5432, "postgres")
	ctx, cancel := context.WithCancel(context.Background())
	var peak atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			var n int64
			if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'hagen_agent'").Scan(&n); err == nil && n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	const n = 300
	var wg sync.WaitGroup
	took := make([]time.Duration, n)
	var failed atomic.Int64
	client := checkClient()
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			code, err := getStatus(client, "http://"+addr+"/primary")
			took[i] = time.Since(t0)
			if err != nil || code != 200 {
				if failed.Add(1) <= 3 {
					t.Errorf("check %d: %d %v", i, code, err)
				}
			}
		}()
	}
	close(start)
	wg.Wait()

	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range 1100 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("idle connection %d: %v", i, err)
		}
		held = append(held, c)
		if i%3 == 2 {
			fmt.Fprint(c, "GET /primary HTTP/1.1\r\nHost: agent\r\nConnection: keep-alive\r\n\r\n")
		}
	}
	var idleTook []time.Duration
	for range 20 {
		t0 := time.Now()
		code, err := getStatus(client, "http://"+addr+"/primary")
		idleTook = append(idleTook, time.Since(t0))
		if err != nil || code != 200 {
			t.Errorf("/primary with 1,100 idle connections: %d %v", code, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-sampled
	if p := peak.Load(); p > poolSize {
		t.Errorf("PostgreSQL saw %d hagen_agent sessions at once, want at most %d", p, poolSize)
	}
	t.Logf("real PostgreSQL 15: %d parallel /primary (%d failed): p50 %s, p99 %s, max %s; peak hagen_agent sessions %d; /primary with 1,100 idle connections: p50 %s, max %s",
		n, failed.Load(), percentile(took, 0.5).Round(time.Millisecond), percentile(took, 0.99).Round(time.Millisecond), percentile(took, 1).Round(time.Millisecond),
		peak.Load(), percentile(idleTook, 0.5).Round(time.Microsecond), percentile(idleTook, 1).Round(time.Microsecond))
	// The keeper looks once a second and its first look may fall in the
	// burst above; it must find its grant within a few of its rounds.
	found := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if strings.Contains(logged(), "the agent keeps synchronous_standby_names") {
			found = true
			break
		}
	}
	if !found {
		t.Errorf("the keeper did not find its grant within 30 s:\n%s", logged())
	}
}
