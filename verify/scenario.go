package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/verify/history"
)

// need is the state of the deployment a scenario starts from. The suite
// of the database mode gets it before the scenario runs: a fresh
// bring-up, a reset to the steady state, or a fault the scenario
// observes the aftermath of.
type need int

const (
	// needSteady: every site up, replication healthy, no fault in place.
	needSteady need = iota
	// needPrimaryKilled (primary-standby): the primary's node was killed
	// while clients wrote, and it is still down; the suite keeps what
	// that kill measured.
	needPrimaryKilled
	// needSiteKilled (multi-master): a site an HA client wrote to was
	// killed and is still down; the suite keeps the client's
	// acknowledged writes.
	needSiteKilled
	// needOutageSeen (multi-master): a long outage of the Bucardo site's
	// peer ran and what the monitoring read during it is kept.
	needOutageSeen
)

func (n need) String() string {
	return [...]string{"steady state", "primary killed", "site killed", "long outage observed"}[n]
}

// scenario is one named test of a topology's matrix.
type scenario struct {
	name string
	desc string
	// needs is the state the scenario starts from.
	needs need
	// run measures into m and returns nil on success; errSkip-wrapped
	// errors mark the scenario skipped with the reason.
	run     func(ctx context.Context, m *Metrics, notes *[]string) error
	timeout time.Duration
	// applies, when set, says why the scenario does not apply to a
	// topology ("" when it does): it is then reported skipped with that
	// reason, without a deployment.
	applies func(inv *contract.Inventory) string
	// limit, when set, names a limit of the rendered design that makes
	// the scenario fail on this topology ("" when none): the scenario
	// still runs and fails, and its result says which limit it shows.
	limit func(inv *contract.Inventory) string
	// intermittent, when set with a limit, says that the limit shows in
	// some runs only, and only as violations of these evidence checks
	// (history result names: "stale", "linearizable"): a run may pass;
	// a failure for any other reason is still a failure.
	intermittent []string
}

// suite is the matrix of one database mode with its typed state: the
// running deployment and what one scenario leaves for the ones that need
// it. A suite brings the deployment up itself and replaces it by a fresh
// one when a reset fails.
type suite interface {
	scenarios() []scenario
	// prepare gets the state n: it brings the deployment up when there is
	// none, resets it when a scenario left it elsewhere and brings it up
	// afresh when the reset fails. notes receive what it did.
	prepare(ctx context.Context, n need, notes *[]string) error
	// logs are the ends of the relevant containers' logs, for a failure.
	logs(ctx context.Context) []string
	// deployment is the deployment the scenarios run on now (nil before
	// the first bring-up or after a failed one); it keeps the evidence of
	// the scenario that is running.
	deployment() *cluster
}

// errSkip marks a scenario as skipped; the wrapped text is the reason.
var errSkip = errors.New("skipped")

func skip(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errSkip, fmt.Sprintf(format, args...))
}

// errSetup marks a failure to reach a scenario's starting state.
var errSetup = errors.New("setup")

// MatrixPatroni names the matrix of primary-standby with Patroni managing
// failover (database.streaming.manager: patroni): the database mode is
// the same, the failover design is not.
const MatrixPatroni = "primary-standby/patroni"

// MatrixOf is the name of the matrix verify runs for a database mode and
// failover manager: the mode, or MatrixPatroni.
func MatrixOf(mode, manager string) string {
	if mode == "primary-standby" && manager == "patroni" {
		return MatrixPatroni
	}
	return mode
}

// suiteFor returns the suite of a matrix (MatrixOf); h makes and removes
// deployments. Nil for a matrix verify does not have.
func suiteFor(matrix string, h *harness) suite {
	switch matrix {
	case "multi-master-async":
		return &bucardoSuite{h: h}
	case "primary-standby":
		return &streamingSuite{h: h}
	case MatrixPatroni:
		return &patroniSuite{streamingSuite: streamingSuite{h: h}}
	}
	return nil
}

// scenarioList is the scenarios of a matrix, without a deployment.
func scenarioList(mode string) []scenario {
	if s := suiteFor(mode, nil); s != nil {
		return s.scenarios()
	}
	return nil
}

