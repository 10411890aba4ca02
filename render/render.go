package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/schema"
)

// File is one rendered file.
type File struct {
	Data []byte
	Mode fs.FileMode // 0o644, or 0o755 for scripts
}

// Tree is a rendered deployment: slash-separated relative paths to files.
type Tree map[string]File

// Paths returns the tree's paths in sorted order.
func (t Tree) Paths() []string {
	paths := make([]string, 0, len(t))
	for p := range t {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// Bytes returns the content of every file by path, the form golden tests
// compare.
func (t Tree) Bytes() map[string]string {
	m := make(map[string]string, len(t))
	for p, f := range t {
		m[p] = string(f.Data)
	}
	return m
}

// Render renders every file of the deployment described by t: each
// component's files and processes for every site, the assemblers' files
// from what the components declared (compose file, systemd units, env
// template), the deployment-wide files (client DNS, RUNBOOK.md) and last
// inventory.json, which lists every file with its reader.
func Render(t *schema.Topology) (Tree, error) {
	d := newDeployment(t)
	for _, v := range d.sites {
		for _, c := range components {
			if _, ok := c.(witnessComponent); v.Witness && !ok {
				continue
			}
			before := len(v.services)
			c.site(v)
			if len(v.services) > before {
				v.uses(c.packages())
			}
		}
		for _, a := range siteAssemblers {
			a(v)
		}
	}
	for _, c := range components {
		c.tree(d)
	}
	renderRunbook(d)
	renderInventory(d)
	if d.b.err != nil {
		return nil, d.b.err
	}
	return d.b.tree, nil
}

// builder collects the files of a render, each with its reader, and the
// first error.
type builder struct {
	tree    Tree
	readers map[string]contract.Reader
	err     error
}

func (b *builder) add(p string, mode fs.FileMode, reader contract.Reader, data []byte) {
	p = path.Clean(p)
	if _, dup := b.tree[p]; dup {
		b.fail(fmt.Errorf("render: %s is rendered twice", p))
	}
	b.tree[p] = File{Data: data, Mode: mode}
	b.readers[p] = reader
}

func (b *builder) fail(err error) {
	if b.err == nil && err != nil {
		b.err = err
	}
}

// template renders a template into the tree.
func (b *builder) template(p string, mode fs.FileMode, reader contract.Reader, name string, view any) {
	data, err := execute(name, view)
	if err != nil {
		b.fail(err)
		return
	}
	b.add(p, mode, reader, data)
}

// contractFile adds one of the files programs read back (package
// contract), encoded as contract.Encode does.
func (b *builder) contractFile(p string, reader contract.Reader, v any) {
	data, err := contract.Encode(v)
	if err != nil {
		b.fail(fmt.Errorf("render %s: %w", p, err))
		return
	}
	b.add(p, 0o644, reader, data)
}

// json adds a JSON file: two-space indent, no HTML escaping, a final
// newline.
func (b *builder) json(p string, reader contract.Reader, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		b.fail(fmt.Errorf("render %s: %w", p, err))
		return
	}
	b.add(p, 0o644, reader, buf.Bytes())
}
