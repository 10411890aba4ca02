package contract

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hagen-ha/hagen/internal/lazyregexp"
)

// Synchronous methods of synchronous_standby_names.
const (
	SyncFirst = "first"
	SyncAny   = "any"
)

// SyncStandbyNames is the value of synchronous_standby_names that makes
// count of the named standbys confirm each commit: FIRST count (the first
// connected names, in list order) or ANY count (a quorum). The names are
// double-quoted as PostgreSQL's grammar allows; an empty list gives "".
// The rendered postgresql.conf, keepalived's notify.sh, the RUNBOOK and
// the agent's sync keeper all write it this way.
func SyncStandbyNames(method string, count int, names []string) string {
	if len(names) == 0 {
		return ""
	}
	count = max(1, min(count, len(names)))
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = `"` + n + `"`
	}
	return fmt.Sprintf("%s %d (%s)", SyncKeyword(method), count, strings.Join(quoted, ", "))
}

// SyncKeyword is the method as PostgreSQL writes it: FIRST or ANY; an
// empty method is FIRST (hagen's default).
func SyncKeyword(method string) string {
	if method == SyncAny {
		return "ANY"
	}
	return "FIRST"
}

var syncPrefix = lazyregexp.New(`(?i)^\s*(FIRST|ANY)\s+([0-9]+)\s*\(`)

// SyncCount is how many standbys a value of synchronous_standby_names
// waits for: the number after FIRST or ANY, 1 for the plain list form
// (PostgreSQL reads "a, b" as FIRST 1 (a, b)), 0 for an empty value
// (commits wait for no standby).
func SyncCount(value string) int {
	if strings.TrimSpace(value) == "" {
		return 0
	}
	if m := syncPrefix.FindStringSubmatch(value); m != nil {
		if n, err := strconv.Atoi(m[2]); err == nil {
			return n
		}
	}
	return 1
}
