package history

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLost(t *testing.T) {
	// db0 acknowledges k1..k3, is killed, db1 takes over and acknowledges
	// k4. The final state misses k3: its acknowledgement arrived, but the
	// standby never got it.
	h := hist(
		wr("a", 0, 5, "k1", "v1", OK, vip, p0),
		wr("a", 10, 15, "k2", "v2", OK, vip, p0),
		wr("b", 12, 20, "k3", "v3", OK, proxy, p0),
		wr("a", 20, 5020, "k5", "v5", Unknown, vip, nil),
		wr("a", 6000, 6010, "k4", "v4", OK, vip, p1),
	)
	f := finalOf(node("db0", "k1", "v1", "k2", "v2", "k4", "v4"), node("db1", "k1", "v1", "k2", "v2", "k4", "v4"))
	r := mustCheck(h, f, Options{Mode: Synchronous})
	if r.Lost.Acked != 4 || r.Lost.Lost != 1 || len(r.Lost.Writes) != 1 || r.Lost.Writes[0].Key != "k3" {
		t.Fatalf("lost = %+v", r.Lost)
	}
	if got := r.Lost.Writes[0].Found; got["db0"] != "(absent)" || got["db1"] != "(absent)" {
		t.Errorf("found = %v", got)
	}
	if r.Lost.Verdict() != Violation || r.Lost.Summary() != "1 of 4 acknowledged (missing on db0: 1, db1: 1)" {
		t.Errorf("verdict %s, summary %q", r.Lost.Verdict(), r.Lost.Summary())
	}
	if !r.Failed() {
		t.Error("a lost acknowledged write does not fail the scenario")
	}
	// Asynchronous replication may lose it: reported, allowed.
	if r := mustCheck(h, f, Options{Mode: Asynchronous}); r.Lost.Verdict() != Allowed || r.Lost.Lost != 1 {
		t.Errorf("asynchronous: %+v", r.Lost)
	}
	// The unknown write k5 is not lost (it was never acknowledged).
	if r.Unknown.Unknown != 1 || r.Unknown.Committed != 0 || r.Unknown.NotSeen != 1 {
		t.Errorf("unknown = %+v", r.Unknown)
	}
}

func TestLostRegister(t *testing.T) {
	// One key overwritten: the final value must be the last write or one
	// that could follow it.
	h := hist(
		wr("a", 0, 10, "x", "1", OK, vip, p0),
		wr("a", 20, 30, "x", "2", OK, vip, p0),
		wr("b", 25, 40, "x", "3", OK, proxy, p0), // concurrent with 2
	)
	for _, tt := range []struct {
		final string
		lost  int
	}{
		{"3", 0}, // 3 may follow 2 and 2 may follow... both kept
		{"2", 0}, // 2 is concurrent with 3: either order is fine
		{"1", 2}, // back in time: 2 and 3 were sent after 1 was acknowledged
	} {
		r := mustCheck(h, finalOf(node("db0", "x", tt.final)), Options{})
		if r.Lost.Lost != tt.lost {
			t.Errorf("final %s: lost %d, want %d: %+v", tt.final, r.Lost.Lost, tt.lost, r.Lost.Writes)
		}
	}
	// A final value from a failed write, or nobody's, loses the key.
	h2 := hist(wr("a", 0, 10, "x", "1", OK, vip, p0), wr("a", 20, 30, "x", "2", Failed, vip, nil))
	if r := mustCheck(h2, finalOf(node("db0", "x", "2")), Options{}); r.Lost.Lost != 1 {
		t.Errorf("failed write's value kept the key: %+v", r.Lost)
	}
	if r := mustCheck(h2, finalOf(node("db0", "x", "zzz")), Options{}); r.Lost.Lost != 1 {
		t.Errorf("a value nobody wrote kept the key: %+v", r.Lost)
	}
}

