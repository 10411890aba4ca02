// Package budget computes recovery-time (RTO) budgets from the timers an
// HA deployment is configured with: the worst case, by the protocol's own
// rules, of how long each mechanism takes to notice a fault and act on it.
// Every function takes plain numbers (the caller reads them from the spec
// or the rendered files) and returns a Term: the figure and the formula
// with the numbers filled in, so that a report can show where a budget
// comes from. Nothing here reads a clock or a file.
//
// The formulas, with their assumptions:
//
//   - VRRP takeover after the master disappears (killed, powered off, cut
//     off): a backup declares the master down after the Master_Down_Interval
//     of RFC 3768 §6.1, 3 × advert + skew, where priority is the backup's.
//     keepalived speaks VRRP version 2 unless vrrp_version 3 is set (hagen's
//     keepalived.conf does not), and for version 2 its skew is
//     (256 − priority) / 256 seconds whatever the advertisement interval
//     (keepalived's VRRP_TIMER_SKEW; RFC 5798's version 3 scales it by the
//     interval). Note: this package first scaled it by the interval, which
//     overstated the skew for advert_int above 1 s. The fault can come
//     right after an advertisement, so the takeover may come up to one
//     interval sooner; the budget is the whole interval.
//   - VRRP takeover after a failed track script: the script must fail fall
//     times in a row, each run at most interval + timeout apart in the worst
//     case (a hung run counts as a failure after its timeout), so detection
//     takes at most fall × (interval + timeout); then the master goes FAULT.
//     A master in FAULT normally sends a priority-0 advertisement and the
//     backup takes over after its skew time, but that advertisement can be
//     lost, so the budget adds the full Master_Down_Interval.
//   - HAProxy marks a server down after fall consecutive failed checks run
//     every inter, and up after rise consecutive good ones. With "timeout
//     check" set (haproxy.cfg sets it) a check may take min(timeout
//     connect, inter) to connect and then "timeout check" to answer (the
//     HAProxy manual, "timeout check"; a refused connection fails at once),
//     and HAProxy schedules the next check inter after the previous one
//     ended, so the worst case is fall × (inter + min(connect, inter) +
//     check), rise × (…) to come up. Note: this package first counted only
//     "timeout check" for a check's own time, not its connect time.
//   - Promotion in hagen's keepalived design: the new VRRP master's notify
//     script asks every peer for its role and fences a writable one (each
//     unreachable peer costs one connect timeout) and promotes the local
//     standby (pg_promote waits up to its own limit). Budget: failoverAfter
//   - peers × connect timeout + promote wait. Note: pass 0 as
//     failoverAfter for hagen's rendered notify.sh, which sets
//     synchronous_standby_names in the promotion itself (the standbys still
//     up, or none), so no commit of the new primary waits for the agent;
//     failoverAfter is the agent's delay on a running primary whose
//     synchronous standby is lost, not part of a promotion.
//   - Patroni: the leader key expires ttl seconds after the last renewal,
//     and a replica notices within one loop_wait: ttl + loop_wait.
//   - Client library: after a failed request the client waits the
//     reconnect delay before it tries the next server: reconnectDelay per
//     attempt; a client that may have to skip dead servers before it finds
//     a live one needs reconnectDelay × attempts, where attempts is the
//     number of servers it may try (the dead ones in its list before the
//     first live one).
//
// Sum adds terms along a path (for example VRRP takeover + promotion +
// client reconnect for a client writing through the VIP); Max is a path
// that waits for several things at once.
package budget

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Term is one part of a budget: Name says what it bounds, Formula how it
// was computed (with the inputs filled in), Value the result.
type Term struct {
	Name    string        `json:"name"`
	Formula string        `json:"formula"`
	Value   time.Duration `json:"valueNs"`
}

// String is "name: formula = value".
func (t Term) String() string {
	return fmt.Sprintf("%s: %s = %s", t.Name, t.Formula, Seconds(t.Value))
}

// Budget is a path's total with the terms it adds up.
type Budget struct {
	Name  string        `json:"name"`
	Total time.Duration `json:"totalNs"`
	Terms []Term        `json:"terms"`
}

// Sum adds terms into a named budget, in the order given.
func Sum(name string, terms ...Term) Budget {
	b := Budget{Name: name, Terms: terms}
	for _, t := range terms {
		b.Total += t.Value
	}
	return b
}

// maxTerm names the one term of a Max budget.
const maxTerm = "max"

// Max is the budget of a path that needs several things, each reached
// along its own way at the same time: the longest of the alternatives.
// Its one term, "max", lists them all in its formula.
func Max(name string, alternatives ...Budget) Budget {
	parts := make([]string, len(alternatives))
	var longest time.Duration
	for i, a := range alternatives {
		parts[i] = a.Formula()
		longest = max(longest, a.Total)
	}
	return Sum(name, Term{Name: maxTerm, Formula: strings.Join(parts, ", "), Value: longest})
}

// Formula is the budget's terms with their inputs filled in:
// "VRRP takeover (3 × 1s + (256 − 100)/256 × 1s) + promotion (…)", or
// "max(…, …)" for Max.
func (b Budget) Formula() string {
	parts := make([]string, len(b.Terms))
	for i, t := range b.Terms {
		if t.Name == maxTerm {
			parts[i] = "max(" + t.Formula + ")"
		} else {
			parts[i] = t.Name + " (" + t.Formula + ")"
		}
	}
	return strings.Join(parts, " + ")
}

