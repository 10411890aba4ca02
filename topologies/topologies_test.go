package topologies

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"cuelang.org/go/cue/errors"

	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/schema"
)

// Every .cue file in this directory is embedded and listed.
func TestListCoversDirectory(t *testing.T) {
	onDisk, err := filepath.Glob("*.cue")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range onDisk {
		want = append(want, strings.TrimSuffix(f, ".cue"))
	}
	sort.Strings(want)
	var got []string
	for _, tp := range List() {
		got = append(got, tp.Name)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("List() = %v, the directory holds %v", got, want)
	}
	if len(got) == 0 {
		t.Fatal("no topologies embedded")
	}
}

func TestListSortedWithSummaries(t *testing.T) {
	list := List()
	if !sort.SliceIsSorted(list, func(i, j int) bool { return list[i].Name < list[j].Name }) {
		t.Errorf("List() is not sorted by name: %v", list)
	}
	for _, tp := range list {
		if tp.Summary == "" {
			t.Errorf("%s: no summary; the file must start with a // comment line", tp.Name)
		}
		if strings.HasPrefix(tp.Summary, "/") {
			t.Errorf("%s: summary %q still carries the comment marker", tp.Name, tp.Summary)
		}
	}
}

// Every topology is a valid spec that renders, and its name is the spec's
// name, so a topology written out by hagen init renders under its own name.
func TestTopologiesParseAndRender(t *testing.T) {
	for _, tp := range List() {
		t.Run(tp.Name, func(t *testing.T) {
			src, err := Source(tp.Name)
			if err != nil {
				t.Fatal(err)
			}
			topo, warnings, err := schema.Parse(tp.Name+".cue", src)
			if err != nil {
				var b strings.Builder
				errors.Print(&b, err, nil)
				t.Fatalf("schema.Parse:\n%s", b.String())
			}
			for _, w := range warnings {
				t.Errorf("warning: %s", w)
			}
			if topo.Name != tp.Name {
				t.Errorf("spec name %q differs from the file name %q", topo.Name, tp.Name)
			}
			tree, err := render.Render(topo)
			if err != nil {
				t.Fatalf("render.Render: %v", err)
			}
			if len(tree) == 0 {
				t.Fatal("render.Render returned no files")
			}
		})
	}
}

func TestSource(t *testing.T) {
	want, err := os.ReadFile("dual-site-bucardo.cue")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dual-site-bucardo", "dual-site-bucardo.cue"} {
		got, err := Source(name)
		if err != nil {
			t.Fatalf("Source(%q): %v", name, err)
		}
		if string(got) != string(want) {
			t.Errorf("Source(%q) differs from the file", name)
		}
	}
	for _, name := range []string{"no-such-topology", "", "*", "../schema/topology"} {
		_, err := Source(name)
		if err == nil {
			t.Fatalf("Source(%q): no error", name)
		}
		for _, tp := range List() {
			if !strings.Contains(err.Error(), tp.Name) {
				t.Errorf("Source(%q) error %q does not list %s", name, err, tp.Name)
			}
		}
	}
}
