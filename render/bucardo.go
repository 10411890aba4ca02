package render

// renderBucardo is not written yet.
func renderBucardo(b *builder, v *siteView) {}
