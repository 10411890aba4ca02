package render

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hagen-ha/hagen/contract"
)

// The compose file is rendered from typed values through the YAML
// encoder; yaml sorts map keys, and struct fields keep the order below, so
// the output is deterministic. Every value taken from the spec goes
// through composeValue: compose interpolates ${…} in every value, and only
// hagen's own references of secrets are meant to be interpolated.

type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]composeVolume  `yaml:"volumes,omitempty"`
	Secrets  map[string]composeSecret  `yaml:"secrets,omitempty"`
}

type composeService struct {
	Image           string                       `yaml:"image"`
	User            quoted                       `yaml:"user,omitempty"`
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

// quoted is a string written in double quotes: "7432:7432" unquoted is a
// base-60 number to a YAML 1.1 reader.
type quoted string

func (q quoted) IsZero() bool { return q == "" }

func (q quoted) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.ScalarNode, Style: yaml.DoubleQuotedStyle, Value: string(q)}, nil
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

// composeHostIP is an address as the short syntax of compose ports takes
// it: IPv6 in brackets.
func composeHostIP(ip string) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]"
	}
	return ip
}

// renderCompose writes the site's compose file from its services.
func renderCompose(v *siteView) {
	if !v.Compose {
		return
	}
	cf := composeFile{
		Name:     v.T.Name + "-" + v.Site.Name,
		Services: map[string]composeService{},
	}
	secrets := map[string]composeSecret{}
	volumes := map[string]composeVolume{}
	secretNames, err := v.fileSecretNames()
	if err != nil {
		v.d.b.fail(fmt.Errorf("render compose: %w", err))
		return
	}
	for _, s := range v.services {
		cs := composeService{
			Image:       composeValue(s.Image),
			User:        quoted(composeValue(s.User)),
			Restart:     "always",
			Command:     composeValues(s.Command),
			CapAdd:      s.CapAdd,
			Environment: map[string]string{},
			StopSignal:  s.StopSignal,
			Labels: map[string]string{
				"dev.hagen.topology":  composeValue(v.T.Name),
				"dev.hagen.site":      composeValue(v.Site.Name),
				"dev.hagen.component": s.Label,
			},
			StopGracePeriod: s.StopGrace,
		}
		if s.Script != "" {
			cs.Entrypoint = []string{composeValue(etcDir + "/" + s.Script)}
		}
		if s.HostNetwork {
			cs.NetworkMode = "host"
		}
		for _, e := range s.Env {
			cs.Environment[e.Name] = composeValue(e.Value)
		}
		for _, u := range s.Secrets {
			if u.Ref.IsEnv() {
				// hagen's one interpolation: the variable from the env file.
				cs.Environment[u.Var] = fmt.Sprintf("${%s:?set %s in %s}", u.Ref.Env(), u.Ref.Env(), EnvFile)
				continue
			}
			name := secretNames[u.Ref.Path()]
			cs.Environment[u.Var+"_FILE"] = composeValue("/run/secrets/" + name)
			cs.Secrets = appendUnique(cs.Secrets, name)
			secrets[name] = composeSecret{File: composeValue(u.Ref.Path())}
		}
		if len(cs.Environment) == 0 {
			cs.Environment = nil
		}
		for _, p := range s.Ports {
			spec := fmt.Sprintf("%d:%d", p.Published, p.Target)
			if p.HostIP != "" {
				spec = composeHostIP(p.HostIP) + ":" + spec
			}
			if p.Protocol != "" {
				spec += "/" + p.Protocol
			}
			cs.Ports = append(cs.Ports, spec)
		}
		for _, m := range s.Mounts {
			cs.Volumes = append(cs.Volumes, composeValue("./"+m+":"+etcDir+"/"+m+":ro"))
		}
		for _, vol := range s.Volumes {
			volumes[vol.Name] = composeVolume{}
			mount := vol.Name + ":" + vol.Target
			if vol.ReadOnly {
				mount += ":ro"
			}
			cs.Volumes = append(cs.Volumes, composeValue(mount))
		}
		for _, bd := range s.Binds {
			src := composeValue(bd.Source)
			if bd.Override != "" {
				src = "${" + bd.Override + ":-" + src + "}"
			}
			cs.Volumes = append(cs.Volumes, src+":"+composeValue(bd.Target)+":ro")
		}
		if len(s.DependsOn) > 0 {
			cs.DependsOn = map[string]composeDependency{}
			for _, dep := range s.DependsOn {
				cond := "service_started"
				if dep.Healthy {
					cond = "service_healthy"
				}
				cs.DependsOn[dep.Service] = composeDependency{Condition: cond}
			}
		}
		if h := s.Health; h != nil {
			cs.Healthcheck = &composeHealthcheck{
				Test:     append([]string{"CMD"}, composeValues(h.Test)...),
				Interval: h.Interval, Timeout: h.Timeout, Retries: h.Retries, StartPeriod: h.StartAfter,
			}
		}
		cf.Services[s.Name] = cs
	}
	if len(secrets) > 0 {
		cf.Secrets = secrets
	}
	if len(volumes) > 0 {
		cf.Volumes = volumes
	}
	buf := getBuffer()
	buf.WriteString(header(v.Spec, "#"))
	fmt.Fprintf(buf, "# Site %s (%s, %s). Secrets come from %s (see %s.template).\n", commentText(v.Site.Name), commentText(v.Site.Host), v.Site.Address, EnvFile, EnvFile)
	enc := yaml.NewEncoder(buf)
	enc.SetIndent(2)
	if err := enc.Encode(cf); err != nil {
		putBuffer(buf)
		v.d.b.fail(fmt.Errorf("render compose for %s: %w", v.Site.Name, err))
		return
	}
	v.d.b.add(v.path("docker-compose.yaml"), 0o644, contract.ReaderCompose, takeBytes(buf))
}
