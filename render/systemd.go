package render

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// systemd units of a site, in DIR/<site>/systemd/. Two alternatives:
//
//   - target "compose": one unit that runs the site's compose project from
//     its install directory, <installDir>/<topology>/<site>;
//   - target "systemd": one unit per component, run natively on the host
//     from the Debian packages (PostgreSQL, Bucardo, keepalived, HAProxy,
//     the hagen agent) and one `docker run` unit per app service.
//
// A host uses one of them: the native units conflict with the compose unit.
// Native units see each concern's directory at /etc/hagen/<dir> (a private
// read-only bind mount, as the compose file mounts it), so rendered files
// that name /etc/hagen paths work unchanged; HAGEN_ETC names the installed
// site directory as well. Secrets reach a unit as variables from the site's
// hagen.env (env: references) or as NAME_FILE paths (file: references);
// no unit holds a value.

// unitView is one unit file; the template prints each set directive.
type unitView struct {
	Header string
	// Comment lines after the header, without the marker.
	Comment []string
	Name    string // file name, e.g. hagen-dual-site-site0.service

	Description string
	Requires    []string
	Wants       []string
	After       []string
	Conflicts   []string

	Type             string
	RemainAfterExit  bool
	User             string
	Group            string
	WorkingDirectory string
	EnvironmentFiles []string
	// Environment entries, already quoted for the unit file.
	Environment       []string
	BindReadOnlyPaths []string
	// Command lines, already quoted for the unit file.
	ExecStartPre    []string
	ExecStart       string
	ExecReload      []string
	ExecStop        []string
	Restart         string
	RestartSec      string
	TimeoutStartSec string
	TimeoutStopSec  string
	KillMode        string
	KillSignal      string
}

// Paths on a host that runs a site.
const (
	unitDocker      = "/usr/bin/docker"
	unitShell       = "/bin/sh"
	unitHagenBinary = "/usr/local/bin/hagen"
)

// siteInstallDir is where the site's tree is installed on its host.
func (v *siteView) siteInstallDir() string {
	return path.Join(v.T.Render.InstallDir, v.T.Name, v.Site.Name)
}

// unitName is the file name of one of the site's units.
func (v *siteView) unitName(component string) string {
	return "hagen-" + v.T.Name + "-" + component + ".service"
}

// composeUnitName is the name of the unit that runs the compose project.
func (v *siteView) composeUnitName() string { return v.unitName(v.Site.Name) }

func renderSystemd(b *builder, v *siteView) {
	var units []*unitView
	if hasTarget(v.T, "compose") {
		units = append(units, v.composeUnit())
	}
	if hasTarget(v.T, "systemd") {
		units = append(units, v.nativeUnits()...)
		renderPostgresPrepare(b, v)
	}
	seen := map[string]string{}
	for _, u := range units {
		if other, dup := seen[u.Name]; dup {
			b.fail(fmt.Errorf("render systemd for site %s: %s is the unit of both %s and %s; rename the service", v.Site.Name, u.Name, other, u.Description))
			return
		}
		seen[u.Name] = u.Description
		u.Header = header(v.Spec, "#")
		b.addTemplate(v.path("systemd/"+u.Name), 0o644, "systemd.service.tmpl", u)
	}
}

// composeUnit runs the site's compose project: up on start, down on stop.
func (v *siteView) composeUnit() *unitView {
	dir := v.siteInstallDir()
	compose := func(args ...string) string {
		return sdCommand(append([]string{unitDocker, "compose", "--env-file", EnvFile}, args...))
	}
	return &unitView{
		Name: v.composeUnitName(),
		Comment: []string{
			fmt.Sprintf("Site %s (%s): the compose project %s-%s from %s.", v.Site.Name, v.Site.Host, v.T.Name, v.Site.Name, dir),
			"Install the site tree there and create " + EnvFile + " from " + EnvFile + ".template (chmod 600),",
			"then: cp " + v.composeUnitName() + " /etc/systemd/system/ && systemctl daemon-reload &&",
			"systemctl enable --now " + v.composeUnitName(),
			"Containers restart by their compose policy; this unit starts and stops the project.",
		},
		Description: fmt.Sprintf("hagen %s: site %s (docker compose)", v.T.Name, v.Site.Name),
		Requires:    []string{"docker.service"},
		Wants:       []string{"network-online.target"},
		After:       []string{"docker.service", "network-online.target"},

		Type:             "oneshot",
		RemainAfterExit:  true,
		WorkingDirectory: sdPath(dir),
		ExecStart:        compose("up", "-d", "--remove-orphans"),
		ExecReload:       []string{compose("up", "-d", "--remove-orphans")},
		ExecStop:         []string{compose("down")},
		Restart:          "on-failure",
		RestartSec:       "10s",
		TimeoutStartSec:  "600",
		TimeoutStopSec:   "120",
	}
}

