package treefile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hagen-ha/hagen/render"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	tree := render.Tree{
		"a/b/run.sh":  {Data: []byte("#!/bin/sh\n"), Mode: 0o755},
		"clients/x.j": {Data: []byte("{}\n"), Mode: 0o644},
	}
	if err := Write(dir, tree); err != nil {
		t.Fatal(err)
	}
	for p, f := range tree {
		full := filepath.Join(dir, p)
		data, err := os.ReadFile(full)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != string(f.Data) {
			t.Errorf("%s: content %q, want %q", p, data, f.Data)
		}
		info, _ := os.Stat(full)
		if info.Mode().Perm() != f.Mode {
			t.Errorf("%s: mode %v, want %v", p, info.Mode().Perm(), f.Mode)
		}
	}
}

// WriteDurable writes the same tree as Write.
func TestWriteDurable(t *testing.T) {
	dir := t.TempDir()
	tree := render.Tree{"a/b/c.conf": {Data: []byte("x\n"), Mode: 0o644}, "top": {Data: []byte("y\n"), Mode: 0o644}}
	if err := WriteDurable(dir, tree); err != nil {
		t.Fatal(err)
	}
	for p, f := range tree {
		if data, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(data) != string(f.Data) {
			t.Errorf("%s = %q, %v", p, data, err)
		}
	}
}

// A link at a file's path is not written through, and a path that would
// leave the directory is refused.
func TestWriteRefuses(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "target")
	os.WriteFile(target, []byte("keep\n"), 0o644)
	if err := os.Symlink(target, filepath.Join(dir, "f")); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, render.Tree{"f": {Data: []byte("new\n"), Mode: 0o644}}); err == nil {
		t.Error("wrote through a link")
	}
	if data, _ := os.ReadFile(target); string(data) != "keep\n" {
		t.Errorf("the link's target was changed: %q", data)
	}
	for _, p := range []string{"../x", "/abs", "a/../../x", "./a", ""} {
		if err := Write(dir, render.Tree{p: {Data: nil, Mode: 0o644}}); err == nil {
			t.Errorf("wrote the path %q", p)
		}
	}
}

// WriteDurable writes a tree of more files than it fsyncs at once, and a
// failure in the middle returns the error and leaves no file open.
func TestWriteDurableMany(t *testing.T) {
	tree := render.Tree{}
	for i := range 5 * syncWorkers {
		tree[fmt.Sprintf("d%d/f%02d", i%3, i)] = render.File{Data: []byte(fmt.Sprintf("%d\n", i)), Mode: 0o644}
	}
	dir := t.TempDir()
	if err := WriteDurable(dir, tree); err != nil {
		t.Fatal(err)
	}
	for p, f := range tree {
		if data, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(data) != string(f.Data) {
			t.Errorf("%s = %q, %v", p, data, err)
		}
	}

	before := openFiles(t)
	bad := t.TempDir()
	os.MkdirAll(filepath.Join(bad, "d1"), 0o755)
	if err := os.Symlink("/dev/null", filepath.Join(bad, "d1", "f19")); err != nil {
		t.Fatal(err)
	}
	if err := WriteDurable(bad, tree); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("WriteDurable through a link: err = %v, want the link refused", err)
	}
	if after := openFiles(t); after != before {
		t.Errorf("%d files open after a failed WriteDurable, %d before", after, before)
	}
}

func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(fds)
}
