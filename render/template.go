package render

import (
	"bytes"
	"embed"
	"fmt"
	"text/template"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Option("missingkey=error").ParseFS(templateFS, "templates/*.tmpl"))

// execute runs the named template over a precomputed view. Templates hold
// no logic beyond ranges and conditionals over the view's fields.
func execute(name string, view any) ([]byte, error) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, view); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// addTemplate renders a template into the tree, recording any error.
func (b *builder) addTemplate(p string, mode uint32, name string, view any) {
	data, err := execute(name, view)
	if err != nil {
		b.fail(err)
		return
	}
	b.add(p, fileMode(mode), data)
}
