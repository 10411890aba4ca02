package verify

import (
	"testing"
	"time"

	"github.com/hagen-ha/hagen/verify/history"
)

// gateWindow counts only reads at the VIP sent after the peer's first
// acknowledged write, and of them those the old primary answered.
func TestGateWindow(t *testing.T) {
	const vip = "10.0.0.100"
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	op := func(kind history.Kind, outcome history.Outcome, via history.Via, target, node string, invoke, complete int) history.Op {
		o := history.Op{Kind: kind, Outcome: outcome, Path: history.Path{Via: via, Target: target}, Invoke: ms(invoke), Complete: ms(complete)}
		if node != "" {
			o.Server = &history.Server{Node: node}
		}
		return o
	}
	h := history.History{Ops: []history.Op{
		op(history.Write, history.OK, history.ViaVIP, vip+":5444", "db0", 0, 10),
		op(history.Read, history.OK, history.ViaVIP, vip+":5444", "db0", 500, 510),            // before the peer's write
		op(history.Write, history.Failed, history.ViaVIP, vip+":5444", "", 900, 3000),         // not acknowledged
		op(history.Write, history.OK, history.ViaHAProxy, vip+":5000", "db1", 1000, 1200),     // the peer's first acknowledged write
		op(history.Read, history.OK, history.ViaVIP, vip+":5444", "db0", 1100, 1300),          // sent before it was acknowledged
		op(history.Read, history.OK, history.ViaHAProxy, vip+":5000", "db0", 1500, 1510),      // the window
		op(history.Read, history.OK, history.ViaVIP, vip+":5444", "db0", 1700, 1710),          // the window, the last
		op(history.Read, history.OK, history.ViaDirect, "10.0.0.11:5444", "db0", 1800, 1810),  // direct: not gated
		op(history.Read, history.OK, history.ViaHAProxy, "10.0.0.11:5000", "db0", 1800, 1810), // HAProxy on the node's own address
		op(history.Read, history.Failed, history.ViaVIP, vip+":5444", "", 1900, 2900),
		op(history.Read, history.OK, history.ViaVIP, vip+":5444", "db1", 2000, 2010),
	}}
	total, n, last, err := gateWindow(h, vip, "db0", "db1")
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 || n != 2 || last != ms(500) {
		t.Errorf("gateWindow = %d reads, %d by db0, the last %s after; want 3, 2, 500ms", total, n, last)
	}
	if _, _, _, err := gateWindow(h, vip, "db0", "db2"); err == nil {
		t.Error("gateWindow with a peer that acknowledged nothing: no error")
	}
}
