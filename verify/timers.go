package verify

import (
	"time"

	"github.com/hagen-ha/hagen/contract"
)

// Every deadline verify waits with comes from a timer of the rendered
// tree (inventory.json's timers and RTO budgets, the compose health
// checks), widened by one stated margin: the rendered bound doubled plus
// marginSlack. The bounds are what the protocols promise; the margin is
// for the engine (docker exec, container start) on a busy machine, which
// the rendered timers know nothing of. A deadline only ends a wait that
// would otherwise never end; no verdict depends on how close a
// measurement came to it (measurements are compared with the budgets
// themselves, in the scenarios).
const marginSlack = 20 * time.Second

// withMargin is a rendered bound widened by the margin.
func withMargin(d time.Duration) time.Duration { return 2*d + marginSlack }

// runTimers are the run's deadlines, each derived from the rendered tree.
type runTimers struct {
	// healthy: a database container reports healthy (its compose health
	// check: start_period + retries × (interval + timeout)).
	healthy time.Duration
	// vip: the virtual IP is on a live node after its holder was lost
	// (budget vip/node-lost).
	vip time.Duration
	// writes: writes succeed through every path after the primary was
	// lost (the larger of the vip-writes and haproxy budgets).
	writes time.Duration
	// rejoin: a restarted old primary streams from the new one (a start,
	// a pg_rewind or a fresh clone: the database's health bound).
	rejoin time.Duration
	// proxyCheck: one HAProxy server check concludes (interval + check
	// timeout).
	proxyCheck time.Duration
	// service: a started service answers (app, agent, name server): its
	// own health check when it has one, else the database's.
	service time.Duration
}

// timers derives the run's deadlines from the rendered tree.
func (c *cluster) timers() runTimers {
	inv := &c.inv
	var t runTimers
	health := c.healthBound(inv.Database.Service)
	if health == 0 {
		health = time.Minute // no health check rendered: one start of the database
	}
	t.healthy = withMargin(health)
	t.rejoin = withMargin(health)
	t.service = withMargin(health)
	budget := func(path, fault string) time.Duration {
		if b := inv.Budget(path, fault); b != nil {
			return time.Duration(b.Budget) * time.Millisecond
		}
		return 0
	}
	t.vip = withMargin(max(budget(contract.BudgetPathVIP, contract.BudgetFaultNodeLost), budget(contract.BudgetPathVIP, contract.BudgetFaultDatabaseCheck)))
	t.writes = withMargin(max(
		budget(contract.BudgetPathVIPWrites, contract.BudgetFaultPrimaryLost),
		budget(contract.BudgetPathVIPWrites, contract.BudgetFaultDatabaseCheck),
		budget(contract.BudgetPathHAProxy, contract.BudgetFaultPrimaryLost),
		budget(contract.BudgetPathMultiMasterWrites, contract.BudgetFaultSiteLost),
		budget(contract.BudgetPathClient, contract.BudgetFaultSiteLost)))
	if inv.Proxy != nil {
		t.proxyCheck = time.Duration(inv.Proxy.Interval+inv.Proxy.CheckTimeout) * time.Millisecond
	}
	return t
}

// healthBound is how long the compose health check of a service may take
// to report healthy: start_period + retries × (interval + timeout), from
// the first site that runs it; zero without one.
func (c *cluster) healthBound(service string) time.Duration {
	for _, s := range c.sites {
		if s.Project == nil {
			continue
		}
		svc, ok := s.Project.Services[service]
		if !ok || svc.HealthCheck == nil || svc.HealthCheck.Disable {
			continue
		}
		h := healthConfig(svc.HealthCheck)
		retries := max(h.Retries, 1)
		return h.StartPeriod + time.Duration(retries)*(h.Interval+h.Timeout)
	}
	return 0
}
