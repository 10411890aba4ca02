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
	"sync"

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
	var written []string
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
		if err := writeFile(dst, f.Data, f.Mode); err != nil {
			return err
		}
		written = append(written, dst)
	}
	if !durable {
		return nil
	}
	// The files are flushed together: the file system commits
	// concurrent fsyncs in shared journal transactions, where one after
	// the other each waits for its own.
	if err := syncAll(written); err != nil {
		return err
	}
	// Then the directories, deepest level first: a directory's entry in
	// its parent is synced after the directory's own content.
	byDepth := map[int][]string{}
	depths := []int{}
	for d := range dirs {
		n := strings.Count(d, string(filepath.Separator))
		if byDepth[n] == nil {
			depths = append(depths, n)
		}
		byDepth[n] = append(byDepth[n], d)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(depths)))
	for _, n := range depths {
		if err := syncAll(byDepth[n]); err != nil {
			return err
		}
	}
	return nil
}

// syncAll fsyncs every named file or directory, a few at a time, and
// returns the first error.
func syncAll(names []string) error {
	const workers = 16
	next := make(chan string)
	errs := make(chan error, len(names))
	var wg sync.WaitGroup
	for range min(workers, len(names)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range next {
				errs <- SyncDir(name)
			}
		}()
	}
	for _, name := range names {
		next <- name
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
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

func writeFile(name string, data []byte, mode os.FileMode) error {
	fd, err := unix.Open(name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(mode.Perm()))
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return fmt.Errorf("write %s: it is a symbolic link; hagen does not write through links", name)
		}
		return &os.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDir fsyncs a directory (or a file), so that the entries created,
// renamed or removed in it (its content) survive a power loss.
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
