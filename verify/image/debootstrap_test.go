package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeDeb builds a .deb (ar archive) whose data.tar.gz holds files.
func fakeDeb(t *testing.T, files map[string]string, links map[string]string) []byte {
	t.Helper()
	var data bytes.Buffer
	zw := gzip.NewWriter(&data)
	tw := tar.NewWriter(zw)
	for _, d := range []string{"./", "./usr/", "./usr/sbin/", "./usr/share/", "./usr/share/debootstrap/", "./usr/share/debootstrap/scripts/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var ar bytes.Buffer
	ar.WriteString("!<arch>\n")
	member := func(name string, body []byte) {
		fmt.Fprintf(&ar, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name+"/", 0, 0, 0, "100644", len(body))
		ar.Write(body)
		if len(body)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	member("debian-binary", []byte("2.0\n"))
	member("control.tar.gz", []byte("x"))
	member("data.tar.gz", data.Bytes())
	return ar.Bytes()
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// archive serves a minimal Debian archive for suite "bookworm" whose
// binary-all Packages.gz lists debootstrap; corrupt changes the .deb after
// it was indexed.
func archive(t *testing.T, deb []byte, corrupt bool) *httptest.Server {
	t.Helper()
	var pk bytes.Buffer
	fmt.Fprintf(&pk, "Package: other\nVersion: 1\nFilename: pool/main/o/other_1_all.deb\nSHA256: %s\nSize: 1\n\n", strings.Repeat("0", 64))
	fmt.Fprintf(&pk, "Package: debootstrap\nVersion: 1.0.128+nmu2\nArchitecture: all\nDescription: Bootstrap\n a basic Debian system\nFilename: pool/main/d/debootstrap/debootstrap_1.0.128_all.deb\nSize: %d\nSHA256: %s\n\n", len(deb), sum(deb))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(pk.Bytes())
	zw.Close()
	release := fmt.Sprintf("Origin: Debian\nSuite: stable\nMD5Sum:\n 00000000000000000000000000000000 %d main/binary-all/Packages.gz\nSHA256:\n %s %d main/binary-amd64/Packages.gz\n %s %d main/binary-all/Packages.gz\n",
		gz.Len(), strings.Repeat("1", 64), 5, sum(gz.Bytes()), gz.Len())
	served := deb
	if corrupt {
		served = append(bytes.Clone(deb[:len(deb)-1]), deb[len(deb)-1]^1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debian/dists/bookworm/InRelease", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(release)) })
	mux.HandleFunc("/debian/dists/bookworm/main/binary-all/Packages.gz", func(w http.ResponseWriter, r *http.Request) { w.Write(gz.Bytes()) })
	mux.HandleFunc("/debian/pool/main/d/debootstrap/debootstrap_1.0.128_all.deb", func(w http.ResponseWriter, r *http.Request) { w.Write(served) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestFindDebootstrapFetchesVerifiesAndCaches(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no debootstrap, no gpgv
	deb := fakeDeb(t, map[string]string{
		"./usr/sbin/debootstrap":              "#!/bin/sh\n",
		"./usr/share/debootstrap/functions":   "# functions\n",
		"./usr/share/debootstrap/scripts/sid": "# sid\n",
		"../escape":                           "x",
	}, map[string]string{
		"./usr/share/debootstrap/scripts/bookworm": "sid",
		"./usr/share/debootstrap/scripts/abs":      "/etc/passwd",
	})
	srv := archive(t, deb, false)
	cache := t.TempDir()
	var progress bytes.Buffer
	d, err := findDebootstrap(context.Background(), &progress, srv.URL+"/debian", "bookworm", cache)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache, "debootstrap-bookworm")
	if want := filepath.Join(dir, "usr/sbin/debootstrap"); d.Path != want {
		t.Errorf("Path = %q, want %q", d.Path, want)
	}
	if want := "DEBOOTSTRAP_DIR=" + filepath.Join(dir, "usr/share/debootstrap"); len(d.Env) != 1 || d.Env[0] != want {
		t.Errorf("Env = %q, want [%q]", d.Env, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "usr/share/debootstrap/scripts/bookworm")); err != nil || string(b) != "# sid\n" {
		t.Errorf("relative link bookworm -> sid: %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "usr/share/debootstrap/scripts/abs")); !os.IsNotExist(err) {
		t.Errorf("absolute link unpacked: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cache, "escape")); !os.IsNotExist(err) {
		t.Errorf("a path with .. was unpacked outside the tree: %v", err)
	}
	for _, want := range []string{"not installed: fetching", "signature is not checked", "debootstrap 1.0.128+nmu2"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}

	// The second call uses the cache and fetches nothing.
	srv.Close()
	progress.Reset()
	d2, err := findDebootstrap(context.Background(), &progress, srv.URL+"/debian", "bookworm", cache)
	if err != nil {
		t.Fatal(err)
	}
	if d2.Path != d.Path || progress.Len() != 0 {
		t.Errorf("second call: %+v, progress %q; want the cached one, silently", d2, progress.String())
	}
}

func TestFindDebootstrapRefusesAChecksumMismatch(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	deb := fakeDeb(t, map[string]string{"./usr/sbin/debootstrap": "#!/bin/sh\n", "./usr/share/debootstrap/functions": "#\n"}, nil)
	srv := archive(t, deb, true)
	cache := t.TempDir()
	_, err := findDebootstrap(context.Background(), &bytes.Buffer{}, srv.URL+"/debian", "bookworm", cache)
	if err == nil || !strings.Contains(err.Error(), "SHA256") {
		t.Fatalf("err = %v, want a SHA256 mismatch", err)
	}
	if _, err := os.Stat(filepath.Join(cache, "debootstrap-bookworm")); !os.IsNotExist(err) {
		t.Errorf("a corrupt package was unpacked: %v", err)
	}
}

func TestReleaseEntry(t *testing.T) {
	rel := []byte("MD5Sum:\n abc 5 main/binary-all/Packages.gz\nSHA256:\n " + strings.Repeat("a", 64) + " 42 main/binary-all/Packages.gz\nSHA512:\n x 1 y\n")
	size, s, err := releaseEntry(rel, "main/binary-all/Packages.gz")
	if err != nil || size != 42 || s != strings.Repeat("a", 64) {
		t.Errorf("releaseEntry = %d %q %v", size, s, err)
	}
	if _, _, err := releaseEntry(rel, "main/binary-amd64/Packages.gz"); err == nil {
		t.Error("no error for a missing entry")
	}
}

// The host's installed debootstrap is preferred.
func TestFindDebootstrapPrefersTheInstalledOne(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "debootstrap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	d, err := findDebootstrap(context.Background(), &bytes.Buffer{}, "http://127.0.0.1:1/unused", "bookworm", t.TempDir())
	if err != nil || d.Path != filepath.Join(bin, "debootstrap") || d.Env != nil {
		t.Errorf("findDebootstrap = %+v, %v; want the one on PATH", d, err)
	}
}

// With curl but no wget, debootstrap's "wget -nv -O FILE URL" reaches curl.
func TestWgetShimCallsCurl(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	bin := t.TempDir()
	record := filepath.Join(t.TempDir(), "args")
	curl := "#!" + sh + "\nprintf '%s\\n' \"$@\" > " + record + "\n"
	if err := os.WriteFile(filepath.Join(bin, "curl"), []byte(curl), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	cache := t.TempDir()
	env, err := downloaderEnv(cache)
	if err != nil {
		t.Fatal(err)
	}
	if want := "PATH=" + filepath.Join(cache, "bin") + ":" + stdPath; len(env) != 1 || env[0] != want {
		t.Fatalf("env = %q, want [%q]", env, want)
	}
	cmd := exec.Command(filepath.Join(cache, "bin", "wget"), "-nv", "--no-check-certificate", "-O", "/tmp/dest file", "http://mirror/debian/pool/x.deb")
	cmd.Env = []string{"PATH=" + bin}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("shim: %v %s", err, out)
	}
	got, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if want := "-fsSL\n-o\n/tmp/dest file\nhttp://mirror/debian/pool/x.deb\n"; string(got) != want {
		t.Errorf("curl got %q, want %q", got, want)
	}
}
