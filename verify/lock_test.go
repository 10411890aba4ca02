package verify

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLockKeys(t *testing.T) {
	got := lockKeys([]netip.Prefix{
		netip.MustParsePrefix("10.232.1.0/24"),
		netip.MustParsePrefix("10.232.0.0/24"),
		netip.MustParsePrefix("10.231.0.0/24"),
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("2001:db8:232::/64"),
	})
	want := []string{"10.0.0.0_8", "10.231.0.0_16", "10.232.0.0_16", "2001-db8-232--_48"}
	if !slices.Equal(got, want) {
		t.Errorf("lockKeys = %q, want %q", got, want)
	}
}

// Two runs whose subnets share a block wait for each other; a run in
// another block does not.
func TestLockNetworksByBlock(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	a := netip.MustParsePrefix("10.232.0.0/24")
	unlock, err := lockNetworks(context.Background(), t.Logf, a)
	if err != nil {
		t.Fatal(err)
	}
	other, err := lockNetworks(context.Background(), t.Logf, netip.MustParsePrefix("10.231.0.0/24"))
	if err != nil {
		t.Fatalf("another block: %v", err)
	}
	other()
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	if u, err := lockNetworks(ctx, t.Logf, netip.MustParsePrefix("10.232.1.0/24")); err == nil {
		u()
		t.Fatal("a second run in the same block got the lock while the first held it")
	}
	unlock()
	u, err := lockNetworks(context.Background(), t.Logf, netip.MustParsePrefix("10.232.1.0/24"))
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	u()
}

// One bring-up at a time on the machine, whatever the runs' networks: a
// second waits, saying what for, until the first is done.
func TestLockBringUpOneAtATime(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	unlock, err := lockBringUp(context.Background(), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	progress := func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	if u, err := lockBringUp(ctx, progress); err == nil {
		u()
		t.Fatal("a second bring-up got the lock while the first held it")
	}
	if len(said) != 1 || !strings.Contains(said[0], "another verify run's bring-up") {
		t.Errorf("the waiting run said %q", said)
	}
	unlock()
	u, err := lockBringUp(context.Background(), t.Logf)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	u()
}
