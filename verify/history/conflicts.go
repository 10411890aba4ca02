package history

import (
	"fmt"
	"strings"
)

// Rules describes Bucardo's conflict strategies, as its documentation
// states them.
var Rules = map[string]string{
	"bucardo_latest":            "the row changed most recently wins (the source databases' change timestamps are compared)",
	"bucardo_latest_all_tables": "the database with the most recent change to any table of the sync wins for the whole conflict",
	"bucardo_source":            "the source database wins",
	"bucardo_target":            "the target database wins",
	"bucardo_abort":             "the sync aborts on a conflict: no write may be discarded",
}

// Conflicts lists, in multi-master mode, the acknowledged writes that the
// conflict strategy discarded.
//
// For each key whose final value is the same on every node (a key that
// did not converge is reported by the divergence check instead), with
// winner F the write of that value, an acknowledged write W ≠ F of the
// key is
//   - superseded, when some write of the key that did not fail was sent
//     after W was acknowledged: a later write in real time replaced it,
//     whatever the sites;
//   - overwritten on its own site, when F was served by W's site: the
//     site's database ordered the two itself;
//   - otherwise discarded by the conflict strategy: a write on another
//     site, concurrent with W or earlier, won.
//
// What the client side can infer: which acknowledged writes vanished in
// favour of another site's write that real time does not order after
// them, which site won, and whether the winner was certainly earlier in
// real time (acknowledged before W was sent). Under bucardo_latest such
// a winner contradicts the rule unless the sites' clocks disagree or a
// transaction's timestamp (its start) is far from its commit: it is
// reported as a violation. What it cannot infer: the timestamps Bucardo
// compared (the databases' own clocks, taken at transaction start, not
// at commit), whether Bucardo's conflict code or plain replication order
// replaced the row, and anything about writes whose server is unknown.
type Conflicts struct {
	Finding
	Strategy string `json:"strategy"`
	Rule     string `json:"rule"`
	// ContendedKeys counts the keys written on two or more sites by
	// writes that real time does not order.
	ContendedKeys int `json:"contendedKeys"`
	Discarded     int `json:"discarded"`
	// AgainstRealTime counts the discarded writes whose winner was
	// acknowledged before they were sent.
	AgainstRealTime int `json:"againstRealTime"`
	// Superseded and OwnSite count the acknowledged writes replaced
	// legitimately; Unconverged the keys left to the divergence check.
	Superseded  int       `json:"superseded"`
	OwnSite     int       `json:"ownSite"`
	Unconverged int       `json:"unconverged"`
	Items       []Discard `json:"items,omitempty"`
}

// Discard is one write the conflict strategy discarded and the write
// that won.
type Discard struct {
	Discarded OpRef `json:"discarded"`
	Winner    OpRef `json:"winner"`
	// Order is "concurrent" or "winner-earlier".
	Order string `json:"order"`
}

// Name is "conflicts".
func (*Conflicts) Name() string { return "conflicts" }

func site(o *Op) string {
	if o.Server == nil {
		return ""
	}
	if o.Server.Site != "" {
		return o.Server.Site
	}
	return o.Server.Node
}

func checkConflicts(x *ix, final FinalState, opt Options) Conflicts {
	strategy := opt.ConflictStrategy
	if strategy == "" {
		strategy = "bucardo_latest"
	}
	r := Conflicts{Strategy: strategy, Rule: Rules[strategy]}
	if r.Rule == "" {
		r.Rule = "unknown strategy"
	}
	nodes := final.readable()
	for _, k := range x.keys {
		ws := x.writes[k]
		if contended(x, ws) {
			r.ContendedKeys++
		}
		if len(nodes) == 0 {
			continue
		}
		fv, present := nodes[0].Rows[k]
		converged := true
		for _, n := range nodes[1:] {
			if v, ok := n.Rows[k]; ok != present || v != fv {
				converged = false
			}
		}
		if !converged {
			r.Unconverged++
			continue
		}
		if !present {
			continue
		}
		f := x.writer(k, fv)
		if f == nil {
			continue
		}
		for _, i := range ws {
			w := &x.ops[i]
			if w == f || w.Outcome != OK {
				continue
			}
			superseded := false
			for _, j := range ws {
				if o := &x.ops[j]; o.Outcome != Failed && precedes(w, o) {
					superseded = true
					break
				}
			}
			switch {
			case superseded:
				r.Superseded++
			case site(w) == "" || site(f) == "":
				// Who served it is unknown: nothing can be said.
			case site(w) == site(f):
				r.OwnSite++
			default:
				d := Discard{Discarded: ref(w), Winner: ref(f), Order: "concurrent"}
				if precedes(f, w) {
					d.Order = "winner-earlier"
					r.AgainstRealTime++
				}
				r.Discarded++
				if len(r.Items) < opt.MaxListed {
					r.Items = append(r.Items, d)
				}
			}
		}
	}
	latest := strings.HasPrefix(strategy, "bucardo_latest")
	switch {
	case len(nodes) == 0:
		r.Finding = Finding{NotChecked, "no node's final state read"}
	case r.Discarded == 0:
		r.Finding = Finding{Pass, fmt.Sprintf("0 discarded (%s contended, %s)", plural(r.ContendedKeys, "key", "keys"), strategy)}
	case strategy == "bucardo_abort" || (latest && r.AgainstRealTime > 0):
		r.Finding = Finding{Violation, fmt.Sprintf("%d discarded by %s, %d against real time", r.Discarded, strategy, r.AgainstRealTime)}
	default:
		r.Finding = Finding{Allowed, fmt.Sprintf("%d discarded by %s (%s contended)", r.Discarded, strategy, plural(r.ContendedKeys, "key", "keys"))}
	}
	return r
}

// contended reports whether two acknowledged writes from different sites
// overlap in real time.
func contended(x *ix, ws []int) bool {
	for a := 0; a < len(ws); a++ {
		wa := &x.ops[ws[a]]
		if wa.Outcome != OK || site(wa) == "" {
			continue
		}
		// ws is in invocation order: a later write never precedes wa, and
		// once one is sent after wa's acknowledgement all later ones are.
		for b := a + 1; b < len(ws); b++ {
			wb := &x.ops[ws[b]]
			if wb.Invoke > wa.Complete {
				break
			}
			if wb.Outcome == OK && site(wb) != "" && site(wa) != site(wb) {
				return true
			}
		}
	}
	return false
}
