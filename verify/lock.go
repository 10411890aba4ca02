package verify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockNetworks serialises verify runs on one machine: the simulated
// networks use the spec's own subnets, and Docker refuses a second network
// with an overlapping subnet. The lock is held until unlock is called.
func lockNetworks(ctx context.Context, progress func(string, ...any)) (unlock func(), err error) {
	path := filepath.Join(os.TempDir(), "hagen-verify-networks.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("verify lock: %w", err)
	}
	waiting := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("verify lock %s: %w", path, err)
		}
		if !waiting {
			progress("waiting for another verify run on this machine (lock %s)", path)
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