// nativeUnits are the units of the "systemd" target.
func (v *siteView) nativeUnits() []*unitView {
	units := []*unitView{v.postgresUnit()}
	if v.Bucardo {
		// run.sh waits for every site's database; starting after the
		// local one saves it a wait.
		u := v.scriptUnit("bucardo", "Bucardo replication", "bucardo/run.sh", v.dbSecrets())
		pg := v.unitName("postgres")
		u.Wants = append(u.Wants, pg)
		u.After = append(u.After, pg)
		units = append(units, u)
	}
	if v.VIP {
		uses := v.dbSecrets()
		if v.T.VIP.Auth != "" {
			uses = append(uses, secretUse{secretVRRPAuth, v.T.VIP.Auth})
		}
		// keepalived's track script follows the database; it must keep
		// running (and give up the VIP) while PostgreSQL is down.
		u := v.scriptUnit("keepalived", "keepalived virtual IP "+v.T.VIP.Address, "keepalived/run.sh", uses)
		pg := v.unitName("postgres")
		u.Wants = append(u.Wants, pg)
		u.After = append(u.After, pg)
		units = append(units, u)
	}
	if v.Proxy {
		var uses []secretUse
		if v.T.Proxy.Stats != nil {
			uses = append(uses, secretUse{secretStatsPass, v.T.Proxy.Stats.Password})
		}
		units = append(units, v.scriptUnit("haproxy", fmt.Sprintf("HAProxy on port %d", v.T.Proxy.Port), "haproxy/run.sh", uses))
	}
	if v.Role != "" {
		units = append(units, v.agentUnit())
	}
	for _, name := range v.services() {
		units = append(units, v.appUnit(name))
	}
	return units
}

// nativeBase is what every native unit shares.
func (v *siteView) nativeBase(component, what string) *unitView {
	return &unitView{
		Name:        v.unitName(component),
		Description: fmt.Sprintf("hagen %s: %s on site %s", v.T.Name, what, v.Site.Name),
		Wants:       []string{"network-online.target"},
		After:       []string{"network-online.target"},
		Conflicts:   []string{v.composeUnitName()},
		Type:        "simple",
		Restart:     "always",
		RestartSec:  "2s",
	}
}

// postgresUnit runs the site's PostgreSQL from the Debian package with the
// rendered configuration, on the published port: on a host there is no
// port mapping, and the other sites dial <host>:<publishedPort>. Before it
// starts, systemd/postgres-prepare.sh (as root) creates the runtime
// directories, checks that the data directory holds a cluster and, for
// streaming replication, writes the password file that primary_conninfo
// names, as the container entrypoint does. The server itself runs without
// the secrets in its environment.
func (v *siteView) postgresUnit() *unitView {
	db := v.T.Database
	dir := v.siteInstallDir()
	u := v.nativeBase("postgres", fmt.Sprintf("PostgreSQL %d", db.Version))
	u.Comment = []string{
		fmt.Sprintf("PostgreSQL %d of site %s, listening on port %d (the published port).", db.Version, v.Site.Name, db.PublishedPort),
		"The data directory " + pgData + " must hold a cluster first; see RUNBOOK.md,",
		"\"Running natively with systemd\" (the container entrypoint does this for compose).",
	}
	u.Type = "notify"
	u.User = "postgres"
	u.Group = "postgres"
	u.BindReadOnlyPaths = v.bindPaths("postgres", "lib")
	var uses []secretUse
	if v.T.Database.Streaming != nil {
		uses = v.dbSecrets()
	}
	v.unitSecrets(u, uses, []string{sdEnv("HAGEN_SITE", v.Site.Name), sdEnv("HAGEN_ETC", dir), sdEnv("PGDATA", pgData)})
	// "+": the preparation runs as root, the server as postgres.
	u.ExecStartPre = []string{"+" + v.withAliases([]string{path.Join(dir, pgPrepareScript)}, uses)}
	argv := []string{
		path.Join(pgBin(db.Version), "postgres"),
		"-D", pgData,
		"-c", "config_file=" + path.Join(dir, "postgres/postgresql.conf"),
		"-c", fmt.Sprintf("port=%d", db.PublishedPort),
	}
	if len(u.EnvironmentFiles) > 0 {
		// env replaces itself with the server: same PID, no secrets.
		strip := []string{"/usr/bin/env"}
		for _, name := range v.envSecretNames() {
			strip = append(strip, "-u", name)
		}
		argv = append(strip, argv...)
	}
	u.ExecStart = sdCommand(argv)
	u.ExecReload = []string{sdCommand([]string{"/bin/kill", "-HUP", "$MAINPID"})}
	// PostgreSQL's own recommendation: SIGINT is a fast shutdown, and only
	// the postmaster gets it. Restart only after a failure: a server an
	// operator stopped on purpose (pg_ctl stop before pg_rewind) stays down.
	u.KillMode = "mixed"
	u.KillSignal = "SIGINT"
	u.TimeoutStopSec = "30"
	u.Restart = "on-failure"
	return u
}

