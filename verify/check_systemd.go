package verify

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/hagen-ha/hagen/internal/lazyregexp"
)

// checkSystemd runs `systemd-analyze verify` on a unit, with the site's
// other units on the unit path (they are installed together) and the tree
// at the install directory the units name (<installDir>/<name>/<site>), so
// that the scripts they start exist with their rendered modes.
//
// systemd-analyze verify prints a problem it works around ("Unknown key
// ..., ignoring") and still exits 0, so every line it prints fails the
// check, except these, which name what exists only on the production host,
// not in the node image:
//   - "Command /usr/bin/docker is not executable: No such file or
//     directory" and the same for /usr/local/bin/hagen (the Docker CLI and
//     the hagen binary the host provides);
//   - "Failed to create <unit>/start: Unit docker.service not found."
//     (the host's Docker engine; also docker.socket, containerd.service).
//
// Any other missing command or unit, a typo in a key or a section, a bad
// value, or a script without its executable bit still fails
// (TestCheckFindsBrokenCopies breaks a unit to prove it).
func (b *checkBox) checkSystemd(ctx context.Context, f *checkFile) (CheckResult, error) {
	r := CheckResult{File: f.rel, Checker: checkerSystemd}
	env := []string{"SYSTEMD_UNIT_PATH=" + boxTree + "/" + f.dir() + ":", "SYSTEMD_LOG_COLOR=0"}
	code, out, err := b.exec(ctx, "", env, "systemd-analyze", "verify", inBox(f))
	if err != nil {
		return r, err
	}
	// Verifying a unit loads the units it names; their problems are
	// reported on their own files.
	var others []string
	for _, o := range b.t.files {
		if o.kind == checkerSystemd && o != f && o.dir() == f.dir() {
			others = append(others, inBox(o)+":", path.Base(o.rel)+": ")
		}
	}
	out = checkCleanLines(out)
	var problems []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !hasAnyPrefix(l, others) && !systemdHostOnly(l) {
			problems = append(problems, l)
		}
	}
	r.OK = len(problems) == 0
	r.Message = strings.Join(problems, "\n")
	if code != 0 && out == "" {
		r.OK = false
		r.Message = fmt.Sprintf("systemd-analyze verify exited %d without a message", code)
	}
	return r, nil
}

var (
	systemdHostCommand = lazyregexp.New(`: Command (/usr/bin/docker|/usr/local/bin/hagen) is not executable: No such file or directory$`)
	systemdHostUnit    = lazyregexp.New(`: Failed to create \S+/start: Unit (docker\.service|docker\.socket|containerd\.service) not found\.$`)
)

// systemdHostOnly reports whether a line of systemd-analyze verify names
// only something the production host provides (see checkSystemd).
func systemdHostOnly(line string) bool {
	return systemdHostCommand.MatchString(line) || systemdHostUnit.MatchString(line)
}

// systemdInstallDirs are the install directories the units name: the part
// before /<name>/<site> in their paths (WorkingDirectory=/opt/hagen/x/site0
// names /opt/hagen). The check container links <dir>/<name> to the tree.
func systemdInstallDirs(t *checkTree) []string {
	if t.name == "" {
		return nil
	}
	dirs := map[string]bool{}
	for _, f := range t.files {
		if f.kind != checkerSystemd || f.site == "" {
			continue
		}
		re := regexp.MustCompile(`(/[^\s"'=:;]*)/` + regexp.QuoteMeta(t.name) + `/` + regexp.QuoteMeta(f.site) + `(?:[/\s"';:]|$)`)
		for _, m := range re.FindAllStringSubmatch(string(f.data), -1) {
			if d := path.Clean(m[1]); d != "/" && d != "." && !strings.HasPrefix(d, boxTree) {
				dirs[d] = true
			}
		}
	}
	return checkSortedSet(dirs)
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
