package probe

import (
	"math"
	"time"
)

// RTO is the recovery time after a fault: from faultAt to the first
// acknowledged write strictly after it. ok is false when no write was
// acknowledged after the fault. Only OpWrite events count.
func RTO(events []Event, faultAt time.Time) (d time.Duration, ok bool) {
	for _, e := range events {
		if e.Op == OpWrite && e.OK && e.Time().After(faultAt) {
			if !ok || e.Time().Sub(faultAt) < d {
				d, ok = e.Time().Sub(faultAt), true
			}
		}
	}
	return d, ok
}

// WriteGap is the time clients could not write across a fault: from the
// last acknowledged write at or before faultAt to the first acknowledged
// write after it. ok is false when either is missing.
func WriteGap(events []Event, faultAt time.Time) (d time.Duration, ok bool) {
	var before, after time.Time
	for _, e := range events {
		if e.Op != OpWrite || !e.OK {
			continue
		}
		t := e.Time()
		if t.After(faultAt) {
			if after.IsZero() || t.Before(after) {
				after = t
			}
		} else if before.IsZero() || t.After(before) {
			before = t
		}
	}
	if before.IsZero() || after.IsZero() {
		return 0, false
	}
	return after.Sub(before), true
}

// Acked returns the ids of the acknowledged writes, each once, in the
// order of the events.
func Acked(events []Event) []string {
	seen := map[string]bool{}
	var ids []string
	for _, e := range events {
		if e.Op == OpWrite && e.OK && e.ID != "" && !seen[e.ID] {
			seen[e.ID] = true
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// Lost returns the acknowledged ids that are not present (the rows a
// database lost: the RPO), in the order of acked.
func Lost(acked []string, present map[string]bool) []string {
	var lost []string
	for _, id := range acked {
		if !present[id] {
			lost = append(lost, id)
		}
	}
	return lost
}

// SiteCounts counts the successful OpConnect events by the site the
// server reported.
func SiteCounts(events []Event) map[string]int {
	counts := map[string]int{}
	for _, e := range events {
		if e.Op == OpConnect && e.OK {
			counts[e.Site]++
		}
	}
	return counts
}

// Shares is SiteCounts as fractions of all successful connects; empty
// when there were none.
func Shares(events []Event) map[string]float64 {
	counts := SiteCounts(events)
	total := 0
	for _, n := range counts {
		total += n
	}
	shares := make(map[string]float64, len(counts))
	for site, n := range counts {
		shares[site] = float64(n) / float64(total)
	}
	return shares
}

// ShareBound is the largest deviation |observed share − p| that n
// independent trials with success probability p show with probability
// 1 − alpha, so that a check "deviation ≤ ShareBound" fails a correct
// client only with probability alpha (the false-alarm rate).
//
// It uses the normal approximation of the binomial distribution: the
// observed share has mean p and standard deviation sqrt(p(1−p)/n), and
// the two-sided critical value is z = Φ⁻¹(1 − alpha/2) = √2·erfinv(1 − alpha),
// so the bound is z·sqrt(p(1−p)/n) and shrinks as 1/sqrt(n). The
// approximation is good when n·p and n·(1−p) are both at least about 10.
//
// For the guide's 50/50 split with 400 sessions and alpha = 1e-6,
// z ≈ 4.89 and the bound is ≈ 0.122: 230/170 passes, 300/100 fails.
//
// It returns +Inf for n < 1 (nothing can be concluded) and NaN for p
// outside [0, 1] or alpha outside (0, 1).
func ShareBound(n int, p float64, alpha float64) float64 {
	if !(p >= 0 && p <= 1) || !(alpha > 0 && alpha < 1) {
		return math.NaN()
	}
	if n < 1 {
		return math.Inf(1)
	}
	z := math.Sqrt2 * math.Erfinv(1-alpha)
	return z * math.Sqrt(p*(1-p)/float64(n))
}
