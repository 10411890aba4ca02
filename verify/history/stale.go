package history

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// StaleReads is the acknowledged reads that returned a value older than
// one certainly committed before the read was sent.
//
// A read R of key k that returned value v (written by W) is stale when
// some write N of k is known to have committed before R was invoked and
// W certainly took effect before N was sent (W acknowledged before N's
// invocation), so that v had already been replaced. N is known committed
// before R when N was acknowledged before R's invocation, or when
// another read that completed before R's invocation returned N's value.
// The evidence may come through any path and node: a read through a
// standby that misses a write acknowledged by the primary is stale. A
// read that found no row is stale when any write of k is known committed
// before it. W of unknown outcome is never proven older than anything (it
// may have taken effect late), so its reads are never called stale.
//
// Two more anomalies are reported with the stale reads and are
// violations in every mode: a read of a value nobody wrote (phantom) and
// a read of a value whose write failed (aborted read).
type StaleReads struct {
	Finding
	Reads   int            `json:"reads"`
	Stale   int            `json:"stale"`
	Phantom int            `json:"phantom"`
	Aborted int            `json:"abortedReads"`
	ByPath  map[string]int `json:"byPath,omitempty"`
	Items   []StaleRead    `json:"items,omitempty"`
}

// StaleRead is one anomalous read.
type StaleRead struct {
	// Kind is "stale", "phantom" or "aborted".
	Kind string `json:"kind"`
	Read OpRef  `json:"read"`
	// Got is what the read returned ("(absent)" for no row).
	Got string `json:"got"`
	// Newer is the operation proving a newer value was committed before
	// the read (a write, or a read that returned that write's value).
	Newer *OpRef `json:"newer,omitempty"`
	Why   string `json:"why"`
}

// Name is "stale".
func (*StaleReads) Name() string { return "stale" }

// evidence: the write whose value is known committed at time t.
type evidence struct {
	t      time.Duration // known committed by then
	writer *Op
	via    *Op // the operation that shows it (the write itself, or a read)
}

func checkStale(x *ix, opt Options) StaleReads {
	r := StaleReads{ByPath: map[string]int{}}
	add := func(s StaleRead, o *Op) {
		r.ByPath[o.Path.String()]++
		if len(r.Items) < opt.MaxListed {
			r.Items = append(r.Items, s)
		}
	}
	for _, k := range x.keys {
		var ev []evidence
		for _, i := range x.writes[k] {
			if w := &x.ops[i]; w.Outcome == OK {
				ev = append(ev, evidence{t: w.Complete, writer: w, via: w})
			}
		}
		for _, i := range x.reads[k] {
			rd := &x.ops[i]
			if rd.Outcome != OK || rd.Absent {
				continue
			}
			if w := x.writer(k, rd.Value); w != nil && w.Outcome != Failed {
				ev = append(ev, evidence{t: rd.Complete, writer: w, via: rd})
			}
		}
		sort.SliceStable(ev, func(i, j int) bool { return ev[i].t < ev[j].t })
		// Reads in invocation order; the evidence before each, with the
		// latest-invoked writer among it.
		next := 0
		var newest *evidence
		for _, i := range x.reads[k] {
			rd := &x.ops[i]
			if rd.Outcome != OK {
				continue
			}
			r.Reads++
			for next < len(ev) && ev[next].t < rd.Invoke {
				if newest == nil || ev[next].writer.Invoke > newest.writer.Invoke {
					newest = &ev[next]
				}
				next++
			}
			got := rd.Value
			if rd.Absent {
				got = "(absent)"
			}
			var w *Op
			if !rd.Absent {
				w = x.writer(k, rd.Value)
				if w == nil {
					r.Phantom++
					add(StaleRead{Kind: "phantom", Read: ref(rd), Got: got, Why: "no operation wrote this value"}, rd)
					continue
				}
				if w.Outcome == Failed {
					r.Aborted++
					add(StaleRead{Kind: "aborted", Read: ref(rd), Got: got, Why: fmt.Sprintf("the write of this value (operation %d) failed: %s", w.Index, w.Error)}, rd)
					continue
				}
			}
			if newest == nil {
				continue
			}
			// W's latest possible effect: its acknowledgement, or never
			// bounded when its outcome is unknown.
			wEnd := time.Duration(math.MaxInt64)
			if w != nil && w.Outcome == OK {
				wEnd = w.Complete
			}
			if w != nil && newest.writer.Invoke <= wEnd {
				continue
			}
			n := ref(newest.via)
			how := "acknowledged"
			if newest.via.Kind == Read {
				how = "read"
			}
			why := fmt.Sprintf("value %q (operation %d) was %s at %s, before this read was sent at %s", newest.writer.Value, newest.writer.Index, how, ms(newest.t), ms(rd.Invoke))
			if w != nil {
				why += fmt.Sprintf("; the value read was acknowledged at %s, before that write was sent at %s", ms(w.Complete), ms(newest.writer.Invoke))
			}
			r.Stale++
			add(StaleRead{Kind: "stale", Read: ref(rd), Got: got, Newer: &n, Why: why}, rd)
		}
	}
	if len(r.ByPath) == 0 {
		r.ByPath = nil
	}
	bad := r.Stale + r.Phantom + r.Aborted
	switch {
	case r.Reads == 0:
		r.Finding = Finding{NotChecked, "no acknowledged reads"}
	case bad == 0:
		r.Finding = Finding{Pass, fmt.Sprintf("0 of %d reads", r.Reads)}
	default:
		parts := []string{fmt.Sprintf("%d of %d reads", r.Stale, r.Reads)}
		if r.Phantom > 0 {
			parts = append(parts, plural(r.Phantom, "phantom read", "phantom reads"))
		}
		if r.Aborted > 0 {
			parts = append(parts, plural(r.Aborted, "read of a failed write", "reads of failed writes"))
		}
		v := Violation
		if r.Phantom == 0 && r.Aborted == 0 && opt.Mode != Synchronous {
			v = Allowed
		}
		r.Finding = Finding{v, strings.Join(parts, ", ") + " (by path: " + countsByName(r.ByPath) + ")"}
	}
	return r
}
