package verify

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hagen-ha/hagen/internal/lazyregexp"
)

// contractChecker decodes one of the contract files (inventory.json,
// agent.json, client.json) with the strict decoder its readers use: a
// field the reader does not know, or content it refuses, is an error, so
// that the file and its readers cannot drift apart unnoticed. JSON syntax
// errors name the file's line and column.
func contractChecker(checker string, parse func(name string, data []byte) error) func(*checkTree, *checkFile) CheckResult {
	return func(_ *checkTree, f *checkFile) CheckResult {
		r := CheckResult{File: f.rel, Checker: checker}
		if err := parse(f.disp, f.data); err != nil {
			r.Message = err.Error()
			return r
		}
		r.OK = true
		return r
	}
}

var hostName = lazyregexp.New(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$`)

// checkHosts reads a hosts(5) fragment as the resolver does: per line an
// address and one or more names, "#" to the end of the line a comment. The
// resolver skips a malformed line silently, so each is reported here. The
// file is also installed in the check container's /etc/hosts, where the
// other consumers (haproxy -c) resolve the names it gives.
func checkHosts(f *checkFile) CheckResult {
	r := CheckResult{File: f.rel, Checker: checkerHosts}
	var errs []string
	for i, l := range strings.Split(string(f.data), "\n") {
		if c := strings.IndexByte(l, '#'); c >= 0 {
			l = l[:c]
		}
		fields := strings.Fields(l)
		if len(fields) == 0 {
			continue
		}
		if _, err := netip.ParseAddr(fields[0]); err != nil {
			errs = append(errs, fmt.Sprintf("%s:%d: %q is not an IP address", f.disp, i+1, fields[0]))
			continue
		}
		if len(fields) == 1 {
			errs = append(errs, fmt.Sprintf("%s:%d: address %s has no name", f.disp, i+1, fields[0]))
		}
		for _, n := range fields[1:] {
			if !hostName.MatchString(n) || len(n) > 253 {
				errs = append(errs, fmt.Sprintf("%s:%d: %q is not a host name", f.disp, i+1, n))
			}
		}
	}
	if len(errs) > 0 {
		r.Message = strings.Join(errs, "\n")
		return r
	}
	r.OK = true
	return r
}