func TestLostNodeNotRead(t *testing.T) {
	h := hist(wr("a", 0, 10, "k1", "v1", OK, vip, p0))
	f := finalOf(node("db0", "k1", "v1"), NodeState{Node: "db1", Error: "connection refused"})
	r := mustCheck(h, f, Options{})
	if r.Lost.Lost != 0 || r.Lost.Summary() != "0 of 1 acknowledged; not read: db1" {
		t.Errorf("lost = %+v", r.Lost)
	}
	if r := mustCheck(h, finalOf(NodeState{Node: "db0", Error: "down"}), Options{}); r.Lost.Verdict() != NotChecked {
		t.Errorf("nothing read, verdict %s", r.Lost.Verdict())
	}
}

func TestUnknownCommitted(t *testing.T) {
	// The client timed out on k2 and k3; k2 shows up in the final state,
	// k3 was returned by a later read, k4 is never seen.
	h := hist(
		wr("a", 0, 10, "k1", "v1", OK, vip, p0),
		wr("a", 10, 3010, "k2", "v2", Unknown, vip, nil),
		wr("b", 10, 3010, "k3", "v3", Unknown, proxy, nil),
		wr("c", 10, 3010, "k4", "v4", Unknown, proxy, nil),
		wr("d", 10, 12, "k5", "v5", Failed, direct1, nil),
		rd("r", 5000, 5010, "k3", "v3", vip, p1),
	)
	f := finalOf(node("db0", "k1", "v1", "k2", "v2", "k3", "v3"), node("db1", "k1", "v1", "k2", "v2", "k3", "v3"))
	r := mustCheck(h, f, Options{})
	u := r.Unknown
	if u.Unknown != 3 || u.Committed != 2 || u.NotSeen != 1 || u.Failed != 1 {
		t.Fatalf("unknown = %+v", u)
	}
	if u.Summary() != "3, 2 committed (seen after the fact), 1 not seen" || u.Verdict() != Allowed {
		t.Errorf("summary %q verdict %s", u.Summary(), u.Verdict())
	}
	ev := map[string][]string{}
	for _, w := range u.Writes {
		ev[w.Key] = w.Evidence
	}
	if len(ev["k2"]) != 2 || !strings.Contains(ev["k3"][len(ev["k3"])-1], "read by operation") || len(ev["k4"]) != 0 {
		t.Errorf("evidence = %v", ev)
	}
	if r.Failed() {
		t.Errorf("unknown outcomes alone failed the scenario: %v", r.Lines())
	}
}

func TestStaleReadThroughStandby(t *testing.T) {
	h := hist(
		wr("a", 0, 10, "x", "1", OK, vip, p0),
		wr("a", 20, 30, "x", "2", OK, vip, p0),
		// Through the standby, sent after 2 was acknowledged: returns 1.
		rd("r", 40, 45, "x", "1", direct1, s1),
		// Sent while 2 was in flight: 1 is a legal answer.
		rd("q", 25, 28, "x", "1", direct1, s1),
		// A new key read as absent after its write was acknowledged.
		wr("a", 50, 60, "y", "a", OK, vip, p0),
		rd("r", 70, 71, "y", "", direct1, s1),
		// Up to date.
		rd("q", 80, 81, "x", "2", vip, p0),
	)
	r := mustCheck(h, finalOf(), Options{Mode: Synchronous})
	s := r.Stale
	if s.Reads != 4 || s.Stale != 2 {
		t.Fatalf("stale = %+v", s)
	}
	if s.Items[0].Read.Key != "x" || s.Items[0].Got != "1" || s.Items[0].Newer == nil || s.Items[0].Newer.Value != "2" {
		t.Errorf("first = %+v", s.Items[0])
	}
	if s.Items[1].Read.Key != "y" || s.Items[1].Got != "(absent)" {
		t.Errorf("second = %+v", s.Items[1])
	}
	if s.Verdict() != Violation || s.Summary() != "2 of 4 reads (by path: direct db1 (10.0.1.10:5444): 2)" {
		t.Errorf("verdict %s summary %q", s.Verdict(), s.Summary())
	}
	if !strings.Contains(s.Items[0].Read.Server, "in recovery") {
		t.Errorf("server = %q", s.Items[0].Read.Server)
	}
	if r := mustCheck(h, finalOf(), Options{Mode: Asynchronous}); r.Stale.Verdict() != Allowed {
		t.Errorf("asynchronous stale reads: %s", r.Stale.Verdict())
	}
}

