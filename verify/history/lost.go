package history

import (
	"fmt"
	"strings"
)

// Lost is the acknowledged writes the final state does not hold.
//
// An acknowledged write W of value v to key k is lost on a node when the
// node's final value of k is
//   - absent,
//   - a value nobody wrote, or one whose write failed,
//   - or the value of a write that certainly took effect before W was
//     sent (acknowledged before W's invocation): the node went back in
//     time.
//
// A final value written by W itself, by a write concurrent with W or
// after it, or by an unknown write (which may have taken effect after W)
// keeps W: in a register a later write legitimately replaces W. For
// insert-only histories (a key per write) this is simply "W's row is
// missing". Every readable node of the final state is checked; a write
// missing on any of them is lost.
type Lost struct {
	Finding
	Acked int `json:"acked"`
	Lost  int `json:"lost"`
	// ByNode counts the lost writes per node they are missing on.
	ByNode map[string]int `json:"byNode,omitempty"`
	// NodesNotRead are final-state nodes that could not be read.
	NodesNotRead []string    `json:"nodesNotRead,omitempty"`
	Writes       []LostWrite `json:"writes,omitempty"`
}

// LostWrite is one lost write and what each node holds instead
// ("(absent)" when no row).
type LostWrite struct {
	OpRef
	Found map[string]string `json:"found"`
}

// Name is "lost".
func (*Lost) Name() string { return "lost" }

// finalKeeps reports whether value fv (absent when !present) on a node
// keeps the acknowledged write w.
func (x *ix) finalKeeps(w *Op, fv string, present bool) bool {
	if !present {
		return false
	}
	if fv == w.Value {
		return true
	}
	f := x.writer(w.Key, fv)
	if f == nil || f.Outcome == Failed {
		return false
	}
	return !precedes(f, w)
}

func checkLost(x *ix, final FinalState, opt Options) Lost {
	nodes := final.readable()
	r := Lost{NodesNotRead: final.unreadable(), ByNode: map[string]int{}}
	for i := range x.ops {
		w := &x.ops[i]
		if w.Kind != Write || w.Outcome != OK {
			continue
		}
		r.Acked++
		found := map[string]string{}
		for _, n := range nodes {
			fv, present := n.Rows[w.Key]
			if x.finalKeeps(w, fv, present) {
				continue
			}
			if !present {
				fv = "(absent)"
			}
			found[n.Node] = fv
			r.ByNode[n.Node]++
		}
		if len(found) > 0 {
			r.Lost++
			if len(r.Writes) < opt.MaxListed {
				r.Writes = append(r.Writes, LostWrite{OpRef: ref(w), Found: found})
			}
		}
	}
	if len(r.ByNode) == 0 {
		r.ByNode = nil
	}
	switch {
	case len(nodes) == 0 && r.Acked > 0:
		r.Finding = Finding{NotChecked, fmt.Sprintf("%d acknowledged, no node's final state read", r.Acked)}
	case r.Lost == 0:
		r.Finding = Finding{Pass, fmt.Sprintf("0 of %d acknowledged", r.Acked)}
	default:
		v := Violation
		if opt.Mode == Asynchronous {
			v = Allowed
		}
		r.Finding = Finding{v, fmt.Sprintf("%d of %d acknowledged (missing on %s)", r.Lost, r.Acked, countsByName(r.ByNode))}
	}
	if len(r.NodesNotRead) > 0 {
		r.Line += "; not read: " + strings.Join(r.NodesNotRead, ", ")
	}
	return r
}

// Unknowns is the writes whose outcome the client could not know, and
// how many of them are known after the fact to have committed: their
// value is in some node's final state or was returned by a read.
// "Not seen" does not mean "not committed": a committed write can be
// overwritten by a later one before anyone reads it.
type Unknowns struct {
	Finding
	Unknown   int `json:"unknown"`
	Committed int `json:"committed"`
	NotSeen   int `json:"notSeen"`
	// Failed counts the writes that certainly failed, for context.
	Failed int            `json:"failed"`
	Writes []UnknownWrite `json:"writes,omitempty"`
}

// UnknownWrite is one unknown write and the evidence it committed (empty
// when none was seen).
type UnknownWrite struct {
	OpRef
	Error    string   `json:"error,omitempty"`
	Evidence []string `json:"evidence,omitempty"`
}

// Name is "unknown".
func (*Unknowns) Name() string { return "unknown" }

func checkUnknown(x *ix, final FinalState, opt Options) Unknowns {
	nodes := final.readable()
	var r Unknowns
	for i := range x.ops {
		w := &x.ops[i]
		if w.Kind != Write {
			continue
		}
		if w.Outcome == Failed {
			r.Failed++
		}
		if w.Outcome != Unknown {
			continue
		}
		r.Unknown++
		var ev []string
		for _, n := range nodes {
			if fv, ok := n.Rows[w.Key]; ok && fv == w.Value {
				ev = append(ev, "in the final state of "+n.Node)
			}
		}
		ev = append(ev, x.seen[[2]string{w.Key, w.Value}]...)
		if len(ev) > 0 {
			r.Committed++
		} else {
			r.NotSeen++
		}
		if len(r.Writes) < opt.MaxListed {
			r.Writes = append(r.Writes, UnknownWrite{OpRef: ref(w), Error: w.Error, Evidence: ev})
		}
	}
	if r.Unknown == 0 {
		r.Finding = Finding{Pass, "0"}
	} else {
		// An unknown outcome is what a fault does to a client; it fails
		// nothing by itself (a lost or phantom effect shows elsewhere).
		r.Finding = Finding{Allowed, fmt.Sprintf("%d, %d committed (seen after the fact), %d not seen", r.Unknown, r.Committed, r.NotSeen)}
	}
	return r
}