// pgPrepareScript is the site tree's script that the native postgres unit
// runs before the server.
const pgPrepareScript = "systemd/postgres-prepare.sh"

// renderPostgresPrepare writes pgPrepareScript.
func renderPostgresPrepare(b *builder, v *siteView) {
	view := struct {
		Header, Site, Unit, PGData, SockDir, RunDir, PassFile string
		Streaming                                             bool
		ReplicationUser, Superuser                            string
	}{
		Header: header(v.Spec, "#"), Site: v.Site.Name, Unit: v.unitName("postgres"),
		PGData: pgData, SockDir: pgSockDir, RunDir: pgRunDir, PassFile: pgPassFile,
		Superuser: v.T.Database.Superuser,
	}
	if s := v.T.Database.Streaming; s != nil {
		view.Streaming = true
		view.ReplicationUser = s.ReplicationUser
	}
	b.addTemplate(v.path(pgPrepareScript), 0o755, "systemd-postgres-prepare.sh.tmpl", view)
}

// envSecretNames are the variables of the site's env file and the names
// hagen's processes read secrets under: what a process that must not see
// secrets drops from its environment.
func (v *siteView) envSecretNames() []string {
	seen := map[string]bool{}
	var names []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, s := range v.allSecrets() {
		if s.Ref.IsEnv() {
			add(s.Ref.Env())
		}
		add(s.Var)
	}
	return names
}

// scriptUnit runs one of the site's rendered run.sh scripts, as the compose
// service's entrypoint does.
func (v *siteView) scriptUnit(component, what, script string, uses []secretUse) *unitView {
	dir := v.siteInstallDir()
	u := v.nativeBase(component, what)
	u.Comment = []string{fmt.Sprintf("Runs %s as the container entrypoint does, as root.", path.Join(dir, script))}
	u.BindReadOnlyPaths = v.bindPaths(path.Dir(script), "lib")
	v.unitSecrets(u, uses, []string{sdEnv("HAGEN_SITE", v.Site.Name), sdEnv("HAGEN_ETC", dir)})
	u.ExecStart = v.withAliases([]string{path.Join(dir, script)}, uses)
	return u
}

// agentUnit runs hagen's agent of a primary-standby node.
func (v *siteView) agentUnit() *unitView {
	u := v.nativeBase("agent", "hagen agent ("+v.Role+")")
	u.Comment = []string{"The hagen binary must be installed at " + unitHagenBinary + "."}
	pg := v.unitName("postgres")
	u.Wants = append(u.Wants, pg)
	u.After = append(u.After, pg)
	u.BindReadOnlyPaths = v.bindPaths("agent")
	v.unitSecrets(u, v.dbSecrets(), []string{sdEnv("HAGEN_SITE", v.Site.Name), sdEnv("HAGEN_ETC", v.siteInstallDir())})
	u.ExecStart = v.withAliases([]string{unitHagenBinary, "agent", "--config", etcDir + "/agent/agent.json"}, v.dbSecrets())
	return u
}

// appUnit runs one of the spec's services in Docker, in the foreground so
// that systemd supervises it. It reaches the database and the site's other
// services on the host (through Docker's host-gateway): the database there
// listens on the published port.
func (v *siteView) appUnit(name string) *unitView {
	svc := v.T.Services[name]
	container := "hagen-" + v.T.Name + "-" + name
	u := v.nativeBase(name, "service "+name)
	u.Comment = []string{
		fmt.Sprintf("The app service %s in the container %s.", name, container),
		fmt.Sprintf("The names %s resolve to this host, where the database listens on port %d.", strings.Join(v.hostAliases(name), ", "), v.T.Database.PublishedPort),
	}
	u.Requires = []string{"docker.service"}
	u.After = append(u.After, "docker.service")
	if svc.DependsOnDatabase {
		pg := v.unitName("postgres")
		u.Wants = append(u.Wants, pg)
		u.After = append(u.After, pg)
	}
	var uses []secretUse
	for _, k := range sortedKeys(svc.Secrets) {
		uses = append(uses, secretUse{k, svc.Secrets[k]})
	}
	if hasEnvSecret(uses) {
		u.EnvironmentFiles = []string{sdPath(path.Join(v.siteInstallDir(), EnvFile))}
	}
	args := []string{unitDocker, "run", "--rm", "--name", container,
		"--label", "dev.hagen.topology=" + v.T.Name,
		"--label", "dev.hagen.site=" + v.Site.Name,
		"--label", "dev.hagen.component=app",
	}
	for _, h := range v.hostAliases(name) {
		args = append(args, "--add-host", h+":host-gateway")
	}
	for _, p := range svc.Ports {
		args = append(args, "-p", fmt.Sprintf("%d:%d/%s", p.Published, p.Target, p.Protocol))
	}
	for _, k := range sortedKeys(svc.Environment) {
		args = append(args, "-e", k+"="+svc.Environment[k])
	}
	for _, s := range uses {
		if s.Ref.IsEnv() {
			// The value comes from this process's environment, not argv.
			args = append(args, "-e", s.Var)
			continue
		}
		in := "/run/secrets/" + s.Ref.SecretName()
		args = append(args, "-v", s.Ref.Path()+":"+in+":ro", "-e", s.Var+"_FILE="+in)
	}
	args = append(args, svc.Image)
	args = append(args, svc.Command...)
	u.ExecStartPre = []string{"-" + sdCommand([]string{unitDocker, "rm", "-f", container})}
	u.ExecStart = v.withAliases(args, uses)
	u.ExecStop = []string{sdCommand([]string{unitDocker, "stop", container})}
	u.TimeoutStartSec = "600" // a first start may load the image
	return u
}

