package verify

import (
	"bytes"
	"context"
	"path"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/hagen-ha/hagen/internal/lazyregexp"
)

// checkCompose loads a compose file with compose-go, the library docker
// compose itself uses, as `docker compose --env-file hagen.env up` would:
// interpolated from the env file the operator makes from the template next
// to it, with every secret set to a placeholder. A variable the compose
// file requires that the template does not name fails here as it would
// fail on the host.
func checkCompose(t *checkTree, f *checkFile) CheckResult {
	r := CheckResult{File: f.rel, Checker: checkerCompose}
	env := types.Mapping{}
	if tmpl := t.byPath[path.Join(f.dir(), "hagen.env.template")]; tmpl != nil {
		for _, n := range envTemplateNames(tmpl.data) {
			env[n] = placeholderSecret
		}
	}
	name := f.disp
	_, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  filepath.Join(t.abs, filepath.FromSlash(f.dir())),
		ConfigFiles: []types.ConfigFile{{Filename: name, Content: f.data}},
		Environment: env,
	}, func(o *loader.Options) {
		// The file's own name: wins; this is only the fallback.
		o.SetProjectName(strings.ReplaceAll(f.dir(), "/", "-"), false)
		o.SkipResolveEnvironment = true
	})
	if err != nil {
		r.Message = err.Error()
		return r
	}
	r.OK = true
	return r
}

// checkEnvFile parses an env file (template) with compose-go's dotenv
// parser, the one `docker compose --env-file` uses.
func checkEnvFile(f *checkFile) CheckResult {
	r := CheckResult{File: f.rel, Checker: checkerEnvFile}
	if _, err := dotenv.ParseWithLookup(bytes.NewReader(f.data), func(string) (string, bool) { return "", false }); err != nil {
		r.Message = f.disp + ": " + err.Error()
		return r
	}
	r.OK = true
	return r
}

var envTemplateLine = lazyregexp.New(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=`)

// envTemplateNames lists the variables an env template asks for.
func envTemplateNames(data []byte) []string {
	var names []string
	for _, l := range strings.Split(string(data), "\n") {
		if m := envTemplateLine.FindStringSubmatch(l); m != nil {
			names = append(names, m[1])
		}
	}
	return names
}
