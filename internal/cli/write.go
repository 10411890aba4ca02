package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hagen-ha/hagen/internal/treefile"
	"github.com/hagen-ha/hagen/render"
)

const (
	// manifestName lists, inside a rendered directory, the files hagen
	// wrote, so that a later render can tell them from files someone else
	// put there.
	manifestName = ".hagen-manifest"
	// stagingPrefix names the directory inside DIR where an in-place
	// replacement prepares the new files; one left by an interrupted
	// render is removed by the next.
	stagingPrefix = ".hagen-staging-"
	// manifestLimit is the largest manifest hagen reads.
	manifestLimit = 1 << 20
)

// writeResult says how DIR was replaced.
type writeResult struct {
	// inPlace is why DIR could not be swapped in one rename ("" when it
	// was): its files were then replaced one rename each.
	inPlace string
	// kept lists files that appeared in DIR while it was swapped; they
	// stay in the directory named by keptIn.
	kept   []string
	keptIn string
}

// writeTree replaces dir with tree. Renders into one directory are
// serialised by a lock on its parent directory (waiting is called when
// another render holds it).
//
// The normal path writes the tree and its manifest into a sibling
// temporary directory, fsyncs every file and directory, and exchanges it
// with dir in one renameat2(RENAME_EXCHANGE): a reader sees the old
// complete tree or the new one. When that swap is impossible (dir is the
// current directory or holds it, is a mount point, or its parent is not
// writable or does not support the exchange), the new files are staged
// inside dir and renamed over the old ones one by one, after every one of
// them is written and synced: each file is replaced atomically, and the
// mix of old and new files lasts only as long as those renames. Files that
// hagen did not write are never removed: dir is refused when it holds any
// (checkOwned), and only paths named by the old manifest or the new tree
// are deleted afterwards. On an error before the first rename dir is
// untouched.
func writeTree(dir string, tree render.Tree, waiting func()) (writeResult, error) {
	dir = filepath.Clean(dir)
	abs, err := filepath.Abs(dir)
	if err != nil {
		return writeResult{}, err
	}
	parent := filepath.Dir(abs)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return writeResult{}, err
	}
	unlock, err := lockDir(parent, unix.LOCK_EX, waiting)
	if err != nil {
		return writeResult{}, err
	}
	defer unlock()

	exists, err := removeStaging(dir)
	if err != nil {
		return writeResult{}, err
	}
	oldManifest, err := checkOwned(dir, tree)
	if err != nil {
		return writeResult{}, err
	}
	manifest := strings.Join(tree.Paths(), "\n") + "\n"
	owned := map[string]bool{manifestName: true}
	for _, p := range oldManifest {
		owned[p] = true
	}
	for p := range tree {
		owned[p] = true
	}

	reason := ""
	if exists {
		reason = swapImpossible(dir, abs)
	}
	if reason == "" {
		res, err := swapIn(dir, parent, tree, manifest, exists, owned)
		var no noSwap
		if !errors.As(err, &no) {
			return res, err
		}
		reason = no.reason
	}
	if !exists {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return writeResult{}, err
		}
	}
	return writeResult{inPlace: reason}, replaceInPlace(dir, tree, manifest, oldManifest)
}

// noSwap is the error of a swap that cannot be done: the caller replaces
// the directory in place instead.
type noSwap struct{ reason string }

func (n noSwap) Error() string { return n.reason }

// swapImpossible says why dir, which exists, cannot be swapped with a
// sibling: "" when it can be tried.
func swapImpossible(dir, abs string) string {
	if wd, err := os.Getwd(); err == nil {
		wd, err1 := filepath.EvalSymlinks(wd)
		real, err2 := filepath.EvalSymlinks(abs)
		if err1 == nil && err2 == nil {
			if wd == real {
				return dir + " is the current directory"
			}
			if strings.HasPrefix(wd, strings.TrimSuffix(real, "/")+"/") {
				return dir + " holds the current directory"
			}
		}
	}
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &st); err == nil &&
		st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return dir + " is a mount point"
	}
	return ""
}

