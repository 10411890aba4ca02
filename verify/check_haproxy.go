package verify

import (
	"context"
	"fmt"
	"strings"
)

// checkHAProxy runs `haproxy -c -f` on a haproxy.cfg with every secret of
// the tree's env templates set to a placeholder in the environment, as
// run.sh exports them (haproxy expands "${NAME}" from its environment).
// The names the rendered hosts file gives resolve, as on the site hosts.
// haproxy's exit code decides; its alerts and warnings are the message,
// without the version notices it always prints.
func (b *checkBox) checkHAProxy(ctx context.Context, f *checkFile) (CheckResult, error) {
	r := CheckResult{File: f.rel, Checker: checkerHAProxy}
	code, out, err := b.exec(ctx, "", b.env, "haproxy", "-c", "-f", inBox(f))
	if err != nil {
		return r, err
	}
	var lines []string
	for _, l := range strings.Split(checkCleanLines(out), "\n") {
		if strings.HasPrefix(l, "[NOTICE]") || l == "Configuration file is valid" || l == "" {
			continue
		}
		lines = append(lines, l)
	}
	r.OK = code == 0
	r.Message = strings.Join(lines, "\n")
	if !r.OK && r.Message == "" {
		r.Message = fmt.Sprintf("haproxy -c exited %d without a message", code)
	}
	return r, nil
}
