package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hagen-ha/hagen/render"
)

// treeOf builds a tree of n files below the given site directories.
func treeOf(tag string, sites ...string) render.Tree {
	t := render.Tree{"inventory.json": {Data: []byte(tag + " inventory\n"), Mode: 0o644}}
	for _, s := range sites {
		for i := range 10 {
			t[fmt.Sprintf("%s/conf/file%d.conf", s, i)] = render.File{Data: []byte(fmt.Sprintf("%s %s %d\n", tag, s, i)), Mode: 0o644}
		}
		t[s+"/run.sh"] = render.File{Data: []byte("#!/bin/sh\n# " + tag + "\n"), Mode: 0o755}
	}
	return t
}

// onDisk reads every entry below dir: regular files by content, anything
// else by kind.
func onDisk(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case rel == ".":
		case d.IsDir():
			got[rel+"/"] = "dir"
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			got[rel] = string(data)
		default:
			got[rel] = d.Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// want is what a directory holding exactly tree looks like.
func want(tree render.Tree) map[string]string {
	w := map[string]string{manifestName: strings.Join(tree.Paths(), "\n") + "\n"}
	for p, f := range tree {
		w[p] = string(f.Data)
		for d := filepath.Dir(p); d != "."; d = filepath.Dir(d) {
			w[d+"/"] = "dir"
		}
	}
	return w
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Concurrent renders of two different trees into one directory all
// succeed and leave exactly one of the trees, complete, and no temporary
// directory behind: for a new directory, an existing one, the current
// directory (replaced in place) and a mount point (in place).
func TestWriteTreeConcurrent(t *testing.T) {
	a, b := treeOf("a", "site0", "site1"), treeOf("b", "db0", "db1", "db2")
	for _, where := range []string{"new", "existing", "current directory", "mount point"} {
		t.Run(where, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "out")
			switch where {
			case "existing":
				if _, err := writeTree(dir, a, nil); err != nil {
					t.Fatal(err)
				}
			case "current directory":
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				t.Chdir(dir)
				dir = "."
			case "mount point":
				bindMount(t, dir)
			}
			const n = 50
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tree := a
					if i%2 == 1 {
						tree = b
					}
					if _, err := writeTree(dir, tree, nil); err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("a concurrent render failed: %v", err)
			}
			got := onDisk(t, dir)
			if !equal(got, want(a)) && !equal(got, want(b)) {
				t.Errorf("after %d concurrent renders %s holds neither tree: %v", n, dir, keys(got))
			}
			if where == "new" || where == "existing" {
				entries, _ := os.ReadDir(base)
				if len(entries) != 1 {
					var names []string
					for _, e := range entries {
						names = append(names, e.Name())
					}
					t.Errorf("%s holds %v, want only out", base, names)
				}
			}
		})
	}
}

// bindMount makes dir a bind mount of a fresh directory, or skips the
// test when this process may not mount (not root, or no CAP_SYS_ADMIN).
func bindMount(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a bind mount needs root: run the tests as root to cover a mount point as DIR")
	}
	src := filepath.Join(t.TempDir(), "src")
	for _, d := range []string{src, dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount(src, dir, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount %s on %s (%v): a mount point as DIR is not covered here", src, dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// A mount point cannot be swapped: it is replaced in place, the mount
// stays, and the files land in the mounted file system.
func TestWriteTreeMountPoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	bindMount(t, dir)
	a, b := treeOf("a", "site0", "site1"), treeOf("b", "db0")
	res, err := writeTree(dir, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.inPlace, "is a mount point") {
		t.Errorf("inPlace = %q, want the mount point named", res.inPlace)
	}
	if got := onDisk(t, dir); !equal(got, want(a)) {
		t.Errorf("%s = %v", dir, keys(got))
	}
	if _, err := writeTree(dir, b, nil); err != nil {
		t.Fatal(err)
	}
	if got := onDisk(t, dir); !equal(got, want(b)) {
		t.Errorf("after the second render %s = %v, want %v", dir, keys(got), keys(want(b)))
	}
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &st); err != nil || st.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		t.Errorf("%s is no longer a mount point (%v)", dir, err)
	}
}

// -o . renders into the current directory file by file; a later render of
// a different tree removes the files and directories only the old tree
// had, and a file hagen did not write stops the render before anything
// changes.
func TestWriteTreeCurrentDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	a, b := treeOf("a", "site0", "site1"), treeOf("b", "db0")
	res, err := writeTree(".", a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.inPlace != ". is the current directory" {
		t.Errorf("inPlace = %q", res.inPlace)
	}
	if got := onDisk(t, "."); !equal(got, want(a)) {
		t.Errorf(". = %v", keys(got))
	}
	if _, err := writeTree(".", b, nil); err != nil {
		t.Fatal(err)
	}
	if got := onDisk(t, "."); !equal(got, want(b)) {
		t.Errorf("after the second render . = %v, want %v", keys(got), keys(want(b)))
	}
	if err := os.WriteFile("db0/notes.txt", []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = writeTree(".", a, nil)
	if err == nil || !strings.Contains(err.Error(), "db0/notes.txt") {
		t.Fatalf("render over a foreign file: %v", err)
	}
	w := want(b)
	w["db0/notes.txt"] = "mine\n"
	if got := onDisk(t, "."); !equal(got, w) {
		t.Errorf("a refused render changed .: %v", keys(got))
	}
}

// A render from a subdirectory of DIR replaces DIR in place too: a swap
// would leave the shell in the removed old tree.
func TestWriteTreeHoldsCurrentDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	a := treeOf("a", "site0")
	if _, err := writeTree(dir, a, nil); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(dir, "site0"))
	res, err := writeTree(dir, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.inPlace, "holds the current directory") {
		t.Errorf("inPlace = %q", res.inPlace)
	}
	if _, err := os.Stat("run.sh"); err != nil {
		t.Errorf("the current directory was swapped away: %v", err)
	}
}

