package image

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// MirrorEnv overrides the Debian mirror debootstrap fetches from.
const MirrorEnv = "HAGEN_DEBIAN_MIRROR"

// aptDir is where the host's apt sources are read from.
const aptDir = "/etc/apt"

// source is one binary package source of an apt sources file.
type source struct {
	uri    string
	suites []string
}

// MirrorFromSources returns the mirror URI for suite from the text of one apt
// sources file. filename decides the format as apt does: a name ending in
// ".sources" is deb822, anything else the one-line "deb [opts] uri suite
// comps" format. An entry listing suite itself is preferred; otherwise the
// first entry naming a release (not only its security or updates suites) is
// taken, since a Debian mirror of another release also carries suite.
func MirrorFromSources(filename, content, suite string) (string, error) {
	var srcs []source
	if strings.HasSuffix(filename, ".sources") {
		srcs = parseDeb822(content)
	} else {
		srcs = parseOneLine(content)
	}
	if uri, ok := pickMirror(srcs, suite); ok {
		return uri, nil
	}
	return "", fmt.Errorf("%s: no usable deb source", filename)
}

// HostMirror returns the Debian mirror for suite from the host's apt sources
// (/etc/apt/sources.list and /etc/apt/sources.list.d/*.list, *.sources).
func HostMirror(suite string) (string, error) {
	files := []string{filepath.Join(aptDir, "sources.list")}
	for _, pattern := range []string{"*.list", "*.sources"} {
		m, err := filepath.Glob(filepath.Join(aptDir, "sources.list.d", pattern))
		if err != nil {
			return "", err
		}
		files = append(files, m...)
	}
	var srcs []source
	for _, f := range files {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		if strings.HasSuffix(f, ".sources") {
			srcs = append(srcs, parseDeb822(string(b))...)
		} else {
			srcs = append(srcs, parseOneLine(string(b))...)
		}
	}
	if uri, ok := pickMirror(srcs, suite); ok {
		return uri, nil
	}
	return "", fmt.Errorf("no Debian mirror found in %s; set %s", aptDir, MirrorEnv)
}

// ResolveMirror returns explicit if set, else $HAGEN_DEBIAN_MIRROR, else the
// host's mirror for suite.
func ResolveMirror(explicit, suite string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if env := os.Getenv(MirrorEnv); env != "" {
		return env, nil
	}
	return HostMirror(suite)
}

func pickMirror(srcs []source, suite string) (string, bool) {
	for _, s := range srcs {
		if slices.Contains(s.suites, suite) {
			return s.uri, true
		}
	}
	for _, s := range srcs {
		if slices.ContainsFunc(s.suites, isRelease) {
			return s.uri, true
		}
	}
	return "", false
}

// isRelease reports whether a suite is a release (bookworm, stable) rather
// than an add-on to one (bookworm-security, bookworm-updates,
// bookworm-backports, bookworm/updates).
func isRelease(suite string) bool {
	return !strings.ContainsAny(suite, "-/")
}

// usableURI reports whether debootstrap can fetch from uri.
func usableURI(uri string) bool {
	for _, scheme := range []string{"http://", "https://", "file:/"} {
		if strings.HasPrefix(uri, scheme) {
			return true
		}
	}
	return false
}

// parseOneLine parses the one-line format: "deb [options] uri suite [component...]".
func parseOneLine(content string) []source {
	var srcs []source
	sc := bufio.NewScanner(strings.NewReader(content))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 3 || fields[0] != "deb" {
			continue
		}
		fields = fields[1:]
		if strings.HasPrefix(fields[0], "[") {
			// Options run up to the field ending in "]".
			i := slices.IndexFunc(fields, func(f string) bool { return strings.HasSuffix(f, "]") })
			if i < 0 {
				continue
			}
			fields = fields[i+1:]
		}
		if len(fields) < 2 || !usableURI(fields[0]) {
			continue
		}
		srcs = append(srcs, source{uri: fields[0], suites: []string{fields[1]}})
	}
	return srcs
}

// parseDeb822 parses the deb822 format: stanzas of "Field: value" lines
// separated by blank lines, continuation lines indented, "#" comment lines.
func parseDeb822(content string) []source {
	var srcs []source
	flush := func(fields map[string]string) {
		if len(fields) == 0 {
			return
		}
		if strings.EqualFold(fields["enabled"], "no") {
			return
		}
		if !slices.Contains(strings.Fields(fields["types"]), "deb") {
			return
		}
		suites := strings.Fields(fields["suites"])
		for _, uri := range strings.Fields(fields["uris"]) {
			if usableURI(uri) {
				srcs = append(srcs, source{uri: uri, suites: suites})
			}
		}
	}
	fields := map[string]string{}
	last := ""
	sc := bufio.NewScanner(strings.NewReader(content))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			continue
		case strings.TrimSpace(line) == "":
			flush(fields)
			fields, last = map[string]string{}, ""
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				fields[last] += " " + strings.TrimSpace(line)
			}
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(name))
			fields[last] = strings.TrimSpace(value)
		}
	}
	flush(fields)
	return srcs
}
