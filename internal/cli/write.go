package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hagen-ha/hagen/internal/treefile"
	"github.com/hagen-ha/hagen/render"
)

// manifestName lists, inside a rendered directory, the files hagen wrote,
// so that a later render can tell them from files someone else put there.
const manifestName = ".hagen-manifest"

// writeTree replaces dir with tree atomically: the tree is written into a
// sibling temporary directory, which is then exchanged with dir in one
// rename. A reader sees the old complete tree or the new one. On any
// error dir is left untouched.
func writeTree(dir string, tree render.Tree) error {
	dir = filepath.Clean(dir)
	if err := checkOwned(dir, tree); err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".new-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // after the exchange, tmp holds the old tree
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := treefile.Write(tmp, tree); err != nil {
		return err
	}
	manifest := strings.Join(tree.Paths(), "\n") + "\n"
	if err := os.WriteFile(filepath.Join(tmp, manifestName), []byte(manifest), 0o644); err != nil {
		return err
	}
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(tmp, dir)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE); err != nil {
		return fmt.Errorf("replace %s: %w", dir, err)
	}
	return nil
}

// checkOwned refuses to replace a directory holding files that neither
// its manifest nor the new tree name: they are someone's, not hagen's.
func checkOwned(dir string, tree render.Tree) error {
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", dir)
	}
	owned := map[string]bool{manifestName: true}
	for p := range tree {
		owned[p] = true
	}
	if m, err := os.ReadFile(filepath.Join(dir, manifestName)); err == nil {
		for _, p := range strings.Split(string(m), "\n") {
			owned[p] = true
		}
	}
	var foreign []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if !owned[filepath.ToSlash(rel)] {
			foreign = append(foreign, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(foreign) > 0 {
		sort.Strings(foreign)
		if len(foreign) > 5 {
			foreign = append(foreign[:5], fmt.Sprintf("and %d more", len(foreign)-5))
		}
		return fmt.Errorf("%s holds files hagen did not render (%s); render into an empty or hagen-rendered directory", dir, strings.Join(foreign, ", "))
	}
	return nil
}
