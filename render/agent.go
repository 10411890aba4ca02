package render

import (
	"encoding/json"
	"fmt"
)

// agentConfig is agent.json, the configuration of `hagen agent` on a
// primary-standby site. It mirrors internal/agent.Config field for field;
// a test there decodes every rendered agent.json strictly.
type agentConfig struct {
	Site     string         `json:"site"`
	Listen   string         `json:"listen"`
	Database agentDatabase  `json:"database"`
	Peers    []agentPeer    `json:"peers"`
	Policy   agentStreaming `json:"streaming"`
}

type agentDatabase struct {
	Host            string `json:"host"`
	Port            int    `json:"port"`
	User            string `json:"user"`
	Name            string `json:"name"`
	SSLMode         string `json:"sslmode"`
	PasswordEnv     string `json:"passwordEnv"`
	PasswordFileEnv string `json:"passwordFileEnv"`
	ConnectTimeout  int    `json:"connectTimeoutSeconds"`
}

type agentPeer struct {
	Site    string `json:"site"`
	Address string `json:"address"`
	Health  string `json:"health"`
}

type agentStreaming struct {
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
}

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
	cfg := agentConfig{
		Site:   v.Site.Name,
		Listen: fmt.Sprintf(":%d", s.HealthPort),
		Database: agentDatabase{
			Host:            "127.0.0.1",
			Port:            db.PublishedPort,
			User:            db.Superuser,
			Name:            db.Name,
			SSLMode:         sslmode,
			PasswordEnv:     secretDBPassword,
			PasswordFileEnv: secretDBPassword + "_FILE",
			ConnectTimeout:  2,
		},
		Peers: []agentPeer{},
		Policy: agentStreaming{
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
			cfg.Policy.StandbyNames[site.Name] = app
		}
	}
	for _, p := range v.Peers {
		cfg.Peers = append(cfg.Peers, agentPeer{
			Site:    p.Name,
			Address: p.Address,
			Health:  fmt.Sprintf("http://%s:%d/health", p.Address, s.HealthPort),
		})
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		b.fail(fmt.Errorf("render agent for %s: %w", v.Site.Name, err))
		return
	}
	b.add(v.path("agent/agent.json"), 0o644, append(data, '\n'))
}
