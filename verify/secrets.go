package verify

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hagen-ha/hagen/internal/lazyregexp"
)

var envLine = lazyregexp.New(`^([A-Za-z_][A-Za-z0-9_]*)=`)

// secretNames lists the variables an env-file template asks for, in order.
func secretNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := envLine.FindStringSubmatch(line); m != nil {
			names = append(names, m[1])
		}
	}
	return names, sc.Err()
}

// secrets holds generated values by name: written to each site's
// hagen.env, from which the compose files take them (writeEnvFile).
type secrets map[string]string

// fill generates a fresh random value for every name not set yet.
func (s secrets) fill(names []string) error {
	for _, n := range names {
		if _, ok := s[n]; ok {
			continue
		}
		b := make([]byte, 18)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("generate secret: %w", err)
		}
		s[n] = hex.EncodeToString(b)
	}
	return nil
}

// writeEnvFile writes a site's hagen.env, as the rendered template asks
// the operator to (KEY=value, mode 0600), with the run's values for the
// names the template lists. The file lives in the run's temporary copy of
// the rendered tree and goes with it.
func writeEnvFile(path string, names []string, s secrets) error {
	var b strings.Builder
	b.WriteString("# hagen verify: fresh random values for this run only\n")
	for _, n := range names {
		v, ok := s[n]
		if !ok {
			return fmt.Errorf("no value for %s", n)
		}
		fmt.Fprintf(&b, "%s=%s\n", n, v)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}

// readEnvFile reads KEY=value lines as `docker compose --env-file` does
// for the values hagen writes (no quoting: the values are hex).
func readEnvFile(path string) (secrets, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := secrets{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: not KEY=value: %q", path, line)
		}
		out[k] = v
	}
	return out, nil
}

// fileSecret makes the host file a compose `file:` secret names, in the
// run's directory of the site (the rendered path is the production
// host's), mode 0600, mounted read-only where compose mounts file
// secrets: content when given (the run's TLS material), else a fresh
// random value. A file the run made before is kept.
func fileSecret(dir, name string, content []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if content == nil {
		b := make([]byte, 18)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("generate secret: %w", err)
		}
		content = []byte(hex.EncodeToString(b) + "\n")
	}
	return path, os.WriteFile(path, content, 0o600)
}
