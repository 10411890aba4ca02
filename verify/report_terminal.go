package verify

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Tally counts the scenarios by status.
func (r *Report) Tally() (passed, failed, skipped int) {
	for _, s := range r.Scenarios {
		switch s.Status {
		case Passed:
			passed++
		case Failed:
			failed++
		case Skipped, NotRun:
			// A scenario an interrupted run did not reach is no pass.
			skipped++
		}
	}
	return passed, failed, skipped
}

// WriteSummary writes the report for a reader at a terminal: one table row
// per scenario, the details worth reading (failures, shares, notes), the
// harness's phase timings, the differences from production, and last a
// line "N passed, N failed" (", N skipped" when any were).
func WriteSummary(w io.Writer, r *Report) error {
	ew := &summaryWriter{w: w}
	title := r.Topology
	if title == "" {
		title = r.Spec
	}
	fmt.Fprintf(ew, "hagen verify: %s", title)
	if r.Mode != "" {
		fmt.Fprintf(ew, " (%s)", r.Mode)
	}
	if r.Spec != "" && r.Spec != title {
		fmt.Fprintf(ew, " from %s", r.Spec)
	}
	fmt.Fprint(ew, "\n\n")

	if len(r.Scenarios) > 0 {
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, joinCells("SCENARIO", "RESULT", "RTO/BUDGET", "GAP", "LAG", "SWITCH", "ACKED", "LOST", "UNKNOWN", "STALE", "SPLIT-BRAIN", "DIVERGED", "CONFLICTS", "LINEAR", "PGBENCH", "DURATION"))
		for _, s := range r.Scenarios {
			m := s.Metrics
			fmt.Fprintln(tw, joinCells(s.Name, string(s.Status),
				cellRTO(s), fmtMillis(m.WriteGapMillis), fmtMillis(m.LagMillis), fmtMillis(m.SwitchMillis),
				cellAcked(s), cellLost(s), cellUnknown(s), cellStale(s), cellSplitBrain(s), cellDiverged(s), cellConflicts(s), cellLinear(s), cellPGBench(s),
				fmtMillis(s.Duration.Milliseconds())))
		}
		tw.Flush()
		writeLegend(ew)
	}

	var details []string
	for _, s := range r.Scenarios {
		var lines []string
		if s.Failure != "" {
			lines = append(lines, s.Failure)
		}
		if s.KnownLimit != "" {
			lines = append(lines, "known limit of this design: "+s.KnownLimit)
		}
		if len(s.Metrics.Share) > 0 {
			lines = append(lines, "share: "+fmtShare(s.Metrics.Share))
		}
		if m := s.Metrics; m.Unexpected > 0 {
			lines = append(lines, fmt.Sprintf("unexpected rows: %d (present but never acknowledged: writes in flight at the fault)", m.Unexpected))
		}
		for _, k := range sortedReportKeys(s.Metrics.Extra) {
			lines = append(lines, fmt.Sprintf("%s: %s", k, fmtNumber(s.Metrics.Extra[k])))
		}
		lines = append(lines, evidenceDetails(s)...)
		lines = append(lines, s.Notes...)
		if len(lines) > 0 {
			details = append(details, fmt.Sprintf("  %s (%s):", s.Name, s.Status))
			for _, l := range lines {
				details = append(details, "    "+indentRest(l, "    "))
			}
		}
	}
	if len(details) > 0 {
		fmt.Fprintf(ew, "\nDetails:\n%s\n", strings.Join(details, "\n"))
	}

	if len(r.Phases) > 0 || r.Duration > 0 {
		fmt.Fprintln(ew, "\nPhases:")
		phases := r.Phases
		if r.Duration > 0 {
			phases = append(phases[:len(phases):len(phases)], Phase{Name: "total", Duration: r.Duration})
		}
		width := 0
		for _, p := range phases {
			width = max(width, len(p.Name))
		}
		// Names left, durations right-aligned so their units line up.
		for _, p := range phases {
			fmt.Fprintf(ew, "  %-*s  %7s\n", width, p.Name, fmtDuration(p.Duration))
		}
	}

	if len(r.Deviations) > 0 {
		fmt.Fprintln(ew, "\nDifferences from production:")
		for _, d := range r.Deviations {
			fmt.Fprintf(ew, "  - %s\n", indentRest(d, "    "))
		}
	}

	passed, failed, skipped := r.Tally()
	fmt.Fprintf(ew, "\n%d passed, %d failed", passed, failed)
	if skipped > 0 {
		fmt.Fprintf(ew, ", %d skipped", skipped)
	}
	fmt.Fprintln(ew)
	return ew.err
}

// fmtMillis formats a figure in milliseconds; "-" when not measured (zero).
func fmtMillis(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return fmtDuration(time.Duration(ms) * time.Millisecond)
}

// fmtDuration formats durations for people: 850ms, 3.61s, 42.3s, 2m05s.
func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
}

func fmtShare(share map[string]float64) string {
	var parts []string
	for _, site := range sortedReportKeys(share) {
		parts = append(parts, fmt.Sprintf("%s %.1f%%", site, 100*share[site]))
	}
	return strings.Join(parts, ", ")
}

func fmtNumber(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

func sortedReportKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// indentRest indents the continuation lines of a multi-line text.
func indentRest(s, prefix string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}

// summaryWriter keeps the first write error so a writer of many small pieces
// checks once.
type summaryWriter struct {
	w   io.Writer
	err error
}

func (e *summaryWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
