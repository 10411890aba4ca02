package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Debian's debootstrap is an architecture-independent shell script package.
// When the host has no debootstrap program, Build fetches that package from
// the same mirror it bootstraps from, checks it against the suite's signed
// index, unpacks it into the user's cache directory and runs it from there.

// debootstrap is how to run debootstrap: the program and the extra
// environment it needs.
type debootstrap struct {
	Path string
	Env  []string
	// Origin says where it came from, for the progress output.
	Origin string
}

// debianKeyring is where Debian and its derivatives keep the archive keys
// apt trusts (a variable for tests).
var debianKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// findDebootstrap returns the host's debootstrap, else one fetched into
// cacheDir (fetched now unless a previous run left it there).
func findDebootstrap(ctx context.Context, w io.Writer, mirror, suite, cacheDir string) (debootstrap, error) {
	if p, err := exec.LookPath("debootstrap"); err == nil {
		return debootstrap{Path: p, Origin: "installed"}, nil
	}
	dir := filepath.Join(cacheDir, "debootstrap-"+suite)
	if d, ok := cachedDebootstrap(dir); ok {
		return d, nil
	}
	progressf(w, "debootstrap is not installed: fetching Debian's package from %s", mirror)
	start := time.Now()
	fetched, err := fetchDebootstrap(ctx, w, mirror, suite)
	if err != nil {
		return debootstrap{}, fmt.Errorf("debootstrap is not installed and could not be fetched: %w", err)
	}
	if err := unpackDeb(fetched.deb, dir); err != nil {
		return debootstrap{}, fmt.Errorf("unpack debootstrap %s: %w", fetched.version, err)
	}
	d, ok := cachedDebootstrap(dir)
	if !ok {
		return debootstrap{}, fmt.Errorf("debootstrap %s unpacked into %s but usr/sbin/debootstrap is missing", fetched.version, dir)
	}
	progressf(w, "debootstrap %s (%s) unpacked into %s in %s", fetched.version, fetched.checked, dir, time.Since(start).Round(100*time.Millisecond))
	return d, nil
}

// cachedDebootstrap returns the debootstrap unpacked in dir, if complete.
func cachedDebootstrap(dir string) (debootstrap, bool) {
	script := filepath.Join(dir, "usr", "sbin", "debootstrap")
	share := filepath.Join(dir, "usr", "share", "debootstrap")
	if _, err := os.Stat(filepath.Join(share, "functions")); err != nil {
		return debootstrap{}, false
	}
	if fi, err := os.Stat(script); err != nil || fi.Mode()&0o111 == 0 {
		return debootstrap{}, false
	}
	return debootstrap{Path: script, Env: []string{"DEBOOTSTRAP_DIR=" + share}, Origin: "cached in " + dir}, true
}

// CacheDir is where hagen keeps what it fetched for the image build:
// $XDG_CACHE_HOME/hagen or ~/.cache/hagen.
func CacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cache directory: %w", err)
	}
	return filepath.Join(d, "hagen"), nil
}

type fetchedDeb struct {
	deb     []byte
	version string
	checked string // how it was verified
}

// fetchDebootstrap downloads the debootstrap package of suite from mirror,
// verified along the archive's chain: InRelease (OpenPGP-signed; the
// signature is checked with gpgv against Debian's keyring when the host
// has both) names the SHA256 of main/binary-all/Packages.gz, which names
// the SHA256 of the .deb.
func fetchDebootstrap(ctx context.Context, w io.Writer, mirror, suite string) (fetchedDeb, error) {
	base := strings.TrimSuffix(mirror, "/")
	release, err := download(ctx, base+"/dists/"+suite+"/InRelease", 0, "")
	if err != nil {
		return fetchedDeb{}, err
	}
	checked := "SHA256 from the suite's InRelease"
	if signed, how, err := verifyInRelease(ctx, release); err != nil {
		return fetchedDeb{}, err
	} else if signed != nil {
		release, checked = signed, how+", "+checked
	} else {
		progressf(w, "note: %s; the InRelease signature is not checked, only the SHA256 chain", how)
	}
	const index = "main/binary-all/Packages.gz"
	size, sum, err := releaseEntry(release, index)
	if err != nil {
		return fetchedDeb{}, fmt.Errorf("%s/dists/%s/InRelease: %w", base, suite, err)
	}
	gz, err := download(ctx, base+"/dists/"+suite+"/"+index, size, sum)
	if err != nil {
		return fetchedDeb{}, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return fetchedDeb{}, fmt.Errorf("%s: %w", index, err)
	}
	stanza, err := findPackage(zr, "debootstrap")
	if err != nil {
		return fetchedDeb{}, fmt.Errorf("%s: %w", index, err)
	}
	file, debSum, version := stanza["filename"], stanza["sha256"], stanza["version"]
	debSize, err := strconv.ParseInt(stanza["size"], 10, 64)
	if file == "" || debSum == "" || err != nil || strings.Contains(file, "..") {
		return fetchedDeb{}, fmt.Errorf("%s: incomplete debootstrap entry %v", index, stanza)
	}
	deb, err := download(ctx, base+"/"+path.Clean(file), debSize, debSum)
	if err != nil {
		return fetchedDeb{}, err
	}
	return fetchedDeb{deb: deb, version: version, checked: checked}, nil
}

