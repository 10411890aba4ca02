package verify

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// What a CI system reads, unmarshalled back from the XML.
type readSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name       string     `xml:"name,attr"`
		Tests      int        `xml:"tests,attr"`
		Failures   int        `xml:"failures,attr"`
		Errors     int        `xml:"errors,attr"`
		Skipped    int        `xml:"skipped,attr"`
		Time       string     `xml:"time,attr"`
		Timestamp  string     `xml:"timestamp,attr"`
		Properties []readProp `xml:"properties>property"`
		SystemOut  string     `xml:"system-out"`
		Cases      []struct {
			Classname  string     `xml:"classname,attr"`
			Name       string     `xml:"name,attr"`
			Time       string     `xml:"time,attr"`
			Properties []readProp `xml:"properties>property"`
			Failure    *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

type readProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

func readJUnit(t *testing.T, r *Report) (readSuites, string) {
	t.Helper()
	var b bytes.Buffer
	if err := WriteJUnit(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc readSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("unmarshal: %v\n%s", err, b.String())
	}
	return doc, b.String()
}

func TestWriteJUnit(t *testing.T) {
	doc, raw := readJUnit(t, sampleReport())
	if !strings.HasPrefix(raw, `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Errorf("no XML declaration:\n%s", raw)
	}
	if doc.Tests != 5 || doc.Failures != 1 || doc.Skipped != 1 || len(doc.Suites) != 1 {
		t.Fatalf("testsuites: %d tests, %d failures, %d skipped, %d suites", doc.Tests, doc.Failures, doc.Skipped, len(doc.Suites))
	}
	s := doc.Suites[0]
	if s.Name != "dual-site-bucardo" || s.Tests != 5 || s.Failures != 1 || s.Errors != 0 || s.Skipped != 1 || s.Time != "83.400" || s.Timestamp != "2026-03-20T09:30:00" {
		t.Errorf("suite %s: tests %d failures %d errors %d skipped %d time %s timestamp %s", s.Name, s.Tests, s.Failures, s.Errors, s.Skipped, s.Time, s.Timestamp)
	}
	wantSuiteProps := []readProp{
		{"spec", "examples/dual-site.cue"}, {"mode", "multi-master-async"},
		{"phase.render_ms", "40"}, {"phase.bring-up_ms", "42300"},
	}
	if diff := cmp.Diff(wantSuiteProps, s.Properties); diff != "" {
		t.Errorf("suite properties (-want +got):\n%s", diff)
	}
	if !strings.Contains(s.SystemOut, "- Kwanza and Manatee are hagen probe stand-ins (HTTP, not gRPC)") {
		t.Errorf("suite system-out lacks the deviations:\n%s", s.SystemOut)
	}

	if len(s.Cases) != 5 {
		t.Fatalf("%d test cases, want 5", len(s.Cases))
	}
	for _, c := range s.Cases {
		if c.Classname != "hagen.verify.dual-site-bucardo" {
			t.Errorf("case %s: classname %q", c.Name, c.Classname)
		}
		if !strings.Contains(c.SystemOut, "Differences from production:\n- sites are containers") {
			t.Errorf("case %s: system-out lacks the deviations:\n%s", c.Name, c.SystemOut)
		}
	}

	repl := s.Cases[0]
	if repl.Name != "replication-0-to-1" || repl.Time != "1.200" || repl.Failure != nil || repl.Skipped != nil {
		t.Errorf("passed case: %+v", repl)
	}
	if diff := cmp.Diff([]readProp{{"replication_lag_ms", "120"}}, repl.Properties); diff != "" {
		t.Errorf("passed case properties (-want +got):\n%s", diff)
	}

	fail := s.Cases[1]
	if fail.Failure == nil {
		t.Fatalf("failed case without <failure>")
	}
	if fail.Failure.Message != "expected no lost writes" || fail.Failure.Text != sampleReport().Scenarios[1].Failure {
		t.Errorf("failure message %q text %q", fail.Failure.Message, fail.Failure.Text)
	}
	wantProps := []readProp{
		{"rto_ms", "5210"}, {"write_gap_ms", "5250"}, {"writes_acked", "412"}, {"unexpected_rows", "1"},
		{"writes_lost", "2"}, {"bucardo_recovery_s", "12.5"}, {"rto.client_ms", "5210"}, {"rto_budget.client_ms", "5000"},
	}
	if diff := cmp.Diff(wantProps, fail.Properties); diff != "" {
		t.Errorf("failed case properties (-want +got):\n%s", diff)
	}
	if !strings.Contains(fail.SystemOut, "note: the reconnect delay is 5 s") {
		t.Errorf("failed case system-out lacks the note:\n%s", fail.SystemOut)
	}

	ev := s.Cases[2]
	wantEv := []readProp{
		{"check.lost", "0"}, {"check.lost.verdict", "pass"}, {"check.unknown", "1"}, {"check.unknown_committed", "1"},
		{"check.stale", "0"}, {"check.stale.verdict", "not-checked"}, {"check.split_brain_ms", "5"}, {"check.split_brain.verdict", "allowed"},
		{"check.divergent_rows", "0"}, {"check.divergence.verdict", "not-checked"}, {"check.conflicts_discarded", "0"}, {"check.conflicts.verdict", "pass"},
		{"rto.client_ms", "5082"}, {"rto_budget.client_ms", "5500"},
		{"pgbench.vip.committed", "812"}, {"pgbench.vip.failed", "1"}, {"pgbench.vip.unknown", "2"}, {"pgbench.vip.longest_gap_ms", "5210"},
	}
	if diff := cmp.Diff(wantEv, ev.Properties); diff != "" {
		t.Errorf("evidence case properties (-want +got):\n%s", diff)
	}
	if !strings.Contains(ev.SystemOut, "check split-brain: 5ms in 1 interval (site0, site1) [allowed]") {
		t.Errorf("evidence case system-out lacks the checks:\n%s", ev.SystemOut)
	}

	dist := s.Cases[3]
	if diff := cmp.Diff([]readProp{{"share.site0", "0.5125"}, {"share.site1", "0.4875"}}, dist.Properties); diff != "" {
		t.Errorf("distribution properties (-want +got):\n%s", diff)
	}

	skip := s.Cases[4]
	if skip.Skipped == nil || skip.Skipped.Message != "needs a witness; this topology has none" || skip.Failure != nil {
		t.Errorf("skipped case: skipped %+v failure %+v", skip.Skipped, skip.Failure)
	}
}

// Text from containers can hold markup and control characters; the XML
// stays well-formed and the markup survives.
func TestWriteJUnitEscapes(t *testing.T) {
	r := &Report{Topology: "t", Scenarios: []Scenario{{
		Name: `a<b>&"c"`, Status: Failed,
		Failure: "expected <ok>\nseen \x1b[31mERROR\x1b[0m & \"quotes\"",
	}}}
	doc, _ := readJUnit(t, r)
	c := doc.Suites[0].Cases[0]
	if c.Name != `a<b>&"c"` {
		t.Errorf("name %q", c.Name)
	}
	if c.Failure == nil || c.Failure.Message != "expected <ok>" || !strings.Contains(c.Failure.Text, `ERROR`) || !strings.Contains(c.Failure.Text, `& "quotes"`) {
		t.Errorf("failure %+v", c.Failure)
	}
}
