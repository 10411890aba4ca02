package render

func renderRunbook(b *builder) {}
