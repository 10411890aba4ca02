package image

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/client"
)

// Options configure Build.
type Options struct {
	// Progress receives one line per build phase; nil discards them.
	Progress io.Writer
	// Verbose also copies the output of debootstrap and the post-install
	// script to Progress.
	Verbose bool
	// Mirror is the Debian mirror URI. Empty means $HAGEN_DEBIAN_MIRROR,
	// else the host's apt sources.
	Mirror string
	// TempDir is where the root filesystem is assembled (about 700 MB).
	// Empty means the default temporary directory.
	TempDir string
	// Client talks to the Docker engine. Nil means NewClient.
	Client *client.Client
}

// Result describes what Build did.
type Result struct {
	// Tag is the image reference, "hagen-node:<12 hex>".
	Tag string
	// Skipped is true when the image already existed and nothing was built.
	Skipped bool
	// Duration is the wall time Build took.
	Duration time.Duration
	// Size is the image size in bytes as the engine reports it.
	Size int64
	// Mirror is the mirror the packages came from; empty when Skipped.
	Mirror string
}

// Build makes sure the node image for the current inputs exists in the
// engine. If an image tagged Tag() exists it returns at once with Skipped
// set. Otherwise, holding a host-wide lock so that concurrent callers build
// once, it bootstraps a Debian root filesystem with debootstrap
// (which needs root), runs the post-install steps in it with chroot, and
// imports it as Tag(). The temporary root filesystem is removed on success
// and on failure.
func Build(ctx context.Context, opts Options) (res Result, err error) {
	start := time.Now()
	in := currentInputs()
	res.Tag = in.tag()
	w := opts.Progress
	if w == nil {
		w = io.Discard
	}
	defer func() { res.Duration = time.Since(start) }()

	cli := opts.Client
	if cli == nil {
		if cli, err = NewClient(); err != nil {
			return res, err
		}
		defer cli.Close()
	}
	size, ok, err := inspect(ctx, cli, res.Tag)
	if err != nil {
		return res, err
	}
	if !ok {
		if err := CanBuild(); err != nil {
			return res, err
		}
		// Test binaries of several packages may build at once: one builds,
		// the others wait and find the image.
		unlock, err := lockBuild(ctx, w, os.TempDir(), res.Tag)
		if err != nil {
			return res, err
		}
		defer unlock()
		if size, ok, err = inspect(ctx, cli, res.Tag); err != nil {
			return res, err
		}
	}
	if ok {
		res.Skipped, res.Size = true, size
		progressf(w, "image %s exists, not building", res.Tag)
		return res, nil
	}
	if res.Mirror, err = ResolveMirror(opts.Mirror, Suite); err != nil {
		return res, err
	}

	tmp, err := os.MkdirTemp(opts.TempDir, "hagen-node-")
	if err != nil {
		return res, fmt.Errorf("root filesystem: %w", err)
	}
	defer func() {
		if rmErr := removeTree(tmp); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
	}()
	rootfs := filepath.Join(tmp, "rootfs")

	var out io.Writer = io.Discard
	if opts.Verbose {
		out = w
	}

	cache, err := CacheDir()
	if err != nil {
		return res, err
	}
	db, err := findDebootstrap(ctx, w, res.Mirror, in.suite, cache)
	if err != nil {
		return res, err
	}
	env, err := downloaderEnv(cache)
	if err != nil {
		return res, err
	}
	env = append(env, db.Env...)

	progressf(w, "building %s: debootstrap %s (%s, %d packages) from %s", res.Tag, Suite, variant, len(in.packages), res.Mirror)
	phase := time.Now()
	if err := runEnv(ctx, out, env, db.Path,
		"--variant="+in.variant,
		"--include="+strings.Join(in.packages, ","),
		in.suite, rootfs, res.Mirror); err != nil {
		return res, err
	}
	progressf(w, "debootstrap done in %s", time.Since(phase).Round(time.Second))

	phase = time.Now()
	if err := runInRoot(ctx, out, rootfs, in.script); err != nil {
		return res, err
	}
	progressf(w, "post-install steps done in %s", time.Since(phase).Round(100*time.Millisecond))

	phase = time.Now()
	if err := importTree(ctx, cli, rootfs, res.Tag); err != nil {
		return res, err
	}
	size, ok, err = inspect(ctx, cli, res.Tag)
	if err != nil {
		return res, err
	}
	if !ok {
		return res, fmt.Errorf("import finished but image %s does not exist", res.Tag)
	}
	res.Size = size
	progressf(w, "imported %s (%d MB) in %s", res.Tag, size/1e6, time.Since(phase).Round(100*time.Millisecond))
	return res, nil
}

// lockBuild takes an exclusive lock on a file in dir, shared by all hagen
// processes on the host, waiting while another holds it.
func lockBuild(ctx context.Context, w io.Writer, dir, tag string) (unlock func(), err error) {
	path := filepath.Join(dir, "hagen-node-build.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("build lock: %w", err)
	}
	waiting := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("build lock %s: %w", path, err)
		}
		if !waiting {
			progressf(w, "waiting for another build of %s (lock %s)", tag, path)
			waiting = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	// Closing the file releases the lock.
	return func() { f.Close() }, nil
}

