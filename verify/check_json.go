package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strings"

	"github.com/hagen-ha/hagen/render"
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

// checkInventory decodes inventory.json the way hagen verify and hagen
// check read it, strictly: a field the reader does not know is an error,
// so that the file and render.Inventory cannot drift apart unnoticed.
func checkInventory(f *checkFile) CheckResult {
	r := CheckResult{File: f.rel, Checker: checkerInventory}
	if _, err := decodeInventory(f.data); err != nil {
		r.Message = jsonError(f, err)
		return r
	}
	r.OK = true
	return r
}

func decodeInventory(data []byte) (render.Inventory, error) {
	var inv render.Inventory
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&inv); err != nil {
		return inv, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return inv, errors.New("data after the top-level value")
	}
	return inv, nil
}

// jsonError formats a decoding error as "file:line:col: message" where
// encoding/json gives an offset.
func jsonError(f *checkFile, err error) string {
	var off int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
	}
	if off < 0 {
		return fmt.Sprintf("%s: %v", f.disp, err)
	}
	line, col := 1, 1
	for _, c := range f.data[:min(int(off), len(f.data))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("%s:%d:%d: %v", f.disp, line, col, err)
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
