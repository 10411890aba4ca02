package image

import (
	"regexp"
	"slices"
	"testing"
)

func TestTagIsStable(t *testing.T) {
	if a, b := Tag(), Tag(); a != b {
		t.Fatalf("Tag() = %q, then %q", a, b)
	}
	if !regexp.MustCompile(`^hagen-node:[0-9a-f]{12}$`).MatchString(Tag()) {
		t.Fatalf("Tag() = %q, want hagen-node:<12 hex>", Tag())
	}
	// Equal inputs held in different slices give the same tag.
	in := currentInputs()
	copied := in
	copied.packages = slices.Clone(in.packages)
	copied.config = slices.Clone(in.config)
	if in.tag() != copied.tag() {
		t.Fatalf("equal inputs: %q != %q", in.tag(), copied.tag())
	}
}

func TestTagChangesWithInputs(t *testing.T) {
	base := currentInputs()
	changes := map[string]func(*inputs){
		"package added":   func(in *inputs) { in.packages = append(slices.Clone(in.packages), "vim-tiny") },
		"package removed": func(in *inputs) { in.packages = slices.Clone(in.packages[1:]) },
		"packages reordered": func(in *inputs) {
			p := slices.Clone(in.packages)
			p[0], p[1] = p[1], p[0]
			in.packages = p
		},
		"suite":   func(in *inputs) { in.suite = "trixie" },
		"variant": func(in *inputs) { in.variant = "buildd" },
		"script":  func(in *inputs) { in.script += "true\n" },
		"config":  func(in *inputs) { in.config = append(slices.Clone(in.config), "ENV TZ=UTC") },
	}
	seen := map[string]string{base.tag(): "base"}
	for name, change := range changes {
		in := base
		change(&in)
		tag := in.tag()
		if other, ok := seen[tag]; ok {
			t.Errorf("%s: tag %s equals the tag of %s", name, tag, other)
		}
		seen[tag] = name
	}
}

func TestPackagesIsACopy(t *testing.T) {
	p := Packages()
	p[0] = "changed"
	if Packages()[0] == "changed" {
		t.Fatal("Packages() exposes the package list")
	}
}

func TestPackageListHasNoDuplicates(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range packages {
		if seen[p] {
			t.Errorf("%s listed twice", p)
		}
		seen[p] = true
	}
}

// Field boundaries are part of the hash: moving text from one package name
// to the next, or from the script into the config, is a different input.
func TestTagFieldBoundaries(t *testing.T) {
	a, b := currentInputs(), currentInputs()
	a.packages, b.packages = []string{"ab", "c"}, []string{"a", "bc"}
	if a.tag() == b.tag() {
		t.Errorf("package lists %q and %q have the same tag", a.packages, b.packages)
	}
	a, b = currentInputs(), currentInputs()
	a.script, a.config = "x", []string{"y"}
	b.script, b.config = "xy", nil
	if a.tag() == b.tag() {
		t.Error("moving text from config to script keeps the tag")
	}
}
