package render_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hagen-ha/hagen/internal/specgen"
	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/schema"
)

// genSpec is the multi-master spec with n sites, each on its own LAN.
func genSpec(n int) []byte { return specgen.MultiMaster(n) }

func TestGeneratedSpecsRender(t *testing.T) {
	for _, n := range []int{2, 64} {
		top, _, err := schema.Parse(fmt.Sprintf("gen-%d.cue", n), genSpec(n))
		if err != nil {
			t.Fatalf("generated %d-site spec: %v", n, err)
		}
		tree, err := render.Render(top)
		if err != nil {
			t.Fatal(err)
		}
		composes := 0
		for _, p := range tree.Paths() {
			if strings.HasSuffix(p, "/docker-compose.yaml") {
				composes++
			}
		}
		if composes != n {
			t.Errorf("%d sites rendered %d compose files", n, composes)
		}
	}
}

// BenchmarkRender measures Render alone (the pure function) for each
// example and for generated topologies of growing size (both database
// modes); the cost per site should stay flat. scripts/speed fits the
// growth over 2…255 sites.
func BenchmarkRender(b *testing.B) {
	specs, _ := filepath.Glob("../examples/*.cue")
	for _, spec := range specs {
		top, _, err := schema.Load(spec)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(strings.TrimSuffix(filepath.Base(spec), ".cue"), func(b *testing.B) {
			for b.Loop() {
				if _, err := render.Render(top); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, n := range []int{2, 8, 16, 32, 64, 255} {
		for _, g := range []struct {
			name string
			gen  func(int) []byte
		}{{"multi-master", specgen.MultiMaster}, {"primary-standby", specgen.PrimaryStandby}} {
			top, _, err := schema.Parse("gen.cue", g.gen(n))
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/sites=%d", g.name, n), func(b *testing.B) {
				for b.Loop() {
					if _, err := render.Render(top); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkLoadAndRender is what `hagen render` costs in-process: CUE
// evaluation and validation of the spec, then Render.
func BenchmarkLoadAndRender(b *testing.B) {
	specs, _ := filepath.Glob("../examples/*.cue")
	for _, spec := range specs {
		b.Run(strings.TrimSuffix(filepath.Base(spec), ".cue"), func(b *testing.B) {
			for b.Loop() {
				top, _, err := schema.Load(spec)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := render.Render(top); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, n := range []int{2, 16, 64} {
		src := genSpec(n)
		b.Run(fmt.Sprintf("sites=%d", n), func(b *testing.B) {
			for b.Loop() {
				top, _, err := schema.Parse("gen.cue", src)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := render.Render(top); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
