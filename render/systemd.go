package render

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hagen-ha/hagen/contract"
)

// systemd units of a site, in DIR/<site>/systemd/. Two alternatives:
//
//   - target "compose": one unit that runs the site's compose project from
//     its install directory, <installDir>/<topology>/<site>;
//   - target "systemd": one unit per service, run natively on the host
//     from the Debian packages (or, for a service with its own image, with
//     docker run in the foreground).
//
// A host uses one of them: the native units conflict with the compose unit.
// Native units see each concern's directory at /etc/hagen/<dir> (a private
// read-only bind mount, as the compose file mounts it), so rendered files
// that name /etc/hagen paths work unchanged; HAGEN_ETC names the installed
// site directory as well. Secrets reach a unit as variables from the site's
// hagen.env (env: references) or as NAME_FILE paths (file: references);
// no unit holds a value.

// unitView is one unit file; the template prints each set directive.
// Every value is already escaped for the unit file.
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

	Type              string
	RemainAfterExit   bool
	User              string
	Group             string
	WorkingDirectory  string
	EnvironmentFiles  []string
	Environment       []string
	BindReadOnlyPaths []string
	ExecStartPre      []string
	ExecStart         string
	ExecReload        []string
	ExecStop          []string
	Restart           string
	RestartSec        string
	TimeoutStartSec   string
	TimeoutStopSec    string
	KillMode          string
	KillSignal        string
	// Hardening: sandboxing directives, "Name=value" each.
	Hardening []string
}

// Paths on a host that runs a site.
const (
	unitDocker = "/usr/bin/docker"
	unitShell  = "/bin/sh"
)

// renderSystemd writes the site's units from its services.
func renderSystemd(v *siteView) {
	u := &unitBuilder{v: v}
	if _, err := v.fileSecretNames(); err != nil {
		v.d.b.fail(fmt.Errorf("render systemd: %w", err))
		return
	}
	var units []*unitView
	if v.Compose {
		units = append(units, u.composeUnit())
	}
	if v.Systemd {
		for _, s := range v.services {
			nu := u.nativeUnit(s)
			units = append(units, nu)
			v.units = append(v.units, nu.Name)
		}
	}
	if u.err != nil {
		v.d.b.fail(fmt.Errorf("render systemd for site %s: %w", v.Site.Name, u.err))
		return
	}
	seen := map[string]string{}
	for _, un := range units {
		if other, dup := seen[un.Name]; dup {
			v.d.b.fail(fmt.Errorf("render systemd for site %s: %s is the unit of both %s and %s; rename the service", v.Site.Name, un.Name, other, un.Description))
			return
		}
		seen[un.Name] = un.Description
		un.Header = header(v.Spec, "#")
		un.Description = sdText(un.Description)
		for i, c := range un.Comment {
			un.Comment[i] = commentText(c)
		}
		v.file("systemd/"+un.Name, 0o644, contract.ReaderSystemd, "site/systemd/unit.service.tmpl", un)
	}
}

// unitBuilder makes the units of one site and keeps the first error.
type unitBuilder struct {
	v   *siteView
	err error
}

func (u *unitBuilder) path(p string) string {
	q, err := sdPath(p)
	if err != nil && u.err == nil {
		u.err = err
	}
	return q
}

// composeUnit runs the site's compose project: up on start, down on stop.
func (u *unitBuilder) composeUnit() *unitView {
	v := u.v
	dir := v.installDir()
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
		WorkingDirectory: u.path(dir),
		ExecStart:        compose("up", "-d", "--remove-orphans"),
		ExecReload:       []string{compose("up", "-d", "--remove-orphans")},
		ExecStop:         []string{compose("down")},
		Restart:          "on-failure",
		RestartSec:       "10s",
		TimeoutStartSec:  "600",
		TimeoutStopSec:   "120",
	}
}

// nativeUnit runs one service natively.
func (u *unitBuilder) nativeUnit(s *service) *unitView {
	v, n := u.v, s.Native
	un := &unitView{
		Name:        v.unitName(s.Unit),
		Comment:     n.Comment,
		Description: fmt.Sprintf("hagen %s: %s on site %s", v.T.Name, s.What, v.Site.Name),
		Wants:       []string{"network-online.target"},
		After:       []string{"network-online.target"},
		Conflicts:   []string{v.composeUnitName()},
		Type:        "simple",
		User:        n.User,
		Group:       n.Group,
		Restart:     "always",
		RestartSec:  "2s",
		KillMode:    n.KillMode,
		KillSignal:  n.KillSignal,
		Hardening:   n.Hardening,
	}
	if n.Type != "" {
		un.Type = n.Type
	}
	if n.RestartOnFailure {
		un.Restart = "on-failure"
	}
	un.TimeoutStopSec = n.TimeoutStop
	if n.Docker {
		un.Requires = []string{"docker.service"}
		un.After = append(un.After, "docker.service")
	}
	for _, dep := range s.DependsOn {
		if other := v.serviceNamed(dep.Service); other != nil {
			un.Wants = append(un.Wants, v.unitName(other.Unit))
			un.After = append(un.After, v.unitName(other.Unit))
		}
	}
	secrets := s.Secrets
	if n.OwnSecrets {
		secrets = n.Secrets
	}
	if hasEnvSecret(secrets) || hasEnvSecret(n.PrepareSecrets) {
		un.EnvironmentFiles = []string{u.path(v.installPath(EnvFile))}
	}
	envFile := len(un.EnvironmentFiles) > 0
	if n.Docker {
		args := u.dockerRun(s, secrets)
		un.ExecStartPre = []string{"-" + sdCommand([]string{unitDocker, "rm", "-f", n.Container})}
		un.ExecStart = v.nativeExec(args, secrets, envFile)
		un.ExecStop = []string{sdCommand([]string{unitDocker, "stop", n.Container})}
		un.TimeoutStartSec = "600" // a first start may load the image
		return un
	}
	if un.Comment == nil && s.Script != "" {
		un.Comment = []string{fmt.Sprintf("Runs %s as the container entrypoint does, as root.", v.installPath(s.Script))}
	}
	var env []string
	for _, e := range s.Env {
		env = append(env, sdEnv(e.Name, e.Value))
	}
	env = append(env, sdEnv("HAGEN_ETC", v.installDir()))
	for _, e := range n.Env {
		env = append(env, sdEnv(e.Name, e.Value))
	}
	for _, sec := range append(append([]secretUse{}, n.PrepareSecrets...), secrets...) {
		if e := sdEnv(sec.Var+"_FILE", sec.Ref.Path()); sec.Ref.IsFile() && !slices.Contains(env, e) {
			env = append(env, e)
		}
	}
	un.Environment = env
	for _, m := range s.Mounts {
		un.BindReadOnlyPaths = append(un.BindReadOnlyPaths, u.path(v.installPath(m))+":"+u.path(etcDir+"/"+m))
	}
	if n.Prepare != "" {
		// "+": the preparation runs as root, whoever the service runs as.
		un.ExecStartPre = []string{"+" + v.nativeExec([]string{v.installPath(n.Prepare)}, n.PrepareSecrets, envFile)}
	}
	argv := n.Exec
	switch {
	case argv != nil:
	case s.Script != "":
		argv = []string{v.installPath(s.Script)}
	default:
		argv = s.Command
	}
	un.ExecStart = v.nativeExec(argv, secrets, envFile)
	if n.Reload {
		un.ExecReload = []string{sdCommand([]string{"/bin/kill", "-HUP"}) + " " + sdMainPID}
	}
	return un
}

