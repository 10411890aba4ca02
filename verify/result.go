package verify

import "time"

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
	Spec     string        `json:"spec"`
	Topology string        `json:"topology"`
	Mode     string        `json:"mode"`
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
