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

SCENARIO             RESULT   RTO    WRITE GAP  LAG    SWITCH  ACKED/LOST  DURATION
replication-0-to-1   passed   -      -          120ms  -       -           1.20s
failover-kill-site0  failed   5.21s  5.25s      -      -       412/2       35.0s
distribution         passed   -      -          -      -       -           4.10s
partition            skipped  -      -          -      -       -           -

Details:
  failover-kill-site0 (failed):
    expected no lost writes
    seen 2 acknowledged writes missing on site1: c1-17, c1-18
    unexpected rows: 1 (present but never acknowledged: writes in flight at the fault)
    bucardo_recovery_s: 12.5
    the reconnect delay is 5 s, as the guide suggests for tests
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

2 passed, 1 failed, 1 skipped
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