// swapIn writes the tree into a sibling of dir and swaps it in. An error
// of type noSwap means nothing changed and the swap cannot be done.
func swapIn(dir, parent string, tree render.Tree, manifest string, exists bool, owned map[string]bool) (writeResult, error) {
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".new-")
	if err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, unix.EROFS) {
			return writeResult{}, noSwap{fmt.Sprintf("no temporary directory next to %s (%v)", dir, errors.Unwrap(err))}
		}
		return writeResult{}, err
	}
	swapped := false
	defer func() {
		if !swapped {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return writeResult{}, err
	}
	files := render.Tree{manifestName: {Data: []byte(manifest), Mode: 0o644}}
	for p, f := range tree {
		files[p] = f
	}
	if err := treefile.WriteDurable(tmp, files); err != nil {
		return writeResult{}, err
	}
	if !exists {
		err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			// No RENAME_NOREPLACE here; the lock keeps other renders out.
			err = os.Rename(tmp, dir)
		}
		if err != nil {
			return writeResult{}, fmt.Errorf("create %s: %w", dir, err)
		}
		swapped = true
		return writeResult{}, treefile.SyncDir(parent)
	}
	err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	switch {
	case errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS):
		return writeResult{}, noSwap{fmt.Sprintf("%s cannot be swapped in one rename (%v)", dir, err)}
	case err != nil:
		return writeResult{}, fmt.Errorf("replace %s: %w", dir, err)
	}
	swapped = true
	if err := treefile.SyncDir(parent); err != nil {
		return writeResult{}, err
	}
	// tmp now holds the previous tree: remove what hagen wrote.
	kept, err := removeOwned(tmp, owned)
	if err != nil {
		return writeResult{}, fmt.Errorf("remove the previous tree (now in %s): %w", tmp, err)
	}
	return writeResult{kept: kept, keptIn: tmp}, nil
}

// removeOwned removes from dir (the previous tree, swapped out) every
// file or link whose path is owned, then every directory left empty. It
// returns what it left: files that appeared after checkOwned.
func removeOwned(dir string, owned map[string]bool) ([]string, error) {
	var kept []string
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		if !owned[rel] {
			kept = append(kept, rel)
			return nil
		}
		return os.Remove(p)
	})
	if err != nil {
		return nil, err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
			return nil, err
		}
	}
	sort.Strings(kept)
	return kept, nil
}

