package render

import (
	"fmt"

	"github.com/hagen-ha/hagen/contract"
)

// agentComponent is hagen's agent on every primary-standby site: it serves
// the node's health on database.streaming.healthPort (/primary, /replica,
// /health) from the local database, reached on the host at
// 127.0.0.1:<publishedPort> as the superuser, and keeps the primary's
// synchronous_standby_names. Its configuration is agent/agent.json
// (contract.AgentConfig).
type agentComponent struct{ noPackages }

const (
	// svcAgent is the agent's compose service.
	svcAgent = "hagen-agent"
	// agentBinary is where the hagen binary is on a site host.
	agentBinary = "/usr/local/bin/hagen"
)

func (agentComponent) site(v *siteView) {
	s := v.T.Database.Streaming
	if v.Role == "" || s == nil {
		return
	}
	patroni := v.T.ManagedByPatroni()
	if patroni && !relaxesStrict(s) {
		return // Patroni serves the health URLs; nothing for the agent to keep
	}
	db := v.T.Database
	sslmode := "disable"
	if v.T.Security.SSL {
		sslmode = "prefer"
	}
	cfg := contract.AgentConfig{
		Site:   v.Site.Name,
		Listen: fmt.Sprintf(":%d", s.HealthPort),
		Database: contract.AgentDatabase{
			Host:            "127.0.0.1",
			Port:            db.PublishedPort,
			User:            db.Superuser,
			Name:            db.Name,
			SSLMode:         sslmode,
			PasswordEnv:     secretDBPassword,
			PasswordFileEnv: secretDBPassword + "_FILE",
			ConnectTimeout:  2,
		},
		Peers: []contract.AgentPeer{},
		Streaming: contract.AgentStreaming{
			Primary:                 s.Primary,
			Synchronous:             s.Synchronous,
			SynchronousStandbyNames: append([]string{}, s.SynchronousStandbyNames...),
			OnStandbyDown:           s.OnStandbyDown,
			StandbyNames:            map[string]string{},
			FailoverAfter:           s.FailoverAfter,
		},
	}
	for _, site := range v.T.Sites {
		if v.d.role(site.Name) != "" {
			app, _ := standbyIdentity(v.d, site.Name)
			cfg.Streaming.StandbyNames[site.Name] = app
		}
	}
	for _, p := range v.peers() {
		cfg.Peers = append(cfg.Peers, contract.AgentPeer{
			Site:    p.Name,
			Address: p.Address,
			Health:  fmt.Sprintf("http://%s:%d/health", p.Address, s.HealthPort),
		})
	}
	var volumes []volume
	if patroni {
		agentPatroni(v, &cfg) // patroni.go
		volumes = []volume{{"patroni-mark", patroniMarkDir}}
	}
	v.d.b.contractFile(v.path(contract.AgentConfigFile), contract.ReaderAgent, cfg)

	// The agent reads the superuser's password (agent.json's
	// passwordEnv), nothing else; with Patroni also the REST API's.
	secrets := []secretUse{{secretDBPassword, db.Password}}
	if patroni {
		secrets = append(secrets, secretUse{secretRestPassword, s.Patroni.RestAPIPassword})
	}
	v.service(&service{
		Name:        svcAgent,
		Unit:        "agent",
		Label:       "agent",
		What:        "hagen agent (" + v.Role + ")",
		Runs:        "hagen agent",
		Image:       v.T.Render.NodeImage,
		Command:     []string{agentBinary, "agent", "--config", etcDir + "/" + contract.AgentConfigFile},
		Env:         v.nodeEnv(),
		Secrets:     secrets,
		Mounts:      []string{"agent"},
		Volumes:     volumes,
		Binds:       []bind{{Source: agentBinary, Target: agentBinary, Override: "HAGEN_BINARY"}},
		HostNetwork: true,
		DependsOn:   []dependency{{Service: db.Service}},
		Native: native{
			Comment: []string{"The hagen binary must be installed at " + agentBinary + "."},
		},
	})
}

func (agentComponent) tree(d *deployment) {
	st := d.t.Database.Streaming
	if st == nil {
		return
	}
	var from []string
	for _, s := range d.t.Sites {
		if !s.Witness {
			from = append(from, s.Address)
		}
	}
	what := "hagen agent health endpoint"
	if d.t.ManagedByPatroni() {
		what = "Patroni's REST API (health endpoints; switchover and configuration with its password)"
	}
	d.port(rbPort{fmt.Sprintf("%d/tcp", st.HealthPort), what, joinComma(from)})
}
