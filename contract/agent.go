package contract

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// AgentConfig is agent/agent.json, the configuration of `hagen agent` on a
// primary-standby site.
type AgentConfig struct {
	// Site is the spec's name of this node.
	Site string `json:"site"`
	// Listen is the HTTP address, "<site address>:<healthPort>". An
	// empty host (":<healthPort>", hagen's older form) listens on every
	// address of the host.
	Listen string `json:"listen"`
	// AlsoListen are further addresses served the same way, e.g.
	// "127.0.0.1:<healthPort>" for keepalived's local checks.
	AlsoListen []string `json:"alsoListen,omitempty"`
	// AllowFrom, when not empty, are the networks (CIDR) whose
	// connections are served; any other is closed at once, before it
	// costs a connection slot. Empty: every source is served.
	AllowFrom []string       `json:"allowFrom,omitempty"`
	Database  AgentDatabase  `json:"database"`
	Peers     []AgentPeer    `json:"peers"`
	Streaming AgentStreaming `json:"streaming"`

	// PrimaryPath is a further URL path that answers as /primary: the
	// spec's health path (database.streaming.healthPath), which HAProxy
	// and keepalived check. Empty or "/primary": /primary only.
	PrimaryPath string `json:"primaryPath,omitempty"`
	// Patroni is set when Patroni manages the database. The agent then
	// serves no HTTP (Patroni's REST API answers /primary and /replica on
	// the health port; Listen is empty) and does one thing: it keeps
	// onStandbyDown "block" from blocking a primary that was promoted
	// with no standby left (AgentPatroni).
	Patroni *AgentPatroni `json:"patroni,omitempty"`
}

// AgentPatroni is what the agent needs of the local Patroni. With
// synchronous_mode_strict (onStandbyDown "block") and a single standby,
// Patroni blocks every write of a standby it promoted after the primary's
// loss until the old primary streams again. Patroni's on_role_change
// callback leaves the file PromotedAloneMark when it promotes this node
// and no standby streams from it; while that file exists and this node
// holds the leader lock, the agent turns strict mode and synchronous mode
// off (Patroni then clears synchronous_standby_names '*') and synchronous
// mode on again, and when a synchronous standby streams again, strict mode
// on and the file away.
type AgentPatroni struct {
	// API is the local Patroni REST API, "http://<address>:<port>".
	API string `json:"api"`
	// User of the REST API's changing requests; its password is read at
	// every request from the variable PasswordEnv, else from the file
	// the variable PasswordFileEnv names.
	User            string `json:"user"`
	PasswordEnv     string `json:"passwordEnv"`
	PasswordFileEnv string `json:"passwordFileEnv,omitempty"`
	// PromotedAloneMark is the callback's file.
	PromotedAloneMark string `json:"promotedAloneMark"`
	// IntervalMs is how often the agent looks (100).
	IntervalMs int `json:"intervalMs"`
}

// AgentDatabase says how the agent reaches the local database.
type AgentDatabase struct {
	// Host is the server's address or, starting with "/", the directory
	// of its Unix socket, whose file is <Host>/.s.PGSQL.<Port> (libpq's
	// convention).
	Host string `json:"host"`
	Port int    `json:"port"`
	// User is the role the agent connects as: AgentRole, created by
	// AgentRoleSQL (older configurations name the superuser).
	User    string `json:"user"`
	Name    string `json:"name"`
	SSLMode string `json:"sslmode"`
	// The password is read at every connection from the variable named
	// PasswordEnv, or else from the file named by the variable
	// PasswordFileEnv; it is never part of the configuration. Both empty:
	// no password is sent, for peer authentication over the Unix socket
	// (Host must then be a socket directory).
	PasswordEnv     string `json:"passwordEnv,omitempty"`
	PasswordFileEnv string `json:"passwordFileEnv,omitempty"`
	ConnectTimeout  int    `json:"connectTimeoutSeconds"`
}

// AgentPeer is another database node and its agent's health URL.
type AgentPeer struct {
	Site    string `json:"site"`
	Address string `json:"address"`
	Health  string `json:"health"`
}

// AgentStreaming is the spec's replication policy, which /health compares
// with what the database reports.
type AgentStreaming struct {
	Primary                 string   `json:"primary"`
	Synchronous             bool     `json:"synchronous"`
	SynchronousStandbyNames []string `json:"synchronousStandbyNames"`
	OnStandbyDown           string   `json:"onStandbyDown"`
	// StandbyNames is each database site's application_name as a standby
	// (postgres/role.sh uses the same): the agent of a primary puts a
	// returning standby back into synchronous_standby_names.
	StandbyNames map[string]string `json:"standbyNames"`
	// FailoverAfter: with onStandbyDown "async", the seconds without a
	// synchronous standby after which the primary's agent clears
	// synchronous_standby_names.
	FailoverAfter int `json:"failoverAfterSeconds"`
	// SynchronousMethod ("first" or "any"; empty is "first") and
	// SynchronousCount (0 is 1): how many standbys confirm each commit,
	// as synchronous_standby_names says it (SyncStandbyNames).
	SynchronousMethod string `json:"synchronousMethod,omitempty"`
	SynchronousCount  int    `json:"synchronousCount,omitempty"`
}

