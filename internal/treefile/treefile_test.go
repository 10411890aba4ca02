package treefile

import (
	"os"
	"path/filepath"
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
