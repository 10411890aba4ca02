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
//     of RFC 3768 §6.1 / RFC 5798 §6.1, 3 × advert + skew, where
//     skew = (256 − priority) / 256 × advert and priority is the backup's.
//     keepalived implements it so.
//   - VRRP takeover after a failed track script: the script must fail fall
//     times in a row, each run at most interval + timeout apart in the worst
//     case (a hung run counts as a failure after its timeout), so detection
//     takes at most fall × (interval + timeout); then the master goes FAULT.
//     A master in FAULT normally sends a priority-0 advertisement and the
//     backup takes over after its skew time, but that advertisement can be
//     lost, so the budget adds the full Master_Down_Interval.
//   - HAProxy marks a server down after fall consecutive failed checks run
//     every inter; a check against a silent server fails after the check
//     timeout (a refused connection fails at once), and HAProxy schedules
//     the next check inter after the previous one ended, so the worst case
//     is fall × (inter + timeout check).
//   - Promotion in hagen's keepalived design: the new VRRP master's notify
//     script fences every peer (each unreachable peer costs one connect
//     timeout) and promotes the local standby (pg_promote waits up to its
//     own limit); with onStandbyDown "async" the agent then clears
//     synchronous_standby_names after failoverAfter seconds before a commit
//     can return. Budget: failoverAfter (0 when writes never wait for it) +
//     peers × connect timeout + promote wait.
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
// client reconnect for a client writing through the VIP).
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

// VRRPSkew is RFC 5798's Skew_Time, (256 − priority) / 256 × advert, for a
// backup of the given priority (1–254).
func VRRPSkew(advert time.Duration, priority int) time.Duration {
	return time.Duration(int64(advert) * int64(256-priority) / 256)
}

// VRRPTakeover is the time a backup of the given priority needs to take
// over from a master that stopped advertising: 3 × advert + skew.
func VRRPTakeover(advert time.Duration, backupPriority int) Term {
	return Term{
		Name:    "VRRP takeover",
		Formula: fmt.Sprintf("3 × %s + (256 − %d)/256 × %s", Seconds(advert), backupPriority, Seconds(advert)),
		Value:   3*advert + VRRPSkew(advert, backupPriority),
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
// fall × (inter + timeout check).
func HAProxyDown(inter time.Duration, fall int, checkTimeout time.Duration) Term {
	return Term{
		Name:    "HAProxy marks the server down",
		Formula: fmt.Sprintf("%d × (%s + %s)", fall, Seconds(inter), Seconds(checkTimeout)),
		Value:   time.Duration(fall) * (inter + checkTimeout),
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
// names when attempts servers may fail before one answers:
// reconnectDelay × attempts.
func DNSClientFailover(reconnectDelay time.Duration, attempts int) Term {
	return Term{
		Name:    "client failover",
		Formula: fmt.Sprintf("%s × %d", Seconds(reconnectDelay), attempts),
		Value:   reconnectDelay * time.Duration(attempts),
	}
}