// CanBuild reports why this process cannot build the image, or nil:
// debootstrap and chroot need root, and the tools must be installed.
// debootstrap itself is fetched when missing (see findDebootstrap); it
// downloads with wget, for which curl can stand in.
func CanBuild() error {
	if os.Geteuid() != 0 {
		return errors.New("building the node image needs root (debootstrap, chroot)")
	}
	for _, tool := range []string{"chroot", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("building the node image needs %s: %w", tool, err)
		}
	}
	if _, err := exec.LookPath("wget"); err != nil {
		if _, err := exec.LookPath("curl"); err != nil {
			return errors.New("building the node image needs wget or curl (debootstrap downloads the packages with it)")
		}
	}
	return nil
}

// wgetShim stands in for wget when only curl is installed. debootstrap
// calls wget [options] -O FILE URL.
const wgetShim = `#!/bin/sh
# wget for debootstrap, through curl (written by hagen).
out= url=
while [ $# -gt 0 ]; do
	case $1 in
	-O) out=$2; shift ;;
	-*) ;;
	*) url=$1 ;;
	esac
	shift
done
exec curl -fsSL -o "$out" "$url"
`

// downloaderEnv is the PATH for debootstrap: the standard one, or, when
// the host has curl but no wget, with a wget shim in front.
func downloaderEnv(cache string) ([]string, error) {
	if _, err := exec.LookPath("wget"); err == nil {
		return nil, nil
	}
	bin := filepath.Join(cache, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(bin, "wget"), []byte(wgetShim), 0o755); err != nil {
		return nil, err
	}
	return []string{"PATH=" + bin + ":" + stdPath}, nil
}

// stdPath is the PATH debootstrap and the chroot run with.
const stdPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// run runs a command in its own process group, copying its output to out
// and keeping the last lines for the error. On cancellation the whole group
// gets SIGTERM, so that debootstrap's exit trap unmounts what it mounted.
func run(ctx context.Context, out io.Writer, name string, args ...string) error {
	return runEnv(ctx, out, nil, name, args...)
}

// runEnv is run with env added to (and overriding) buildEnv.
func runEnv(ctx context.Context, out io.Writer, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(buildEnv(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	tail := &tailWriter{max: 30}
	cmd.Stdout = io.MultiWriter(out, tail)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", name, ctx.Err())
		}
		return fmt.Errorf("%s: %w\n%s", name, err, tail)
	}
	return nil
}

// runInRoot runs a shell script inside the root filesystem.
func runInRoot(ctx context.Context, out io.Writer, rootfs, script string) error {
	return run(ctx, out, "chroot", rootfs, "/bin/sh", "-c", script)
}

// buildEnv is the environment for debootstrap and the chroot: the host's
// proxy settings, nothing else of the caller's.
func buildEnv() []string {
	env := []string{
		"PATH=" + stdPath,
		"LANG=C.UTF-8",
		"HOME=/root",
		"DEBIAN_FRONTEND=noninteractive",
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(name) {
		case "http_proxy", "https_proxy", "no_proxy":
			env = append(env, kv)
		}
	}
	return env
}

// importTree streams the root filesystem as a tar archive into the engine's
// image import and waits until the engine has stored it.
func importTree(ctx context.Context, cli *client.Client, rootfs, ref string) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// /dev, /proc and /sys are provided by the container runtime.
	cmd := exec.CommandContext(ctx, "tar", "--numeric-owner",
		"--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*",
		"-C", rootfs, "-c", ".")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	defer func() {
		if err != nil {
			cancel()
		}
		if werr := cmd.Wait(); werr != nil && err == nil {
			err = fmt.Errorf("tar: %w: %s", werr, strings.TrimSpace(stderr.String()))
		}
	}()

	body, err := cli.ImageImport(ctx,
		client.ImageImportSource{Source: stdout, SourceName: "-"},
		ref,
		client.ImageImportOptions{Changes: imageChanges(), Message: "hagen node image " + InputsHash()})
	if err != nil {
		return fmt.Errorf("import %s: %w", ref, err)
	}
	defer body.Close()
	msg, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("import %s: %w", ref, err)
	}
	if m := importError(msg); m != "" {
		return fmt.Errorf("import %s: %s", ref, m)
	}
	return nil
}

// importError returns the error message in the engine's JSON progress
// stream, if any.
func importError(stream []byte) string {
	for _, line := range bytes.Split(stream, []byte("\n")) {
		if i := bytes.Index(line, []byte(`"error"`)); i >= 0 {
			return string(bytes.TrimSpace(line))
		}
	}
	return ""
}

// removeTree removes the temporary build directory. debootstrap mounts
// /proc and /sys in the tree; a mount left behind by an interrupted run is
// detached first, and if one cannot be, nothing is removed: deleting through
// a mount point would delete the host's files.
func removeTree(dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	for _, m := range mounts {
		_ = syscall.Unmount(m, syscall.MNT_DETACH)
	}
	if mounts, err = mountsUnder(dir); err != nil || len(mounts) > 0 {
		return fmt.Errorf("not removing %s: still mounted: %v %v", dir, mounts, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			mounts = append(mounts, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	return mounts, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of
// /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range []byte(s[i+1 : i+4]) {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + (c - '0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// tailWriter keeps the last max lines written to it.
type tailWriter struct {
	max     int
	lines   []string
	partial []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, string(t.partial[:i]))
		t.partial = t.partial[i+1:]
		if len(t.lines) > t.max {
			t.lines = t.lines[len(t.lines)-t.max:]
		}
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	lines := t.lines
	if len(t.partial) > 0 {
		lines = append(slices.Clone(lines), string(t.partial))
	}
	return strings.Join(lines, "\n")
}
