package render

// renderEnvTemplate lists every secret the site needs, with no values: the
// operator copies it to hagen.env (mode 0600) and fills it in.
func renderEnvTemplate(b *builder, v *siteView) {
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
	envIdx, fileIdx := map[string]int{}, map[string]int{}
	for _, u := range v.allSecrets() {
		if u.Ref.IsEnv() {
			i, ok := envIdx[u.Ref.Env()]
			if !ok {
				i = len(view.Env)
				envIdx[u.Ref.Env()] = i
				view.Env = append(view.Env, entry{Name: u.Ref.Env()})
			}
			view.Env[i].For = appendUnique(view.Env[i].For, u.Var)
			continue
		}
		i, ok := fileIdx[u.Ref.Path()]
		if !ok {
			i = len(view.Files)
			fileIdx[u.Ref.Path()] = i
			view.Files = append(view.Files, fileEntry{Path: u.Ref.Path()})
		}
		view.Files[i].For = appendUnique(view.Files[i].For, u.Var)
	}
	b.addTemplate(v.path(EnvFile+".template"), 0o644, "env.template.tmpl", view)
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
