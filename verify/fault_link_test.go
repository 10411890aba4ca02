package verify

import (
	"slices"
	"testing"
	"time"

	"github.com/hagen-ha/hagen/verify/history"
)

func TestLatencies(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p50, p95, top := latencies(ds)
	if p50 != 51*time.Millisecond || p95 != 96*time.Millisecond || top != 100*time.Millisecond {
		t.Errorf("latencies of 1..100 ms: %s %s %s", p50, p95, top)
	}
	if a, b, c := latencies(nil); a != 0 || b != 0 || c != 0 {
		t.Errorf("latencies of nothing: %s %s %s", a, b, c)
	}
}

// TestCommitLatencies: only acknowledged writes through the VIP or
// HAProxy invoked in the window count.
func TestCommitLatencies(t *testing.T) {
	w := func(via history.Via, out history.Outcome, invoke, complete time.Duration) history.Op {
		return history.Op{Kind: history.Write, Outcome: out, Invoke: invoke, Complete: complete, Path: history.Path{Via: via}}
	}
	h := history.History{Ops: []history.Op{
		w(history.ViaVIP, history.OK, 1*time.Second, 1*time.Second+10*time.Millisecond),
		w(history.ViaHAProxy, history.OK, 2*time.Second, 2*time.Second+30*time.Millisecond),
		w(history.ViaVIP, history.Unknown, 2*time.Second, 4*time.Second),
		w(history.ViaDirect, history.OK, 2*time.Second, 2*time.Second+time.Millisecond),
		w(history.ViaVIP, history.OK, 5*time.Second, 5*time.Second+time.Millisecond),
	}}
	got := commitLatencies(h, time.Second, 5*time.Second)
	slices.Sort(got)
	if want := []time.Duration{10 * time.Millisecond, 30 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("commitLatencies = %v, want %v", got, want)
	}
}

func TestLossRule(t *testing.T) {
	got := lossRule("FORWARD", "-s", "10.0.0.0/24")
	want := []string{"FORWARD", "-s", "10.0.0.0/24", "-m", "statistic", "--mode", "random", "--probability", "0.1", "-j", "DROP"}
	if !slices.Equal(got, want) {
		t.Errorf("lossRule = %q, want %q", got, want)
	}
}