// verifyInRelease checks the InRelease signature with gpgv and returns the
// signed text as gpgv vouches for it. With no gpgv or no Debian keyring it
// returns nil and the reason.
func verifyInRelease(ctx context.Context, inRelease []byte) ([]byte, string, error) {
	gpgv, err := exec.LookPath("gpgv")
	if err != nil {
		return nil, "gpgv is not installed", nil
	}
	if _, err := os.Stat(debianKeyring); err != nil {
		return nil, debianKeyring + " is missing", nil
	}
	cmd := exec.CommandContext(ctx, gpgv, "--keyring", debianKeyring, "--output", "-", "-")
	cmd.Stdin = bytes.NewReader(inRelease)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, "", fmt.Errorf("InRelease signature: gpgv: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), "signature checked with gpgv and " + debianKeyring, nil
}

// releaseEntry returns the size and SHA256 of name in a Release file's
// SHA256 field.
func releaseEntry(release []byte, name string) (int64, string, error) {
	in := false
	sc := bufio.NewScanner(bytes.NewReader(release))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, " ") {
			in = strings.HasPrefix(line, "SHA256:")
			continue
		}
		f := strings.Fields(line)
		if in && len(f) == 3 && f[2] == name {
			size, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || len(f[0]) != 64 {
				return 0, "", fmt.Errorf("bad SHA256 entry %q", line)
			}
			return size, f[0], nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, "", err
	}
	return 0, "", fmt.Errorf("no SHA256 entry for %s", name)
}

// findPackage returns the fields (lower-cased names) of the stanza of pkg
// in a Packages file.
func findPackage(r io.Reader, pkg string) (map[string]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	fields := map[string]string{}
	last := ""
	done := func() bool { return fields["package"] == pkg }
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if done() {
				return fields, nil
			}
			fields, last = map[string]string{}, ""
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				fields[last] += "\n" + strings.TrimSpace(line)
			}
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(name)
			fields[last] = strings.TrimSpace(value)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if done() {
		return fields, nil
	}
	return nil, fmt.Errorf("no package %s", pkg)
}

// download fetches url. With a non-empty sum it checks size (when > 0) and
// SHA256.
func download(ctx context.Context, url string, size int64, sum string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download %s: %s", url, resp.Status)
	}
	limit := int64(64 << 20)
	if size > 0 {
		limit = size + 1
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", url, err)
	}
	if sum == "" {
		return b, nil
	}
	if size > 0 && int64(len(b)) != size {
		return nil, fmt.Errorf("download %s: %d bytes, the index says %d", url, len(b), size)
	}
	if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
		return nil, fmt.Errorf("download %s: SHA256 %x, the index says %s", url, got, sum)
	}
	return b, nil
}

// unpackDeb extracts the data archive of a .deb (an ar archive holding
// data.tar.gz) into dir, replacing dir atomically.
func unpackDeb(deb []byte, dir string) error {
	data, err := arMember(deb, "data.tar.gz")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if name == "." || filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			continue
		}
		target := filepath.Join(tmp, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o755)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			// The scripts directory links releases to shared scripts
			// (bookworm -> sid); only relative links inside the tree.
			if filepath.IsAbs(h.Linkname) || strings.Contains(h.Linkname, "..") {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// arMember returns the content of the named member of an ar archive.
func arMember(ar []byte, name string) ([]byte, error) {
	const magic = "!<arch>\n"
	if !bytes.HasPrefix(ar, []byte(magic)) {
		return nil, errors.New("not an ar archive")
	}
	off := len(magic)
	for off+60 <= len(ar) {
		hdr := ar[off : off+60]
		member := strings.TrimSuffix(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 || int64(off+60)+size > int64(len(ar)) {
			return nil, fmt.Errorf("ar member %q: bad size", member)
		}
		body := ar[off+60 : off+60+int(size)]
		if member == name {
			return body, nil
		}
		off += 60 + int(size) + int(size%2)
	}
	return nil, fmt.Errorf("no %s in the package", name)
}