func TestStaleReadEvidenceFromRead(t *testing.T) {
	// Write 2 is never acknowledged (unknown), but a read returned it; a
	// later read of the older 1 is then stale.
	h := hist(
		wr("a", 0, 10, "x", "1", OK, vip, p0),
		wr("a", 20, 5000, "x", "2", Unknown, vip, nil),
		rd("r", 30, 35, "x", "2", vip, p0),
		rd("s", 40, 45, "x", "1", direct1, s1),
	)
	s := mustCheck(h, finalOf(), Options{}).Stale
	if s.Stale != 1 || s.Items[0].Newer.Index != 2 || !strings.Contains(s.Items[0].Why, "was read at") {
		t.Fatalf("stale = %+v", s)
	}
	// A read of an unknown write's value is never proven stale: the
	// write may have taken effect late.
	h2 := hist(
		wr("a", 0, 5000, "x", "1", Unknown, vip, nil),
		wr("b", 100, 110, "x", "2", OK, vip, p0),
		rd("r", 200, 210, "x", "1", vip, p0),
	)
	if s := mustCheck(h2, finalOf(), Options{}).Stale; s.Stale != 0 {
		t.Errorf("unknown write's value called stale: %+v", s)
	}
}

func TestPhantomAndAbortedReads(t *testing.T) {
	h := hist(
		wr("a", 0, 10, "x", "1", Failed, vip, nil),
		rd("r", 20, 21, "x", "1", vip, p0),
		rd("r", 30, 31, "x", "9", vip, p0),
	)
	s := mustCheck(h, finalOf(), Options{Mode: MultiMaster}).Stale
	if s.Aborted != 1 || s.Phantom != 1 || s.Verdict() != Violation {
		t.Fatalf("stale = %+v", s)
	}
}

