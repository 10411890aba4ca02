package verify

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMatrixPrimaryStandby runs the whole primary-standby matrix (issue 4)
// on examples/primary-standby.cue: every scenario must pass and nothing
// labelled with the run may be left behind.
func TestMatrixPrimaryStandby(t *testing.T) {
	cli := dockerOrSkip(t)
	if testing.Short() {
		t.Skip("-short: the verify matrix takes minutes")
	}
	bin := filepath.Join(t.TempDir(), "hagen")
	build := exec.Command("go", "build", "-o", bin, "../cmd/hagen")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build hagen: %v\n%s", err, out)
	}
	runID := "test-ps-" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Options{
		Spec: "../examples/primary-standby.cue", Scenario: os.Getenv("HAGEN_SCENARIO"),
		HagenBinary: bin, Client: cli, RunID: runID, Progress: testWriter{t},
	})
	assertNothingLeft(t, cli, runID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Phases {
		t.Logf("phase %-40s %s", p.Name, p.Duration.Round(time.Millisecond))
	}
	for _, d := range rep.Deviations {
		t.Logf("deviation: %s", d)
	}
	if want := len(streamingScenarios()); os.Getenv("HAGEN_SCENARIO") == "" && len(rep.Scenarios) != want {
		t.Fatalf("%d scenarios ran, expected %d", len(rep.Scenarios), want)
	}
	for _, s := range rep.Scenarios {
		switch s.Status {
		case Failed:
			t.Errorf("scenario %s failed: %s", s.Name, s.Failure)
		case Skipped:
			t.Errorf("scenario %s skipped: %s", s.Name, s.Failure)
		default:
			t.Logf("scenario %s passed in %s: %+v", s.Name, s.Duration.Round(time.Millisecond), s.Metrics)
		}
		for _, n := range s.Notes {
			t.Logf("  %s: %s", s.Name, n)
		}
	}
}
