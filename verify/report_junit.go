package verify

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// WriteJUnit writes the report as JUnit XML for CI systems: a
// <testsuites> holding one <testsuite name="<topology>"> with one
// <testcase classname="hagen.verify.<topology>" name="<scenario>"> per
// scenario. A failed scenario carries <failure message="first line">
// with the whole expected/seen text, a skipped one <skipped message>.
// Each case's measured figures are <properties> (rto_ms, write_gap_ms,
// replication_lag_ms, switch_ms, writes_acked, writes_lost,
// unexpected_rows, share.<site>, and the scenario's extra figures by
// name), and its <system-out> holds its notes and the list of
// differences from production, which hold for every case.
func WriteJUnit(w io.Writer, r *Report) error {
	name := r.Topology
	if name == "" {
		name = r.Spec
	}
	_, failed, skipped := r.Tally()
	suite := junitSuite{
		Name:      name,
		Tests:     len(r.Scenarios),
		Failures:  failed,
		Skipped:   skipped,
		Time:      junitSeconds(r.Duration),
		SystemOut: junitDeviations(r.Deviations),
	}
	if !r.Started.IsZero() {
		suite.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
	}
	suite.Properties = junitProps(
		junitProp("spec", r.Spec),
		junitProp("mode", r.Mode),
	)
	for _, p := range r.Phases {
		suite.Properties.List = append(suite.Properties.List, junitProp("phase."+p.Name+"_ms", strconv.FormatInt(p.Duration.Milliseconds(), 10)))
	}
	for _, s := range r.Scenarios {
		c := junitCase{
			Classname:  "hagen.verify." + name,
			Name:       s.Name,
			Time:       junitSeconds(s.Duration),
			Properties: junitMetricProps(s),
			SystemOut:  junitCaseOut(s, r.Deviations),
		}
		switch s.Status {
		case Failed:
			text := s.Failure
			if text == "" {
				text = "failed without a message"
			}
			c.Failure = &junitFailure{Message: junitFirstLine(text), Type: "scenario", Text: text}
		case Skipped, NotRun:
			reason := s.Failure
			if reason == "" && len(s.Notes) > 0 {
				reason = s.Notes[0]
			}
			c.Skipped = &junitSkipped{Message: junitFirstLine(reason)}
		}
		suite.Cases = append(suite.Cases, c)
	}
	doc := junitSuites{
		Name:     "hagen verify",
		Tests:    suite.Tests,
		Failures: suite.Failures,
		Skipped:  suite.Skipped,
		Time:     suite.Time,
		Suites:   []junitSuite{suite},
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Errors     int              `xml:"errors,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Time       string           `xml:"time,attr"`
	Timestamp  string           `xml:"timestamp,attr,omitempty"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Cases      []junitCase      `xml:"testcase"`
	SystemOut  string           `xml:"system-out,omitempty"`
}

type junitCase struct {
	Classname  string           `xml:"classname,attr"`
	Name       string           `xml:"name,attr"`
	Time       string           `xml:"time,attr"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Failure    *junitFailure    `xml:"failure,omitempty"`
	Skipped    *junitSkipped    `xml:"skipped,omitempty"`
	SystemOut  string           `xml:"system-out,omitempty"`
}

type junitProperties struct {
	List []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr,omitempty"`
}

func junitProp(name, value string) junitProperty { return junitProperty{Name: name, Value: value} }

// junitProps drops empty values; nil when none is left.
func junitProps(list ...junitProperty) *junitProperties {
	var kept []junitProperty
	for _, p := range list {
		if p.Value != "" {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return &junitProperties{List: kept}
}

// junitMetricProps are the figures a scenario measured; unmeasured (zero)
// ones are left out, except writes_lost when writes were counted.
func junitMetricProps(s Scenario) *junitProperties {
	m := s.Metrics
	ms := func(name string, v int64) junitProperty {
		if v == 0 {
			return junitProperty{}
		}
		return junitProp(name, strconv.FormatInt(v, 10))
	}
	list := []junitProperty{
		ms("rto_ms", m.RTOMillis),
		ms("write_gap_ms", m.WriteGapMillis),
		ms("replication_lag_ms", m.LagMillis),
		ms("switch_ms", m.SwitchMillis),
		ms("writes_acked", int64(m.WritesAcked)),
		ms("unexpected_rows", int64(m.Unexpected)),
	}
	if m.WritesAcked > 0 || m.WritesLost > 0 {
		list = append(list, junitProp("writes_lost", strconv.Itoa(m.WritesLost)))
	}
	for _, site := range sortedReportKeys(m.Share) {
		list = append(list, junitProp("share."+site, strconv.FormatFloat(m.Share[site], 'f', 4, 64)))
	}
	for _, k := range sortedReportKeys(m.Extra) {
		list = append(list, junitProp(k, strconv.FormatFloat(m.Extra[k], 'f', -1, 64)))
	}
	list = append(list, junitEvidenceProps(s)...)
	return junitProps(list...)
}

// junitEvidenceProps are the checker's figures (check.<name> with its
// verdict as check.<name>.verdict) and each RTO path against its budget.
func junitEvidenceProps(s Scenario) []junitProperty {
	var list []junitProperty
	num := func(name string, v int64) junitProperty { return junitProp(name, strconv.FormatInt(v, 10)) }
	if c := s.Checks; c != nil {
		list = append(list,
			num("check.lost", int64(c.Lost.Lost)), junitProp("check.lost.verdict", string(c.Lost.Verdict())),
			num("check.unknown", int64(c.Unknown.Unknown)), num("check.unknown_committed", int64(c.Unknown.Committed)),
			num("check.stale", int64(c.Stale.Stale+c.Stale.Phantom+c.Stale.Aborted)), junitProp("check.stale.verdict", string(c.Stale.Verdict())),
			num("check.split_brain_ms", c.SplitBrain.WindowMillis), junitProp("check.split_brain.verdict", string(c.SplitBrain.Verdict())),
			num("check.divergent_rows", int64(c.Divergence.Rows.DifferingKeys)), junitProp("check.divergence.verdict", string(c.Divergence.Verdict())),
		)
		if c.Conflicts != nil {
			list = append(list, num("check.conflicts_discarded", int64(c.Conflicts.Discarded)), junitProp("check.conflicts.verdict", string(c.Conflicts.Verdict())))
		}
		if l := c.Linearizability; l != nil {
			list = append(list, junitProp("check.linearizable", l.Result), junitProp("check.linearizable.verdict", string(l.Verdict())))
		}
	}
	for _, r := range s.RTO {
		list = append(list, num("rto."+r.Path+"_ms", r.MeasuredMillis))
		if r.BudgetMillis > 0 {
			list = append(list, num("rto_budget."+r.Path+"_ms", r.BudgetMillis))
		}
	}
	for _, p := range s.PGBench {
		via := string(p.Path.Via)
		list = append(list, num("pgbench."+via+".committed", int64(p.Summary.OK)), num("pgbench."+via+".failed", int64(p.Summary.Failed)),
			num("pgbench."+via+".unknown", int64(p.Summary.Unknown)), num("pgbench."+via+".longest_gap_ms", p.Summary.LongestGap.Milliseconds()))
	}
	return list
}

func junitCaseOut(s Scenario, deviations []string) string {
	var b strings.Builder
	if s.Description != "" {
		fmt.Fprintf(&b, "%s\n", s.Description)
	}
	for _, l := range evidenceDetails(s) {
		fmt.Fprintf(&b, "%s\n", l)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if d := junitDeviations(deviations); d != "" {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(d)
	}
	return b.String()
}

func junitDeviations(deviations []string) string {
	if len(deviations) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Differences from production:\n")
	for _, d := range deviations {
		fmt.Fprintf(&b, "- %s\n", d)
	}
	return b.String()
}

func junitSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

func junitFirstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
