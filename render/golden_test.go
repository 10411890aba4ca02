package render_test

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hagen-ha/hagen/internal/treefile"
	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/schema"
)

var update = flag.Bool("update", false, "rewrite golden/ from the current render (make golden)")

// examples are the specs whose full trees are kept in golden/.
func examples(t testing.TB) []string {
	t.Helper()
	specs, err := filepath.Glob("../examples/*.cue")
	if err != nil || len(specs) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	return specs
}

func renderSpec(t testing.TB, spec string) render.Tree {
	t.Helper()
	top, _, err := schema.Load(spec)
	if err != nil {
		t.Fatalf("load %s: %v", spec, err)
	}
	tree, err := render.Render(top)
	if err != nil {
		t.Fatalf("render %s: %v", spec, err)
	}
	return tree
}

// TestGolden compares every example's whole tree with golden/<example>,
// byte for byte, missing and extra files included.
func TestGolden(t *testing.T) {
	for _, spec := range examples(t) {
		name := strings.TrimSuffix(filepath.Base(spec), ".cue")
		t.Run(name, func(t *testing.T) {
			tree := renderSpec(t, spec)
			dir := filepath.Join("..", "golden", name)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := treefile.Write(dir, tree); err != nil {
					t.Fatal(err)
				}
				return
			}
			want := readTree(t, dir)
			if diff := cmp.Diff(want, tree.Bytes()); diff != "" {
				t.Errorf("render of %s differs from golden/%s (-golden +render); if intended, run make golden and review:\n%s", spec, name, diff)
			}
		})
	}
}

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	if err != nil {
		t.Fatalf("read golden tree %s: %v (run make golden to create it)", dir, err)
	}
	return files
}

// TestDeterministic renders every example twice, in fresh Topology values,
// and requires identical trees.
func TestDeterministic(t *testing.T) {
	for _, spec := range examples(t) {
		a, b := renderSpec(t, spec), renderSpec(t, spec)
		if diff := cmp.Diff(a.Bytes(), b.Bytes()); diff != "" {
			t.Errorf("%s renders differently twice:\n%s", spec, diff)
		}
	}
}

// TestScriptModes checks that rendered scripts are executable and nothing
// else is.
func TestScriptModes(t *testing.T) {
	for _, spec := range examples(t) {
		tree := renderSpec(t, spec)
		for _, p := range tree.Paths() {
			exec := tree[p].Mode&0o111 != 0
			script := strings.HasSuffix(p, ".sh") && !strings.HasSuffix(p, "lib/hagen.sh")
			if exec != script {
				t.Errorf("%s: %s has mode %v", spec, p, tree[p].Mode)
			}
		}
	}
}
