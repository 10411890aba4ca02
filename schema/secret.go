package schema

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// SecretRef names where a secret comes from: "env:NAME" (a variable of the
// site's env file) or "file:PATH" (a file on the host, mounted as a Docker
// secret). The value itself never passes through hagen.
type SecretRef string

// IsEnv reports whether the secret comes from an environment variable.
func (s SecretRef) IsEnv() bool { return strings.HasPrefix(string(s), "env:") }

// IsFile reports whether the secret comes from a file on the host.
func (s SecretRef) IsFile() bool { return strings.HasPrefix(string(s), "file:") }

// Env is the variable name of an env: reference.
func (s SecretRef) Env() string { return strings.TrimPrefix(string(s), "env:") }

// Path is the host path of a file: reference.
func (s SecretRef) Path() string { return strings.TrimPrefix(string(s), "file:") }

// SecretName is a name for the secret usable as a Docker secret or a file
// name: the variable name lower-cased, or the file's base name.
func (s SecretRef) SecretName() string {
	if s.IsEnv() {
		return strings.ToLower(s.Env())
	}
	return strings.NewReplacer(".", "_", "-", "_").Replace(path.Base(s.Path()))
}

// Tables is "all" or an explicit list of tables.
type Tables struct {
	All  bool
	List []string
}

func (t *Tables) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s != "all" {
			return fmt.Errorf("tables: %q is neither \"all\" nor a list", s)
		}
		t.All = true
		return nil
	}
	return json.Unmarshal(b, &t.List)
}

func (t Tables) MarshalJSON() ([]byte, error) {
	if t.All {
		return json.Marshal("all")
	}
	return json.Marshal(t.List)
}
