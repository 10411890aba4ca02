package timeline

import (
	"fmt"
	"time"

	"github.com/hagen-ha/hagen/internal/budget"
	"github.com/hagen-ha/hagen/verify/history"
	"github.com/hagen-ha/hagen/verify/pgbench"
)

// The fixture is a synthetic run of five scenarios, built without a
// clock or randomness so that the writers' output is fixed: a clean
// synchronous failover, a partition with a split brain and lost writes,
// a multi-master run with conflicts, a scenario without a history, a
// skipped and a not-run one.

func ms(v int) time.Duration { return time.Duration(v) * time.Millisecond }

var (
	vipPath   = history.Path{Via: history.ViaVIP, Target: "10.0.0.100:5444"}
	proxyPath = history.Path{Via: history.ViaHAProxy, Target: "10.0.0.100:5000"}
	db1Path   = history.Path{Via: history.ViaDirect, Target: "10.0.1.10:5444", Node: "db1"}
	db0Path   = history.Path{Via: history.ViaDirect, Target: "10.0.0.10:5444", Node: "db0"}
)

type writer struct {
	client string
	path   history.Path
	offset int // ms of the first write
}

// failoverHistory: writers every 50 ms through the VIP and HAProxy; db0 is
// killed at 4000 ms, the writes in flight time out (unknown), the VIP
// moves at 7600, db1 is promoted at 7700 and writes resume at 8200.
func failoverHistory() history.History {
	h := history.History{Scenario: "failover-kill", Start: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	p0 := history.Primary("db0", "10.0.0.10", "00000001")
	p1 := history.Primary("db1", "10.0.1.10", "00000002")
	for _, w := range []writer{{"vip-a", vipPath, 0}, {"vip-b", vipPath, 17}, {"haproxy", proxyPath, 33}} {
		seq := 0
		for t := w.offset; t < 12000; t += 50 {
			seq++
			key := fmt.Sprintf("%s-%d", w.client, seq)
			op := history.Op{Client: w.client, Kind: history.Write, Key: key, Value: key, Invoke: ms(t), Path: w.path}
			switch {
			case t < 3990:
				op.Complete, op.Outcome, op.Server = ms(t+4), history.OK, p0
			case t < 4000+50:
				op.Complete, op.Outcome, op.Error = ms(t+3000), history.Unknown, "timeout: context deadline exceeded"
				t += 3000
			case t < 8200:
				op.Complete, op.Outcome, op.Error = ms(t+2), history.Failed, "dial tcp 10.0.0.100:5444: connect: no route to host"
			default:
				op.Complete, op.Outcome, op.Server = ms(t+5), history.OK, p1
			}
			h.Ops = append(h.Ops, op)
		}
	}
	// A reader through the standby, then through the new primary.
	for t, seq := 100, 0; t < 12000; t += 500 {
		seq++
		if t >= 4000 && t < 8200 {
			continue
		}
		key := "vip-a-1"
		srv := history.Standby("db1", "10.0.1.10")
		path := db1Path
		if t >= 8200 {
			srv, path = p1, vipPath
		}
		h.Ops = append(h.Ops, history.Op{Client: "reader", Kind: history.Read, Key: key, Value: key, Invoke: ms(t), Complete: ms(t + 3), Outcome: history.OK, Path: path, Server: srv})
	}
	h.Events = []history.Event{
		{At: ms(4000), Kind: history.FaultStart, Node: "db0", Detail: "docker kill db0"},
		{At: ms(7600), Kind: history.VIPHolder, Node: "db1"},
		{At: ms(7700), Kind: history.Promotion, Node: "db1", Detail: "timeline 2"},
		{At: ms(11000), Kind: history.FaultEnd, Node: "db0", Detail: "db0 restarted"},
		{At: ms(0), Kind: history.VIPHolder, Node: "db0"},
	}
	h.Normalize()
	return h
}

// partitionHistory: db0 is cut off from db1 at 2000 but keeps taking
// writes from a client on its LAN until 4800; db1 is promoted at 3500.
// Two of db0's late writes are lost when it rejoins.
func partitionHistory() (history.History, history.FinalState) {
	h := history.History{Scenario: "partition-witness", Start: time.Date(2026, 11, 29, 12, 5, 0, 0, time.UTC)}
	p0 := history.Primary("db0", "10.0.0.10", "00000002")
	p1 := history.Primary("db1", "10.0.1.10", "00000003")
	db0, db1 := history.NodeState{Node: "db0", Rows: map[string]string{}}, history.NodeState{Node: "db1", Rows: map[string]string{}}
	lost := 0
	for t, seq := 0, 0; t < 6000; t += 100 {
		seq++
		key := fmt.Sprintf("local-%d", seq)
		if t > 4800 {
			break
		}
		h.Ops = append(h.Ops, history.Op{Client: "local", Kind: history.Write, Key: key, Value: key, Invoke: ms(t), Complete: ms(t + 6), Outcome: history.OK, Path: db0Path, Server: p0})
		db0.Rows[key] = key
		if t < 2000 || lost >= 2 {
			db1.Rows[key] = key
		} else if t >= 4000 {
			lost++
			delete(db0.Rows, key)
		} else {
			db1.Rows[key] = key
		}
	}
	for t, seq := 3600, 0; t < 6000; t += 100 {
		seq++
		key := fmt.Sprintf("vip-%d", seq)
		h.Ops = append(h.Ops, history.Op{Client: "vip", Kind: history.Write, Key: key, Value: key, Invoke: ms(t), Complete: ms(t + 8), Outcome: history.OK, Path: vipPath, Server: p1})
		db0.Rows[key], db1.Rows[key] = key, key
	}
	h.Events = []history.Event{
		{At: ms(2000), Kind: history.FaultStart, Node: "db0", Detail: "iptables: db0 cut from db1 and the witness"},
		{At: ms(0), Kind: history.VIPHolder, Node: "db0"},
		{At: ms(3400), Kind: history.VIPHolder, Node: "db1"},
		{At: ms(3500), Kind: history.Promotion, Node: "db1"},
		{At: ms(4900), Kind: history.Demotion, Node: "db0", Detail: "fenced read-only"},
		{At: ms(5500), Kind: history.FaultEnd, Node: "db0"},
	}
	h.Normalize()
	return h, history.FinalState{Nodes: []history.NodeState{db0, db1}}
}

// multiMasterHistory: each site's app takes writes on a few shared keys;
// concurrent writes on the same key conflict and bucardo_latest keeps one.
func multiMasterHistory() (history.History, history.FinalState) {
	h := history.History{Scenario: "concurrent-update", Start: time.Date(2026, 11, 29, 12, 10, 0, 0, time.UTC)}
	apps := []struct {
		site string
		path history.Path
		off  int
	}{
		{"site0", history.Path{Via: history.ViaApp, Target: "0.ha.test:8001", Node: "site0"}, 0},
		{"site1", history.Path{Via: history.ViaApp, Target: "1.ha.test:8001", Node: "site1"}, 40},
	}
	final := map[string]string{}
	for _, a := range apps {
		for t, seq := a.off, 0; t < 3000; t += 100 {
			seq++
			key := fmt.Sprintf("account-%d", seq%4)
			val := fmt.Sprintf("%s-%d", a.site, seq)
			h.Ops = append(h.Ops, history.Op{Client: a.site, Kind: history.Write, Key: key, Value: val, Invoke: ms(t), Complete: ms(t + 60), Outcome: history.OK, Path: a.path, Server: history.AppSite(a.site)})
		}
	}
	h.Normalize()
	// The last write of each key wins (site1's, which ends later).
	for _, o := range h.Ops {
		final[o.Key] = o.Value
	}
	n0, n1 := history.NodeState{Node: "site0", Rows: map[string]string{}}, history.NodeState{Node: "site1", Rows: map[string]string{}}
	for k, v := range final {
		n0.Rows[k], n1.Rows[k] = v, v
	}
	n0.Tables = map[string]history.TableState{"public.accounts": {Checksum: "5d41402abc4b2a76", Rows: 4}}
	n1.Tables = map[string]history.TableState{"public.accounts": {Checksum: "5d41402abc4b2a76", Rows: 4}}
	return h, history.FinalState{Nodes: []history.NodeState{n0, n1}}
}

func mustCheck(h history.History, f history.FinalState, opt history.Options) *history.Results {
	r, err := history.Check(h, f, opt)
	if err != nil {
		panic(err)
	}
	return &r
}

// fixtureRun is the synthetic run.
func fixtureRun() Run {
	fo := failoverHistory()
	var foFinal history.FinalState
	for _, n := range []string{"db0", "db1"} {
		ns := history.NodeState{Node: n, Rows: map[string]string{}}
		for _, o := range fo.Ops {
			if o.Kind == history.Write && o.Outcome == history.OK {
				ns.Rows[o.Key] = o.Value
			}
		}
		foFinal.Nodes = append(foFinal.Nodes, ns)
	}
	foRes := mustCheck(fo, foFinal, history.Options{Mode: history.Synchronous})
	// The porcupine page is replaced by a fixed one: porcupine's own
	// output orders partial linearizations by map iteration.
	foRes.Linearizability = &history.Linearizability{
		Finding: history.Finding{Is: history.Pass, Line: "linearizable (720 keys, 731 operations)"},
		Result:  "ok", Keys: 720, Ops: 731, Checked: 720,
		VisualizedKeys: []string{"vip-a-1"},
		Visualization:  []byte("<!DOCTYPE html><html><body><p id=\"porcupine-fixture\">porcupine visualization</p></body></html>"),
	}
	pt, ptFinal := partitionHistory()
	ptRes := mustCheck(pt, ptFinal, history.Options{Mode: history.Synchronous})
	mm, mmFinal := multiMasterHistory()
	mmRes := mustCheck(mm, mmFinal, history.Options{Mode: history.MultiMaster, ConflictStrategy: "bucardo_latest"})

	s := time.Second
	vipBudget := budget.Sum("write through the VIP", budget.VRRPTakeover(s, 100), budget.Promotion(0, 1, 3*s, 0), budget.ClientReconnect(0))
	return Run{
		Title: "hagen verify: primary-standby & dual-site <fixture>",
		Spec:  "examples/primary-standby.cue",
		Mode:  "primary-standby",
		Scenarios: []Scenario{
			{
				Name: "failover-kill", Description: "kill the primary's node while clients write through the VIP and HAProxy",
				Status: Passed, History: fo, Results: foRes,
				RTO:     &RTO{Budget: vipBudget, Measured: ms(4200), From: ms(4000), To: ms(8200)},
				PGBench: &pgbench.Summary{Runs: 3, OK: 2210, Failed: 0, Unknown: 2, ConnectFailures: 1, LongestGap: ms(4350), GapFrom: ms(3960), GapTo: ms(8310)},
				Marks:   []Mark{{Label: "write gap 4.25s", From: ms(3950), To: ms(8205)}},
				Notes:   []string{"VIP moved after 3.6 s", "the old primary rejoined as the synchronous standby"},
			},
			{
				Name: "partition-witness", Description: "the primary cut off from its peer and the witness: never two writable primaries",
				Status: Failed, Failure: "expected no acknowledged write on db0 after db1's promotion\nseen db0 acknowledging until 4.8 s (split brain 1.3 s)",
				History: pt, Results: ptRes,
				RTO: &RTO{Budget: budget.Sum("write through the VIP", budget.VRRPTakeover(s, 100)), Measured: ms(1608), From: ms(2000), To: ms(3608)},
			},
			{
				Name: "concurrent-update", Description: "both sites update the same accounts; Bucardo resolves with bucardo_latest",
				Status: Passed, History: mm, Results: mmRes,
			},
			{Name: "replication", Description: "a table created on the primary appears on the standby", Status: Passed,
				Notes: []string{"readable on db1 right after the commit returned (3ms)"}},
			{Name: "proxy-switch", Description: "HAProxy active/backup | switch time", Status: Skipped, Notes: []string{"needs HAProxy"}},
			{Name: "zero-loss-pause", Description: "freeze the primary", Status: NotRun},
		},
	}
}