// ParseAgentConfig decodes agent.json strictly; name is used in errors.
func ParseAgentConfig(name string, data []byte) (*AgentConfig, error) {
	var c AgentConfig
	if err := decode(name, data, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// ReadAgentConfig reads and decodes the agent.json at path.
func ReadAgentConfig(path string) (*AgentConfig, error) {
	return readFile(path, ParseAgentConfig)
}

// Validate checks what the JSON shape cannot.
func (c *AgentConfig) Validate() error {
	var p problems
	p.need("site", c.Site)
	if c.Patroni == nil {
		p.need("listen", c.Listen)
	}
	if pt := c.Patroni; pt != nil {
		if u, err := url.Parse(pt.API); err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			p.add("patroni.api %q is not an http:// or https:// URL with a host", pt.API)
		}
		p.need("patroni.user", pt.User)
		p.need("patroni.passwordEnv", pt.PasswordEnv)
		if !strings.HasPrefix(pt.PromotedAloneMark, "/") {
			p.add("patroni.promotedAloneMark %q is not an absolute path", pt.PromotedAloneMark)
		}
		if pt.IntervalMs < 100 {
			p.add("patroni.intervalMs %d must be at least 100", pt.IntervalMs)
		}
	}
	if c.Listen != "" {
		p.listen("listen", c.Listen)
	}
	for i, l := range c.AlsoListen {
		p.listen(fmt.Sprintf("alsoListen[%d]", i), l)
	}
	for i, a := range c.AllowFrom {
		if _, err := netip.ParsePrefix(a); err != nil {
			p.add("allowFrom[%d] %q is not a network in CIDR notation (e.g. 10.0.0.0/24)", i, a)
		}
	}
	d := c.Database
	p.need("database.host", d.Host)
	p.need("database.user", d.User)
	p.need("database.name", d.Name)
	if d.PasswordEnv == "" && d.PasswordFileEnv == "" && !strings.HasPrefix(d.Host, "/") {
		p.add("database.passwordEnv is empty and database.host %q is not a socket directory: without a password the agent authenticates by peer over the Unix socket only", d.Host)
	}
	p.port("database.port", d.Port)
	if d.ConnectTimeout < 1 {
		p.add("database.connectTimeoutSeconds %d must be at least 1", d.ConnectTimeout)
	}
	switch d.SSLMode {
	case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
	default:
		p.add("database.sslmode %q is not a libpq sslmode", d.SSLMode)
	}
	for i, peer := range c.Peers {
		p.need(fmt.Sprintf("peers[%d].site", i), peer.Site)
		p.need(fmt.Sprintf("peers[%d].address", i), peer.Address)
	}
	switch c.Streaming.OnStandbyDown {
	case "block", "async":
	default:
		p.add("streaming.onStandbyDown %q is neither block nor async", c.Streaming.OnStandbyDown)
	}
	if c.PrimaryPath != "" {
		switch {
		case !strings.HasPrefix(c.PrimaryPath, "/"):
			p.add("primaryPath %q does not start with /", c.PrimaryPath)
		case c.PrimaryPath == "/replica" || c.PrimaryPath == "/health":
			p.add("primaryPath %q is the agent's own URL for another answer", c.PrimaryPath)
		}
	}
	switch c.Streaming.SynchronousMethod {
	case "", SyncFirst, SyncAny:
	default:
		p.add("streaming.synchronousMethod %q is neither first nor any", c.Streaming.SynchronousMethod)
	}
	if c.Streaming.SynchronousCount < 0 {
		p.add("streaming.synchronousCount %d must not be negative", c.Streaming.SynchronousCount)
	}
	return p.err()
}

// Password reads the REST API's password: the variable PasswordEnv, or
// the file PasswordFileEnv names (one trailing newline removed).
func (p AgentPatroni) Password() (string, error) {
	if v := os.Getenv(p.PasswordEnv); v != "" {
		return v, nil
	}
	if p.PasswordFileEnv != "" {
		if path := os.Getenv(p.PasswordFileEnv); path != "" {
			data, err := os.ReadFile(path)
			if err != nil {
				return "", fmt.Errorf("read the REST API password: %w", err)
			}
			return strings.TrimSuffix(string(data), "\n"), nil
		}
	}
	return "", fmt.Errorf("the REST API password is not set (neither %s nor %s)", p.PasswordEnv, p.PasswordFileEnv)
}

// listen checks an HTTP listen address: "<IP>:<port>" or ":<port>".
func (p *problems) listen(field, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add("%s: %v", field, err)
		return
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			p.add("%s: %q is not an IP address", field, host)
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.add("%s: %q is not a port", field, port)
	}
}

