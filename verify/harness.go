package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// harness makes and removes the run's deployments: the suites ask it for
// a fresh one at the start and whenever a reset to the steady state
// fails.
type harness struct {
	// mk returns a new, not yet started deployment.
	mk       func() *cluster
	progress func(format string, args ...any)
	phase    func(name string, t0 time.Time)

	// c is the current deployment (nil before the first bring-up and
	// after down); it is kept after a failed bring-up for its logs.
	c *cluster
	// bringUps counts them; failedInARow ends the retries.
	bringUps     int
	failedInARow int
	lastErr      error
}

// maxFailedBringUps is how many bring-ups may fail in a row before the
// remaining scenarios fail without another attempt.
const maxFailedBringUps = 2

// fresh removes the current deployment, if any, and brings up a new one
// with every site's compose services as the mode's RUNBOOK orders them
// (up is the suite's part after the shared networks and databases).
func (h *harness) fresh(ctx context.Context, up func(*cluster, context.Context) error) (*cluster, error) {
	if h.failedInARow >= maxFailedBringUps {
		return nil, fmt.Errorf("not attempted: the last %d bring-ups failed, the last with: %w", h.failedInARow, h.lastErr)
	}
	if err := h.down(ctx); err != nil {
		return nil, err
	}
	h.bringUps++
	name := "bring-up"
	if h.bringUps > 1 {
		name = fmt.Sprintf("bring-up %d (a fresh deployment)", h.bringUps)
	}
	h.progress("%s", name)
	t0 := time.Now()
	c := h.mk()
	h.c = c
	unlock, err := lockBringUp(ctx, h.progress)
	if err == nil {
		err = c.up(ctx)
		if err == nil && up != nil {
			err = up(c, ctx)
		}
		unlock()
	}
	h.phase(name, t0)
	if err != nil {
		h.failedInARow++
		h.lastErr = err
		if ctx.Err() == nil {
			if bad := c.containerStates(context.WithoutCancel(ctx), true); len(bad) > 0 {
				err = fmt.Errorf("%w; containers: %s", err, strings.Join(bad, "; "))
			}
		}
		return nil, fmt.Errorf("bring-up: %w", err)
	}
	h.failedInARow, h.lastErr = 0, nil
	return c, nil
}

// steady gets a suite the steady state: the first bring-up when it has
// no deployment, otherwise its reset, and a fresh bring-up when the reset
// fails. reset reports whether it changed anything; fresh is the suite's
// own bring-up (freshFor). notes receive what happened.
func (h *harness) steady(ctx context.Context, have bool, reset func(context.Context) (bool, error), fresh func(context.Context, *[]string) error, notes *[]string) error {
	if !have {
		return fresh(ctx, notes)
	}
	t0 := time.Now()
	changed, err := reset(ctx)
	if err == nil {
		if changed {
			*notes = append(*notes, fmt.Sprintf("reset to the steady state in %s", time.Since(t0).Round(time.Millisecond)))
		}
		return nil
	}
	*notes = append(*notes, fmt.Sprintf("the reset to the steady state failed (%v); a fresh bring-up", err))
	h.progress("reset failed: %v; bringing up a fresh deployment", err)
	return fresh(ctx, notes)
}

// freshNoted is fresh with the bring-up's time in notes.
func (h *harness) freshNoted(ctx context.Context, up func(*cluster, context.Context) error, notes *[]string) (*cluster, error) {
	t0 := time.Now()
	c, err := h.fresh(ctx, up)
	if err == nil {
		*notes = append(*notes, fmt.Sprintf("a fresh deployment (bring-up %s)", time.Since(t0).Round(time.Millisecond)))
	}
	return c, err
}

// down removes the current deployment.
// A deployment whose removal fails stays current, so that the next down
// (the run's final cleanup, with a fresh context) removes it.
func (h *harness) down(ctx context.Context) error {
	if h.c == nil {
		return nil
	}
	if err := h.c.down(ctx); err != nil {
		return err
	}
	h.c = nil
	return nil
}

