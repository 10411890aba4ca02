package history

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestLinearizable(t *testing.T) {
	opt := LinearizabilityOptions{Timeout: 20 * time.Second}
	t.Run("concurrent writes and reads", func(t *testing.T) {
		h := hist(
			wr("a", 0, 100, "x", "1", OK, vip, p0),
			wr("b", 50, 150, "x", "2", OK, proxy, p0),
			rd("c", 60, 70, "x", "1", vip, p0),   // 1 took effect first
			rd("d", 160, 170, "x", "2", vip, p0), // then 2
			rd("e", 0, 10, "y", "", vip, p0),
		)
		l := CheckLinearizable(h, finalOf(node("db0", "x", "2")), LinearizabilityOptions{Timeout: opt.Timeout, FinalReads: true})
		if l.Result != "ok" || l.Verdict() != Pass || l.Keys != 2 || l.Checked != 2 || l.Ops != 7 {
			t.Fatalf("result = %+v", l)
		}
		if l.Visualization != nil {
			t.Error("visualization written without a failure or a request")
		}
	})
	t.Run("stale read is rejected", func(t *testing.T) {
		h := hist(
			wr("a", 0, 10, "x", "1", OK, vip, p0),
			wr("a", 20, 30, "x", "2", OK, vip, p0),
			rd("r", 40, 45, "x", "1", direct1, s1),
			wr("a", 50, 60, "y", "1", OK, vip, p0),
		)
		l := CheckLinearizable(h, finalOf(), opt)
		if l.Result != "illegal" || l.Verdict() != Violation || strings.Join(l.IllegalKeys, ",") != "x" || l.Checked != 2 {
			t.Fatalf("result = %+v", l)
		}
		if l.Summary() != "not linearizable: 1 key of 2 (x)" {
			t.Errorf("summary %q", l.Summary())
		}
		// The page is written on a failure, self-contained, with the
		// failing key's operations.
		if len(l.Visualization) == 0 || !bytes.Contains(l.Visualization, []byte("<html")) || !bytes.Contains(l.Visualization, []byte("read() → 1")) {
			t.Fatalf("visualization: %d bytes, error %q", len(l.Visualization), l.VisualizationError)
		}
		if bytes.Contains(l.Visualization, []byte("src=\"http")) {
			t.Error("visualization loads something from the network")
		}
		if strings.Join(l.VisualizedKeys, ",") != "x,y" {
			t.Errorf("visualized keys %v", l.VisualizedKeys)
		}
	})
	t.Run("unknown write may take effect late", func(t *testing.T) {
		// The client gave up on 2 at 1000; a read at 2000 still sees 1,
		// a read at 5000 sees 2: it took effect after the client gave up.
		h := hist(
			wr("a", 0, 10, "x", "1", OK, vip, p0),
			wr("a", 20, 1000, "x", "2", Unknown, vip, nil),
			rd("r", 2000, 2010, "x", "1", vip, p1),
			rd("r", 5000, 5010, "x", "2", vip, p1),
		)
		if l := CheckLinearizable(h, finalOf(), opt); l.Result != "ok" {
			t.Errorf("late effect of an unknown write rejected: %+v", l)
		}
		// Never taking effect is fine too, even with the final state.
		h2 := hist(h.Ops[0], h.Ops[1], h.Ops[2])
		if l := CheckLinearizable(h2, finalOf(node("db1", "x", "1")), LinearizabilityOptions{Timeout: opt.Timeout, FinalReads: true}); l.Result != "ok" {
			t.Errorf("unknown write that never applied rejected: %+v", l)
		}
		// But seen and then gone is not linearizable.
		h3 := hist(h.Ops[0], h.Ops[1], rd("r", 2000, 2010, "x", "2", vip, p1), rd("r", 5000, 5010, "x", "1", vip, p1))
		if l := CheckLinearizable(h3, finalOf(), opt); l.Result != "illegal" {
			t.Errorf("a value that came back was accepted: %+v", l)
		}
	})
	t.Run("final state must agree", func(t *testing.T) {
		// An acknowledged write missing from a node's final state.
		h := hist(wr("a", 0, 10, "x", "1", OK, vip, p0), wr("a", 20, 30, "x", "2", OK, vip, p0))
		l := CheckLinearizable(h, finalOf(node("db0", "x", "2"), node("db1", "x", "1")), LinearizabilityOptions{Timeout: opt.Timeout, FinalReads: true})
		if l.Result != "illegal" {
			t.Errorf("final state behind the history accepted: %+v", l)
		}
		if l := CheckLinearizable(h, finalOf(node("db1", "x", "1")), opt); l.Result != "ok" {
			t.Errorf("without FinalReads the final state must not count: %+v", l)
		}
	})
	t.Run("failed writes do not take effect", func(t *testing.T) {
		h := hist(wr("a", 0, 10, "x", "1", Failed, vip, nil), rd("r", 20, 30, "x", "1", vip, p0))
		if l := CheckLinearizable(h, finalOf(), opt); l.Result != "illegal" {
			t.Errorf("a failed write's value was accepted: %+v", l)
		}
	})
	t.Run("visualization on request", func(t *testing.T) {
		h := hist(wr("a", 0, 10, "x", "1", OK, vip, p0))
		h.Events = []Event{{At: at(5), Kind: FaultStart, Node: "db0", Detail: "kill db0"}}
		l := CheckLinearizable(h, finalOf(), LinearizabilityOptions{Timeout: opt.Timeout, Visualize: true})
		if l.Result != "ok" || !bytes.Contains(l.Visualization, []byte("kill db0")) {
			t.Errorf("visualization missing or without the events: %d bytes", len(l.Visualization))
		}
	})
}