func TestSplitBrain(t *testing.T) {
	t.Run("clean failover with client latency", func(t *testing.T) {
		// db0 commits until it is killed at 1000; its last write was sent
		// at 990 and its acknowledgement is slow (arrives at 4100, after
		// db1's first acknowledgement at 4050). db1 commits from 4000 on.
		h := hist(
			wr("a", 0, 10, "k1", "1", OK, vip, p0),
			wr("a", 500, 510, "k2", "2", OK, vip, p0),
			wr("b", 990, 4100, "k3", "3", OK, proxy, p0),
			wr("a", 4000, 4050, "k4", "4", OK, vip, p1),
			wr("a", 4060, 4070, "k5", "5", OK, vip, p1),
		)
		sb := mustCheck(h, finalOf(), Options{Mode: Synchronous}).SplitBrain
		if sb.Window != 0 || sb.WindowMillis != 0 || sb.Verdict() != Pass || sb.Summary() != "0ms" {
			t.Fatalf("split brain = %+v", sb)
		}
		if len(sb.Writers) != 2 || sb.Writers[0].Writer != "db0@00000001" || sb.Writers[0].To != at(990) {
			t.Errorf("writers = %+v", sb.Writers)
		}
	})
	t.Run("both sides accept writes", func(t *testing.T) {
		// Partition at 1000: db0 goes on acknowledging until 3000, db1 is
		// promoted and acknowledges from 2000.
		var ops []Op
		for i := 0; i < 30; i++ {
			t0 := float64(i * 100)
			ops = append(ops, wr("a", t0, t0+5, "a"+itoa(i), "v", OK, direct0, p0))
		}
		for i := 0; i < 20; i++ {
			t0 := 2000 + float64(i*100)
			ops = append(ops, wr("b", t0, t0+5, "b"+itoa(i), "v", OK, vip, p1))
		}
		sb := mustCheck(hist(ops...), finalOf(), Options{Mode: Synchronous}).SplitBrain
		// db0's span ends at its last invocation (2900), db1's starts at
		// its first acknowledgement (2005).
		if want := at(2900) - at(2005); sb.Window != want {
			t.Fatalf("window = %v, want %v (%+v)", sb.Window, want, sb.Intervals)
		}
		if sb.WindowMillis != 895 || len(sb.Intervals) != 1 || strings.Join(sb.Intervals[0].Writers, ",") != "db0@00000001,db1@00000002" {
			t.Errorf("split brain = %+v", sb)
		}
		if sb.Verdict() != Violation || sb.Summary() != "895ms in 1 interval (db0@00000001, db1@00000002)" {
			t.Errorf("verdict %s summary %q", sb.Verdict(), sb.Summary())
		}
	})
	t.Run("multi-master reports the whole overlap", func(t *testing.T) {
		var ops []Op
		for i := 0; i < 50; i++ {
			t0 := float64(i * 100)
			ops = append(ops, wr("a", t0, t0+5, "a"+itoa(i), "v", OK, app0, AppSite("site0")))
			ops = append(ops, wr("b", t0+50, t0+55, "b"+itoa(i), "v", OK, app1, AppSite("site1")))
		}
		r := mustCheck(hist(ops...), finalOf(), Options{Mode: MultiMaster})
		sb := r.SplitBrain
		// site0 spans (5, 4900), site1 (55, 4950): overlap 55..4900.
		if want := at(4900) - at(55); sb.Window != want || sb.Verdict() != Allowed {
			t.Fatalf("window %v want %v, verdict %s", sb.Window, want, sb.Verdict())
		}
		if r.Failed() {
			t.Errorf("multi-master overlap failed the scenario: %v", r.Lines())
		}
	})
	t.Run("failback needs epochs", func(t *testing.T) {
		// db0 primary, then db1, then db0 again after a switchover.
		mk := func(e0a, e1, e0b string) History {
			return hist(
				wr("a", 0, 5, "k1", "1", OK, vip, Primary("db0", "", e0a)),
				wr("a", 100, 105, "k2", "2", OK, vip, Primary("db0", "", e0a)),
				wr("a", 1000, 1005, "k3", "3", OK, vip, Primary("db1", "", e1)),
				wr("a", 1100, 1105, "k4", "4", OK, vip, Primary("db1", "", e1)),
				wr("a", 2000, 2005, "k5", "5", OK, vip, Primary("db0", "", e0b)),
				wr("a", 2100, 2105, "k6", "6", OK, vip, Primary("db0", "", e0b)),
			)
		}
		if sb := mustCheck(mk("1", "2", "3"), finalOf(), Options{}).SplitBrain; sb.Window != 0 {
			t.Errorf("with epochs: %+v", sb)
		}
		// Without them db0 looks writable from 5 to 2100, across db1's term.
		if sb := mustCheck(mk("", "", ""), finalOf(), Options{}).SplitBrain; sb.Window != at(1100)-at(1005) {
			t.Errorf("without epochs: %v", sb.Window)
		}
	})
	t.Run("unattributed writes", func(t *testing.T) {
		sb := mustCheck(hist(wr("a", 0, 5, "k", "1", OK, vip, nil)), finalOf(), Options{}).SplitBrain
		if sb.Verdict() != NotChecked || sb.Unattributed != 1 {
			t.Errorf("split brain = %+v", sb)
		}
	})
}

