package verify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
)

// loadCompose loads a rendered compose file with the generated secrets as
// its interpolation environment.
func loadCompose(ctx context.Context, file, project string, env secrets) (*types.Project, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := types.Mapping{}
	for k, v := range env {
		m[k] = v
	}
	p, err := loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  filepath.Dir(file),
		ConfigFiles: []types.ConfigFile{{Filename: file, Content: data}},
		Environment: m,
	}, func(o *loader.Options) {
		o.SetProjectName(project, true)
		o.SkipResolveEnvironment = true
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	return p, nil
}

// serviceEnv turns a compose environment into KEY=VALUE strings, sorted.
func serviceEnv(m types.MappingWithEquals) []string {
	var env []string
	for k, v := range m {
		if v != nil {
			env = append(env, k+"="+*v)
		}
	}
	sort.Strings(env)
	return env
}

// serviceMounts turns compose volumes into mounts: binds keep their
// (absolute) rendered source, named volumes map to labelled run volumes.
func serviceMounts(s types.ServiceConfig, volumeName func(string) string) ([]mount.Mount, error) {
	var ms []mount.Mount
	for _, v := range s.Volumes {
		switch v.Type {
		case types.VolumeTypeBind:
			ms = append(ms, mount.Mount{Type: mount.TypeBind, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly})
		case types.VolumeTypeVolume:
			ms = append(ms, mount.Mount{Type: mount.TypeVolume, Source: volumeName(v.Source), Target: v.Target, ReadOnly: v.ReadOnly})
		default:
			return nil, fmt.Errorf("service %s: volume type %q is not supported by verify", s.Name, v.Type)
		}
	}
	return ms, nil
}

func healthConfig(h *types.HealthCheckConfig) *container.HealthConfig {
	if h == nil || h.Disable {
		return nil
	}
	d := func(p *types.Duration) time.Duration {
		if p == nil {
			return 0
		}
		return time.Duration(*p)
	}
	hc := &container.HealthConfig{
		Test:        h.Test,
		Interval:    d(h.Interval),
		Timeout:     d(h.Timeout),
		StartPeriod: d(h.StartPeriod),
	}
	if h.Retries != nil {
		hc.Retries = int(*h.Retries)
	}
	return hc
}
