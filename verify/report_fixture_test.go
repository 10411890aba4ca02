package verify

import (
	"time"

	"github.com/hagen-ha/hagen/verify/history"
	"github.com/hagen-ha/hagen/verify/pgbench"
)

// sampleReport has one scenario of each status and every kind of figure.
func sampleReport() *Report {
	return &Report{
		Spec:     "examples/dual-site.cue",
		Topology: "dual-site-bucardo",
		Mode:     "multi-master-async",
		Started:  time.Date(2026, 3, 20, 9, 30, 0, 0, time.UTC),
		Duration: 83*time.Second + 400*time.Millisecond,
		Phases: []Phase{
			{Name: "render", Duration: 40 * time.Millisecond},
			{Name: "bring-up", Duration: 42300 * time.Millisecond},
		},
		Deviations: []string{
			"sites are containers, not hosts; published ports are iptables redirects",
			"Kwanza and Manatee are hagen probe stand-ins (HTTP, not gRPC)",
		},
		Scenarios: []Scenario{
			{
				Name: "replication-0-to-1", Description: "a row written on site0 is readable on site1",
				Status: Passed, Duration: 1200 * time.Millisecond,
				Metrics: Metrics{LagMillis: 120},
			},
			{
				Name: "failover-kill-site0", Description: "kill site0; clients fail over to site1",
				Status: Failed, Duration: 35 * time.Second,
				Failure: "expected no lost writes\nseen 2 acknowledged writes missing on site1: c1-17, c1-18",
				Metrics: Metrics{RTOMillis: 5210, WriteGapMillis: 5250, WritesAcked: 412, WritesLost: 2, Unexpected: 1,
					Extra: map[string]float64{"bucardo_recovery_s": 12.5}},
				Notes: []string{"the reconnect delay is 5 s, as the guide suggests for tests"},
				RTO: []RTOCheck{{Path: "client", Fault: "site-lost", Via: history.ViaDNS, MeasuredMillis: 5210, BudgetMillis: 5000,
					Formula: "client failover (5s × 1)", From: 2 * time.Second, To: 7210 * time.Millisecond}},
			},
			sampleEvidenceScenario(),
			{
				Name: "distribution", Description: "400 sessions split 50/50",
				Status: Passed, Duration: 4100 * time.Millisecond,
				Metrics: Metrics{Share: map[string]float64{"site0": 0.5125, "site1": 0.4875}},
			},
			{
				Name: "partition", Status: Skipped,
				Notes: []string{"needs a witness; this topology has none"},
			},
		},
	}
}

// sampleEvidenceScenario is a scenario with a recorded history: two
// clients write through the DNS names while site0 is killed; one write's
// outcome is unknown (it committed), and site1 accepted writes while
// site0 still did.
func sampleEvidenceScenario() Scenario {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	p0 := history.Path{Via: history.ViaDNS, Target: "0.ha.test:8001"}
	p1 := history.Path{Via: history.ViaDNS, Target: "1.ha.test:8001"}
	h := history.History{Scenario: "kill-site0", Start: time.Date(2026, 3, 20, 9, 31, 0, 0, time.UTC),
		Ops: []history.Op{
			{Client: "a", Kind: history.Write, Key: "a-1", Value: "a-1", Invoke: ms(0), Complete: ms(10), Outcome: history.OK, Path: p0, Server: history.AppSite("site0")},
			{Client: "b", Kind: history.Write, Key: "b-1", Value: "b-1", Invoke: ms(5), Complete: ms(15), Outcome: history.OK, Path: p1, Server: history.AppSite("site1")},
			{Client: "a", Kind: history.Write, Key: "a-2", Value: "a-2", Invoke: ms(20), Complete: ms(30), Outcome: history.OK, Path: p0, Server: history.AppSite("site0")},
			{Client: "b", Kind: history.Write, Key: "b-2", Value: "b-2", Invoke: ms(25), Complete: ms(35), Outcome: history.OK, Path: p1, Server: history.AppSite("site1")},
			{Client: "a", Kind: history.Write, Key: "a-3", Value: "a-3", Invoke: ms(40), Complete: ms(3040), Outcome: history.Unknown, Error: "context deadline exceeded", Path: p0},
			{Client: "a", Kind: history.Write, Key: "a-4", Value: "a-4", Invoke: ms(5100), Complete: ms(5120), Outcome: history.OK, Path: p1, Server: history.AppSite("site1")},
		},
		Events: []history.Event{{At: ms(38), Kind: history.FaultStart, Node: "site0", Detail: "kill"}},
	}
	h.Normalize()
	rows := map[string]string{"a-1": "a-1", "a-2": "a-2", "a-3": "a-3", "a-4": "a-4", "b-1": "b-1", "b-2": "b-2"}
	final := history.FinalState{Nodes: []history.NodeState{{Node: "site0", Error: "container not running"}, {Node: "site1", Rows: rows}}}
	checks, err := history.Check(h, final, history.Options{Mode: history.MultiMaster})
	if err != nil {
		panic(err)
	}
	return Scenario{
		Name: "kill-site0", Description: "kill site0 while clients write through both names",
		Status: Passed, Duration: 9 * time.Second,
		History: &h, Checks: &checks,
		PGBench: []PGBenchResult{{Path: history.Path{Via: history.ViaVIP, Target: "10.0.0.100:5444"},
			Summary: pgbench.Summary{Runs: 2, OK: 812, Failed: 1, Unknown: 2, LongestGap: 5210 * time.Millisecond, GapFrom: ms(30), GapTo: ms(5240)}}},
		Final: []FinalNode{{Node: "site0", Error: "container not running"}, {Node: "site1", Rows: 6}},
		RTO: []RTOCheck{{Path: "client", Fault: "site-lost", Via: history.ViaDNS, MeasuredMillis: 5082, BudgetMillis: 5500,
			Formula: "client failover (5s × 1) + 500ms", From: ms(38), To: ms(5120)}},
	}
}
