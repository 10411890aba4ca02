package schema

import (
	"context"
	stdErrors "errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cuelang.org/go/cue/errors"
	"github.com/rogpeppe/go-internal/txtar"
)

// fuzzSeeds are the examples, the built-in topologies and every spec of
// the invalid corpus, plus inputs that once crashed or stalled the loader.
func fuzzSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, glob := range []string{"../examples/*.cue", "../topologies/*.cue"} {
		files, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			seeds = append(seeds, src)
		}
	}
	scripts, err := filepath.Glob("../internal/cli/testdata/script/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scripts {
		a, err := txtar.ParseFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range a.Files {
			if strings.HasSuffix(f.Name, ".cue") {
				seeds = append(seeds, f.Data)
			}
		}
	}
	if len(seeds) < 10 {
		t.Fatalf("only %d seeds: the examples or the corpus moved", len(seeds))
	}
	return append(seeds,
		[]byte("A: [1], database: 1"),
		[]byte(""),
		[]byte("{"),
		[]byte("_|_"),
		[]byte("sites: [1, 2, 3]"),
		[]byte(`services: {"a\nb": {}}`),
		[]byte("database: {mode: \"primary-standby\", streaming: 1}"),
		[]byte("import \"list\"\nsites: list.Repeat([{}], 3)"),
	)
}

// fuzzEvalLimit is how long one input may take: far beyond any spec (an
// example takes 10 ms, one at the size limits 2 s), so an input that
// reaches it, even on a busy machine, has found a class of input the
// limits in limits.go do not stop.
const fuzzEvalLimit = time.Minute

// FuzzParse: whatever the input, the loader does not panic, and it returns
// either a Topology or a non-empty list of errors, each positioned in the
// spec and printable on a terminal. `go test` runs the seeds; `make fuzz`
// searches for more.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), fuzzEvalLimit)
		defer cancel()
		topo, _, err := ParseContext(ctx, "fuzz.cue", src)
		if stdErrors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("evaluating this input takes more than %s", fuzzEvalLimit)
		}
		if err == nil {
			if topo == nil {
				t.Fatal("no error and no topology")
			}
			return
		}
		if topo != nil {
			t.Fatal("a topology and an error")
		}
		errs := errors.Errors(err)
		if len(errs) == 0 {
			t.Fatalf("an error that lists no violation: %v", err)
		}
		for _, e := range errs {
			msg := e.Error()
			if strings.TrimSpace(msg) == "" {
				t.Error("an empty message")
			}
			if strings.Contains(msg, "internal error") {
				t.Errorf("hagen failed on its own: %s", msg)
			}
			if pos := e.Position(); !pos.IsValid() || pos.Filename() != "fuzz.cue" {
				t.Errorf("%q has no position in the spec (%v)", msg, pos)
			}
			if escapeText(msg) != msg {
				t.Errorf("%q holds characters a terminal would interpret", msg)
			}
		}
	})
}
