package budget

import (
	"fmt"
	"time"
)

// PatroniTimers are the DCS timers hagen gives Patroni for a spec's
// failoverAfter F (seconds), within Patroni's rule
// loop_wait + 2 × retry_timeout ≤ ttl:
//
//	ttl           = F
//	loop_wait     = ⌊F / 10⌋, at least 1 and at most 10
//	retry_timeout = ⌊(F − loop_wait) / 2⌋, at most 10
//
// F is the ttl because Patroni documents ttl as the time before the
// automatic failover begins, the meaning of failoverAfter. A short
// loop_wait lets a replica notice an expired lock soon; retry_timeout is
// what is left, capped at Patroni's own default. F below 3 leaves no
// retry_timeout of a whole second: ok is false then.
type PatroniTimers struct {
	TTL, LoopWait, RetryTimeout int
}

// PatroniTimersFor derives the timers from failoverAfter; ok is false when
// Patroni cannot work with it (F < 3).
func PatroniTimersFor(failoverAfter int) (PatroniTimers, bool) {
	loop := min(max(failoverAfter/10, 1), 10)
	retry := min(10, (failoverAfter-loop)/2)
	t := PatroniTimers{TTL: failoverAfter, LoopWait: loop, RetryTimeout: retry}
	return t, retry >= 1 && loop+2*retry <= failoverAfter
}

// Fixed delays of Patroni 3.0.2 on the promotion path, read from its code
// and seen in every measured promotion: the replica's REST probe of the
// dead leader (ha.py fetch_node_status, timeout 2 s), the etcd client
// leaving an etcd member that does not answer (1 s per host), and
// pg_promote.
const (
	PatroniLeaderProbe  = 2 * time.Second
	PatroniEtcdFailover = time.Second
	PatroniPromote      = 500 * time.Millisecond
)

// PatroniPromotion is the worst case from the primary's loss to the
// promoted standby: the leader key expires ttl after its last renewal,
// the replica notices within one loop_wait, then its etcd client may leave
// a dead member, it probes the old leader's REST API, and promotes:
// ttl + loop_wait + 1 s + 2 s + 0.5 s.
func PatroniPromotion(t PatroniTimers) Term {
	ttl := time.Duration(t.TTL) * time.Second
	loop := time.Duration(t.LoopWait) * time.Second
	return Term{
		Name: "Patroni promotion",
		Formula: fmt.Sprintf("ttl %s + loop_wait %s + etcd member failover %s + leader probe %s + promote %s",
			Seconds(ttl), Seconds(loop), Seconds(PatroniEtcdFailover), Seconds(PatroniLeaderProbe), Seconds(PatroniPromote)),
		Value: ttl + loop + PatroniEtcdFailover + PatroniLeaderProbe + PatroniPromote,
	}
}

// PatroniRelaxStrict is, after a promotion that left no streaming standby
// under strict synchronous mode, the time until commits stop waiting:
// Patroni's on_role_change callback asks its REST API whether a standby
// streams (curl -m callback) and leaves its mark, the agent sees the mark
// at its next look (every interval) and turns strict and synchronous mode
// off, which the leader applies at its next loop (loop_wait).
func PatroniRelaxStrict(callback, interval, loopWait time.Duration) Term {
	return Term{
		Name:    "strict mode relaxed",
		Formula: fmt.Sprintf("callback %s + agent %s + loop_wait %s", Seconds(callback), Seconds(interval), Seconds(loopWait)),
		Value:   callback + interval + loopWait,
	}
}

// VRRPv3Skew is the Skew_Time of VRRP version 3 (RFC 5798 §6.1), which
// keepalived scales by the advertisement interval:
// (256 − priority) / 256 × advert.
func VRRPv3Skew(advert time.Duration, priority int) time.Duration {
	return time.Duration(int64(advert) * int64(256-priority) / 256)
}

// PatroniVIP is keepalived following Patroni's /primary: the track script
// succeeds at its next run (every interval; rise 1), then the instance
// leaves FAULT and becomes MASTER after 3 adverts and its VRRP version 3
// skew.
func PatroniVIP(interval, advert time.Duration, priority int) Term {
	return Term{
		Name:    "VIP follows /primary",
		Formula: fmt.Sprintf("check %s + 3 × %s + (256 − %d)/256 × %s", Seconds(interval), Seconds(advert), priority, Seconds(advert)),
		Value:   interval + 3*advert + VRRPv3Skew(advert, priority),
	}
}
