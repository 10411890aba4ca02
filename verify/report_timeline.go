package verify

import (
	"io"
	"time"

	"github.com/hagen-ha/hagen/internal/budget"
	"github.com/hagen-ha/hagen/verify/timeline"
)

// WriteHTML writes the run's timeline (package timeline) as one
// self-contained HTML page: per scenario its operations over time per
// route and node, the fault, the VIP holder, promotions, the RTO against
// its budget and the split-brain intervals.
func WriteHTML(w io.Writer, r *Report) error { return timeline.WriteHTML(w, timelineRun(r)) }

// WriteMarkdown writes the run's summary for a CI job summary.
func WriteMarkdown(w io.Writer, r *Report) error { return timeline.WriteMarkdown(w, timelineRun(r)) }

// timelineRun maps the report onto the timeline's input.
func timelineRun(r *Report) timeline.Run {
	title := r.Topology
	if title == "" {
		title = r.Spec
	}
	run := timeline.Run{Title: "hagen verify: " + title, Spec: r.Spec, Mode: r.Mode}
	for _, s := range r.Scenarios {
		ts := timeline.Scenario{Name: s.Name, Description: s.Description, Status: string(s.Status),
			Failure: s.Failure, Results: s.Checks, Notes: s.Notes}
		if s.History != nil {
			ts.History = *s.History
		}
		if rto := worstRTO(s.RTO); rto != nil {
			total := time.Duration(rto.BudgetMillis) * time.Millisecond
			b := budget.Budget{Name: rto.Path + " after " + rto.Fault, Total: total}
			if total > 0 {
				b.Terms = []budget.Term{{Name: rto.Path, Formula: rto.Formula, Value: total}}
			}
			ts.RTO = &timeline.RTO{Budget: b, Measured: time.Duration(rto.MeasuredMillis) * time.Millisecond, From: rto.From, To: rto.To}
		}
		var worst *PGBenchResult
		for i, p := range s.PGBench {
			if p.Error == "" && (worst == nil || p.Summary.LongestGap > worst.Summary.LongestGap) {
				worst = &s.PGBench[i]
			}
		}
		if worst != nil {
			sum := worst.Summary
			ts.PGBench = &sum
			if sum.LongestGap > 0 {
				ts.Marks = append(ts.Marks, timeline.Mark{Label: "pgbench's longest gap (" + worst.Path.String() + ")", From: sum.GapFrom, To: sum.GapTo})
			}
		}
		run.Scenarios = append(run.Scenarios, ts)
	}
	return run
}