// hostAliases are the compose service names the app service self uses for
// the database and the site's other services; natively they all live on
// the host.
func (v *siteView) hostAliases(self string) []string {
	names := []string{v.T.Database.Service}
	for _, s := range v.services() {
		if s != self {
			names = append(names, s)
		}
	}
	return names
}

// bindPaths mounts the installed concern directories at /etc/hagen/<dir>.
func (v *siteView) bindPaths(dirs ...string) []string {
	var out []string
	for _, d := range dirs {
		out = append(out, sdPath(path.Join(v.siteInstallDir(), d))+":"+sdPath(etcDir+"/"+d))
	}
	return out
}

// unitSecrets sets the environment of a unit whose process reads uses:
// env: references come from the site's env file, file: references as
// NAME_FILE paths.
func (v *siteView) unitSecrets(u *unitView, uses []secretUse, env []string) {
	if hasEnvSecret(uses) {
		u.EnvironmentFiles = []string{sdPath(path.Join(v.siteInstallDir(), EnvFile))}
	}
	for _, s := range uses {
		if s.Ref.IsFile() {
			env = append(env, sdEnv(s.Var+"_FILE", s.Ref.Path()))
		}
	}
	u.Environment = env
}

func hasEnvSecret(uses []secretUse) bool {
	for _, s := range uses {
		if s.Ref.IsEnv() {
			return true
		}
	}
	return false
}

// withAliases is the ExecStart of argv. When a process reads a secret
// under another name than the env file's variable (POSTGRES_PASSWORD from
// env:DB_PASS), a shell copies the variable before exec, so that the value
// never appears on a command line.
func (v *siteView) withAliases(argv []string, uses []secretUse) string {
	var exports []string
	seen := map[string]bool{}
	for _, s := range uses {
		if s.Ref.IsEnv() && s.Ref.Env() != s.Var && !seen[s.Var] {
			seen[s.Var] = true
			exports = append(exports, fmt.Sprintf(`%s="${%s:?set %s in %s}"`, s.Var, s.Ref.Env(), s.Ref.Env(), EnvFile))
		}
	}
	if len(exports) == 0 {
		return sdCommand(argv)
	}
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = shQuote(a)
	}
	script := "export " + strings.Join(exports, " ") + "; exec " + strings.Join(quoted, " ")
	return sdCommand([]string{unitShell, "-c", script})
}

// Quoting for unit files (systemd.service(5), "Command lines"; and
// systemd.unit(5), "Specifiers"): a word is quoted when it holds anything
// but plain characters; % and $ are always escaped, so that neither a
// specifier nor a variable is expanded, except a whole-word $MAINPID.

var sdPlain = regexp.MustCompile(`^[A-Za-z0-9_@+=:,./-]+$`)

func sdWord(s string) string {
	if s == "$MAINPID" {
		return s
	}
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `%`, `%%`, `$`, `$$`).Replace(s)
	if sdPlain.MatchString(s) {
		return esc
	}
	return `"` + esc + `"`
}

// sdCommand quotes a command line.
func sdCommand(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = sdWord(a)
	}
	return strings.Join(out, " ")
}

// sdPath escapes a path for a directive that takes paths (specifiers are
// expanded in them, variables not). Install paths have no white space.
func sdPath(p string) string { return strings.ReplaceAll(p, "%", "%%") }

// sdEnv is one Environment= assignment.
func sdEnv(name, value string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, `%`, `%%`).Replace(name+"="+value) + `"`
}

// shQuote quotes a word for sh.
func shQuote(s string) string {
	if sdPlain.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
