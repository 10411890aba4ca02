package verify

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
)

var envLine = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=`)

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

// secrets holds generated values by name. They are kept in memory only
// and handed to containers through their environment.
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
