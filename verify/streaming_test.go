package verify

import (
	"os"
	"testing"
	"time"
)

// TestMatrixPrimaryStandby runs the whole primary-standby matrix (issue 4)
// on examples/primary-standby.cue: every scenario must pass and nothing
// labelled with the run may be left behind. HAGEN_SCENARIO runs one.
func TestMatrixPrimaryStandby(t *testing.T) {
	runMatrix(t, "../examples/primary-standby.cue", os.Getenv("HAGEN_SCENARIO"), 12*time.Minute)
}
