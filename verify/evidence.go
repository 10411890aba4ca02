package verify

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hagen-ha/hagen/verify/history"
)

// The evidence of a scenario: every client operation recorded into a
// history (package history), the faults and observations as events on
// the same clock, and after the scenario the final state read from each
// node directly, the checker's results and the measured RTOs against the
// rendered budgets. runScenario opens it before the scenario runs
// (beginEvidence) and closes it after (endEvidence); the scenarios and
// their clients reach it through c.hist().

// evidence is the open record of the scenario that is running.
type evidence struct {
	rec *history.Recorder

	mu sync.Mutex
	// tables are the tables the clients write, with the key prefixes of
	// this scenario's rows, for the final state.
	tables map[histTable]bool
	// faults are the faults injected, in order.
	faults []faultMark
	// pgbench are the independent client's runs.
	pgbench []PGBenchResult
	// regPrefix is the key prefix of the register workload.
	regPrefix string
	// lifted is when the last fault was lifted (restart, thaw, heal);
	// rejoin how long after it the old primary streamed again (zero when
	// no rejoin was checked).
	lifted time.Time
	rejoin time.Duration
}

// histTable is a table a client writes, and the prefix of the keys this
// scenario wrote to it. key and value are column expressions.
type histTable struct {
	table, key, value, prefix string
}

// faultMark is one fault on the history's clock: from its start to the
// moment it was fully in effect (the last container killed, the rules in
// place).
type faultMark struct {
	what, node string
	at, done   time.Duration
}

// evidenceFailure begins the failure of a scenario its evidence fails.
const evidenceFailure = "the evidence fails the scenario:\n"

// beginEvidence opens the record of a scenario: its history's clock
// starts now.
func (c *cluster) beginEvidence(name string) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	c.evidence = &evidence{rec: history.NewRecorder(name), tables: map[histTable]bool{}}
}

// ev is the open record, or nil between scenarios.
func (c *cluster) ev() *evidence {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	return c.evidence
}

// hist is the running scenario's recorder. Between scenarios (bring-up)
// it is a recorder nobody reads, so that callers need no nil check.
func (c *cluster) hist() *history.Recorder {
	if e := c.ev(); e != nil {
		return e.rec
	}
	return history.NewRecorder("")
}

// histTable registers a table the scenario's clients write, with the
// prefix of their keys (a random scenario tag: [a-z0-9-]).
func (c *cluster) histTable(table, key, value, prefix string) {
	e := c.ev()
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tables[histTable{table, key, value, prefix}] = true
}

// faultBegins records the start of a fault on node; call the returned
// function when the fault is fully in effect.
func (c *cluster) faultBegins(node, what string) func() {
	e := c.ev()
	if e == nil {
		return func() {}
	}
	at := e.rec.Now()
	e.rec.EventAt(at, history.FaultStart, node, what)
	return func() {
		done := e.rec.Now()
		e.rec.EventAt(done, history.Note, node, "in effect: "+what)
		e.mu.Lock()
		e.faults = append(e.faults, faultMark{what: what, node: node, at: at, done: done})
		e.mu.Unlock()
	}
}

// faultEnds records that a fault was lifted (restart, thaw, heal).
func (c *cluster) faultEnds(node, what string) {
	if e := c.ev(); e != nil {
		e.rec.Event(history.FaultEnd, node, what)
		e.mu.Lock()
		e.lifted = time.Now()
		e.mu.Unlock()
	}
}

// endEvidence closes the record of the scenario and adds it to res: the
// raw history, the checker's results and the RTOs against their budgets.
// A violation fails a scenario that passed; an error of the checker
// itself (a malformed history) fails it too.
func (c *cluster) endEvidence(ctx context.Context, res *Scenario) {
	c.evMu.Lock()
	e := c.evidence
	c.evidence = nil
	c.evMu.Unlock()
	if e == nil {
		return
	}
	h := e.rec.History()
	if len(h.Ops) == 0 && len(h.Events) == 0 {
		return
	}
	res.History = &h
	e.mu.Lock()
	if e.rejoin > 0 {
		if res.Metrics.Extra == nil {
			res.Metrics.Extra = map[string]float64{}
		}
		if _, ok := res.Metrics.Extra["rejoinMs"]; !ok {
			res.Metrics.Extra["rejoinMs"] = float64(e.rejoin.Milliseconds())
		}
	}
	res.PGBench = slices.Clone(e.pgbench)
	faults := slices.Clone(e.faults)
	tables := slices.Collect(maps.Keys(e.tables))
	e.mu.Unlock()
	if res.Status == Skipped || len(h.Ops) == 0 {
		return
	}
	if c.progress != nil {
		c.progress("checking the history: %d operations, the final state of %d nodes", len(h.Ops), len(c.sites))
	}
	var problems []string
	final := c.finalState(context.WithoutCancel(ctx), tables)
	opt := history.Options{Mode: c.histMode(), MaxListed: 200}
	if opt.Mode == history.Synchronous {
		// Only synchronous replication promises that every acknowledged
		// write is on the next primary: there the keyed reads and writes,
		// and the state left behind, must be linearizable.
		opt.Linearizability = &history.LinearizabilityOptions{FinalReads: true, Timeout: 20 * time.Second}
	}
	checks, err := history.Check(h, final, opt)
	if err != nil {
		problems = append(problems, "the history checker: "+err.Error())
	} else {
		expectLostOnDownSites(&checks)
		res.Checks = &checks
		res.Final = finalSummary(final)
		for _, r := range checks.List() {
			if v := r.Verdict(); v == history.Violation || v == history.Inconclusive {
				problems = append(problems, fmt.Sprintf("%s: %s [%s]", r.Name(), r.Summary(), v))
			}
		}
	}
	res.RTO = c.measureRTO(h, faults)
	for _, r := range res.RTO {
		if r.Exceeded() {
			problems = append(problems, fmt.Sprintf("RTO of %s after %s: measured %s, budget %s (%s)", r.Path, r.Fault, fmtMillis(r.MeasuredMillis), fmtMillis(r.BudgetMillis), r.Formula))
		}
	}
	if len(problems) == 0 {
		return
	}
	msg := evidenceFailure + strings.Join(problems, "\n")
	if res.Status == Passed {
		res.Status, res.Failure = Failed, msg
		return
	}
	if res.Status == Failed {
		res.Failure += "\n" + msg
	}
}

