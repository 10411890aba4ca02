package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hagen-ha/hagen/schema"
	"github.com/hagen-ha/hagen/verify"
)

func init() { extraCommands = append(extraCommands, verifyCmd()) }

func verifyCmd() *command {
	return &command{
		name:     "verify",
		summary:  "bring the rendered deployment up in containers and prove failover",
		usage:    "[--scenario NAME] [--junit FILE] [--json FILE] [--html FILE] [--markdown FILE] [--keep] [--timeout 45m] SPEC",
		helpFunc: func() string { return verifyHelp + scenarioList() + verifyExamples },
		run:      runVerify,
	}
}

const verifyHelp = `
Verify renders SPEC into a temporary tree, builds the node image when it is
missing, and brings the rendered deployment up in Docker: one container per
site host owning the site's address, the site's compose services in its
network namespace, a router between the site LANs, and a BIND server with
the rendered client zone. It then runs the scenarios of the topology's
matrix (replication both ways, direct and HA clients, failover, return of
a killed site, partitions, conflicts, monitoring) and prints a summary
with each scenario's result and figures, and every way the test deployment
differs from the rendered production files.

Every client operation of a scenario is recorded into a history (invoke,
completion, outcome ok/failed/unknown, the route taken, the node that
answered), and checked after the scenario against what each node then
holds: acknowledged writes lost, writes of unknown outcome (and how many
committed), stale reads, the split-brain window, divergence between the
nodes, multi-master conflicts and linearizability (porcupine). A
violation fails the scenario, and so does a measured write RTO over the
budget inventory.json renders for its failover path. --json keeps the
raw histories; --html writes a self-contained page with each scenario's
timeline, --markdown a summary for a CI job.

Everything verify creates carries the label dev.hagen.run=<id> and is
removed afterwards, also after a failure, the timeout or Ctrl-C; --keep
leaves it up and prints the commands that remove it. A run first removes
what earlier runs killed on this machine left behind (SIGKILL, a crash):
by label, only of runs whose process is gone, never a --keep run's.

Exit codes: 0 every scenario passed (or was skipped), 4 a scenario failed,
2 the harness could not run (spec, render, Docker), 1 usage.

Each scenario starts from the state it needs (the steady state, or the
fault another scenario leaves): verify brings it about, resets the
deployment between scenarios and brings up a fresh one when a reset
fails, so any scenario runs alone and a failed one does not fail the next.

Scenarios (--scenario NAME), by database mode:
`

const verifyExamples = `
Examples:
  hagen verify examples/dual-site.cue
  hagen verify --scenario replication-0-to-1 --keep examples/dual-site.cue
  hagen verify --junit verify.xml --json verify.json examples/primary-standby.cue
  hagen verify --html verify.html --markdown "$GITHUB_STEP_SUMMARY" examples/primary-standby.cue`

func runVerify(c *command, e *env, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	scenario := fs.String("scenario", "", "run only the scenario `NAME` (or NAME,NAME,...), each from the state it needs")
	junit := fs.String("junit", "", "write a JUnit XML report to `FILE`")
	jsonOut := fs.String("json", "", "write a JSON report (with the raw histories) to `FILE`")
	htmlOut := fs.String("html", "", "write the scenarios' timelines as one self-contained HTML page to `FILE`")
	mdOut := fs.String("markdown", "", "write a Markdown summary (for a CI job summary) to `FILE`")
	keep := fs.Bool("keep", false, "leave containers, networks and volumes up for debugging")
	timeout := fs.Duration("timeout", 45*time.Minute, "give up after this `duration` (the wait for another run's lock included)")
	pos, code, ok := parse(e, c, fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageErr(e, c, "want exactly one spec file, got %d arguments", len(pos))
	}
	if _, code, ok := loadSpec(e, pos[0]); !ok {
		return code
	}
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintf(e.stderr, "hagen verify: %v\n", err)
		return ExitInvalid
	}
	ctx, cancel := context.WithTimeout(e.ctx, *timeout)
	defer cancel()
	progress := verify.NewProgress(e.stderr)
	rep, err := verify.Run(ctx, verify.Options{
		Spec: pos[0], Scenario: *scenario, Keep: *keep, HagenBinary: bin, Progress: progress,
	})
	progress.Done()
	if rep != nil {
		if werr := verify.WriteSummary(e.stdout, rep); werr != nil {
			err = errors.Join(err, werr)
		}
		for _, out := range []struct {
			file  string
			write func(io.Writer, *verify.Report) error
		}{{*jsonOut, verify.WriteJSON}, {*junit, verify.WriteJUnit}, {*htmlOut, verify.WriteHTML}, {*mdOut, verify.WriteMarkdown}} {
			if out.file == "" {
				continue
			}
			if werr := writeReportFile(out.file, rep, out.write); werr != nil {
				err = errors.Join(err, fmt.Errorf("write report: %w", werr))
			}
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "hagen verify: %v\n", err)
		return ExitInvalid
	}
	if rep.Failed() {
		return ExitScenario
	}
	return ExitOK
}

func writeReportFile(file string, rep *verify.Report, write func(io.Writer, *verify.Report) error) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := write(f, rep); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// scenarioList is the help text's list of scenario names per mode.
func scenarioList() string {
	var b strings.Builder
	for _, mode := range []string{schema.MultiMasterAsync, schema.PrimaryStandby, verify.MatrixPatroni} {
		fmt.Fprintf(&b, "  %s:\n", mode)
		names := verify.ScenarioNames(mode)
		line := "   "
		for _, n := range names {
			if len(line)+len(n) > 74 {
				b.WriteString(line + "\n")
				line = "   "
			}
			line += " " + n
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}
