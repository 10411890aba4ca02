package timeline

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/hagen-ha/hagen/internal/budget"
	"github.com/hagen-ha/hagen/verify/history"
)

// WriteMarkdown writes a GitHub-flavoured summary of the run, fit for a
// CI job summary: a table with a row per scenario (status, lost, unknown
// with how many committed, stale reads, split-brain window, RTO measured
// against its budget, pgbench), then the failures with what was expected
// and seen and the checker's violations. A cell is "–" when its figure
// was not measured.
func WriteMarkdown(w io.Writer, run Run) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "## %s\n\n", mdText(run.Title))
	var meta []string
	if run.Spec != "" {
		meta = append(meta, "spec `"+strings.ReplaceAll(run.Spec, "`", "'")+"`")
	}
	if run.Mode != "" {
		meta = append(meta, "mode `"+strings.ReplaceAll(run.Mode, "`", "'")+"`")
	}
	var tally [4]int
	for _, s := range run.Scenarios {
		tally[statusIndex(s.Status)]++
	}
	count := fmt.Sprintf("%d passed, %d failed", tally[0], tally[1])
	if tally[2] > 0 {
		count += fmt.Sprintf(", %d skipped", tally[2])
	}
	if tally[3] > 0 {
		count += fmt.Sprintf(", %d not run", tally[3])
	}
	meta = append(meta, count)
	fmt.Fprintf(&b, "%s\n\n", strings.Join(meta, " · "))

	b.WriteString("| scenario | status | lost | unknown (committed) | stale reads | split brain | RTO measured / budget | pgbench failed / gap |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range run.Scenarios {
		cells := []string{"`" + strings.ReplaceAll(s.Name, "`", "'") + "`", mdStatus(s.Status)}
		cells = append(cells, resultCells(s.Results)...)
		cells = append(cells, rtoCell(s.RTO), pgbenchCell(s))
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}

	var failed []Scenario
	for _, s := range run.Scenarios {
		if s.Status == Failed {
			failed = append(failed, s)
		}
	}
	if len(failed) > 0 {
		b.WriteString("\n### Failures\n")
		for _, s := range failed {
			fmt.Fprintf(&b, "\n**%s**", mdText(s.Name))
			if s.Description != "" {
				fmt.Fprintf(&b, " — %s", mdText(s.Description))
			}
			b.WriteString("\n\n")
			if s.Failure != "" {
				fence := "```"
				for strings.Contains(s.Failure, fence) {
					fence += "`"
				}
				fmt.Fprintf(&b, "%s\n%s\n%s\n\n", fence, strings.TrimRight(s.Failure, "\n"), fence)
			}
			if s.Results != nil {
				for _, r := range s.Results.List() {
					if v := r.Verdict(); v == history.Violation || v == history.Inconclusive {
						fmt.Fprintf(&b, "- %s: %s (%s)\n", r.Name(), mdText(r.Summary()), v)
					}
				}
			}
			if s.RTO != nil && s.RTO.Exceeded() {
				fmt.Fprintf(&b, "- RTO %s over its budget: %s\n", budget.Seconds(s.RTO.Measured), mdText(s.RTO.Budget.String()))
			}
		}
	}
	b.WriteString("\nLost: acknowledged writes missing after the heal. Unknown: writes sent without an answer (may have committed). " +
		"Stale: reads older than a write acknowledged before they were sent. Split brain: time two nodes both acknowledged writes.\n")
	_, err := w.Write(b.Bytes())
	return err
}

func mdStatus(s string) string {
	if s == Failed {
		return "**failed**"
	}
	return s
}

// resultCells is lost, unknown (committed), stale, split brain.
func resultCells(r *history.Results) []string {
	if r == nil {
		return []string{"–", "–", "–", "–"}
	}
	cell := func(v history.Verdict, s string) string {
		switch v {
		case history.NotChecked:
			return "–"
		case history.Violation, history.Inconclusive:
			return "**" + s + "**"
		}
		return s
	}
	lost := cell(r.Lost.Verdict(), fmt.Sprintf("%d / %d", r.Lost.Lost, r.Lost.Acked))
	if r.Lost.Verdict() == history.Allowed {
		lost += " (allowed)"
	}
	unknown := cell(r.Unknown.Verdict(), fmt.Sprintf("%d (%d)", r.Unknown.Unknown, r.Unknown.Committed))
	stale := cell(r.Stale.Verdict(), fmt.Sprintf("%d / %d", r.Stale.Stale+r.Stale.Phantom+r.Stale.Aborted, r.Stale.Reads))
	split := cell(r.SplitBrain.Verdict(), fmt.Sprintf("%d ms", r.SplitBrain.WindowMillis))
	if r.SplitBrain.Verdict() == history.Allowed {
		split += " (multi-master)"
	}
	return []string{lost, unknown, stale, split}
}

func rtoCell(r *RTO) string {
	if r == nil {
		return "–"
	}
	s := budget.Seconds(r.Measured)
	if r.Budget.Total > 0 {
		s += " / " + budget.Seconds(r.Budget.Total)
	}
	if r.Exceeded() {
		s = "**" + s + "**"
	}
	return s
}

func pgbenchCell(s Scenario) string {
	p := s.PGBench
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%d / %s", p.Failed, budget.Seconds(p.LongestGap))
}

// mdText makes text safe in a Markdown table cell or paragraph: no pipes,
// no line breaks, no HTML.
func mdText(s string) string {
	r := strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}
