package render

// renderHAProxy is not written yet.
func renderHAProxy(b *builder, v *siteView) {}
