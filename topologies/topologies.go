// Package topologies holds hagen's ready-made specs, one CUE file per
// topology in this directory, embedded in the binary. Each file starts with
// a comment block whose first line is the topology's one-line summary.
package topologies

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.cue
var files embed.FS

// Topology is one ready-made spec.
type Topology struct {
	// Name is the file's base name without .cue, e.g. dual-site-bucardo.
	Name string
	// Summary is the first line of the file's leading comment.
	Summary string
}

// List returns every embedded topology, sorted by name.
func List() []Topology {
	entries, err := fs.Glob(files, "*.cue")
	if err != nil {
		panic(err) // the pattern is constant and valid
	}
	list := make([]Topology, 0, len(entries))
	for _, e := range entries {
		src, err := files.ReadFile(e)
		if err != nil {
			panic(err) // embedded files are always readable
		}
		list = append(list, Topology{Name: strings.TrimSuffix(e, ".cue"), Summary: summary(src)})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

// Source returns the spec of the named topology; name may carry the .cue
// suffix. An unknown name's error lists the known ones.
func Source(name string) ([]byte, error) {
	name = strings.TrimSuffix(name, ".cue")
	if name != "" && !strings.ContainsAny(name, "/*?[\\") {
		if src, err := files.ReadFile(name + ".cue"); err == nil {
			return src, nil
		}
	}
	var known []string
	for _, t := range List() {
		known = append(known, t.Name)
	}
	return nil, fmt.Errorf("unknown topology %q (known: %s)", name, strings.Join(known, ", "))
}

// summary is the text of the first line of src when it is a // comment.
func summary(src []byte) string {
	first, _, _ := strings.Cut(string(src), "\n")
	text, ok := strings.CutPrefix(strings.TrimSpace(first), "//")
	if !ok {
		return ""
	}
	return strings.TrimSpace(text)
}
