package verify

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/hagen-ha/hagen/contract"
)

// checkJSON parses a JSON file (client.json, agent.json) as its readers'
// encoding/json does, and reports the first error with its line and column.
func checkJSON(f *checkFile) CheckResult {
	r := CheckResult{File: f.rel, Checker: checkerJSON}
	var v any
	if err := json.Unmarshal(f.data, &v); err != nil {
		r.Message = jsonError(f, err)
		return r
	}
	r.OK = true
	return r
}

// checkContract decodes one of the contract files (inventory.json,
// agent.json, client.json) with the strict decoder its readers use: a
// field the reader does not know, or content it refuses, is an error, so
// that the file and its readers cannot drift apart unnoticed.
func checkContract(f *checkFile, checker string, parse func(name string, data []byte) error) CheckResult {
	r := CheckResult{File: f.rel, Checker: checker}
	if err := parse(f.disp, f.data); err != nil {
		r.Message = err.Error()
		return r
	}
	r.OK = true
	return r
}

// contractParsers are the strict decoders of the contract files, by checker.
var contractParsers = map[string]func(string, []byte) error{
	checkerInventory: func(n string, d []byte) error { _, err := contract.ParseInventory(n, d); return err },
	checkerAgent:     func(n string, d []byte) error { _, err := contract.ParseAgentConfig(n, d); return err },
	checkerClient:    func(n string, d []byte) error { _, err := contract.ParseClientSettings(n, d); return err },
}

// jsonError formats a decoding error as "file:line:col: message" where
// encoding/json gives an offset.
func jsonError(f *checkFile, err error) string {
	return contract.PositionError(f.disp, f.data, err).Error()
}

var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$`)

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
