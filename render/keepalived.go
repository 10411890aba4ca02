package render

// renderKeepalived is not written yet.
func renderKeepalived(b *builder, v *siteView) {}
