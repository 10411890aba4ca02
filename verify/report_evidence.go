package verify

import (
	"fmt"
	"strings"
	"time"

	"github.com/hagen-ha/hagen/verify/history"
)

// The evidence columns of the terminal table, one function per cell, so
// that the table, its legend and the JUnit properties say the same thing.

// legend explains every column of the terminal table, in order.
var legend = [][2]string{
	{"RESULT", "passed, failed or skipped; a checker violation or an RTO over its budget fails a scenario"},
	{"RTO/BUDGET", "measured write RTO / the rendered budget of its failover path (inventory.json): from the fault's start to the first acknowledged write sent after the fault was in effect; the path closest to its budget is shown, all are in the details; \"!\" = over budget"},
	{"GAP", "write gap: last acknowledged write before the fault to the first after it (worst client)"},
	{"LAG", "replication lag: a write on one site until it is readable on another"},
	{"SWITCH", "VIP or proxy switch time"},
	{"ACKED", "writes acknowledged to hagen's clients (and pgbench's) in the scenario's history"},
	{"LOST", "acknowledged writes missing from a node's final state, read directly from each node after the scenario; \"expected\" when the replication mode allows it (asynchronous)"},
	{"UNKNOWN", "writes whose outcome the client could not know (the connection broke before the answer), and in brackets how many of them turned out committed"},
	{"STALE", "reads that returned a value older than one already acknowledged (and phantom or aborted reads); - when the scenario read nothing"},
	{"SPLIT-BRAIN", "total time two nodes (or one node in two terms) acknowledged writes at once, from the writes' own times; must be 0 in primary-standby, reported and allowed in multi-master"},
	{"DIVERGED", "rows (of this scenario's keys) and whole-table checksums that differ between the nodes that could be read after the scenario"},
	{"CONFLICTS", "multi-master: acknowledged writes the conflict strategy discarded; - in primary-standby"},
	{"LINEAR", "linearizable: porcupine's verdict on the keyed writes (and final reads) as registers: yes, no, ? (timed out), - (nothing to check)"},
	{"PGBENCH", "PostgreSQL's pgbench through the VIP and HAProxy (kill and stop scenarios): failed transactions (+ unknown: in flight when its client aborted) and its longest gap between two commits, the path with the longest gap; its writes are in the history and checked for loss too"},
	{"DURATION", "the scenario's wall time"},
}

// writeLegend prints the legend under the table.
func writeLegend(w *summaryWriter) {
	fmt.Fprintln(w, "\nColumns:")
	width := 0
	for _, l := range legend {
		width = max(width, len(l[0]))
	}
	for _, l := range legend {
		fmt.Fprintf(w, "  %-*s  %s\n", width, l[0], l[1])
	}
	fmt.Fprintln(w, "  \"-\" means not measured in that scenario.")
}

// worstRTO is the RTO check closest to (or furthest over) its budget,
// the first one without a budget when none has one.
func worstRTO(rs []RTOCheck) *RTOCheck {
	var best *RTOCheck
	ratio := -1.0
	for i := range rs {
		r := &rs[i]
		q := 0.0
		if r.BudgetMillis > 0 {
			q = float64(r.MeasuredMillis) / float64(r.BudgetMillis)
		}
		if best == nil || q > ratio {
			best, ratio = r, q
		}
	}
	return best
}

func cellRTO(s Scenario) string {
	if r := worstRTO(s.RTO); r != nil {
		cell := fmtMillis(r.MeasuredMillis) + "/" + fmtMillis(r.BudgetMillis)
		if r.Exceeded() {
			cell += "!"
		}
		return cell
	}
	if s.Metrics.RTOMillis > 0 {
		return fmtMillis(s.Metrics.RTOMillis) + "/-"
	}
	return "-"
}

func cellAcked(s Scenario) string {
	if s.Checks != nil {
		return fmt.Sprint(s.Checks.Lost.Acked)
	}
	if s.Metrics.WritesAcked > 0 {
		return fmt.Sprint(s.Metrics.WritesAcked)
	}
	return "-"
}

func cellLost(s Scenario) string {
	if s.Checks == nil {
		if s.Metrics.WritesAcked > 0 || s.Metrics.WritesLost > 0 {
			return fmt.Sprint(s.Metrics.WritesLost)
		}
		return "-"
	}
	l := s.Checks.Lost
	switch l.Verdict() {
	case history.NotChecked:
		return "?"
	case history.Allowed:
		return fmt.Sprintf("%d expected", l.Lost)
	}
	return fmt.Sprint(l.Lost)
}

