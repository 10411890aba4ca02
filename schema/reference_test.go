package schema

import (
	"os"
	"sort"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
)

// fieldPaths lists every field of #Topology as a.b[].c, pattern
// constraints as a.<name>.
func fieldPaths(t *testing.T) []string {
	t.Helper()
	ctx := cuecontext.New()
	def := ctx.CompileBytes(schemaSource).LookupPath(cue.ParsePath("#Topology"))
	if def.Err() != nil {
		t.Fatal(def.Err())
	}
	var paths []string
	var walk func(prefix string, v cue.Value, depth int)
	walk = func(prefix string, v cue.Value, depth int) {
		if depth > 6 {
			return
		}
		if v.IncompleteKind() == cue.ListKind {
			walk(prefix+"[]", v.LookupPath(cue.MakePath(cue.AnyIndex)), depth+1)
			return
		}
		if v.IncompleteKind()&cue.StructKind == 0 {
			return
		}
		it, err := v.Fields(cue.Optional(true), cue.Definitions(false))
		if err != nil {
			return
		}
		for it.Next() {
			p := it.Selector().Unquoted()
			if prefix != "" {
				p = prefix + "." + p
			}
			paths = append(paths, p)
			walk(p, it.Value(), depth+1)
		}
		if pat := v.LookupPath(cue.MakePath(cue.AnyString)); pat.Exists() {
			walk(prefix+".<name>", pat, depth+1)
		}
	}
	walk("", def, 0)
	// Fields inside comprehensions (database.bucardo, database.streaming)
	// and under pattern constraints are walked from their definitions.
	for prefix, name := range map[string]string{
		"database":           "#Database",
		"database.bucardo":   "#Bucardo",
		"database.streaming": "#Streaming",
		"services.<name>":    "#Service",
	} {
		if prefix != "database" {
			paths = append(paths, prefix)
		}
		walk(prefix, ctx.CompileBytes(schemaSource).LookupPath(cue.ParsePath(name)), 1)
	}
	db := ctx.CompileBytes(schemaSource).LookupPath(cue.ParsePath("#Database"))
	for _, mode := range []string{MultiMasterAsync, PrimaryStandby} {
		walk("database", db.FillPath(cue.ParsePath("mode"), mode), 1)
	}
	paths = append(paths, "vip.priorities.<name>")
	seen := map[string]bool{}
	uniq := paths[:0]
	for _, p := range paths {
		if !seen[p] {
			seen[p] = true
			uniq = append(uniq, p)
		}
	}
	paths = uniq
	sort.Strings(paths)
	return paths
}

// TestReadmeReference keeps the README's spec reference complete: every
// field of the schema must appear there as `path`.
func TestReadmeReference(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range fieldPaths(t) {
		if !strings.Contains(string(readme), "`"+p+"`") {
			t.Errorf("README.md's spec reference lacks `%s`", p)
		}
	}
}
