package render

import "github.com/hagen-ha/hagen/contract"

// renderEnvTemplate lists every secret the site's processes read, with no
// values: the operator copies it to hagen.env (mode 0600) and fills it in.
func renderEnvTemplate(v *siteView) {
	type entry struct {
		Name string
		For  []string
	}
	type fileEntry struct {
		Path string
		For  []string
	}
	view := struct {
		Header  string
		EnvFile string
		Env     []entry
		Files   []fileEntry
	}{Header: header(v.Spec, "#"), EnvFile: EnvFile}
	env, files := secretSources(v.secrets())
	for _, s := range env {
		view.Env = append(view.Env, entry{s.Source, s.Vars})
	}
	for _, s := range files {
		view.Files = append(view.Files, fileEntry{s.Source, s.Vars})
	}
	v.file(EnvFile+".template", 0o644, contract.ReaderEnvFile, "site/hagen.env.template.tmpl", view)
}

// secretSource is one source of secrets (an env file variable or a host
// file) and the variables the site's processes read it as.
type secretSource struct {
	Source string
	Vars   []string
}

// secretSources groups a site's secrets by source, env: variables and
// file: paths apart, in order of first use.
func secretSources(uses []secretUse) (env, files []secretSource) {
	envIdx, fileIdx := map[string]int{}, map[string]int{}
	for _, u := range uses {
		list, idx, key := &files, fileIdx, u.Ref.Path()
		if u.Ref.IsEnv() {
			list, idx, key = &env, envIdx, u.Ref.Env()
		}
		i, ok := idx[key]
		if !ok {
			i = len(*list)
			idx[key] = i
			*list = append(*list, secretSource{Source: key})
		}
		(*list)[i].Vars = appendUnique((*list)[i].Vars, u.Var)
	}
	return env, files
}