// histMode is the checker's mode for the deployment's replication.
func (c *cluster) histMode() history.Mode {
	switch {
	case c.inv.Mode == "multi-master-async":
		return history.MultiMaster
	case c.inv.Database.Synchronous:
		return history.Synchronous
	}
	return history.Asynchronous
}

// finalState reads every node's rows of the scenario's keys directly
// (psql inside the node's database container, not through a VIP or
// proxy), with per-table checksums. Replication may still be applying
// the last writes: it reads again, for up to 20 seconds, until the nodes
// that answer agree.
func (c *cluster) finalState(ctx context.Context, tables []histTable) history.FinalState {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var f history.FinalState
	for {
		f = history.FinalState{}
		for _, s := range c.dbSites() {
			f.Nodes = append(f.Nodes, c.nodeState(ctx, s, tables))
		}
		if agree(f) || ctx.Err() != nil {
			return f
		}
		select {
		case <-ctx.Done():
			return f
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// nodeState reads one node's rows and checksums.
func (c *cluster) nodeState(ctx context.Context, s *site, tables []histTable) history.NodeState {
	n := history.NodeState{Node: s.Inv.Name, Rows: map[string]string{}, Tables: map[string]history.TableState{}}
	if _, ok := s.Containers[c.inv.Database.Service]; !ok {
		n.Error = "no database container"
		return n
	}
	seen := map[string]bool{}
	for _, t := range tables {
		out, err := c.psql(ctx, s, fmt.Sprintf("SELECT %s || '|' || %s FROM %s WHERE %s LIKE '%s%%'", t.key, t.value, t.table, t.key, t.prefix))
		if err != nil {
			n.Error = err.Error()
			n.Rows, n.Tables = nil, nil
			return n
		}
		for _, line := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(line, "|"); ok {
				n.Rows[k] = v
			}
		}
		if seen[t.table] {
			continue
		}
		seen[t.table] = true
		out, err = c.psql(ctx, s, fmt.Sprintf("SELECT count(*) || '|' || coalesce(md5(string_agg(%s::text, ',' ORDER BY %s)), '') FROM %s", t.key, t.key, t.table))
		if err != nil {
			n.Error = err.Error()
			n.Rows, n.Tables = nil, nil
			return n
		}
		cnt, sum, _ := strings.Cut(out, "|")
		rows := 0
		fmt.Sscan(cnt, &rows)
		n.Tables[t.table] = history.TableState{Checksum: sum, Rows: rows}
	}
	return n
}

// agree reports whether every readable node holds the same rows and
// checksums.
func agree(f history.FinalState) bool {
	var first *history.NodeState
	for i := range f.Nodes {
		n := &f.Nodes[i]
		if n.Error != "" {
			continue
		}
		if first == nil {
			first = n
			continue
		}
		if !maps.Equal(first.Rows, n.Rows) || !maps.EqualFunc(first.Tables, n.Tables, func(a, b history.TableState) bool { return a.Checksum == b.Checksum && a.Rows == b.Rows }) {
			return false
		}
	}
	return true
}

// finalSummary keeps the final state's checksums and row counts for the
// report (the rows themselves are in the history's writes).
func finalSummary(f history.FinalState) []FinalNode {
	var out []FinalNode
	for _, n := range f.Nodes {
		fn := FinalNode{Node: n.Node, Error: n.Error, Rows: len(n.Rows), Tables: n.Tables}
		out = append(out, fn)
	}
	return out
}

// expectLostOnDownSites marks as expected (allowed) the multi-master
// writes "lost" only because the site that acknowledged them is down and
// could not be read: asynchronous replication had not shipped them yet,
// and they are checked again once the site returns (its scenario reads
// every node). Every lost write must be listed and acknowledged by an
// unread site; otherwise the verdict stands.
func expectLostOnDownSites(r *history.Results) {
	l := &r.Lost
	if r.Mode != history.MultiMaster || l.Verdict() != history.Violation || len(l.NodesNotRead) == 0 || len(l.Writes) < l.Lost {
		return
	}
	for _, w := range l.Writes {
		site, _, _ := strings.Cut(w.Server, "@")
		if !slices.Contains(l.NodesNotRead, site) {
			return
		}
	}
	l.Is = history.Allowed
	l.Line += fmt.Sprintf("; all acknowledged by %s, down: not yet replicated (asynchronous), expected", strings.Join(l.NodesNotRead, ", "))
}
