package render

// renderAgent is not written yet.
func renderAgent(b *builder, v *siteView) {}
