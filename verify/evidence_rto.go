package verify

import (
	"slices"
	"time"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/verify/history"
)

// measureRTO measures, for the scenario's first fault, the write RTO of
// each route the clients took and pairs it with the budget inventory.json
// renders for that failover path and fault.
//
// The measured write RTO of a route is the time from the fault's start
// to the acknowledgement of the first write through that route that was
// sent after the fault was fully in effect (a write sent while the
// containers were still being killed may be acknowledged by the node
// about to fail, which says nothing about recovery). Routes bound to one
// node (direct) have no failover path and are not measured.
func (c *cluster) measureRTO(h history.History, faults []faultMark) []RTOCheck {
	if len(faults) == 0 {
		return nil
	}
	f := faults[0]
	fault := c.budgetFault(f.what)
	if fault == "" {
		return nil
	}
	first := map[history.Via]*history.Op{}
	for i := range h.Ops {
		o := &h.Ops[i]
		if o.Kind != history.Write || o.Outcome != history.OK || o.Invoke < f.done {
			continue
		}
		if b, ok := first[o.Path.Via]; !ok || o.Complete < b.Complete {
			first[o.Path.Via] = o
		}
	}
	var out []RTOCheck
	for _, via := range []history.Via{history.ViaVIP, history.ViaHAProxy, history.ViaDNS, history.ViaApp} {
		o, ok := first[via]
		if !ok {
			continue
		}
		path := c.budgetPath(via)
		if path == "" {
			continue
		}
		r := RTOCheck{Path: path, Fault: fault, Via: via, From: f.at, To: o.Complete,
			MeasuredMillis: (o.Complete - f.at + time.Millisecond - 1).Milliseconds()}
		if b := c.inv.Budget(path, fault); b != nil {
			r.BudgetMillis, r.Formula = b.Budget, b.Formula
		}
		out = append(out, r)
	}
	return out
}

// budgetFault is the inventory's fault for a fault verify injects.
func (c *cluster) budgetFault(what string) string {
	multi := c.inv.Mode == "multi-master-async"
	switch what {
	case "kill", "stop", "pause", "partition", "partition-one-way", "partition-db-only":
		if multi {
			return contract.BudgetFaultSiteLost
		}
		return contract.BudgetFaultPrimaryLost
	case "postgres-kill":
		return contract.BudgetFaultDatabaseCheck
	case "proxy-host-kill":
		// A proxy host's loss is a VIP holder's loss.
		return contract.BudgetFaultNodeLost
	}
	return ""
}

// budgetPath is the inventory's failover path of a client route.
func (c *cluster) budgetPath(via history.Via) string {
	multi := c.inv.Mode == "multi-master-async"
	switch via {
	case history.ViaVIP:
		if multi {
			return contract.BudgetPathVIP
		}
		return contract.BudgetPathVIPWrites
	case history.ViaHAProxy:
		return contract.BudgetPathHAProxy
	case history.ViaDNS, history.ViaApp:
		if multi && slices.ContainsFunc(c.inv.Budgets, func(b contract.InventoryBudget) bool {
			return b.Path == contract.BudgetPathMultiMasterWrites
		}) {
			return contract.BudgetPathMultiMasterWrites
		}
		return contract.BudgetPathClient
	}
	return ""
}
