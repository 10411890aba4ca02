package verify

import (
	"context"
	"fmt"
	"path"
	"strings"
)

// checkBucardo reads a Bucardo phase file (initial.json, bucardo.json)
// with the rendered apply.sh next to it, in its dry run: apply.sh parses
// and checks the file with Perl's JSON module and prints the bucardo
// commands it would run, without resolving a secret or touching a
// database. Both run at their production paths under /etc/hagen.
func (b *checkBox) checkBucardo(ctx context.Context, f *checkFile) (CheckResult, error) {
	r := CheckResult{File: f.rel, Checker: checkerBucardo}
	dir := boxEtc + "/" + path.Dir(f.sub)
	code, out, err := b.exec(ctx, "", b.env, dir+"/apply.sh", "--dry-run", boxEtc+"/"+f.sub)
	if err != nil {
		return r, err
	}
	r.OK = code == 0
	if !r.OK {
		// The commands it printed before failing are context; the
		// message is what it said on the way out.
		var lines []string
		for _, l := range strings.Split(checkCleanLines(out), "\n") {
			if !strings.HasPrefix(l, "bucardo ") && !strings.HasPrefix(l, "# db") {
				lines = append(lines, l)
			}
		}
		r.Message = strings.Join(lines, "\n")
		if r.Message == "" {
			r.Message = fmt.Sprintf("apply.sh --dry-run exited %d without a message", code)
		}
	}
	return r, nil
}
