// Package treefile writes a rendered tree to disk. render stays pure; the
// CLI (atomically, through a temporary directory), hagen check, verify and
// the golden update all write trees through Write.
package treefile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hagen-ha/hagen/render"
)

// Write writes every file of tree below dir, creating directories, with
// each file's mode (less the umask, as for any new file). It does not
// remove files already in dir, and it never writes through a symbolic
// link at a file's own path.
func Write(dir string, tree render.Tree) error {
	return write(dir, tree, false)
}

// WriteDurable is Write, then fsync of every file written and of every
// directory that received an entry, dir included: once it returns, the
// tree survives a power loss. The rename that publishes dir must still be
// made durable by its caller (fsync of dir's parent).
func WriteDurable(dir string, tree render.Tree) error {
	return write(dir, tree, true)
}

func write(dir string, tree render.Tree, durable bool) error {
	dir = filepath.Clean(dir)
	dirs := map[string]bool{dir: true}
	for _, p := range tree.Paths() {
		if err := checkPath(p); err != nil {
			return err
		}
		f := tree[p]
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		for d := filepath.Dir(dst); d != dir && strings.HasPrefix(d, dir); d = filepath.Dir(d) {
			dirs[d] = true
		}
		if err := writeFile(dst, f.Data, f.Mode, durable); err != nil {
			return err
		}
	}
	if !durable {
		return nil
	}
	sorted := make([]string, 0, len(dirs))
	for d := range dirs {
		sorted = append(sorted, d)
	}
	// Deepest first: a directory's entry in its parent is synced after
	// the directory's own content.
	sort.Slice(sorted, func(i, j int) bool { return len(sorted[i]) > len(sorted[j]) })
	for _, d := range sorted {
		if err := SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// checkPath refuses a tree path that would leave the directory it is
// written into.
func checkPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || p != filepath.ToSlash(filepath.Clean(p)) || p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("tree path %q is not a clean relative path", p)
	}
	return nil
}

func writeFile(name string, data []byte, mode os.FileMode, durable bool) error {
	fd, err := unix.Open(name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(mode.Perm()))
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return fmt.Errorf("write %s: it is a symbolic link; hagen does not write through links", name)
		}
		return &os.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDir fsyncs a directory, so that the entries created, renamed or
// removed in it survive a power loss.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
