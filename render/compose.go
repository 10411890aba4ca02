package render

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/hagen-ha/hagen/schema"
)

// The compose file is rendered from typed values; yaml sorts map keys, and
// struct fields keep the order below, so the output is deterministic.

type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]composeVolume  `yaml:"volumes,omitempty"`
	Secrets  map[string]composeSecret  `yaml:"secrets,omitempty"`
}

type composeService struct {
	Image           string                       `yaml:"image"`
	Restart         string                       `yaml:"restart,omitempty"`
	Entrypoint      []string                     `yaml:"entrypoint,omitempty"`
	Command         []string                     `yaml:"command,omitempty"`
	NetworkMode     string                       `yaml:"network_mode,omitempty"`
	CapAdd          []string                     `yaml:"cap_add,omitempty"`
	Environment     map[string]string            `yaml:"environment,omitempty"`
	Ports           []string                     `yaml:"ports,omitempty"`
	Volumes         []string                     `yaml:"volumes,omitempty"`
	Secrets         []string                     `yaml:"secrets,omitempty"`
	DependsOn       map[string]composeDependency `yaml:"depends_on,omitempty"`
	Healthcheck     *composeHealthcheck          `yaml:"healthcheck,omitempty"`
	StopSignal      string                       `yaml:"stop_signal,omitempty"`
	StopGracePeriod string                       `yaml:"stop_grace_period,omitempty"`
	Labels          map[string]string            `yaml:"labels,omitempty"`
}

type composeDependency struct {
	Condition string `yaml:"condition"`
}

type composeHealthcheck struct {
	Test        []string `yaml:"test"`
	Interval    string   `yaml:"interval"`
	Timeout     string   `yaml:"timeout"`
	Retries     int      `yaml:"retries"`
	StartPeriod string   `yaml:"start_period"`
}

type composeVolume struct{}

type composeSecret struct {
	File string `yaml:"file"`
}

// Compose service names hagen renders besides the spec's services.
const (
	svcBucardo    = "postgres_replication"
	svcKeepalived = "keepalived"
	svcHAProxy    = "haproxy"
	svcAgent      = "hagen-agent"
)

// EnvFile is the file, next to the compose file, that holds the site's
// secret values; hagen renders only its template.
const EnvFile = "hagen.env"

