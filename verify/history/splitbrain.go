package history

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// SplitBrain measures how long two nodes accepted writes at once, from
// the acknowledged writes alone.
//
// Definition. A writer is a node in one epoch (Server.Identity: the node
// name, plus its timeline when the client recorded it). Each
// acknowledged write committed at some instant inside its
// [Invoke, Complete] interval, on the node that answered. A writer is
// certainly accepting writes over its span
//
//	span(X) = ( min over X's writes of Complete , max over X's writes of Invoke )
//
// because it committed one write no later than the span's start and
// another no earlier than its end, and a PostgreSQL node that stopped
// being a writable primary cannot become one again without a promotion,
// that is a new epoch. (The span is empty for a writer with one write,
// or whose writes all overlap.) The split-brain window is the measure of
// the set of instants inside the spans of at least two writers; the
// intervals are reported with the writers involved.
//
// Properties:
//   - A clean failover gives 0, whatever the client latency: if the old
//     primary commits only before the handoff instant h and the new one
//     only after, every old write was invoked before h and every new one
//     completed after h, so the old span ends before h and the new one
//     starts after it. A slow acknowledgement from the old primary that
//     arrives after the new primary's first acknowledgement does not
//     count, because the span ends at the last invocation, not at the
//     last completion.
//   - It is a lower bound (conservative): each span is shortened by one
//     write latency at each end, and a node that was writable but
//     acknowledged nothing (unreachable from every client) adds nothing.
//   - In multi-master mode, where every site accepts writes, it is the
//     whole time during which two sites both took writes.
//   - Without epochs (Server.Epoch empty), a node that is promoted,
//     demoted and promoted again within one history is one writer, and
//     the other node's term between its two terms counts as split brain:
//     record the timeline to tell the terms apart.
//
// Acknowledged writes with no server (the client could not tell who
// committed them) are counted in Unattributed and take no part.
type SplitBrain struct {
	Finding
	Window       time.Duration `json:"windowNs"`
	WindowMillis int64         `json:"windowMs"`
	Intervals    []Interval    `json:"intervals,omitempty"`
	Writers      []WriterSpan  `json:"writers"`
	Unattributed int           `json:"unattributed,omitempty"`
}

// Interval is a stretch of time during which the listed writers all
// accepted writes.
type Interval struct {
	From    time.Duration `json:"fromNs"`
	To      time.Duration `json:"toNs"`
	Writers []string      `json:"writers"`
}

// WriterSpan is one writer's acknowledged writes and span.
type WriterSpan struct {
	Writer string        `json:"writer"`
	Writes int           `json:"writes"`
	From   time.Duration `json:"fromNs"`
	To     time.Duration `json:"toNs"`
}

// Name is "split-brain".
func (*SplitBrain) Name() string { return "split-brain" }

func checkSplitBrain(x *ix, opt Options) SplitBrain {
	var r SplitBrain
	spans := map[string]*WriterSpan{}
	for i := range x.ops {
		w := &x.ops[i]
		if w.Kind != Write || w.Outcome != OK {
			continue
		}
		id := w.Server.Identity()
		if id == "" {
			r.Unattributed++
			continue
		}
		s := spans[id]
		if s == nil {
			s = &WriterSpan{Writer: id, From: w.Complete, To: w.Invoke}
			spans[id] = s
		}
		s.Writes++
		s.From = min(s.From, w.Complete)
		s.To = max(s.To, w.Invoke)
	}
	r.Writers = []WriterSpan{}
	for _, s := range spans {
		r.Writers = append(r.Writers, *s)
	}
	sort.Slice(r.Writers, func(i, j int) bool { return r.Writers[i].Writer < r.Writers[j].Writer })
	r.Intervals = overlaps(r.Writers)
	for _, iv := range r.Intervals {
		r.Window += iv.To - iv.From
	}
	r.WindowMillis = r.Window.Milliseconds()
	switch {
	case len(r.Writers) == 0:
		r.Finding = Finding{NotChecked, "no acknowledged write names its server"}
	case r.Window == 0:
		r.Finding = Finding{Pass, "0ms"}
	default:
		v := Violation
		if opt.Mode == MultiMaster {
			v = Allowed
		}
		var names []string
		seen := map[string]bool{}
		for _, iv := range r.Intervals {
			for _, w := range iv.Writers {
				if !seen[w] {
					seen[w] = true
					names = append(names, w)
				}
			}
		}
		sort.Strings(names)
		r.Finding = Finding{v, fmt.Sprintf("%dms in %s (%s)", r.WindowMillis, plural(len(r.Intervals), "interval", "intervals"), strings.Join(names, ", "))}
	}
	if r.Unattributed > 0 {
		r.Line += fmt.Sprintf("; %d acknowledged writes name no server", r.Unattributed)
	}
	return r
}

// overlaps sweeps the spans and returns the maximal intervals covered by
// two or more of them, each with the set of writers active in it (a new
// interval starts when that set changes).
func overlaps(spans []WriterSpan) []Interval {
	type edge struct {
		t    time.Duration
		open bool
		w    string
	}
	var edges []edge
	for _, s := range spans {
		if s.To > s.From {
			edges = append(edges, edge{s.From, true, s.Writer}, edge{s.To, false, s.Writer})
		}
	}
	// Closing before opening at the same instant: spans that only touch
	// do not overlap.
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].t != edges[j].t {
			return edges[i].t < edges[j].t
		}
		if edges[i].open != edges[j].open {
			return !edges[i].open
		}
		return edges[i].w < edges[j].w
	})
	active := map[string]bool{}
	var out []Interval
	var cur *Interval
	for i := 0; i < len(edges); {
		t := edges[i].t
		for ; i < len(edges) && edges[i].t == t; i++ {
			if edges[i].open {
				active[edges[i].w] = true
			} else {
				delete(active, edges[i].w)
			}
		}
		if cur != nil {
			cur.To = t
			if cur.To > cur.From {
				out = append(out, *cur)
			}
			cur = nil
		}
		if len(active) >= 2 {
			ws := make([]string, 0, len(active))
			for w := range active {
				ws = append(ws, w)
			}
			sort.Strings(ws)
			cur = &Interval{From: t, Writers: ws}
		}
	}
	return out
}
