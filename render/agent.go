package render

import (
	"fmt"

	"github.com/hagen-ha/hagen/contract"
)

// renderAgent writes agent.json on every primary-standby site: the hagen
// agent serves the node's health on database.streaming.healthPort
// (/primary, /replica, /health) from the local database, reached on the
// host at 127.0.0.1:<publishedPort> as the superuser.
func renderAgent(b *builder, v *siteView) {
	s := v.T.Database.Streaming
	if v.Role == "" || s == nil {
		return
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
		if v.T.Role(site.Name) != "" {
			app, _ := standbyIdentity(s, site.Name)
			cfg.Streaming.StandbyNames[site.Name] = app
		}
	}
	for _, p := range v.Peers {
		cfg.Peers = append(cfg.Peers, contract.AgentPeer{
			Site:    p.Name,
			Address: p.Address,
			Health:  fmt.Sprintf("http://%s:%d/health", p.Address, s.HealthPort),
		})
	}
	data, err := contract.Encode(cfg)
	if err != nil {
		b.fail(fmt.Errorf("render agent for %s: %w", v.Site.Name, err))
		return
	}
	b.add(v.path(contract.AgentConfigFile), 0o644, data)
}