// Password reads the database password the way hagen's scripts do: the
// variable itself, or the file its _FILE variable names (one trailing
// newline removed).
func (d AgentDatabase) Password() (string, error) {
	if d.PasswordEnv == "" && d.PasswordFileEnv == "" {
		return "", nil // peer authentication
	}
	if v := os.Getenv(d.PasswordEnv); v != "" {
		return v, nil
	}
	if d.PasswordFileEnv != "" {
		if path := os.Getenv(d.PasswordFileEnv); path != "" {
			data, err := os.ReadFile(path)
			if err != nil {
				return "", fmt.Errorf("read the database password: %w", err)
			}
			return strings.TrimSuffix(string(data), "\n"), nil
		}
	}
	return "", fmt.Errorf("the database password is not set (neither %s nor %s)", d.PasswordEnv, d.PasswordFileEnv)
}

// AgentRole is the database role hagen's agent connects as. It is not a
// superuser: see AgentRoleSQL for exactly what it may do.
const AgentRole = "hagen_agent"

// AgentRoleConnectionLimit caps the role's sessions in PostgreSQL itself:
// the agent keeps at most two (its pool), plus one for the overlap of a
// restart. Whatever the agent does, it cannot take the connections the
// superuser's scripts need to fence or promote.
const AgentRoleConnectionLimit = 3

// AgentRoleSQL returns the SQL that creates the agent's role, or brings
// an existing one back to exactly these rights; it is safe to run on
// every start. Run it as the superuser on a writable primary (roles are
// cluster-wide and reach the standbys by replication), e.g. with psql over
// the local socket, outside a transaction block.
//
// The agent's queries need, and the role gets:
//   - LOGIN, no password (peer authentication over the Unix socket), at
//     most AgentRoleConnectionLimit sessions, no other attribute;
//   - pg_monitor: the full rows of pg_stat_replication and
//     pg_stat_wal_receiver (without it sender_host, the LSNs and the lag
//     columns read as NULL); pg_is_in_recovery(), the WAL position and
//     replay functions and current_setting() of the settings read need
//     no grant;
//   - EXECUTE on pg_reload_conf() and, on PostgreSQL 15 and later, ALTER
//     SYSTEM on two settings only: synchronous_standby_names (the sync
//     keeper's change) and default_transaction_read_only (the fence of a
//     stale primary: fence.go in internal/agent). PostgreSQL 13 and 14
//     cannot grant ALTER SYSTEM to a role that is not a superuser: there
//     the agent reports the synchronous state but does not change it (it
//     says so in its log and in /health's sync.keeper), the operator
//     restores synchronous_standby_names after a failover by hand, and
//     only keepalived's notify.sh fences;
//   - statement_timeout 1 s, lock_timeout 1 s and
//     idle_in_transaction_session_timeout 5 s as the role's defaults.
//
// Any other role membership or parameter privilege the role holds is
// revoked.
func AgentRoleSQL() string {
	return fmt.Sprintf(agentRoleSQL, AgentRole, AgentRoleConnectionLimit)
}

const agentRoleSQL = `DO $hagen$
DECLARE
	agent constant text := '%s';
	other record;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = agent) THEN
		EXECUTE format('CREATE ROLE %%I', agent);
	END IF;
	EXECUTE format('ALTER ROLE %%I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT %d PASSWORD NULL', agent);
	FOR other IN
		SELECT g.rolname FROM pg_catalog.pg_auth_members m
		JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
		JOIN pg_catalog.pg_roles u ON u.oid = m.member
		WHERE u.rolname = agent AND g.rolname <> 'pg_monitor'
	LOOP
		EXECUTE format('REVOKE %%I FROM %%I', other.rolname, agent);
	END LOOP;
	EXECUTE format('GRANT pg_monitor TO %%I', agent);
	EXECUTE format('GRANT EXECUTE ON FUNCTION pg_catalog.pg_reload_conf() TO %%I', agent);
	IF current_setting('server_version_num')::int >= 150000 THEN
		FOR other IN EXECUTE
			'SELECT p.parname FROM pg_catalog.pg_parameter_acl p, pg_catalog.aclexplode(p.paracl) a
			 WHERE a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)
			 AND p.parname NOT IN (''synchronous_standby_names'', ''default_transaction_read_only'')' USING agent
		LOOP
			EXECUTE format('REVOKE ALL ON PARAMETER %%s FROM %%I', other.parname, agent);
		END LOOP;
		EXECUTE format('GRANT ALTER SYSTEM ON PARAMETER synchronous_standby_names TO %%I', agent);
		EXECUTE format('GRANT ALTER SYSTEM ON PARAMETER default_transaction_read_only TO %%I', agent);
	END IF;
	EXECUTE format('ALTER ROLE %%I SET statement_timeout = %%L', agent, '1s');
	EXECUTE format('ALTER ROLE %%I SET lock_timeout = %%L', agent, '1s');
	EXECUTE format('ALTER ROLE %%I SET idle_in_transaction_session_timeout = %%L', agent, '5s');
END
$hagen$;
`
