package contract

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// AgentConfig is agent/agent.json, the configuration of `hagen agent` on a
// primary-standby site.
type AgentConfig struct {
	// Site is the spec's name of this node.
	Site string `json:"site"`
	// Listen is the HTTP address, "<host>:<database.streaming.healthPort>".
	Listen    string         `json:"listen"`
	Database  AgentDatabase  `json:"database"`
	Peers     []AgentPeer    `json:"peers"`
	Streaming AgentStreaming `json:"streaming"`
}

// AgentDatabase says how the agent reaches the local database.
type AgentDatabase struct {
	Host    string `json:"host"`
	Port    int    `json:"port"`
	User    string `json:"user"`
	Name    string `json:"name"`
	SSLMode string `json:"sslmode"`
	// The password is read at every connection from the variable named
	// PasswordEnv, or else from the file named by the variable
	// PasswordFileEnv; it is never part of the configuration.
	PasswordEnv     string `json:"passwordEnv"`
	PasswordFileEnv string `json:"passwordFileEnv"`
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
	p.need("listen", c.Listen)
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			p.add("listen: %v", err)
		}
	}
	d := c.Database
	p.need("database.host", d.Host)
	p.need("database.user", d.User)
	p.need("database.name", d.Name)
	p.need("database.passwordEnv", d.PasswordEnv)
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
	return p.err()
}

// Password reads the database password the way hagen's scripts do: the
// variable itself, or the file its _FILE variable names (one trailing
// newline removed).
func (d AgentDatabase) Password() (string, error) {
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