func TestOverlapsThreeWriters(t *testing.T) {
	got := overlaps([]WriterSpan{
		{Writer: "a", From: 0, To: 100},
		{Writer: "b", From: 50, To: 150},
		{Writer: "c", From: 60, To: 70},
		{Writer: "d", From: 150, To: 200}, // touches b: no overlap
	})
	want := []Interval{
		{From: 50, To: 60, Writers: []string{"a", "b"}},
		{From: 60, To: 70, Writers: []string{"a", "b", "c"}},
		{From: 70, To: 100, Writers: []string{"a", "b"}},
	}
	if len(got) != len(want) {
		t.Fatalf("overlaps = %+v", got)
	}
	for i := range want {
		if got[i].From != want[i].From || got[i].To != want[i].To || strings.Join(got[i].Writers, ",") != strings.Join(want[i].Writers, ",") {
			t.Errorf("interval %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestDivergence(t *testing.T) {
	a := node("db0", "k1", "v1", "k2", "v2", "k3", "v3")
	b := node("db1", "k1", "v1", "k2", "XX", "k4", "v4")
	a.Tables = map[string]TableState{
		"public.orders":   {Checksum: "aaa", Rows: 2, RowHashes: map[string]string{"1": "h1", "2": "h2"}},
		"public.accounts": {Checksum: "c1", Rows: 5},
	}
	b.Tables = map[string]TableState{
		"public.orders":   {Checksum: "bbb", Rows: 2, RowHashes: map[string]string{"1": "h1", "2": "h9"}},
		"public.accounts": {Checksum: "c1", Rows: 5},
	}
	d := mustCheck(hist(), finalOf(b, a), Options{MaxListed: 2}).Divergence
	if d.Rows.Equal || d.Rows.DifferingKeys != 3 || len(d.Rows.Keys) != 2 || d.Rows.Keys[0].Key != "k2" || d.Rows.Keys[1].Values["db1"] != "(absent)" {
		t.Fatalf("rows = %+v", d.Rows)
	}
	if len(d.Tables) != 2 || d.Tables[0].Table != "public.accounts" || !d.Tables[0].Equal {
		t.Fatalf("tables = %+v", d.Tables)
	}
	if o := d.Tables[1]; o.Equal || o.DifferingKeys != 1 || o.Keys[0].Key != "2" || o.Checksums["db1"] != "bbb" {
		t.Errorf("orders = %+v", o)
	}
	if d.Verdict() != Violation || d.Summary() != "3 keys of the history differ; public.orders checksums differ (1 key) between db0, db1" {
		t.Errorf("verdict %s summary %q", d.Verdict(), d.Summary())
	}
	same := mustCheck(hist(), finalOf(node("db0", "k", "v"), node("db1", "k", "v")), Options{}).Divergence
	if same.Verdict() != Pass || same.Summary() != "equal on db0, db1 (1 table)" {
		t.Errorf("equal: %s %q", same.Verdict(), same.Summary())
	}
}

func TestConflicts(t *testing.T) {
	h := hist(
		// x: site0 and site1 write concurrently; site1 wins.
		wr("a", 0, 20, "x", "a1", OK, app0, AppSite("site0")),
		wr("b", 5, 25, "x", "b1", OK, app1, AppSite("site1")),
		// y: site0 writes, later (in real time) site1 overwrites: superseded.
		wr("a", 100, 110, "y", "a2", OK, app0, AppSite("site0")),
		wr("b", 200, 210, "y", "b2", OK, app1, AppSite("site1")),
		// z: site1 acknowledged first, then site0 wrote, yet site1's older
		// value won: against real time.
		wr("b", 300, 310, "z", "b3", OK, app1, AppSite("site1")),
		wr("a", 400, 410, "z", "a3", OK, app0, AppSite("site0")),
		// w: two writes on site0 that overlap: the site ordered them.
		wr("a", 500, 520, "w", "a4", OK, app0, AppSite("site0")),
		wr("c", 505, 515, "w", "a5", OK, app0, AppSite("site0")),
	)
	final := finalOf(
		node("db0", "x", "b1", "y", "b2", "z", "b3", "w", "a4"),
		node("db1", "x", "b1", "y", "b2", "z", "b3", "w", "a4"),
	)
	r := mustCheck(h, final, Options{Mode: MultiMaster, ConflictStrategy: "bucardo_latest"})
	c := r.Conflicts
	if c == nil {
		t.Fatal("no conflicts result in multi-master mode")
	}
	if c.Discarded != 2 || c.AgainstRealTime != 1 || c.Superseded != 1 || c.OwnSite != 1 || c.ContendedKeys != 1 {
		t.Fatalf("conflicts = %+v", c)
	}
	if c.Items[0].Discarded.Value != "a1" || c.Items[0].Winner.Value != "b1" || c.Items[0].Order != "concurrent" {
		t.Errorf("first = %+v", c.Items[0])
	}
	if c.Items[1].Order != "winner-earlier" || c.Verdict() != Violation {
		t.Errorf("second = %+v, verdict %s", c.Items[1], c.Verdict())
	}
	if !strings.Contains(c.Rule, "most recently") {
		t.Errorf("rule = %q", c.Rule)
	}
	// The z write is also lost: a real-time-earlier value replaced it.
	if r.Lost.Lost != 1 || r.Lost.Writes[0].Key != "z" {
		t.Errorf("lost = %+v", r.Lost)
	}
	// Only the concurrent conflict: allowed under bucardo_latest,
	// a violation under bucardo_abort.
	h2 := hist(h.Ops[0], h.Ops[1])
	f2 := finalOf(node("db0", "x", "b1"), node("db1", "x", "b1"))
	if c := mustCheck(h2, f2, Options{Mode: MultiMaster}).Conflicts; c.Verdict() != Allowed || c.Summary() != "1 discarded by bucardo_latest (1 key contended)" {
		t.Errorf("latest: %s %q", c.Verdict(), c.Summary())
	}
	if c := mustCheck(h2, f2, Options{Mode: MultiMaster, ConflictStrategy: "bucardo_abort"}).Conflicts; c.Verdict() != Violation {
		t.Errorf("abort: %s", c.Verdict())
	}
	// Not converged: left to the divergence check.
	f3 := finalOf(node("db0", "x", "a1"), node("db1", "x", "b1"))
	r3 := mustCheck(h2, f3, Options{Mode: MultiMaster})
	if r3.Conflicts.Unconverged != 1 || r3.Conflicts.Discarded != 0 || r3.Divergence.Verdict() != Violation {
		t.Errorf("unconverged: %+v / %s", r3.Conflicts, r3.Divergence.Summary())
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		h    History
		want string
	}{
		{hist(Op{Client: "a", Kind: "delete", Outcome: OK}), `operation 0 (client "a"): kind "delete": want write or read`},
		{hist(Op{Client: "a", Kind: Write, Outcome: "maybe"}), `outcome "maybe"`},
		{History{Ops: []Op{{Client: "a", Kind: Write, Outcome: OK, Invoke: 10, Complete: 5}}}, "completes at 5ns, before its invocation at 10ns"},
		{hist(wr("a", 0, 1, "k", "v", OK, vip, p0), wr("b", 2, 3, "k", "v", OK, vip, p0)), `writes "v" to key "k", as operation 0 did`},
		{History{Format: 7}, "history format 7: this version reads format 1"},
		{History{Events: []Event{{Kind: "boom"}}}, `event 0: kind "boom"`},
	} {
		err := tt.h.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate() = %v, want %q", err, tt.want)
		}
		if _, cerr := Check(tt.h, finalOf(), Options{}); cerr == nil {
			t.Errorf("Check accepted a malformed history (%s)", tt.want)
		}
	}
}

func TestCheckDoesNotReorderCallersHistory(t *testing.T) {
	h := History{Ops: []Op{wr("b", 10, 11, "k2", "2", OK, vip, p0), wr("a", 0, 1, "k1", "1", OK, vip, p0)}}
	mustCheck(h, finalOf(), Options{})
	if h.Ops[0].Key != "k2" {
		t.Error("Check sorted the caller's operations")
	}
}

func TestResultsLines(t *testing.T) {
	h := hist(wr("a", 0, 10, "k1", "v1", OK, vip, p0))
	r := mustCheck(h, finalOf(node("db0", "k1", "v1"), node("db1", "k1", "v1")), Options{Linearizability: &LinearizabilityOptions{Timeout: 10 * time.Second}})
	got := strings.Join(r.Lines(), "\n")
	want := strings.Join([]string{
		"lost: 0 of 1 acknowledged [pass]",
		"unknown: 0 [pass]",
		"stale: no acknowledged reads [not-checked]",
		"split-brain: 0ms [pass]",
		"divergence: equal on db0, db1 (1 table) [pass]",
		"linearizable: linearizable (1 key, 1 operation) [pass]",
	}, "\n")
	if got != want {
		t.Errorf("Lines():\n%s\nwant:\n%s", got, want)
	}
	if r.Failed() {
		t.Error("clean results failed")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
