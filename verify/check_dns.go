package verify

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/hagen-ha/hagen/internal/lazyregexp"
)

// checkZone loads a zone file with named-checkzone as named loads a
// primary zone: check-names fail (-k fail), as named's default for primary
// zones. The zone's name is the deployment's client domain from
// inventory.json, else the file's name without ".zone".
func (b *checkBox) checkZone(ctx context.Context, f *checkFile) (CheckResult, error) {
	r := CheckResult{File: f.rel, Checker: checkerZone}
	zone := strings.TrimSuffix(path.Base(f.rel), ".zone")
	if b.t.domain != "" && f.site == "clients" {
		zone = b.t.domain
	}
	code, out, err := b.exec(ctx, "", nil, "named-checkzone", "-k", "fail", zone, inBox(f))
	if err != nil {
		return r, err
	}
	r.OK = code == 0
	if !r.OK {
		r.Message = checkCleanLines(out)
		if r.Message == "" {
			r.Message = fmt.Sprintf("named-checkzone exited %d without a message", code)
		}
	}
	return r, nil
}

// checkNamedConf checks named.conf with named-checkconf, the parser named
// uses, with /etc/hagen showing the client files where the zone statement
// expects them.
func (b *checkBox) checkNamedConf(ctx context.Context, f *checkFile) (CheckResult, error) {
	r := CheckResult{File: f.rel, Checker: checkerNamedConf}
	code, out, err := b.exec(ctx, "", nil, "named-checkconf", inBox(f))
	if err != nil {
		return r, err
	}
	r.OK = code == 0
	r.Message = checkCleanLines(out)
	if !r.OK && r.Message == "" {
		r.Message = fmt.Sprintf("named-checkconf exited %d without a message", code)
	}
	if !r.OK {
		return r, nil
	}
	// named-checkconf does not open the zone files; named does, at the
	// path the zone statement gives.
	for _, m := range namedZoneFile.FindAllStringSubmatchIndex(string(f.data), -1) {
		file := string(f.data[m[2]:m[3]])
		if !strings.HasPrefix(file, "/") {
			continue // relative to named's directory option
		}
		code, _, err := b.exec(ctx, "", nil, "test", "-r", file)
		if err != nil {
			return r, err
		}
		if code != 0 {
			line := 1 + strings.Count(string(f.data[:m[0]]), "\n")
			r.OK = false
			r.Message = strings.TrimSpace(r.Message + fmt.Sprintf("\n%s:%d: zone file %s is not in the tree", inBox(f), line, file))
		}
	}
	return r, nil
}

var namedZoneFile = lazyregexp.New(`(?m)^\s*file\s+"([^"]+)"`)
