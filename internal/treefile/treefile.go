// Package treefile writes a rendered tree to disk. render stays pure; the
// CLI (atomically, through a temporary directory), hagen check, verify and
// the golden update all write trees through Write.
package treefile

import (
	"os"
	"path/filepath"

	"github.com/hagen-ha/hagen/render"
)

// Write writes every file of tree below dir, creating directories, with
// each file's mode. It does not remove files already in dir.
func Write(dir string, tree render.Tree) error {
	for _, p := range tree.Paths() {
		f := tree[p]
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, f.Data, f.Mode); err != nil {
			return err
		}
	}
	return nil
}