func cellUnknown(s Scenario) string {
	if s.Checks == nil {
		return "-"
	}
	u := s.Checks.Unknown
	if u.Unknown == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%d)", u.Unknown, u.Committed)
}

func cellStale(s Scenario) string {
	if s.Checks == nil || s.Checks.Stale.Reads == 0 {
		return "-"
	}
	st := s.Checks.Stale
	return fmt.Sprint(st.Stale + st.Phantom + st.Aborted)
}

func cellSplitBrain(s Scenario) string {
	if s.Checks == nil {
		return "-"
	}
	sb := s.Checks.SplitBrain
	cell := fmt.Sprintf("%dms", sb.WindowMillis)
	if sb.Verdict() == history.Allowed {
		cell += " allowed"
	}
	return cell
}

func cellDiverged(s Scenario) string {
	if s.Checks == nil {
		return "-"
	}
	d := s.Checks.Divergence
	if len(d.Nodes) < 2 {
		return "-"
	}
	n := d.Rows.DifferingKeys
	tables := 0
	for _, t := range d.Tables {
		if !t.Equal {
			tables++
		}
	}
	if tables > 0 {
		return fmt.Sprintf("%d rows, %d tables", n, tables)
	}
	return fmt.Sprint(n)
}

func cellConflicts(s Scenario) string {
	if s.Checks == nil || s.Checks.Conflicts == nil {
		return "-"
	}
	return fmt.Sprint(s.Checks.Conflicts.Discarded)
}

func cellLinear(s Scenario) string {
	if s.Checks == nil || s.Checks.Linearizability == nil {
		return "-"
	}
	l := s.Checks.Linearizability
	switch {
	case l.Verdict() == history.NotChecked:
		return "-"
	case l.Result == "ok":
		return "yes"
	case l.Result == "illegal":
		return "no"
	}
	return "?"
}

func cellPGBench(s Scenario) string {
	var worst *PGBenchResult
	for i := range s.PGBench {
		p := &s.PGBench[i]
		if p.Error != "" {
			return "error"
		}
		if worst == nil || p.Summary.LongestGap > worst.Summary.LongestGap {
			worst = p
		}
	}
	if worst == nil {
		return "-"
	}
	failed := fmt.Sprint(worst.Summary.Failed)
	if worst.Summary.Unknown > 0 {
		failed += fmt.Sprintf("+%d", worst.Summary.Unknown)
	}
	return fmt.Sprintf("%s failed, gap %s", failed, fmtMillis(worst.Summary.LongestGap.Milliseconds()))
}

// evidenceDetails are the lines the details section adds for a
// scenario's evidence: each check's summary and verdict, each RTO path,
// pgbench's figures.
func evidenceDetails(s Scenario) []string {
	var lines []string
	if s.Checks != nil {
		for _, l := range s.Checks.Lines() {
			lines = append(lines, "check "+l)
		}
	}
	for _, r := range s.RTO {
		budget := "no budget rendered"
		if r.BudgetMillis > 0 {
			budget = fmt.Sprintf("budget %s = %s", fmtMillis(r.BudgetMillis), r.Formula)
		}
		verdict := ""
		if r.Exceeded() {
			verdict = " OVER BUDGET"
		}
		lines = append(lines, fmt.Sprintf("RTO %s after %s (writes via %s): %s; %s%s", r.Path, r.Fault, r.Via, fmtMillis(r.MeasuredMillis), budget, verdict))
	}
	for _, p := range s.PGBench {
		if p.Error != "" {
			lines = append(lines, fmt.Sprintf("pgbench via %s: %s", p.Path, p.Error))
			continue
		}
		sum := p.Summary
		lines = append(lines, fmt.Sprintf("pgbench via %s: %d runs, %d committed, %d failed, %d unknown, %d connection failures; longest gap between commits %s",
			p.Path, sum.Runs, sum.OK, sum.Failed, sum.Unknown, sum.ConnectFailures, fmtDuration(sum.LongestGap.Round(time.Millisecond))))
	}
	if h := s.History; h != nil {
		lines = append(lines, fmt.Sprintf("history: %d operations, %d events (raw in the JSON report)", len(h.Ops), len(h.Events)))
	}
	return lines
}

// joinCells is a table row.
func joinCells(cells ...string) string { return strings.Join(cells, "\t") }
