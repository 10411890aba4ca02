package verify

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWriteSummary(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSummary(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	want := `hagen verify: dual-site-bucardo (multi-master-async) from examples/dual-site.cue

SCENARIO             RESULT   RTO/BUDGET    GAP    LAG    SWITCH  ACKED  LOST  UNKNOWN  STALE  SPLIT-BRAIN  DIVERGED  CONFLICTS  LINEAR  PGBENCH                DURATION
replication-0-to-1   passed   -             -      120ms  -       -      -     -        -      -            -         -          -       -                      1.20s
failover-kill-site0  failed   5.21s/5.00s!  5.25s  -      -       412    2     -        -      -            -         -          -       -                      35.0s
kill-site0           passed   5.08s/5.50s   -      -      -       5      0     1 (1)    -      5ms allowed  -         0          -       1+2 failed, gap 5.21s  9.00s
distribution         passed   -             -      -      -       -      -     -        -      -            -         -          -       -                      4.10s
partition            skipped  -             -      -      -       -      -     -        -      -            -         -          -       -                      -

Columns:
  RESULT       passed, failed or skipped; a checker violation or an RTO over its budget fails a scenario
  RTO/BUDGET   measured write RTO / the rendered budget of its failover path (inventory.json): from the fault's start to the first acknowledged write sent after the fault was in effect; the path closest to its budget is shown, all are in the details; "!" = over budget
  GAP          write gap: last acknowledged write before the fault to the first after it (worst client)
  LAG          replication lag: a write on one site until it is readable on another
  SWITCH       VIP or proxy switch time
  ACKED        writes acknowledged to hagen's clients (and pgbench's) in the scenario's history
  LOST         acknowledged writes missing from a node's final state, read directly from each node after the scenario; "expected" when the replication mode allows it (asynchronous)
  UNKNOWN      writes whose outcome the client could not know (the connection broke before the answer), and in brackets how many of them turned out committed
  STALE        reads that returned a value older than one already acknowledged (and phantom or aborted reads); - when the scenario read nothing
  SPLIT-BRAIN  total time two nodes (or one node in two terms) acknowledged writes at once, from the writes' own times; must be 0 in primary-standby, reported and allowed in multi-master
  DIVERGED     rows (of this scenario's keys) and whole-table checksums that differ between the nodes that could be read after the scenario
  CONFLICTS    multi-master: acknowledged writes the conflict strategy discarded; - in primary-standby
  LINEAR       linearizable: porcupine's verdict on the keyed writes (and final reads) as registers: yes, no, ? (timed out), - (nothing to check)
  PGBENCH      PostgreSQL's pgbench through the VIP and HAProxy (kill and stop scenarios): failed transactions (+ unknown: in flight when its client aborted) and its longest gap between two commits, the path with the longest gap; its writes are in the history and checked for loss too
  DURATION     the scenario's wall time
  "-" means not measured in that scenario.

Details:
  failover-kill-site0 (failed):
    expected no lost writes
    seen 2 acknowledged writes missing on site1: c1-17, c1-18
    unexpected rows: 1 (present but never acknowledged: writes in flight at the fault)
    bucardo_recovery_s: 12.5
    RTO client after site-lost (writes via dns): 5.21s; budget 5.00s = client failover (5s × 1) OVER BUDGET
    the reconnect delay is 5 s, as the guide suggests for tests
  kill-site0 (passed):
    check lost: 0 of 5 acknowledged; not read: site0 [pass]
    check unknown: 1, 1 committed (seen after the fact), 0 not seen [allowed]
    check stale: no acknowledged reads [not-checked]
    check split-brain: 5ms in 1 interval (site0, site1) [allowed]
    check divergence: 1 node read, nothing to compare; not read: site0 [not-checked]
    check conflicts: 0 discarded (0 keys contended, bucardo_latest) [pass]
    RTO client after site-lost (writes via dns): 5.08s; budget 5.50s = client failover (5s × 1) + 500ms
    pgbench via vip 10.0.0.100:5444: 2 runs, 812 committed, 1 failed, 2 unknown, 0 connection failures; longest gap between commits 5.21s
    history: 6 operations, 1 events (raw in the JSON report)
  distribution (passed):
    share: site0 51.2%, site1 48.8%
  partition (skipped):
    needs a witness; this topology has none

Phases:
  render       40ms
  bring-up    42.3s
  total       1m23s

Differences from production:
  - sites are containers, not hosts; published ports are iptables redirects
  - Kwanza and Manatee are hagen probe stand-ins (HTTP, not gRPC)

3 passed, 1 failed, 1 skipped
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

// The last line is exactly "N passed, N failed" when nothing was skipped,
// so scripts can match it.
func TestWriteSummaryLastLine(t *testing.T) {
	r := &Report{Topology: "t", Scenarios: []Scenario{
		{Name: "a", Status: Passed}, {Name: "b", Status: Passed}, {Name: "c", Status: Failed, Failure: "x"},
	}}
	var b bytes.Buffer
	if err := WriteSummary(&b, r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if got := lines[len(lines)-1]; got != "2 passed, 1 failed" {
		t.Errorf("last line %q, want %q", got, "2 passed, 1 failed")
	}
	if p, f, s := r.Tally(); p != 2 || f != 1 || s != 0 {
		t.Errorf("Tally = %d, %d, %d; want 2, 1, 0", p, f, s)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestReportWritersReturnWriteErrors(t *testing.T) {
	for name, write := range map[string]func(*Report) error{
		"summary": func(r *Report) error { return WriteSummary(failingWriter{}, r) },
		"json":    func(r *Report) error { return WriteJSON(failingWriter{}, r) },
		"junit":   func(r *Report) error { return WriteJUnit(failingWriter{}, r) },
	} {
		if err := write(sampleReport()); err == nil {
			t.Errorf("%s: no error from a failing writer", name)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		ms   int64
		want string
	}{
		{0, "-"}, {1, "1ms"}, {999, "999ms"}, {1000, "1.00s"}, {3614, "3.61s"}, {42349, "42.3s"}, {125400, "2m05s"},
	} {
		if got := fmtMillis(tt.ms); got != tt.want {
			t.Errorf("fmtMillis(%d) = %q, want %q", tt.ms, got, tt.want)
		}
	}
}
