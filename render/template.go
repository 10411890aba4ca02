package render

import (
	"bytes"
	"embed"
	"fmt"
	"path"
	"sync"
	"text/template"
)

// Templates live in templates/, in folders that mirror the rendered tree:
// templates/site/<dir>/<file>.tmpl renders <site>/<dir>/<file>,
// templates/clients/ the client files, templates/runbook/ the RUNBOOK's
// sections. Each file is one template, named by its path below templates/,
// parsed on first use (a command that renders nothing parses nothing).
//
//go:embed templates
var templateFS embed.FS

var (
	templatesMu sync.Mutex
	templates   = map[string]*template.Template{}
)

// templateFuncs escape a value for the format the template writes; see
// escape.go. Templates call nothing else.
var templateFuncs = template.FuncMap{
	"sh":         shWord,
	"haproxy":    haproxyWord,
	"keepalived": keepalivedWord,
	"code":       mdCode,
}

// lookupTemplate returns the parsed template file name (a path below
// templates/).
func lookupTemplate(name string) (*template.Template, error) {
	templatesMu.Lock()
	defer templatesMu.Unlock()
	if t, ok := templates[name]; ok {
		return t, nil
	}
	src, err := templateFS.ReadFile(path.Join("templates", name))
	if err != nil {
		return nil, fmt.Errorf("render: no template %s: %w", name, err)
	}
	t, err := template.New(name).Option("missingkey=error").Funcs(templateFuncs).Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("render: template %s: %w", name, err)
	}
	templates[name] = t
	return t, nil
}

// executeTo runs the named template over a precomputed view, appending to
// buf. Templates hold no logic beyond ranges and conditionals over the
// view's fields and the escaping functions of their format.
func executeTo(buf *bytes.Buffer, name string, view any) error {
	t, err := lookupTemplate(name)
	if err != nil {
		return err
	}
	if err := t.Execute(buf, view); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	return nil
}

// execute runs the named template over a view and returns the output.
func execute(name string, view any) ([]byte, error) {
	buf := getBuffer()
	if err := executeTo(buf, name, view); err != nil {
		putBuffer(buf)
		return nil, err
	}
	return takeBytes(buf), nil
}

// buffers are the buffers files are written in, reused across files and
// renders: a file then costs one allocation of its own size, not a buffer
// that doubles up to it and keeps the unused half in the tree.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// getBuffer returns an empty buffer from the pool.
func getBuffer() *bytes.Buffer {
	buf := buffers.Get().(*bytes.Buffer)
	buf.Reset()
	return buf
}

func putBuffer(buf *bytes.Buffer) { buffers.Put(buf) }

// takeBytes returns a copy of buf's content, sized to it, and puts buf
// back in the pool.
func takeBytes(buf *bytes.Buffer) []byte {
	data := bytes.Clone(buf.Bytes())
	putBuffer(buf)
	return data
}
