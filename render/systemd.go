package render

// renderSystemd is not written yet.
func renderSystemd(b *builder, v *siteView) {}
