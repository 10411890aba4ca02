package render_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Every script of every example passes bash -n and shellcheck: each
// example renders other branches of the templates (a VIP on HAProxy
// hosts, TLS, several witnesses).
func TestEveryExampleScriptShellcheck(t *testing.T) {
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck is not on PATH: install it (Debian package shellcheck) to check the rendered scripts")
	}
	for _, spec := range examples(t) {
		tree := renderSpec(t, spec)
		dir := t.TempDir()
		var scripts []string
		for _, p := range tree.Paths() {
			dst := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, tree[p].Data, tree[p].Mode); err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(p, ".sh") {
				scripts = append(scripts, dst)
			}
		}
		for _, s := range scripts {
			if out, err := exec.Command("bash", "-n", s).CombinedOutput(); err != nil {
				t.Errorf("%s: bash -n %s: %v\n%s", spec, s, err, out)
			}
		}
		if out, err := exec.Command(shellcheck, append([]string{"-x", "-s", "bash"}, scripts...)...).CombinedOutput(); err != nil {
			t.Errorf("%s: shellcheck: %v\n%s", spec, err, out)
		}
	}
}
