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
