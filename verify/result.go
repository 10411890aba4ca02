package verify

import (
	"time"

	"github.com/hagen-ha/hagen/verify/history"
	"github.com/hagen-ha/hagen/verify/pgbench"
)

// Status of a scenario.
type Status string

const (
	Passed  Status = "passed"
	Failed  Status = "failed"
	Skipped Status = "skipped"
	// NotRun: the run was interrupted before the scenario started.
	NotRun Status = "not run"
)

// Report is the outcome of one verify run; the terminal summary, JUnit
// XML and JSON are all written from it.
type Report struct {
	Spec     string `json:"spec"`
	Topology string `json:"topology"`
	Mode     string `json:"mode"`
	// Manager is primary-standby's failover manager ("keepalived" or
	// "patroni"; empty for the default and the other modes).
	Manager  string        `json:"manager,omitempty"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"durationNs"`
	// Phases are the harness's own steps (image build, bring-up, ...)
	// with their durations.
	Phases []Phase `json:"phases"`
	// Deviations lists every way the test deployment differs from the
	// rendered production files, and every stand-in for a closed product.
	Deviations []string   `json:"deviations"`
	Scenarios  []Scenario `json:"scenarios"`
}

// Phase is one timed step of the harness.
type Phase struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"durationNs"`
}

// Scenario is one named test of the matrix: one JUnit test case.
type Scenario struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Status      Status        `json:"status"`
	Duration    time.Duration `json:"durationNs"`
	// Failure says what was expected and what was seen.
	Failure string  `json:"failure,omitempty"`
	Metrics Metrics `json:"metrics"`
	// Notes are findings worth reading even when the scenario passed.
	Notes []string `json:"notes,omitempty"`
	// KnownLimit, when set, is a limit of the rendered design that this
	// scenario shows: it fails until the design changes, and says so.
	KnownLimit string `json:"knownLimit,omitempty"`
	// LimitChecks, for a known limit that shows in some runs only, are the
	// evidence checks it fails when it shows; such a scenario may pass.
	LimitChecks []string `json:"knownLimitChecks,omitempty"`

	// The evidence (see evidence.go): History is every client operation
	// and the events around them, raw, for outside checkers; Checks the
	// checker's results on it; Final what each node held afterwards; RTO
	// the measured recovery of each failover path against its rendered
	// budget; PGBench the independent client's runs. Nil or empty for a
	// scenario without client operations.
	History *history.History `json:"history,omitempty"`
	Checks  *history.Results `json:"checks,omitempty"`
	Final   []FinalNode      `json:"final,omitempty"`
	RTO     []RTOCheck       `json:"rto,omitempty"`
	PGBench []PGBenchResult  `json:"pgbench,omitempty"`
}

// FinalNode is what one node held after the scenario, read directly.
type FinalNode struct {
	Node string `json:"node"`
	// Error says why it could not be read (a killed node).
	Error string `json:"error,omitempty"`
	// Rows counts the scenario's rows on the node.
	Rows int `json:"rows"`
	// Tables are the whole tables' checksums and row counts.
	Tables map[string]history.TableState `json:"tables,omitempty"`
}

// RTOCheck is one failover path's measured write RTO against the budget
// rendered into inventory.json (contract.InventoryBudget).
type RTOCheck struct {
	// Path and Fault name the budget (contract.BudgetPath…, BudgetFault…);
	// Via is the clients' route whose writes were measured.
	Path  string      `json:"path"`
	Fault string      `json:"fault"`
	Via   history.Via `json:"via"`
	// MeasuredMillis: from the fault's start to the acknowledgement of the
	// first write through Via that was sent after the fault was in effect.
	MeasuredMillis int64 `json:"measuredMs"`
	// BudgetMillis is the rendered budget; 0 when the spec renders none
	// for this path and fault (then nothing is compared).
	BudgetMillis int64  `json:"budgetMs"`
	Formula      string `json:"formula,omitempty"`
	// From and To are the measured interval on the history's clock.
	From time.Duration `json:"fromNs"`
	To   time.Duration `json:"toNs"`
}

// Exceeded reports whether the measured RTO is over its budget.
func (r RTOCheck) Exceeded() bool { return r.BudgetMillis > 0 && r.MeasuredMillis > r.BudgetMillis }

// PGBenchResult is one pgbench loop of a scenario: where it connected and
// what its per-transaction log says.
type PGBenchResult struct {
	Path    history.Path    `json:"path"`
	Summary pgbench.Summary `json:"summary"`
	Runs    []pgbench.Run   `json:"runs"`
	// Error says why its logs could not be read.
	Error string `json:"error,omitempty"`
}

// Metrics are the figures a scenario measured; zero values are omitted.
type Metrics struct {
	// RTO: from the fault to the first successful request or write.
	RTOMillis int64 `json:"rtoMs,omitempty"`
	// Write gap: last acknowledged write before the fault to the first after.
	WriteGapMillis int64 `json:"writeGapMs,omitempty"`
	// Replication lag: a write on one site until it is readable on another.
	LagMillis int64 `json:"replicationLagMs,omitempty"`
	// VIP or proxy switch time.
	SwitchMillis int64 `json:"switchMs,omitempty"`
	// Writes acknowledged to clients, and those missing afterwards (RPO).
	WritesAcked int `json:"writesAcked,omitempty"`
	WritesLost  int `json:"writesLost"`
	// Rows present that no client had acknowledged (not an error for
	// writes in flight at the fault, but reported).
	Unexpected int `json:"unexpectedRows,omitempty"`
	// Share of connections per site, for the distribution scenario.
	Share map[string]float64 `json:"share,omitempty"`
	// Extra holds scenario-specific figures by name.
	Extra map[string]float64 `json:"extra,omitempty"`
}

// Failed reports whether any scenario failed.
func (r *Report) Failed() bool {
	for _, s := range r.Scenarios {
		if s.Status == Failed {
			return true
		}
	}
	return false
}