// scenarioTimeout is a scenario's own deadline, setup excluded.
func scenarioTimeout(sc scenario) time.Duration {
	if sc.timeout == 0 {
		return 2 * time.Minute
	}
	return sc.timeout
}

// runScenario gets the scenario's state from the suite and runs it. A
// failure carries the ends of the relevant containers' logs in the notes.
func runScenario(ctx context.Context, su suite, sc scenario, inv *contract.Inventory) Scenario {
	t0 := time.Now()
	res := Scenario{Name: sc.name, Description: sc.desc}
	if sc.limit != nil {
		res.KnownLimit = sc.limit(inv)
		if res.KnownLimit != "" {
			res.LimitChecks = sc.intermittent
		}
	}
	if why := notApplicable(sc, inv); why != "" {
		res.Status, res.Failure = Skipped, why
		return res
	}
	var c *cluster
	err := su.prepare(ctx, sc.needs, &res.Notes)
	if err != nil {
		err = fmt.Errorf("%w: could not reach the scenario's starting state (%s): %w", errSetup, sc.needs, err)
	} else {
		// The history records the scenario itself, not its setup.
		if c = su.deployment(); c != nil {
			c.beginEvidence(sc.name)
		}
		sctx, cancel := context.WithTimeout(ctx, scenarioTimeout(sc))
		err = sc.run(sctx, &res.Metrics, &res.Notes)
		cancel()
	}
	res.Duration = time.Since(t0)
	switch {
	case err == nil:
		res.Status = Passed
	case errors.Is(err, errSkip):
		res.Status = Skipped
		res.Failure = err.Error()
	default:
		res.Status = Failed
		res.Failure = err.Error()
		if ctx.Err() == nil {
			for _, l := range su.logs(context.WithoutCancel(ctx)) {
				res.Notes = append(res.Notes, "log at the failure: "+l)
			}
		}
	}
	if c != nil {
		c.endEvidence(ctx, &res)
	}
	return res
}

// notApplicable is the reason a scenario does not apply to the topology,
// or "".
func notApplicable(sc scenario, inv *contract.Inventory) string {
	if sc.applies == nil {
		return ""
	}
	if why := sc.applies(inv); why != "" {
		return "not applicable: " + why
	}
	return ""
}

// selectScenarios returns the scenarios to run, in the matrix's order:
// all, or those named (comma-separated).
func selectScenarios(su suite, mode, only string) ([]scenario, error) {
	if su == nil {
		return nil, nil
	}
	all := su.scenarios()
	if only == "" {
		return all, nil
	}
	var out []scenario
	for _, name := range strings.Split(only, ",") {
		name = strings.TrimSpace(name)
		if !slices.ContainsFunc(all, func(s scenario) bool { return s.name == name }) {
			return nil, fmt.Errorf("no scenario %q for mode %s (have: %s)", name, mode, strings.Join(ScenarioNames(mode), ", "))
		}
	}
	for _, s := range all {
		if slices.Contains(strings.Split(strings.ReplaceAll(only, " ", ""), ","), s.name) {
			out = append(out, s)
		}
	}
	return out, nil
}

// LimitExplains returns nil when the scenario's failure is its known
// limit: for an intermittent limit (LimitChecks), a failure of the
// evidence alone whose every violation is of a check the limit names, no
// RTO over its budget included.
func (s Scenario) LimitExplains() error {
	if s.KnownLimit == "" || len(s.LimitChecks) == 0 {
		return errors.New("no intermittent known limit")
	}
	if s.Status != Failed {
		return fmt.Errorf("status %s", s.Status)
	}
	if !strings.HasPrefix(s.Failure, evidenceFailure) || s.Checks == nil {
		return errors.New("it failed for a reason other than the evidence, which the limit does not name")
	}
	for _, x := range s.Checks.List() {
		if v := x.Verdict(); (v == history.Violation || v == history.Inconclusive) && !slices.Contains(s.LimitChecks, x.Name()) {
			return fmt.Errorf("the check %s failed (%s), which the limit does not name", x.Name(), x.Summary())
		}
	}
	for _, r := range s.RTO {
		if r.Exceeded() {
			return fmt.Errorf("the RTO of %s after %s is over its budget, which the limit does not name", r.Path, r.Fault)
		}
	}
	return nil
}
