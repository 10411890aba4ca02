package image

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLockBuildExcludesASecondHolder(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockBuild(context.Background(), &bytes.Buffer{}, dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	var progress bytes.Buffer
	if _, err := lockBuild(ctx, &progress, dir, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock while held: err = %v, want deadline exceeded", err)
	}
	if !strings.Contains(progress.String(), "waiting for another build") {
		t.Errorf("no waiting message: %q", progress.String())
	}
	unlock()
	unlock2, err := lockBuild(context.Background(), &bytes.Buffer{}, dir, "x")
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

func TestRemoveTree(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "hagen-node-1")
	if err := os.MkdirAll(filepath.Join(tree, "rootfs", "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	// An absolute symlink as debootstrap leaves (var/run -> /run) must be
	// removed, not followed.
	outside := filepath.Join(dir, "outside")
	if err := os.WriteFile(outside, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(tree, "rootfs", "etc", "link")); err != nil {
		t.Fatal(err)
	}
	if err := removeTree(tree); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tree); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tree still there: %v", err)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("symlink target removed: %v", err)
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/var/tmp/a\040b/proc`: "/var/tmp/a b/proc",
		`/plain`:               "/plain",
		`/tab\011x`:            "/tab\tx",
		`/not\8escape`:         `/not\8escape`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTailWriterKeepsLastLines(t *testing.T) {
	tw := &tailWriter{max: 2}
	for _, s := range []string{"one\ntw", "o\nthree\n", "four"} {
		if _, err := tw.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := tw.String(), "two\nthree\nfour"; got != want {
		t.Errorf("tail = %q, want %q", got, want)
	}
}

func TestImportError(t *testing.T) {
	ok := []byte(`{"status":"sha256:abc"}` + "\n")
	if m := importError(ok); m != "" {
		t.Errorf("importError(ok) = %q", m)
	}
	bad := []byte(`{"status":"x"}` + "\n" + `{"errorDetail":{"message":"no space"},"error":"no space"}` + "\n")
	if m := importError(bad); !strings.Contains(m, "no space") {
		t.Errorf("importError(bad) = %q", m)
	}
}

// A mount left in the tree by an interrupted debootstrap is detached, not
// deleted through.
func TestRemoveTreeDetachesMounts(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(dir, "host")
	sentinel := filepath.Join(outside, "sentinel")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sentinel, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(dir, "hagen-node-1")
	proc := filepath.Join(tree, "rootfs", "proc")
	if err := os.MkdirAll(proc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(outside, proc, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind mount (needs root): %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(proc, syscall.MNT_DETACH) })
	if m, err := mountsUnder(tree); err != nil || len(m) != 1 {
		t.Fatalf("mountsUnder = %v, %v; want the bind mount", m, err)
	}
	if err := removeTree(tree); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sentinel); err != nil {
		t.Fatalf("file behind the mount was removed: %v", err)
	}
	if _, err := os.Stat(tree); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tree still there: %v", err)
	}
}
