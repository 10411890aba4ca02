package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/pmezard/go-difflib/difflib"
	"golang.org/x/sys/unix"

	"github.com/hagen-ha/hagen/render"
)

// readLimit is the most --check reads of one file on disk. A rendered
// file larger than that is still read up to its own size; a file on disk
// above both is reported by its size and never read.
const readLimit = 1 << 20

// entry is what --check found at one path of DIR, without following
// symbolic links and without reading anything but regular files at
// rendered paths.
type entry struct {
	kind string // "file", or a description of something else
	size int64
	data []byte // content of a rendered path's regular file, when read
	big  bool   // a regular file above the read limit: not read
}

// diffTree compares dir with a rendered tree. It returns a unified diff of
// every rendered file that differs or is missing, and one line for each
// path that is not what hagen renders: an extra file (named, its content
// never shown), a symbolic link (never followed), a pipe, socket or device
// (never opened), a file too large to read. "" when they agree.
func diffTree(dir string, tree render.Tree) (string, error) {
	onDisk, err := scanDir(dir, tree)
	if err != nil {
		return "", err
	}
	paths := map[string]bool{}
	for p := range onDisk {
		paths[p] = true
	}
	for p := range tree {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	var b strings.Builder
	for _, p := range sorted {
		e, inDir := onDisk[p]
		f, inTree := tree[p]
		switch {
		case !inTree:
			fmt.Fprintf(&b, "diff %s\n", p)
			if e.kind == "file" {
				fmt.Fprintf(&b, "extra file, not rendered by hagen: %s, content not shown\n", size(e.size))
			} else {
				fmt.Fprintf(&b, "extra %s, not rendered by hagen\n", e.kind)
			}
		case inDir && e.kind != "file":
			fmt.Fprintf(&b, "diff %s\n%s where hagen renders a regular file\n", p, e.kind)
		case inDir && e.big:
			fmt.Fprintf(&b, "diff %s\ndiffers in size: %s on disk (above the %s read limit, not read), %s rendered\n", p, size(e.size), size(readLimit), size(int64(len(f.Data))))
		case inDir && string(e.data) == string(f.Data):
		case inDir && !printable(e.data):
			fmt.Fprintf(&b, "diff %s\ndiffers: the file on disk is not text (%s), %s rendered\n", p, size(e.size), size(int64(len(f.Data))))
		default:
			from := "a/" + p
			if !inDir {
				from = "/dev/null"
			}
			d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
				A:        difflib.SplitLines(string(e.data)),
				B:        difflib.SplitLines(string(f.Data)),
				FromFile: from,
				ToFile:   "b/" + p,
				Context:  3,
			})
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "diff %s\n%s", p, d)
		}
	}
	return b.String(), nil
}

// scanDir lists dir without following symbolic links. Only regular files
// at paths the tree renders are opened, each with O_NOFOLLOW and
// O_NONBLOCK (a file swapped for a link or a pipe after the listing is
// neither followed nor waited on) and read up to the limit.
func scanDir(dir string, tree render.Tree) (map[string]entry, error) {
	out := map[string]entry{}
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s is a symbolic link; name the directory itself", dir)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s exists and is not a directory", dir)
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			if _, rendered := tree[rel]; rendered {
				out[rel] = entry{kind: "a directory"}
			}
			return nil
		}
		if rel == manifestName {
			return nil
		}
		if !d.Type().IsRegular() {
			out[rel] = entry{kind: kindOf(d.Type())}
			return nil
		}
		f, rendered := tree[rel]
		if !rendered {
			info, err := d.Info()
			if err != nil {
				return err
			}
			out[rel] = entry{kind: "file", size: info.Size()}
			return nil
		}
		e, err := readRegular(p, max(readLimit, int64(len(f.Data))))
		if err != nil {
			return err
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readRegular opens p without following a link or blocking on a pipe and
// checks that it is still a regular file. A file larger than limit is not
// read.
func readRegular(p string, limit int64) (entry, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if errors.Is(err, unix.ELOOP) {
		return entry{kind: "a symbolic link (not followed)"}, nil
	}
	if errors.Is(err, unix.ENOENT) {
		return entry{kind: "a file that disappeared while hagen read the directory"}, nil
	}
	if err != nil {
		return entry{}, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return entry{}, err
	}
	if !info.Mode().IsRegular() {
		return entry{kind: kindOf(info.Mode().Type())}, nil
	}
	e := entry{kind: "file", size: info.Size()}
	if info.Size() > limit {
		e.big = true
		return e, nil
	}
	// The file may grow after the stat: read at most one byte past the limit.
	e.data, err = io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return entry{}, err
	}
	if int64(len(e.data)) > limit {
		e.data, e.big, e.size = nil, true, max(e.size, limit+1)
	}
	return e, nil
}

// kindOf names a file type that is not a regular file.
func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link (not followed)"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (not opened)"
	case m&fs.ModeSocket != 0:
		return "a socket (not opened)"
	case m&fs.ModeDevice != 0:
		return "a device (not opened)"
	case m.IsDir():
		return "a directory"
	default:
		return "a special file (not opened)"
	}
}

// printable reports whether data is UTF-8 text without control characters
// other than tab and newline (a carriage return can hide a line on a
// terminal), so that a diff of it cannot
// drive the terminal or log viewer it is printed to.
func printable(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	for _, r := range string(data) {
		if (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

// size is a byte count in words.
func size(n int64) string {
	switch {
	case n == 1:
		return "1 byte"
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