// dockerRun is the docker run command line of a service with its own
// image.
func (u *unitBuilder) dockerRun(s *service, secrets []secretUse) []string {
	v, n := u.v, s.Native
	args := []string{unitDocker, "run", "--rm", "--name", n.Container,
		"--label", "dev.hagen.topology=" + v.T.Name,
		"--label", "dev.hagen.site=" + v.Site.Name,
		"--label", "dev.hagen.component=" + s.Label,
	}
	if s.User != "" {
		args = append(args, "--user", s.User)
	}
	for _, h := range n.HostAliases {
		args = append(args, "--add-host", h+":host-gateway")
	}
	for _, p := range s.Ports {
		args = append(args, "-p", fmt.Sprintf("%d:%d/%s", p.Published, p.Target, p.Protocol))
	}
	for _, e := range s.Env {
		args = append(args, "-e", e.Name+"="+e.Value)
	}
	for _, sec := range secrets {
		if sec.Ref.IsEnv() {
			// The value comes from this process's environment, not argv.
			args = append(args, "-e", sec.Var)
			continue
		}
		in := "/run/secrets/" + fileSecretName(sec.Ref.Path())
		args = append(args, "-v", sec.Ref.Path()+":"+in+":ro", "-e", sec.Var+"_FILE="+in)
	}
	args = append(args, s.Image)
	return append(args, s.Command...)
}

// serviceNamed is the site's service of that compose name, or nil.
func (v *siteView) serviceNamed(name string) *service {
	for _, s := range v.services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// envFileVariables are the variables of the site's env file: the env:
// sources of its secrets.
func (v *siteView) envFileVariables() []string {
	var names []string
	for _, s := range v.secrets() {
		if s.Ref.IsEnv() {
			names = appendUnique(names, s.Ref.Env())
		}
	}
	return names
}

func hasEnvSecret(uses []secretUse) bool {
	for _, s := range uses {
		if s.Ref.IsEnv() {
			return true
		}
	}
	return false
}

// nativeExec is the command line of a native process that reads the
// secrets needs, in a unit that loads the site's env file when envFile is
// set. The process gets exactly its secrets: a variable it reads under
// another name than the env file's (POSTGRES_PASSWORD from env:DB_PASS) is
// copied by a shell before exec, so that the value never appears on a
// command line, and every variable of the env file it does not read is
// removed. argv reaches the process as the shell's arguments ("$@"),
// never through the shell's parser.
func (v *siteView) nativeExec(argv []string, needs []secretUse, envFile bool) string {
	var exports []string
	reads := map[string]bool{}
	for _, s := range needs {
		if !s.Ref.IsEnv() {
			continue
		}
		reads[s.Var] = true
		if s.Ref.Env() != s.Var && !slices.Contains(exports, s.Var) {
			exports = append(exports, s.Var)
		}
	}
	var drop []string
	if envFile {
		for _, name := range v.envFileVariables() {
			if !reads[name] {
				drop = append(drop, name)
			}
		}
	}
	if len(exports) == 0 {
		if len(drop) == 0 {
			return sdCommand(argv)
		}
		// env removes the variables and replaces itself: same PID.
		strip := []string{"/usr/bin/env"}
		for _, name := range drop {
			strip = append(strip, "-u", name)
		}
		return sdCommand(append(strip, argv...))
	}
	var script strings.Builder
	script.WriteString("export")
	for _, name := range exports {
		for _, s := range needs {
			if s.Var == name && s.Ref.IsEnv() {
				fmt.Fprintf(&script, ` %s="${%s:?set %s in %s}"`, s.Var, s.Ref.Env(), s.Ref.Env(), EnvFile)
				break
			}
		}
	}
	if len(drop) > 0 {
		script.WriteString("; unset " + strings.Join(drop, " "))
	}
	script.WriteString(`; exec "$@"`)
	return sdCommand(append([]string{unitShell, "-c", script.String(), "sh"}, argv...))
}