func renderCompose(b *builder, v *siteView) {
	if !hasTarget(v.T, "compose") {
		return
	}
	cf := composeFile{
		Name:     v.T.Name + "-" + v.Site.Name,
		Services: map[string]composeService{},
		Volumes:  map[string]composeVolume{"pgdata": {}},
	}
	secrets := map[string]composeSecret{}
	labels := func(component string) map[string]string {
		return map[string]string{
			"dev.hagen.topology":  v.T.Name,
			"dev.hagen.site":      v.Site.Name,
			"dev.hagen.component": component,
		}
	}
	db := v.T.Database
	healthy := map[string]composeDependency{db.Service: {Condition: "service_healthy"}}
	started := map[string]composeDependency{db.Service: {Condition: "service_started"}}

	cf.Services[db.Service] = composeService{
		Image:       v.T.Render.NodeImage,
		Restart:     "always",
		Entrypoint:  []string{etcDir + "/postgres/entrypoint.sh"},
		Environment: withSecrets(map[string]string{"HAGEN_SITE": v.Site.Name}, v.dbSecrets(), secrets),
		Ports:       []string{fmt.Sprintf("%d:%d", db.PublishedPort, db.Port)},
		Volumes: []string{
			"./postgres:" + etcDir + "/postgres:ro",
			"./lib:" + etcDir + "/lib:ro",
			"pgdata:" + pgData,
		},
		Secrets: secretNames(v.dbSecrets()),
		Healthcheck: &composeHealthcheck{
			Test:        []string{"CMD", "pg_isready", "-h", "127.0.0.1", "-p", fmt.Sprint(db.Port), "-U", db.Superuser, "-d", db.Name},
			Interval:    "2s",
			Timeout:     "5s",
			Retries:     3,
			StartPeriod: "120s",
		},
		// SIGINT is PostgreSQL's fast shutdown; SIGTERM ("smart") waits
		// for every client, and the other site's Bucardo never leaves.
		StopSignal:      "SIGINT",
		StopGracePeriod: "30s",
		Labels:          labels("database"),
	}
	if v.Bucardo {
		cf.Volumes["bucardo"] = composeVolume{}
		cf.Services[svcBucardo] = composeService{
			Image:       v.T.Render.NodeImage,
			Restart:     "always",
			Entrypoint:  []string{etcDir + "/bucardo/run.sh"},
			Environment: withSecrets(map[string]string{"HAGEN_SITE": v.Site.Name}, v.dbSecrets(), secrets),
			Volumes: []string{
				"./bucardo:" + etcDir + "/bucardo:ro",
				"./lib:" + etcDir + "/lib:ro",
				"bucardo:" + bucData,
			},
			Secrets:   secretNames(v.dbSecrets()),
			DependsOn: healthy,
			Labels:    labels("replication"),
		}
	}
	if v.VIP {
		uses := v.dbSecrets()
		if v.T.VIP.Auth != "" {
			uses = append(uses, secretUse{secretVRRPAuth, v.T.VIP.Auth})
		}
		cf.Services[svcKeepalived] = composeService{
			Image:       v.T.Render.NodeImage,
			Restart:     "always",
			Entrypoint:  []string{etcDir + "/keepalived/run.sh"},
			NetworkMode: "host",
			CapAdd:      []string{"NET_ADMIN", "NET_BROADCAST", "NET_RAW"},
			Environment: withSecrets(map[string]string{"HAGEN_SITE": v.Site.Name}, uses, secrets),
			Volumes: []string{
				"./keepalived:" + etcDir + "/keepalived:ro",
				"./lib:" + etcDir + "/lib:ro",
			},
			Secrets:   secretNames(uses),
			DependsOn: started,
			Labels:    labels("vip"),
		}
	}
	if v.Proxy {
		var uses []secretUse
		if v.T.Proxy.Stats != nil {
			uses = append(uses, secretUse{secretStatsPass, v.T.Proxy.Stats.Password})
		}
		cf.Services[svcHAProxy] = composeService{
			Image:       v.T.Render.NodeImage,
			Restart:     "always",
			Entrypoint:  []string{etcDir + "/haproxy/run.sh"},
			NetworkMode: "host",
			Environment: withSecrets(map[string]string{"HAGEN_SITE": v.Site.Name}, uses, secrets),
			Volumes: []string{
				"./haproxy:" + etcDir + "/haproxy:ro",
				"./lib:" + etcDir + "/lib:ro",
			},
			Secrets: secretNames(uses),
			Labels:  labels("proxy"),
		}
	}
	if v.Role != "" {
		cf.Services[svcAgent] = composeService{
			Image:       v.T.Render.NodeImage,
			Restart:     "always",
			Command:     []string{"/usr/local/bin/hagen", "agent", "--config", etcDir + "/agent/agent.json"},
			NetworkMode: "host",
			Environment: withSecrets(map[string]string{"HAGEN_SITE": v.Site.Name}, v.dbSecrets(), secrets),
			Volumes: []string{
				"./agent:" + etcDir + "/agent:ro",
				"${HAGEN_BINARY:-/usr/local/bin/hagen}:/usr/local/bin/hagen:ro",
			},
			Secrets:   secretNames(v.dbSecrets()),
			DependsOn: started,
			Labels:    labels("agent"),
		}
	}
	for _, name := range v.services() {
		svc := v.T.Services[name]
		var uses []secretUse
		for _, k := range sortedKeys(svc.Secrets) {
			uses = append(uses, secretUse{k, svc.Secrets[k]})
		}
		cs := composeService{
			Image:       svc.Image,
			Restart:     "always",
			Command:     svc.Command,
			Environment: withSecrets(copyMap(svc.Environment), uses, secrets),
			Secrets:     secretNames(uses),
			Labels:      labels("app"),
		}
		for _, p := range svc.Ports {
			cs.Ports = append(cs.Ports, fmt.Sprintf("%d:%d/%s", p.Published, p.Target, p.Protocol))
		}
		if svc.DependsOnDatabase {
			cs.DependsOn = healthy
		}
		cf.Services[name] = cs
	}
	if len(secrets) > 0 {
		cf.Secrets = secrets
	}
	var buf bytes.Buffer
	buf.WriteString(header(v.Spec, "#"))
	fmt.Fprintf(&buf, "# Site %s (%s, %s). Secrets come from %s (see %s.template).\n", v.Site.Name, v.Site.Host, v.Site.Address, EnvFile, EnvFile)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(cf); err != nil {
		b.fail(fmt.Errorf("render compose for %s: %w", v.Site.Name, err))
		return
	}
	b.add(v.path("docker-compose.yaml"), 0o644, buf.Bytes())
}

// withSecrets adds each secret to env: an env: reference as an
// interpolation of the variable from the env file, a file: reference as a
// Docker secret whose path goes into NAME_FILE.
func withSecrets(env map[string]string, uses []secretUse, secrets map[string]composeSecret) map[string]string {
	for _, u := range uses {
		if u.Ref.IsEnv() {
			env[u.Var] = fmt.Sprintf("${%s:?set %s in %s}", u.Ref.Env(), u.Ref.Env(), EnvFile)
			continue
		}
		env[u.Var+"_FILE"] = "/run/secrets/" + u.Ref.SecretName()
		secrets[u.Ref.SecretName()] = composeSecret{File: u.Ref.Path()}
	}
	return env
}

// secretNames are the Docker secrets a service mounts.
func secretNames(uses []secretUse) []string {
	var names []string
	seen := map[string]bool{}
	for _, u := range uses {
		if u.Ref.IsFile() && !seen[u.Ref.SecretName()] {
			seen[u.Ref.SecretName()] = true
			names = append(names, u.Ref.SecretName())
		}
	}
	return names
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func hasTarget(t *schema.Topology, target string) bool {
	for _, x := range t.Render.Targets {
		if x == target {
			return true
		}
	}
	return false
}
