// Package render turns a validated Topology into the files of a
// deployment. It is pure: Topology in, a Tree of path → bytes out. It never
// writes files, prints or reads the clock; only the CLI writes, atomically.
package render

import (
	"fmt"
	"io/fs"
	"path"
	"sort"

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

// builder collects files and the first error.
type builder struct {
	t    *schema.Topology
	tree Tree
	err  error
}

func (b *builder) add(p string, mode fs.FileMode, data []byte) {
	p = path.Clean(p)
	if _, dup := b.tree[p]; dup && b.err == nil {
		b.err = fmt.Errorf("render: %s is rendered twice", p)
	}
	b.tree[p] = File{Data: data, Mode: mode}
}

func (b *builder) fail(err error) {
	if b.err == nil && err != nil {
		b.err = err
	}
}

// Render renders every file of the deployment described by t.
func Render(t *schema.Topology) (Tree, error) {
	b := &builder{t: t, tree: Tree{}}
	for _, s := range t.Sites {
		site := newSiteView(t, s)
		for _, r := range siteRenderers {
			r(b, site)
		}
	}
	for _, r := range treeRenderers {
		r(b)
	}
	if b.err != nil {
		return nil, b.err
	}
	return b.tree, nil
}

// siteRenderers each add the files of one concern for one site.
var siteRenderers = []func(*builder, *siteView){
	renderCompose,
	renderEnvTemplate,
	renderLib,
	renderPostgres,
	renderBucardo,
	renderKeepalived,
	renderHAProxy,
	renderAgent,
	renderSystemd,
}

// treeRenderers add files that belong to the whole deployment.
var treeRenderers = []func(*builder){
	renderClients,
	renderInventory,
	renderRunbook,
}