// replaceInPlace replaces the files of dir one rename each. Every new file
// is first written and synced in a staging directory inside dir (same file
// system: each rename is atomic). The manifest is widened to the union of
// the old and new paths before the first rename, so that an interruption
// leaves no file of hagen's unlisted; then the new files are renamed into
// place, paths only the old tree had are removed, and the manifest is
// narrowed to the new tree. Every directory is opened with O_NOFOLLOW: a
// symbolic link planted in dir is never written through.
func replaceInPlace(dir string, tree render.Tree, manifest string, oldManifest []string) error {
	root, err := openDir(unix.AT_FDCWD, dir)
	if err != nil {
		return err
	}
	defer root.Close()
	paths := tree.Paths()

	// Refuse a shape change before anything is written: a directory
	// where a file goes, or a file or link where a directory goes.
	for _, p := range paths {
		if err := checkShape(root, dir, p); err != nil {
			return err
		}
	}

	stage, err := os.MkdirTemp(dir, stagingPrefix)
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	if err := treefile.WriteDurable(stage, tree); err != nil {
		return err
	}
	stageFd, err := openDir(unix.AT_FDCWD, stage)
	if err != nil {
		return err
	}
	defer stageFd.Close()

	union := map[string]bool{}
	for _, p := range oldManifest {
		union[p] = true
	}
	for _, p := range paths {
		union[p] = true
	}
	if err := putManifest(root, stageFd, union); err != nil {
		return err
	}

	touched := map[string]*os.File{}
	defer func() {
		for _, f := range touched {
			f.Close()
		}
	}()
	for _, p := range paths {
		d, base := path.Split(p)
		d = strings.TrimSuffix(d, "/")
		dst, ok := touched[d]
		if !ok {
			if dst, err = walkDir(root, d, true); err != nil {
				return fmt.Errorf("%s is partly replaced (render again to finish): %w", dir, err)
			}
			touched[d] = dst
		}
		src, err := walkDir(stageFd, d, false)
		if err != nil {
			return err
		}
		err = unix.Renameat(int(src.Fd()), base, int(dst.Fd()), base)
		src.Close()
		if err != nil {
			return fmt.Errorf("%s is partly replaced (render again to finish): rename %s: %w", dir, p, err)
		}
	}
	for d, f := range touched {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("fsync %s: %w", path.Join(dir, d), err)
		}
	}

	// Paths only the old tree had: files and links are removed, then the
	// directories they leave empty.
	newPaths := map[string]bool{}
	for _, p := range paths {
		newPaths[p] = true
	}
	emptied := map[string]bool{}
	for _, p := range oldManifest {
		if newPaths[p] || p == manifestName {
			continue
		}
		d, base := path.Split(p)
		d = strings.TrimSuffix(d, "/")
		df, err := walkDir(root, d, false)
		if err != nil {
			continue // gone already, or no longer a directory of hagen's
		}
		var st unix.Stat_t
		if unix.Fstatat(int(df.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := unix.Unlinkat(int(df.Fd()), base, 0); err != nil {
				df.Close()
				return fmt.Errorf("remove %s: %w", path.Join(dir, p), err)
			}
			df.Sync()
			for ; d != "" && d != "."; d = path.Dir(d) {
				emptied[d] = true
			}
		}
		df.Close()
	}
	removeEmpty(root, emptied)

	if err := putManifest(root, stageFd, newPaths); err != nil {
		return err
	}
	return root.Sync()
}

