package render_test

import (
	"slices"
	"testing"

	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/verify/image"
)

// TestNodeImageCarriesComponentPackages: the node image runs every
// component's processes (compose services, hagen check, hagen verify), so
// its one package list must hold every package a component declares.
func TestNodeImageCarriesComponentPackages(t *testing.T) {
	pkgs := image.Packages()
	need := render.NodePackages()
	if len(need) < 5 {
		t.Fatalf("components declare only %v", need)
	}
	for _, p := range need {
		if !slices.Contains(pkgs, p) {
			t.Errorf("a component needs the Debian package %s, which verify/image's package list does not hold", p)
		}
	}
}
