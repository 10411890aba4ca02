package verify

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hagen-ha/hagen/verify/history"
)

// Reading the JSON back into a Report restores every field.
func TestWriteJSONRoundTrip(t *testing.T) {
	want := sampleReport()
	var b bytes.Buffer
	if err := WriteJSON(&b, want); err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("unmarshal: %v\n%s", err, b.String())
	}
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// The extra fields: milliseconds next to nanoseconds, and the counts.
func TestWriteJSONExtras(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		DurationNs int64 `json:"durationNs"`
		DurationMs int64 `json:"durationMs"`
		Summary    struct {
			Passed, Failed, Skipped int
			OK                      bool
		} `json:"summary"`
		Phases []struct {
			Name       string `json:"name"`
			DurationMs int64  `json:"durationMs"`
		} `json:"phases"`
		Scenarios []struct {
			Name       string `json:"name"`
			DurationMs int64  `json:"durationMs"`
			Metrics    struct {
				RTO  int64 `json:"rtoMs"`
				Lost *int  `json:"writesLost"`
			} `json:"metrics"`
		} `json:"scenarios"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.DurationMs != 83400 || doc.DurationNs != 83_400_000_000 {
		t.Errorf("duration %d ms, %d ns; want 83400 ms", doc.DurationMs, doc.DurationNs)
	}
	if s := doc.Summary; s.Passed != 3 || s.Failed != 1 || s.Skipped != 1 || s.OK {
		t.Errorf("summary %+v, want 3 passed, 1 failed, 1 skipped, not ok", s)
	}
	if len(doc.Phases) != 2 || doc.Phases[1].Name != "bring-up" || doc.Phases[1].DurationMs != 42300 {
		t.Errorf("phases %+v", doc.Phases)
	}
	if len(doc.Scenarios) != 5 || doc.Scenarios[1].DurationMs != 35000 || doc.Scenarios[1].Metrics.RTO != 5210 {
		t.Errorf("scenarios %+v", doc.Scenarios)
	}
	// writesLost is always present: zero lost writes is a result.
	if l := doc.Scenarios[0].Metrics.Lost; l == nil || *l != 0 {
		t.Errorf("writesLost of the first scenario: %v, want present and 0", l)
	}
}

// An empty report has empty lists, not null, for readers that iterate.
func TestWriteJSONEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, &Report{Topology: "t"}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"phases", "scenarios", "deviations"} {
		if _, ok := doc[k].([]any); !ok {
			t.Errorf("%s = %v, want a list", k, doc[k])
		}
	}
	if ok, _ := doc["summary"].(map[string]any)["ok"].(bool); !ok {
		t.Errorf("summary %v, want ok", doc["summary"])
	}
}

// The timeline writers take the report's evidence: the page names every
// scenario and the Markdown row of the scenario with a history shows its
// checks and its RTO against the budget.
func TestWriteTimeline(t *testing.T) {
	var html, md bytes.Buffer
	if err := WriteHTML(&html, sampleReport()); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&md, sampleReport()); err != nil {
		t.Fatal(err)
	}
	for _, s := range sampleReport().Scenarios {
		if !bytes.Contains(html.Bytes(), []byte(s.Name)) {
			t.Errorf("the page lacks scenario %s", s.Name)
		}
		if !bytes.Contains(md.Bytes(), []byte(s.Name)) {
			t.Errorf("the summary lacks scenario %s", s.Name)
		}
	}
	if !bytes.Contains(md.Bytes(), []byte("5.082s / 5.5s")) {
		t.Errorf("the summary lacks kill-site0's measured RTO:\n%s", md.String())
	}
}

// A multi-master write acknowledged by a site that is down when the
// scenario ends is "lost" on the survivor only until the site returns:
// expected under asynchronous replication, and the table says so. A
// write the survivor itself acknowledged and lost stays a violation.
func TestExpectLostOnDownSites(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	p := history.Path{Via: history.ViaDNS, Target: "0.ha.test:8001"}
	h := history.History{Ops: []history.Op{
		{Client: "a", Kind: history.Write, Key: "a-1", Value: "a-1", Invoke: ms(0), Complete: ms(10), Outcome: history.OK, Path: p, Server: history.AppSite("site0")},
		{Client: "b", Kind: history.Write, Key: "b-1", Value: "b-1", Invoke: ms(0), Complete: ms(10), Outcome: history.OK, Path: p, Server: history.AppSite("site1")},
	}}
	h.Normalize()
	check := func(rows map[string]string) history.Results {
		final := history.FinalState{Nodes: []history.NodeState{{Node: "site0", Error: "down"}, {Node: "site1", Rows: rows}}}
		r, err := history.Check(h, final, history.Options{Mode: history.MultiMaster})
		if err != nil {
			t.Fatal(err)
		}
		expectLostOnDownSites(&r)
		return r
	}
	r := check(map[string]string{"b-1": "b-1"})
	if r.Lost.Verdict() != history.Allowed || cellLost(Scenario{Checks: &r}) != "1 expected" {
		t.Errorf("site0's write missing on site1 while site0 is down: %s [%s], cell %q", r.Lost.Summary(), r.Lost.Verdict(), cellLost(Scenario{Checks: &r}))
	}
	r = check(map[string]string{"a-1": "a-1"})
	if r.Lost.Verdict() != history.Violation {
		t.Errorf("site1's own write missing on site1: %s [%s], want a violation", r.Lost.Summary(), r.Lost.Verdict())
	}
}
