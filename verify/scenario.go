package verify

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// scenario is one named test of a topology's matrix.
type scenario struct {
	name string
	desc string
	// run measures into m and returns nil on success; errSkip-wrapped
	// errors mark the scenario skipped with the reason.
	run     func(ctx context.Context, c *cluster, m *Metrics, notes *[]string) error
	timeout time.Duration
}

// errSkip marks a scenario as skipped; the wrapped text is the reason.
var errSkip = errors.New("skipped")

func skip(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errSkip, fmt.Sprintf(format, args...))
}

func scenariosFor(mode string) []scenario {
	switch mode {
	case "multi-master-async":
		return bucardoScenarios()
	case "primary-standby":
		return streamingScenarios()
	}
	return nil
}

func runScenario(ctx context.Context, c *cluster, sc scenario) Scenario {
	t0 := time.Now()
	res := Scenario{Name: sc.name, Description: sc.desc}
	timeout := sc.timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c.beginEvidence(sc.name)
	err := sc.run(sctx, c, &res.Metrics, &res.Notes)
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
	}
	c.endEvidence(ctx, &res)
	return res
}
