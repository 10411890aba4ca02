package verify

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/schema"
)

// hostileCheckValues hold what compose, systemd, shells and HAProxy would
// each read differently if hagen wrote it raw (render's property tests
// cover more, in-process).
var hostileCheckValues = []string{
	"${HOME}", "p$ss", "$MAINPID", "%h%%", `"double"`, "it's", "`id`", "$(id)", "a;b && c|d",
	"#hash", "{brace}", `back\slash`, `trailing\`, "ünïcødé ✓", strings.Repeat("long-", 400),
	"new\nline", "car\rriage", "x\n\nExecStartPre=/bin/evil",
}

// TestCheckHostileValues renders the examples with hostile app
// environment values and command elements, a hostile spec file name and
// statistics URI, and requires every file to pass its real consumer:
// systemd-analyze verify on the units, bash -n and shellcheck on every
// script (whose header holds the name), compose-go, haproxy -c, and the
// rest.
func TestCheckHostileValues(t *testing.T) {
	img := checkImage(t)
	for _, spec := range []string{"../examples/dual-site.cue", "../examples/primary-standby.cue"} {
		name := strings.TrimSuffix(filepath.Base(spec), ".cue")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			top, _, err := schema.Load(spec)
			if err != nil {
				t.Fatal(err)
			}
			top.Source = "/specs/x\n#!bash\nrm -rf ~ `id` $HOME %n\\ \"q\" -->.cue"
			for svcName, svc := range top.Services {
				if svc.Environment == nil {
					svc.Environment = map[string]string{}
				}
				for i, v := range hostileCheckValues {
					svc.Environment[fmt.Sprintf("HOSTILE_%d", i)] = v
				}
				svc.Command = append(append([]string{"serve"}, svc.Command...), hostileCheckValues...)
				top.Services[svcName] = svc
			}
			if top.Proxy != nil && top.Proxy.Stats != nil {
				top.Proxy.Stats.URI = `/st ats#'x'"$y"\z`
			}
			tree, err := render.Render(top)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			dir := t.TempDir()
			for _, p := range tree.Paths() {
				dst := filepath.Join(dir, filepath.FromSlash(p))
				if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dst, tree[p].Data, tree[p].Mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dst, tree[p].Mode); err != nil {
					t.Fatal(err)
				}
			}
			results := runCheck(t, img, dir)
			checked := 0
			for _, r := range results {
				switch {
				case r.Skipped && filepath.Ext(r.File) != ".md":
					t.Errorf("%s: not checked (%s)", r.File, r.Message)
				case !r.OK:
					t.Errorf("%s (%s): %s", r.File, r.Checker, r.Message)
				case !r.Skipped:
					checked++
				}
			}
			if checked < 20 {
				t.Errorf("only %d files checked", checked)
			}
		})
	}
}
