package verify

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// A container that wants an address someone holds fails to start with an
// error naming the address and the holder (here the Docker bridge, which
// owns the network's gateway address).
func TestStartNamesWhoHoldsAnAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs Docker")
	}
	cli := dockerOrSkip(t)
	img := nodeImage(t, cli)
	unlock, err := lockNetworks(context.Background(), t.Logf, netip.MustParsePrefix("172.30.252.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runID := "test-addr-" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
	gw := netip.MustParseAddr("172.30.252.1")
	l := &lan{Prefix: netip.MustParsePrefix("172.30.252.0/24"), Gateway: gw}
	c := &cluster{e: &engine{cli: cli, runID: runID}, lans: []*lan{l}, image: img, progress: t.Logf}
	t.Cleanup(func() {
		if err := c.down(context.Background()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		assertNothingLeft(t, cli, runID)
	})
	if err := c.createNetworks(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := c.create(ctx, node{Name: c.name("witness"), Image: img, Entrypoint: sleeper, Init: true, LAN: l, IP: gw})
	if err != nil {
		t.Fatal(err)
	}
	err = c.start(ctx, id)
	if err == nil {
		t.Fatal("a container started on the gateway's address")
	}
	for _, want := range []string{"172.30.252.1", "172.30.252.0/24", "gateway of Docker network " + l.Name} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q: %v", want, err)
		}
	}
}
