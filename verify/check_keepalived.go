package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/hagen-ha/hagen/internal/lazyregexp"
)

// checkKeepalived runs `keepalived --config-test` (Debian's keepalived
// 2.2.7 has it, short -t) on a keepalived.conf, with /etc/hagen showing
// the file's site as keepalived sees it there, so that the scripts it
// names are found and pass enable_script_security. The consumer prints
// nothing for a good file; every line it prints is a problem keepalived
// works around at run time ("..., ignoring"), so any output fails the
// check, as a non-zero exit does.
func (b *checkBox) checkKeepalived(ctx context.Context, f *checkFile) (CheckResult, error) {
	r := CheckResult{File: f.rel, Checker: checkerKeepalived}
	code, out, err := b.exec(ctx, "", b.env, "keepalived", "--config-test", "--use-file="+inBox(f))
	if err != nil {
		return r, err
	}
	out = keepalivedLines(checkCleanLines(out))
	r.OK = code == 0 && out == ""
	r.Message = out
	if !r.OK && r.Message == "" {
		r.Message = fmt.Sprintf("keepalived --config-test exited %d without a message", code)
	}
	return r, nil
}

var keepalivedInclude = lazyregexp.New(`(?m)^\s*include\s+(\S+)`)

// keepalivedPlaceholders are the files keepalived.conf includes that the
// site's scripts write at run time under /run (run.sh writes the VRRP
// authentication block from VRRP_AUTH_PASS): path → stand-in content. The
// stand-in for an authentication include has the block run.sh writes, with
// a placeholder password; any other run-time include is empty.
func keepalivedPlaceholders(t *checkTree) map[string]string {
	out := map[string]string{}
	for _, f := range t.files {
		if f.kind != checkerKeepalived {
			continue
		}
		for _, m := range keepalivedInclude.FindAllStringSubmatch(string(f.data), -1) {
			p := m[1]
			if !strings.HasPrefix(p, "/run/") && !strings.HasPrefix(p, "/var/run/") {
				continue
			}
			content := ""
			if strings.Contains(p, "auth") {
				content = "authentication {\n    auth_type PASS\n    auth_pass checkpw\n}\n"
			}
			out[p] = content
		}
	}
	return out
}

var keepalivedLine = lazyregexp.New(`^\((?:(.+): )?Line (\d+)\) (.*)$`)

// keepalivedLines drops "(Line N) message" when the same message is also
// printed with its file, "(FILE: Line N) message": keepalived's processes
// print their parse errors in either form.
func keepalivedLines(out string) string {
	withFile := map[string]bool{}
	lines := strings.Split(out, "\n")
	for _, l := range lines {
		if m := keepalivedLine.FindStringSubmatch(l); m != nil && m[1] != "" {
			withFile[m[2]+" "+m[3]] = true
		}
	}
	var keep []string
	for _, l := range lines {
		if m := keepalivedLine.FindStringSubmatch(l); m != nil && m[1] == "" && withFile[m[2]+" "+m[3]] {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}