// checkShape refuses a path of the new tree whose place in dir holds a
// directory (for the file) or something other than a directory (for one
// of its parents).
func checkShape(root *os.File, dir, p string) error {
	parts := strings.Split(p, "/")
	for i := range parts {
		rel := strings.Join(parts[:i+1], "/")
		var st unix.Stat_t
		err := unix.Fstatat(int(root.Fd()), rel, &st, unix.AT_SYMLINK_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		if err != nil {
			return &fs.PathError{Op: "stat", Path: path.Join(dir, rel), Err: err}
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		last := i == len(parts)-1
		if last && isDir {
			return fmt.Errorf("%s is a directory where hagen renders a file; remove it and render again", filepath.Join(dir, rel))
		}
		if !last && !isDir {
			return fmt.Errorf("%s is not a directory, and hagen renders files below it; remove it and render again", filepath.Join(dir, rel))
		}
	}
	return nil
}

// removeEmpty removes the directories named (relative to root), deepest
// first, when they are empty.
func removeEmpty(root *os.File, dirs map[string]bool) {
	sorted := make([]string, 0, len(dirs))
	for d := range dirs {
		sorted = append(sorted, d)
	}
	sort.Slice(sorted, func(i, j int) bool { return strings.Count(sorted[i], "/") > strings.Count(sorted[j], "/") })
	for _, d := range sorted {
		pd, base := path.Split(d)
		pf, err := walkDir(root, strings.TrimSuffix(pd, "/"), false)
		if err != nil {
			continue
		}
		if unix.Unlinkat(int(pf.Fd()), base, unix.AT_REMOVEDIR) == nil {
			pf.Sync()
		}
		pf.Close()
	}
}

// putManifest replaces dir's manifest with the sorted paths, atomically:
// written and synced in the staging directory, then renamed.
func putManifest(root, stage *os.File, paths map[string]bool) error {
	list := make([]string, 0, len(paths))
	for p := range paths {
		if p != manifestName {
			list = append(list, p)
		}
	}
	sort.Strings(list)
	const tmp = ".manifest"
	fd, err := unix.Openat(int(stage.Fd()), tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("write the manifest: %w", err)
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err = f.WriteString(strings.Join(list, "\n") + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(int(stage.Fd()), tmp, int(root.Fd()), manifestName)
	}
	if err == nil {
		err = root.Sync()
	}
	if err != nil {
		return fmt.Errorf("write the manifest: %w", err)
	}
	return nil
}

// openDir opens a directory without following a symbolic link.
func openDir(at int, name string) (*os.File, error) {
	fd, err := unix.Openat(at, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return nil, fmt.Errorf("%s is not a directory (a symbolic link or a file); hagen does not write through links", name)
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// walkDir opens the directory rel below root one component at a time,
// never following a link; with create, missing directories are made.
func walkDir(root *os.File, rel string, create bool) (*os.File, error) {
	cur, err := openDir(int(root.Fd()), ".")
	if err != nil {
		return nil, err
	}
	if rel == "" {
		return cur, nil
	}
	for _, c := range strings.Split(rel, "/") {
		if c == "" || c == "." || c == ".." {
			cur.Close()
			return nil, fmt.Errorf("path %q leaves the directory", rel)
		}
		if create {
			if err := unix.Mkdirat(int(cur.Fd()), c, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				cur.Close()
				return nil, fmt.Errorf("create %s: %w", rel, err)
			}
		}
		next, err := openDir(int(cur.Fd()), c)
		cur.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		cur = next
	}
	return cur, nil
}

// removeStaging removes staging directories left in dir by interrupted
// in-place renders. It reports whether dir exists, and refuses a dir that
// is a symbolic link or not a directory.
func removeStaging(dir string) (bool, error) {
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return true, fmt.Errorf("%s is a symbolic link; name the directory itself", dir)
	}
	if !info.IsDir() {
		return true, fmt.Errorf("%s exists and is not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return true, err
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), stagingPrefix) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return true, err
			}
		}
	}
	return true, nil
}

// checkOwned refuses to replace a directory holding files that neither
// its manifest nor the new tree name: they are someone's, not hagen's. It
// returns the paths of the old manifest (only clean relative paths).
func checkOwned(dir string, tree render.Tree) ([]string, error) {
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s exists and is not a directory", dir)
	}
	oldManifest, err := readManifest(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, err
	}
	owned := map[string]bool{manifestName: true}
	for p := range tree {
		owned[p] = true
	}
	for _, p := range oldManifest {
		owned[p] = true
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
		return nil, err
	}
	if len(foreign) > 0 {
		sort.Strings(foreign)
		if len(foreign) > 5 {
			foreign = append(foreign[:5], fmt.Sprintf("and %d more", len(foreign)-5))
		}
		return nil, fmt.Errorf("%s holds files hagen did not render (%s); render into an empty or hagen-rendered directory", dir, strings.Join(foreign, ", "))
	}
	return oldManifest, nil
}

// readManifest reads a manifest without following a link, and keeps only
// clean relative paths: a manifest never makes hagen touch anything
// outside the directory.
func readManifest(name string) ([]string, error) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, manifestLimit+1))
	if err != nil {
		return nil, err
	}
	if len(data) > manifestLimit {
		return nil, fmt.Errorf("%s is larger than %s", name, size(manifestLimit))
	}
	var paths []string
	for _, p := range strings.Split(string(data), "\n") {
		if p != "" && !strings.HasPrefix(p, "/") && p == path.Clean(p) && p != ".." && !strings.HasPrefix(p, "../") {
			paths = append(paths, p)
		}
	}
	return paths, nil
}

// lockDir takes a flock of kind how (LOCK_EX or LOCK_SH) on the directory
// dir itself, which stays the same inode while its entries are swapped.
// waiting, when not nil, is called once if another process holds it.
func lockDir(dir string, how int, waiting func()) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	err = unix.Flock(fd, how|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		if waiting != nil {
			waiting()
		}
		for {
			if err = unix.Flock(fd, how); !errors.Is(err, unix.EINTR) {
				break
			}
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
