// Package timeline writes the evidence of a verify run for people: one
// self-contained HTML page (WriteHTML: no network needed to view it,
// inline CSS, JavaScript and SVG) that draws each scenario's operations
// over time, and a Markdown summary for a CI job summary (WriteMarkdown).
//
// The input is its own data type, Run, not verify's report, so that the
// harness maps what it measured onto it: per scenario the name, status,
// the history (operations and events: fault start and end, VIP holder,
// promotions, from package history), the checker's results, the RTO
// budget (package budget) against the measured RTO, pgbench's summary and
// any other marked intervals. Both writers are deterministic: the same
// Run gives the same bytes (no clock is read; lanes and keys are sorted;
// scenarios keep the order given).
//
// # The page
//
// Per scenario: a header with the status, the checker's results (one
// line each, with the verdict), RTO budget and measured, pgbench's
// figures, and a timeline in which
//   - each path (VIP, HAProxy, DNS name, direct node, app) and each node
//     that answered has a lane; an acknowledged operation is a green tick
//     at its completion, a failed one red, an unknown one an amber bar
//     from invocation to the moment the client gave up; writes above the
//     lane's middle, reads below;
//   - the fault is a red band across every lane, from its start to its
//     end (or the end of the history);
//   - a lane shows which node held the VIP when;
//   - promotions and demotions are vertical lines;
//   - the RTO interval (fault to first acknowledged write) and the
//     split-brain intervals are marked above the lanes.
//
// A button zooms on the fault (from 2 s before it to 3 s after the RTO).
// porcupine's visualization, when the checker wrote one, is embedded and
// opens in place. The script sets data-rendered="ok" on <body> once every
// timeline is drawn (a test in a headless browser waits for it), or
// "error" with the message on the page.
//
// # Integration
//
// verify builds a Run from its report: for each scenario the recorder's
// History, history.Check's Results, an RTO from budget's functions (fed
// by the rendered timers) and the measured figure with its interval on
// the history's clock, pgbench.Summarize's figures, and Marks for
// anything else (the write gap). Then WriteHTML for --html FILE and
// WriteMarkdown for --markdown FILE.
package timeline

import (
	"time"

	"github.com/hagen-ha/hagen/internal/budget"
	"github.com/hagen-ha/hagen/verify/history"
	"github.com/hagen-ha/hagen/verify/pgbench"
)

// Run is one verify run.
type Run struct {
	// Title heads both documents ("hagen verify: primary-standby").
	Title string
	Spec  string
	Mode  string
	// Scenarios in the order they ran.
	Scenarios []Scenario
}

// Status of a scenario, as verify reports it.
const (
	Passed  = "passed"
	Failed  = "failed"
	Skipped = "skipped"
	NotRun  = "not-run"
)

// Scenario is one scenario's evidence.
type Scenario struct {
	Name        string
	Description string
	Status      string
	// Failure says what was expected and what was seen.
	Failure string
	// History is every client operation and the events, on one clock.
	History history.History
	// Results of history.Check; nil when the scenario was not checked.
	Results *history.Results
	// RTO is the budget and the measured recovery; nil when not measured.
	RTO *RTO
	// PGBench is the independent client's figures; nil when it did not run.
	PGBench *pgbench.Summary
	// Marks are other intervals worth drawing (the write gap, a pause).
	Marks []Mark
	// Notes are findings worth reading.
	Notes []string
}

// RTO is a recovery time: the budget computed from the timers and the
// time measured, from From (the fault) to To (the first acknowledged
// write after it), offsets on the history's clock.
type RTO struct {
	Budget   budget.Budget
	Measured time.Duration
	From, To time.Duration
}

// Exceeded reports whether the measured RTO is over a non-zero budget.
func (r *RTO) Exceeded() bool { return r.Budget.Total > 0 && r.Measured > r.Budget.Total }

// Mark is a labelled interval on a scenario's clock.
type Mark struct {
	Label    string
	From, To time.Duration
}