// A link planted at a rendered path is replaced, never written through;
// a link where hagen needs a directory stops the render.
func TestWriteTreeInPlaceLinks(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(outside, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	a := treeOf("a", "site0")
	if _, err := writeTree(".", a, nil); err != nil {
		t.Fatal(err)
	}
	os.Remove("site0/run.sh")
	if err := os.Symlink(outside, "site0/run.sh"); err != nil {
		t.Fatal(err)
	}
	if _, err := writeTree(".", a, nil); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(outside); string(data) != "precious\n" {
		t.Errorf("the render wrote through a link: %s = %q", outside, data)
	}
	if info, err := os.Lstat("site0/run.sh"); err != nil || !info.Mode().IsRegular() {
		t.Errorf("site0/run.sh is not a regular file after the render: %v %v", info, err)
	}

	// site0 itself a link to a directory outside: refused as a foreign
	// file, the outside directory untouched.
	os.RemoveAll("site0")
	target := t.TempDir()
	if err := os.Symlink(target, "site0"); err != nil {
		t.Fatal(err)
	}
	if _, err := writeTree(".", a, nil); err == nil {
		t.Error("rendered through a directory link")
	}
	if entries, _ := os.ReadDir(target); len(entries) != 0 {
		t.Errorf("the render wrote %d entries through the link", len(entries))
	}
}

// A manifest naming paths outside DIR never makes hagen remove them.
func TestWriteTreeHostileManifest(t *testing.T) {
	base := t.TempDir()
	victim := filepath.Join(base, "victim")
	if err := os.WriteFile(victim, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := "../victim\n" + victim + "\nsite0/../../victim\n"
	if err := os.WriteFile(filepath.Join(dir, manifestName), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if _, err := writeTree(".", treeOf("a", "site0"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("a hostile manifest removed a file outside DIR: %v", err)
	}
}

// removeOwned leaves what appeared in the swapped-out tree after the
// ownership check and reports it.
func TestRemoveOwned(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a/x", "a/late", "b/y"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), nil, 0o644)
	}
	kept, err := removeOwned(dir, map[string]bool{"a/x": true, "b/y": true})
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || kept[0] != "a/late" {
		t.Errorf("kept = %v", kept)
	}
	got := onDisk(t, dir)
	if !equal(got, map[string]string{"a/": "dir", "a/late": ""}) {
		t.Errorf("left %v", keys(got))
	}
}

// A staging directory left by an interrupted in-place render is removed
// by the next render, which then succeeds.
func TestWriteTreeStaleStaging(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	a := treeOf("a", "site0")
	if _, err := writeTree(".", a, nil); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(stagingPrefix+"123", "site0")
	os.MkdirAll(stale, 0o700)
	os.WriteFile(filepath.Join(stale, "run.sh"), nil, 0o644)
	if _, err := writeTree(".", a, nil); err != nil {
		t.Fatal(err)
	}
	if got := onDisk(t, "."); !equal(got, want(a)) {
		t.Errorf(". = %v", keys(got))
	}
}

// The diff never prints control characters of a file on disk.
func TestDiffTreeControlCharacters(t *testing.T) {
	dir := t.TempDir()
	tree := render.Tree{"a.conf": {Data: []byte("x = 1\n"), Mode: 0o644}}
	if err := os.WriteFile(filepath.Join(dir, "a.conf"), []byte("x = 1\n\x1b]0;owned\x07\x1b[2J\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	diff, err := diffTree(dir, tree)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(diff, 0x1b) || !strings.Contains(diff, "not text") {
		t.Errorf("diff = %q", diff)
	}
}

// A file growing past the limit between stat and read is not read whole.
func TestReadRegularLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := readRegular(p, 10)
	if err != nil || !e.big || e.data != nil {
		t.Errorf("readRegular over the limit = %+v, %v", e, err)
	}
	e, err = readRegular(p, 100)
	if err != nil || e.big || len(e.data) != 100 {
		t.Errorf("readRegular at the limit = big %v, %d bytes, %v", e.big, len(e.data), err)
	}
	if _, err := readRegular(filepath.Join(t.TempDir(), "none"), 10); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("readRegular of a missing file: %v", err)
	}
}
