package verify

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// lockNetworks serialises the verify runs on one machine whose simulated
// networks could overlap: the networks use the spec's own subnets, and
// Docker refuses a second network with an overlapping subnet. A run locks
// the block around each of its subnets (an IPv4 /16, an IPv6 /48), in
// one order, so runs of specs in other blocks go on at the same time and
// no two runs wait for each other's locks. The locks are held until
// unlock is called.
func lockNetworks(ctx context.Context, progress func(string, ...any), subnets ...netip.Prefix) (unlock func(), err error) {
	var held []*os.File
	unlock = func() {
		for _, f := range slices.Backward(held) {
			f.Close()
		}
	}
	for _, key := range lockKeys(subnets) {
		f, err := lockFile(ctx, progress, filepath.Join(os.TempDir(), "hagen-verify-net-"+key+".lock"),
			"another verify run on this machine whose networks could overlap these")
		if err != nil {
			unlock()
			return nil, err
		}
		held = append(held, f)
	}
	return unlock, nil
}

// lockKeys are the sorted, distinct blocks around subnets, as file name
// parts.
func lockKeys(subnets []netip.Prefix) []string {
	var keys []string
	for _, p := range subnets {
		bits := 16
		if p.Addr().Is6() {
			bits = 48
		}
		if p.Bits() < bits {
			bits = p.Bits()
		}
		b, err := p.Addr().Prefix(bits)
		if err != nil {
			continue
		}
		keys = append(keys, strings.NewReplacer("/", "_", ":", "-").Replace(b.String()))
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// lockFile takes an exclusive flock on path, waiting until it is free or
// ctx ends.
func lockFile(ctx context.Context, progress func(string, ...any), path, holder string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("verify lock: %w", err)
	}
	waiting := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("verify lock %s: %w", path, err)
		}
		if !waiting {
			progress("waiting for %s (lock %s)", holder, path)
			waiting = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// lockBringUp lets one bring-up at a time run on this machine, across
// every verify run (other processes included). A bring-up starts a dozen
// containers and initialises and clones databases: the heaviest stretch
// of a run. Two at once starve the deployments already up on a 2-core
// machine, whose track scripts then time out and fail over for no fault
// of the design (seen: a primary in FAULT, two writable primaries, no
// VIP within a minute). The wait counts in the bring-up phase's time.
func lockBringUp(ctx context.Context, progress func(string, ...any)) (unlock func(), err error) {
	f, err := lockFile(ctx, progress, filepath.Join(os.TempDir(), "hagen-verify-bring-up.lock"),
		"another verify run's bring-up on this machine")
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}
