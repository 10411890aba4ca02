package render_test

import (
	"context"
	"path"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// TestComposeLoads loads every rendered compose file with compose-go, the
// library docker compose itself uses, and checks what it understood.
func TestComposeLoads(t *testing.T) {
	for _, spec := range examples(t) {
		tree := renderSpec(t, spec)
		n := 0
		for _, p := range tree.Paths() {
			if path.Base(p) != "docker-compose.yaml" {
				continue
			}
			n++
			project, err := loadCompose(p, tree[p].Data, secretEnv(string(tree[p].Data)))
			if err != nil {
				t.Errorf("%s: %s does not load: %v", spec, p, err)
				continue
			}
			// A proxyOnly site runs no database; a witness site runs etcd
			// alone.
			top := loadTopology(t, spec)
			site := top.Site(path.Dir(p))
			_, etcd := project.Services["etcd"]
			switch _, ok := project.Services["postgres"]; {
			case site.Witness:
				if ok || !etcd || len(project.Services) != 1 {
					t.Errorf("%s: %s is a witness site's: want etcd alone, have %d services", spec, p, len(project.Services))
				}
			case ok == site.ProxyOnly:
				t.Errorf("%s: %s has a postgres service: %v, proxyOnly: %v", spec, p, ok, site.ProxyOnly)
			}
			for name, s := range project.Services {
				if s.Image == "" {
					t.Errorf("%s: %s: service %s has no image", spec, p, name)
				}
				for k, v := range s.Environment {
					if v != nil && strings.Contains(*v, "secret-value") && !strings.HasSuffix(k, "_FILE") {
						// interpolated from the env file, as intended
						continue
					}
				}
			}
			// Without the env file, interpolation must fail loudly rather
			// than start a database with an empty password.
			if strings.Contains(string(tree[p].Data), "${") {
				if _, err := loadCompose(p, tree[p].Data, types.Mapping{}); err == nil {
					t.Errorf("%s: %s loads without its secrets; want an error naming the missing variable", spec, p)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no compose file rendered", spec)
		}
	}
}

func loadCompose(name string, data []byte, env types.Mapping) (*types.Project, error) {
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  "/opt/hagen",
		ConfigFiles: []types.ConfigFile{{Filename: name, Content: data}},
		Environment: env,
	}, func(o *loader.Options) {
		o.SetProjectName(strings.ReplaceAll(path.Dir(name), "/", "-"), true)
		o.SkipResolveEnvironment = true
	})
}

// secretEnv gives every required ${VAR:?...} in a compose file (the
// secrets) a placeholder value, as the operator's hagen.env would.
func secretEnv(compose string) types.Mapping {
	env := types.Mapping{}
	for _, part := range strings.Split(compose, "${")[1:] {
		if end := strings.Index(part, ":?"); end > 0 && !strings.ContainsAny(part[:end], "}-") {
			env[part[:end]] = "secret-value"
		}
	}
	return env
}
