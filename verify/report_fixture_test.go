package verify

import "time"

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
			},
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
