package verify

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/verify/history"
)

// The write RTO of a route runs from the fault's start to the first
// acknowledged write sent after the fault was in effect: a write sent
// during the kill and acknowledged by the dying node does not count.
// A route over its budget is exceeded; a route bound to one node is not
// measured.
func TestMeasureRTO(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	c := &cluster{inv: contract.Inventory{Mode: "primary-standby", Budgets: []contract.InventoryBudget{
		{Path: contract.BudgetPathVIPWrites, Fault: contract.BudgetFaultPrimaryLost, Budget: 3000, Formula: "f1"},
		{Path: contract.BudgetPathHAProxy, Fault: contract.BudgetFaultPrimaryLost, Budget: 10000, Formula: "f2"},
	}}}
	vip := history.Path{Via: history.ViaVIP, Target: "10.0.0.100:5444"}
	px := history.Path{Via: history.ViaHAProxy, Target: "10.0.0.100:5000"}
	direct := history.Path{Via: history.ViaDirect, Target: "10.0.0.11:5444", Node: "db1"}
	w := func(p history.Path, inv, done int, out history.Outcome) history.Op {
		return history.Op{Kind: history.Write, Path: p, Invoke: ms(inv), Complete: ms(done), Outcome: out}
	}
	h := history.History{Ops: []history.Op{
		w(vip, 1000, 1500, history.OK), // sent during the kill, acknowledged by the dying node
		w(vip, 1300, 2000, history.Failed),
		w(vip, 1400, 4600, history.OK), // the first after the fault was in effect
		w(vip, 1310, 4500, history.OK), // sent before it was in effect: not counted
		w(px, 2000, 6000, history.OK),
		w(px, 2500, 5800, history.OK), // completes first
		w(direct, 1300, 1400, history.OK),
	}}
	got := c.measureRTO(h, []faultMark{{what: "kill", node: "db0", at: ms(1000), done: ms(1320)}})
	want := []RTOCheck{
		{Path: "vip-writes", Fault: "primary-lost", Via: history.ViaVIP, MeasuredMillis: 3600, BudgetMillis: 3000, Formula: "f1", From: ms(1000), To: ms(4600)},
		{Path: "haproxy", Fault: "primary-lost", Via: history.ViaHAProxy, MeasuredMillis: 4800, BudgetMillis: 10000, Formula: "f2", From: ms(1000), To: ms(5800)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("RTO (-want +got):\n%s", diff)
	}
	if !got[0].Exceeded() || got[1].Exceeded() {
		t.Errorf("exceeded: vip %v (3.6 s over 3 s), haproxy %v (4.8 s within 10 s)", got[0].Exceeded(), got[1].Exceeded())
	}
	if cellRTO(Scenario{RTO: got}) != "3.60s/3.00s!" {
		t.Errorf("table cell %q", cellRTO(Scenario{RTO: got}))
	}
}

// The write outage of a partial fault is the longest time without an
// acknowledged write through the VIP or HAProxy, from the last one
// before the fault took effect to the first after the heal; writes that
// failed while it held are counted, direct writes are not.
func TestWriteOutage(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	vip := history.Path{Via: history.ViaVIP}
	direct := history.Path{Via: history.ViaDirect}
	w := func(p history.Path, inv, done int, out history.Outcome) history.Op {
		return history.Op{Kind: history.Write, Path: p, Invoke: ms(inv), Complete: ms(done), Outcome: out}
	}
	h := history.History{Ops: []history.Op{
		w(vip, 900, 950, history.OK),
		w(vip, 1000, 1050, history.OK), // the last before the fault took effect at 1100
		w(vip, 1200, 1300, history.Failed),
		w(vip, 1300, 4300, history.Unknown),
		w(direct, 1500, 1600, history.OK), // not a client route through the VIP or HAProxy
		w(direct, 1600, 1700, history.Failed),
		w(vip, 4400, 4450, history.OK),
		w(vip, 9000, 9100, history.Failed),
		w(vip, 9500, 9700, history.OK), // after the heal at 9200: ends the outage
		w(vip, 9800, 9900, history.OK),
	}}
	outage, errs := writeOutage(h, ms(1100), ms(9200))
	if outage != ms(9700-4450) || errs != 3 {
		t.Errorf("outage %s with %d errors; want 5.25s and 3", outage, errs)
	}
}