// containerStates describes every container of the deployment: state,
// exit code, health, and for each one not running or not healthy the end
// of its log. onlyBad leaves out the running, healthy ones.
func (c *cluster) containerStates(ctx context.Context, onlyBad bool) []string {
	type ref struct{ name, id string }
	var refs []ref
	for _, s := range c.sites {
		if s.HostID != "" {
			refs = append(refs, ref{s.Inv.Name + "/host", s.HostID})
		}
		for _, name := range s.Started {
			refs = append(refs, ref{s.Inv.Name + "/" + name, s.Containers[name]})
		}
	}
	for _, r := range []ref{{"wan-router", c.routerID}, {"dns", c.dnsID}, {"clients", c.clientID}, {"witness", c.witnessID}} {
		if r.id != "" {
			refs = append(refs, r)
		}
	}
	var out []string
	for _, r := range refs {
		st, err := c.e.state(ctx, r.id)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", r.name, err))
			continue
		}
		health := ""
		if st.Health != nil {
			health = " " + string(st.Health.Status)
		}
		bad := !st.Running || st.Paused || (st.Health != nil && st.Health.Status != "healthy")
		if onlyBad && !bad {
			continue
		}
		line := fmt.Sprintf("%s %s%s", r.name, st.Status, health)
		if !st.Running {
			line += fmt.Sprintf(" (exit %d)", st.ExitCode)
		}
		if bad {
			line += ", log: " + c.e.tail(ctx, r.id, 8)
		}
		out = append(out, line)
	}
	return out
}

// serviceLogs are the ends of the logs of the named services on every
// site (all services when none are named), for a failure.
func (c *cluster) serviceLogs(ctx context.Context, lines int, services ...string) []string {
	var out []string
	for _, s := range c.sites {
		for _, name := range s.Started {
			if len(services) > 0 && !slices.Contains(services, name) {
				continue
			}
			out = append(out, fmt.Sprintf("%s/%s: %s", s.Inv.Name, name, c.e.tail(ctx, s.Containers[name], lines)))
		}
	}
	return out
}

// stoppedOrPaused lists the containers of a site that are not running or
// are frozen.
func (c *cluster) stoppedOrPaused(ctx context.Context, s *site) ([]string, error) {
	var out []string
	ids := []string{s.HostID}
	names := []string{"host"}
	for _, n := range s.Started {
		ids, names = append(ids, s.Containers[n]), append(names, n)
	}
	for i, id := range ids {
		st, err := c.e.state(ctx, id)
		if err != nil {
			return nil, err
		}
		if !st.Running || st.Paused {
			out = append(out, names[i])
		}
	}
	return out, nil
}

// resetSite brings every container of a site back to running: thaws a
// paused one, powers a stopped or killed site on again (restartSite) and
// removes partition rules.
func (c *cluster) resetSite(ctx context.Context, s *site) (bool, error) {
	bad, err := c.stoppedOrPaused(ctx, s)
	if err != nil {
		return false, err
	}
	changed := false
	if len(bad) > 0 {
		changed = true
		st, err := c.e.state(ctx, s.HostID)
		if err != nil {
			return true, err
		}
		switch {
		case st.Paused:
			if err := c.unpauseSite(ctx, s); err != nil {
				return true, err
			}
		case !st.Running:
			if err := c.restartSite(ctx, s); err != nil {
				return true, err
			}
		default:
			var errs []error
			for _, name := range s.Started {
				id := s.Containers[name]
				st, err := c.e.state(ctx, id)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if st.Paused {
					if _, err := c.e.cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{}); err != nil {
						errs = append(errs, err)
					}
				} else if !st.Running {
					if err := c.e.start(ctx, id); err != nil {
						errs = append(errs, fmt.Errorf("start %s/%s: %w", s.Inv.Name, name, err))
					}
				}
			}
			if err := errors.Join(errs...); err != nil {
				return true, err
			}
		}
	}
	// A partition leaves DROP rules in the filter table.
	out, err := c.e.mustExec(ctx, s.HostID, nil, "sh", "-ec", "iptables -S; ip6tables -S")
	if err != nil {
		return changed, err
	}
	if strings.Contains(out, "-j DROP") {
		changed = true
		if err := c.heal(ctx, s); err != nil {
			return true, err
		}
	}
	return changed, nil
}
