package verify

import (
	"encoding/json"
	"io"
)

// WriteJSON writes the report as indented JSON: every field of Report
// as tagged, plus for machines that read it without Go's types the
// durations in milliseconds (durationMs next to each durationNs) and the
// counts by status (summary). Reading it back into a Report restores
// every field.
func WriteJSON(w io.Writer, r *Report) error {
	passed, failed, skipped := r.Tally()
	out := jsonReport{
		reportFields: reportFields(*r),
		DurationMs:   r.Duration.Milliseconds(),
		Summary:      jsonSummary{Passed: passed, Failed: failed, Skipped: skipped, OK: failed == 0},
		Phases:       []jsonPhase{},
		Scenarios:    []jsonScenario{},
	}
	if out.Deviations == nil {
		out.Deviations = []string{}
	}
	for _, p := range r.Phases {
		out.Phases = append(out.Phases, jsonPhase{Phase: p, DurationMs: p.Duration.Milliseconds()})
	}
	for _, s := range r.Scenarios {
		out.Scenarios = append(out.Scenarios, jsonScenario{scenarioFields: scenarioFields(s), DurationMs: s.Duration.Milliseconds()})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// The field types without their methods, embedded so that the outer
// fields of the same JSON name (phases, scenarios) take their place.
type (
	reportFields   Report
	scenarioFields Scenario
)

type jsonReport struct {
	reportFields
	DurationMs int64          `json:"durationMs"`
	Summary    jsonSummary    `json:"summary"`
	Phases     []jsonPhase    `json:"phases"`
	Scenarios  []jsonScenario `json:"scenarios"`
}

type jsonSummary struct {
	Passed  int  `json:"passed"`
	Failed  int  `json:"failed"`
	Skipped int  `json:"skipped"`
	OK      bool `json:"ok"`
}

type jsonPhase struct {
	Phase
	DurationMs int64 `json:"durationMs"`
}

type jsonScenario struct {
	scenarioFields
	DurationMs int64 `json:"durationMs"`
}
