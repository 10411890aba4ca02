package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// Config is agent.json, rendered by hagen for every primary-standby site
// (render/agent.go writes the same fields).
type Config struct {
	// Site is the spec's name of this node.
	Site string `json:"site"`
	// Listen is the HTTP address, ":<database.streaming.healthPort>".
	Listen    string         `json:"listen"`
	Database  DatabaseConfig `json:"database"`
	Peers     []Peer         `json:"peers"`
	Streaming Streaming      `json:"streaming"`
}

// DatabaseConfig says how the agent reaches the local database: on the
// host at 127.0.0.1:<publishedPort>, as the superuser.
type DatabaseConfig struct {
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

// Peer is another database node and its agent's health URL.
type Peer struct {
	Site    string `json:"site"`
	Address string `json:"address"`
	Health  string `json:"health"`
}

// Streaming is the spec's replication policy, which /health compares with
// what the database reports.
type Streaming struct {
	Primary                 string   `json:"primary"`
	Synchronous             bool     `json:"synchronous"`
	SynchronousStandbyNames []string `json:"synchronousStandbyNames"`
	OnStandbyDown           string   `json:"onStandbyDown"`
	// StandbyNames is each database site's application_name as a standby.
	StandbyNames map[string]string `json:"standbyNames"`
	// FailoverAfter: with OnStandbyDown "async", the seconds without a
	// synchronous standby before synchronous_standby_names is cleared.
	FailoverAfter int `json:"failoverAfterSeconds"`
}

// loadConfig reads and checks agent.json. Unknown fields are errors, so a
// config from a different hagen version fails loudly.
func loadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseConfig(path, data)
}

func parseConfig(name string, data []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &c, nil
}

func (c *Config) validate() error {
	var errs []error
	need := func(field, value string) {
		if strings.TrimSpace(value) == "" {
			errs = append(errs, fmt.Errorf("%s is empty", field))
		}
	}
	need("site", c.Site)
	need("listen", c.Listen)
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			errs = append(errs, fmt.Errorf("listen: %w", err))
		}
	}
	d := c.Database
	need("database.host", d.Host)
	need("database.user", d.User)
	need("database.name", d.Name)
	need("database.passwordEnv", d.PasswordEnv)
	if d.Port < 1 || d.Port > 65535 {
		errs = append(errs, fmt.Errorf("database.port %d is not a port", d.Port))
	}
	if d.ConnectTimeout < 1 {
		errs = append(errs, fmt.Errorf("database.connectTimeoutSeconds %d must be at least 1", d.ConnectTimeout))
	}
	switch d.SSLMode {
	case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
	default:
		errs = append(errs, fmt.Errorf("database.sslmode %q is not a libpq sslmode", d.SSLMode))
	}
	return errors.Join(errs...)
}

// password reads the superuser's password the way hagen's scripts do: the
// variable itself, or the file its _FILE variable names (one trailing
// newline removed).
func (d DatabaseConfig) password() (string, error) {
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