// A timeout that runs out is never a pass.
func TestLinearizableTimeoutIsUnknown(t *testing.T) {
	var ops []Op
	for k := 0; k < 50; k++ {
		for i := 0; i < 10; i++ {
			t0 := float64(i * 10)
			ops = append(ops, wr(fmt.Sprintf("c%d", i), t0, t0+1000, fmt.Sprint("k", k), fmt.Sprint(i), OK, vip, p0))
		}
	}
	l := CheckLinearizable(hist(ops...), finalOf(), LinearizabilityOptions{Timeout: time.Nanosecond})
	if l.Result != "unknown" || l.Verdict() != Inconclusive || l.Unchecked == 0 {
		t.Fatalf("result = %+v", l)
	}
	if !strings.HasPrefix(l.Summary(), "undecided: the 1ns timeout left") {
		t.Errorf("summary %q", l.Summary())
	}
	r := Results{Linearizability: &l}
	if !r.Failed() {
		t.Error("an undecided check passed the scenario")
	}
}

// A synchronous-mode history of several writers and readers around a
// failover, with unknown writes, is linearizable; the same history with
// one read through a lagging standby is not.
func TestLinearizableFailoverHistory(t *testing.T) {
	var ops []Op
	keys := []string{"a", "b", "c", "d"}
	for i := 0; i < 200; i++ {
		k := keys[i%len(keys)]
		t0 := float64(i * 20)
		srv := p0
		if t0 >= 2000 {
			srv = p1
		}
		switch {
		case t0 >= 1900 && t0 < 2000:
			ops = append(ops, wr(fmt.Sprint("w", i%3), t0, t0+3000, k, fmt.Sprint(i), Unknown, vip, nil))
		case t0 >= 1800 && t0 < 1900:
			ops = append(ops, wr(fmt.Sprint("w", i%3), t0, t0+5, k, fmt.Sprint(i), Failed, vip, nil))
		default:
			ops = append(ops, wr(fmt.Sprint("w", i%3), t0, t0+15, k, fmt.Sprint(i), OK, vip, srv))
		}
	}
	// Reads after each key's last write before the gap.
	ops = append(ops, rd("r", 1790, 1795, "a", "88", vip, p0))
	ops = append(ops, rd("r", 6000, 6005, "a", "196", vip, p1))
	l := CheckLinearizable(hist(ops...), finalOf(), LinearizabilityOptions{Timeout: 20 * time.Second})
	if l.Result != "ok" {
		t.Fatalf("result = %+v", l)
	}
	bad := append(ops[:len(ops):len(ops)], rd("s", 6100, 6105, "a", "88", direct1, s1))
	if l := CheckLinearizable(hist(bad...), finalOf(), LinearizabilityOptions{Timeout: 20 * time.Second}); l.Result != "illegal" || l.IllegalKeys[0] != "a" {
		t.Fatalf("stale standby read accepted: %+v", l)
	}
}
