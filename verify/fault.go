package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/moby/client"
)

// Fault primitives, reusable by every topology's scenarios.

// killSite is a power loss: SIGKILL to every container of the site, its
// services and then the site host.
func (c *cluster) killSite(ctx context.Context, s *site) error {
	return c.killSiteAs(ctx, s, "kill")
}

// killSiteAs is killSite recorded in the history as the fault what.
func (c *cluster) killSiteAs(ctx context.Context, s *site, what string) error {
	defer c.faultBegins(s.Inv.Name, what)()
	var errs []error
	for _, name := range slices.Backward(s.Started) {
		if err := c.e.kill(ctx, s.Containers[name], "KILL"); err != nil && !notRunning(err) {
			errs = append(errs, fmt.Errorf("kill %s/%s: %w", s.Inv.Name, name, err))
		}
	}
	if err := c.e.kill(ctx, s.HostID, "KILL"); err != nil && !notRunning(err) {
		errs = append(errs, fmt.Errorf("kill %s host: %w", s.Inv.Name, err))
	}
	return errors.Join(errs...)
}

// stopSite shuts the site down gracefully (SIGTERM, then the grace period).
func (c *cluster) stopSite(ctx context.Context, s *site) error {
	defer c.faultBegins(s.Inv.Name, "stop")()
	var errs []error
	for _, name := range slices.Backward(s.Started) {
		if _, err := c.e.cli.ContainerStop(ctx, s.Containers[name], client.ContainerStopOptions{}); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := c.e.cli.ContainerStop(ctx, s.HostID, client.ContainerStopOptions{}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// pauseSite freezes every container of the site; unpauseSite thaws them.
func (c *cluster) pauseSite(ctx context.Context, s *site) error {
	defer c.faultBegins(s.Inv.Name, "pause")()
	for _, name := range s.Started {
		if _, err := c.e.cli.ContainerPause(ctx, s.Containers[name], client.ContainerPauseOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func (c *cluster) unpauseSite(ctx context.Context, s *site) error {
	c.faultEnds(s.Inv.Name, "unpause")
	for _, name := range s.Started {
		if _, err := c.e.cli.ContainerUnpause(ctx, s.Containers[name], client.ContainerUnpauseOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// killProcess sends a signal to the processes named name inside one
// service container.
func (c *cluster) killProcess(ctx context.Context, s *site, service, name, signal string) error {
	_, err := c.e.mustExec(ctx, s.Containers[service], nil, "pkill", "-"+signal, "-x", name)
	return err
}

// restartSite powers a killed or stopped site on again: the site host
// with its routes and redirects, then its services in the order they
// were started, the database healthy before the rest.
func (c *cluster) restartSite(ctx context.Context, s *site) error {
	c.faultEnds(s.Inv.Name, "restart")
	if err := c.bootSiteHost(ctx, s); err != nil {
		return fmt.Errorf("restart %s host: %w", s.Inv.Name, err)
	}
	for _, name := range s.Started {
		id := s.Containers[name]
		if err := c.start(ctx, id); err != nil {
			return fmt.Errorf("restart %s/%s: %w", s.Inv.Name, name, err)
		}
		if name == c.inv.Database.Service {
			if err := c.waitDatabase(ctx, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// partition cuts the site off the WAN: DROP rules in the site host's
// namespace against every other site's LAN (both directions), so that the
// site's services keep running and its clients network stays reachable.
func (c *cluster) partition(ctx context.Context, s *site) error {
	defer c.faultBegins(s.Inv.Name, "partition")()
	for _, o := range c.sites {
		if o.LAN == s.LAN {
			continue
		}
		for _, rule := range [][]string{
			{iptables(o.LAN.Prefix.String()), "-I", "INPUT", "-s", o.LAN.Prefix.String(), "-j", "DROP"},
			{iptables(o.LAN.Prefix.String()), "-I", "OUTPUT", "-d", o.LAN.Prefix.String(), "-j", "DROP"},
		} {
			if _, err := c.e.mustExec(ctx, s.HostID, nil, rule...); err != nil {
				return fmt.Errorf("partition %s: %w", s.Inv.Name, err)
			}
		}
	}
	return nil
}

// heal removes the partition rules (the filter table only; the nat
// redirects stay).
func (c *cluster) heal(ctx context.Context, s *site) error {
	c.faultEnds(s.Inv.Name, "heal")
	_, err := c.e.mustExec(ctx, s.HostID, nil, "sh", "-ec", "iptables -F; ip6tables -F")
	return err
}

func notRunning(err error) bool {
	return err != nil && (containsAny(err.Error(), "is not running", "No such container"))
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