// String is "name ≤ total (term + term ...)".
func (b Budget) String() string {
	parts := make([]string, len(b.Terms))
	for i, t := range b.Terms {
		parts[i] = t.Name + " " + Seconds(t.Value)
	}
	return fmt.Sprintf("%s ≤ %s (%s)", b.Name, Seconds(b.Total), strings.Join(parts, " + "))
}

// Seconds formats a duration as seconds with up to three decimals:
// 3.609s, 2s, 0.25s.
func Seconds(d time.Duration) string {
	s := strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "s"
}

// VRRPSkew is the Skew_Time of VRRP version 2 (RFC 3768 §6.1), as
// keepalived computes it: (256 − priority) / 256 seconds for a backup of
// the given priority (1–255), whatever the advertisement interval.
func VRRPSkew(priority int) time.Duration {
	return time.Duration(int64(time.Second) * int64(256-priority) / 256)
}

// VRRPTakeover is the time a backup of the given priority needs to take
// over from a master that stopped advertising: 3 × advert + skew (VRRP
// version 2, keepalived's default).
func VRRPTakeover(advert time.Duration, backupPriority int) Term {
	return Term{
		Name:    "VRRP takeover",
		Formula: fmt.Sprintf("3 × %s + (256 − %d)/256 × 1s", Seconds(advert), backupPriority),
		Value:   3*advert + VRRPSkew(backupPriority),
	}
}

// TrackScriptFall is the worst-case time for a keepalived track script run
// every interval with the given timeout to fail fall times in a row after
// the fault: fall × (interval + timeout).
func TrackScriptFall(interval, timeout time.Duration, fall int) Term {
	return Term{
		Name:    "track script fails",
		Formula: fmt.Sprintf("%d × (%s + %s)", fall, Seconds(interval), Seconds(timeout)),
		Value:   time.Duration(fall) * (interval + timeout),
	}
}

// VRRPCheckFailover is the takeover after the master's track script
// failed: the script's fall time, then a full Master_Down_Interval (the
// master's priority-0 advertisement is not relied on).
func VRRPCheckFailover(advert time.Duration, backupPriority int, interval, timeout time.Duration, fall int) Budget {
	return Sum("VRRP takeover after a failed check", TrackScriptFall(interval, timeout, fall), VRRPTakeover(advert, backupPriority))
}

// HAProxyDown is the worst-case time for HAProxy to mark a server down:
// fall × (inter + min(timeout connect, inter) + timeout check).
func HAProxyDown(inter time.Duration, fall int, connectTimeout, checkTimeout time.Duration) Term {
	return haproxyChecks("HAProxy marks the server down", inter, fall, connectTimeout, checkTimeout)
}

// HAProxyUp is the worst-case time for HAProxy to mark a server up once it
// answers its check: rise × (inter + min(timeout connect, inter) +
// timeout check), a check in progress when the server came back
// included.
func HAProxyUp(inter time.Duration, rise int, connectTimeout, checkTimeout time.Duration) Term {
	return haproxyChecks("HAProxy marks the server up", inter, rise, connectTimeout, checkTimeout)
}

func haproxyChecks(name string, inter time.Duration, n int, connectTimeout, checkTimeout time.Duration) Term {
	return Term{
		Name:    name,
		Formula: fmt.Sprintf("%d × (%s + min(%s, %s) + %s)", n, Seconds(inter), Seconds(connectTimeout), Seconds(inter), Seconds(checkTimeout)),
		Value:   time.Duration(n) * (inter + min(connectTimeout, inter) + checkTimeout),
	}
}

// Promotion is the keepalived design's promotion after the new master's
// notify script starts: failoverAfter (pass 0 when commits never wait for
// the synchronous setting to be cleared) + peers × connect timeout (the
// fencing of unreachable peers) + the promote wait.
func Promotion(failoverAfter time.Duration, peers int, connectTimeout, promoteWait time.Duration) Term {
	return Term{
		Name:    "promotion",
		Formula: fmt.Sprintf("%s + %d × %s + %s", Seconds(failoverAfter), peers, Seconds(connectTimeout), Seconds(promoteWait)),
		Value:   failoverAfter + time.Duration(peers)*connectTimeout + promoteWait,
	}
}

// Patroni is the leader-key failover of Patroni: ttl + loop_wait.
func Patroni(ttl, loopWait time.Duration) Term {
	return Term{
		Name:    "Patroni leader election",
		Formula: fmt.Sprintf("%s + %s", Seconds(ttl), Seconds(loopWait)),
		Value:   ttl + loopWait,
	}
}

// ClientReconnect is the client library's wait before it tries the next
// server: the reconnect delay.
func ClientReconnect(reconnectDelay time.Duration) Term {
	return Term{
		Name:    "client reconnect",
		Formula: Seconds(reconnectDelay),
		Value:   reconnectDelay,
	}
}

// DNSClientFailover is the client library's failover across its server
// names when attempts servers may fail before one answers: the failing
// request (at most requestTimeout), reconnectDelay × attempts, and the
// request that reaches the live server (at most requestTimeout).
func DNSClientFailover(requestTimeout, reconnectDelay time.Duration, attempts int) Term {
	return Term{
		Name:    "client failover",
		Formula: fmt.Sprintf("%s + %s × %d + %s", Seconds(requestTimeout), Seconds(reconnectDelay), attempts, Seconds(requestTimeout)),
		Value:   2*requestTimeout + reconnectDelay*time.Duration(attempts),
	}
}
