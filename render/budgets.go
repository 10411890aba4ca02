package render

import (
	"time"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/internal/budget"
	"github.com/hagen-ha/hagen/schema"
)

// RTO budgets. A component that owns failover paths states each path's
// worst-case recovery time from the spec's timers, with the formulas of
// internal/budget and the timers its own files render (keepalived.conf's
// advertisement and track script, notify.sh's connect timeout and
// promotion wait, haproxy.cfg's check timers, the clients' reconnect
// delay). Budgets collects them in component order: inventory.json
// publishes them for hagen verify, and hagen validate prints them.

// A budgeter is a component that owns failover paths.
type budgeter interface {
	budgets(t *schema.Topology) []pathBudget
}

// pathBudget is one path's budget after one fault
// (contract.InventoryBudget).
type pathBudget struct {
	Path, Fault string
	budget.Budget
}

// Budgets are the RTO budgets of the deployment's failover paths, in
// component order. The topology must be valid.
func Budgets(t *schema.Topology) []contract.InventoryBudget {
	out := []contract.InventoryBudget{}
	for _, c := range components {
		b, ok := c.(budgeter)
		if !ok {
			continue
		}
		for _, p := range b.budgets(t) {
			out = append(out, contract.InventoryBudget{
				Path:    p.Path,
				Fault:   p.Fault,
				Budget:  int64((p.Total + time.Millisecond - 1) / time.Millisecond),
				Formula: p.Formula(),
			})
		}
	}
	return out
}

// seconds and millis are spec timers as durations.
func seconds(n int) time.Duration { return time.Duration(n) * time.Second }
func millis(n int) time.Duration  { return time.Duration(n) * time.Millisecond }
