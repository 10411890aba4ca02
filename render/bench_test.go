package render_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/schema"
)

// genSpec writes a multi-master spec with n sites, each on its own /24,
// Bucardo on the first, one client name per site.
func genSpec(n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "name: \"gen-%d\"\ndomain: \"ha.test\"\ntest: true\nsites: [\n", n)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\t{name: \"s%d\", index: %d, host: \"%d.ha.test\", address: \"10.%d.%d.10\", lan: \"10.%d.%d.0/24\"},\n", i, i, i, 100+i/200, i%200, 100+i/200, i%200)
	}
	b.WriteString(`]
database: {name: "app", publishedPort: 5444, password: "env:POSTGRES_PASSWORD", mode: "multi-master-async",
	bucardo: {site: "s0", seedSite: "s0", tables: "all"}}
clients: {url: "grpc://ha.test:8001", reconnectDelay: 5, nameserver: "10.250.0.53", servers: [
`)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\t{name: \"%d.ha.test\", site: \"s%d\"},\n", i, i)
	}
	b.WriteString(`]}
services: app: {image: "example/app:1", ports: [{published: 8001, target: 8001}], secrets: DB_PASSWORD: "env:POSTGRES_PASSWORD"}
security: allowedClients: ["10.250.0.0/24"]
`)
	return []byte(b.String())
}

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
// example and for generated topologies of growing size; the cost per site
// should stay flat.
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
	for _, n := range []int{2, 8, 16, 32, 64} {
		top, _, err := schema.Parse("gen.cue", genSpec(n))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("sites=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := render.Render(top); err != nil {
					b.Fatal(err)
				}
			}
		})
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
