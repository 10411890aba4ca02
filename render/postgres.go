package render

// renderPostgres is not written yet.
func renderPostgres(b *builder, v *siteView) {}
