package render

// renderLib writes the shell library every hagen script of the site
// sources: reading secrets by reference, logging.
func renderLib(b *builder, v *siteView) {
	b.addTemplate(v.path("lib/hagen.sh"), 0o644, "lib.sh.tmpl", struct{ Header string }{header(v.Spec, "#")})
}
