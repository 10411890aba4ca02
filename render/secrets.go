package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Secrets are references, never values (schema.SecretRef). A process reads
// each secret it needs under a variable of its own (secretUse): the value
// in NAME, or, for a file: reference, the path of a file holding it in
// NAME_FILE. Every list of a site's secrets (its env template, the compose
// secrets, the units' environment, the RUNBOOK) derives from its
// services' Secrets; a process receives only the secrets it reads.

// maxSecretName bounds a compose secret's name: the file name below
// /run/secrets in the container.
const maxSecretName = 64

// fileSecretName is the compose secret of a file: reference: its whole
// path, with every character but letters, digits and _ as _
// ("/etc/hagen/db/password" is etc_hagen_db_password), so that two files
// never share a name by their base names; a long path is cut and ends in
// a hash of the whole path.
func fileSecretName(path string) string {
	name := strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.TrimLeft(path, "/"))
	if len(name) > maxSecretName || name == "" {
		sum := sha256.Sum256([]byte(path))
		name = name[:min(len(name), maxSecretName-9)] + "_" + hex.EncodeToString(sum[:4])
	}
	return name
}

// fileSecretNames are the compose secret names of the site's file:
// secrets, by path. Two paths that would share a name are an error: one
// process would read the other's secret.
func (v *siteView) fileSecretNames() (map[string]string, error) {
	names := map[string]string{}
	byName := map[string]string{}
	for _, u := range v.secrets() {
		if !u.Ref.IsFile() {
			continue
		}
		p := u.Ref.Path()
		if _, ok := names[p]; ok {
			continue
		}
		name := fileSecretName(p)
		if other, clash := byName[name]; clash {
			return nil, fmt.Errorf("site %s: the secret files %s and %s would both be the compose secret %s; rename one of them", v.Site.Name, other, p, name)
		}
		names[p], byName[name] = name, p
	}
	return names, nil
}
