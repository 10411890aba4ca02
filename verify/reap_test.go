package verify

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

func TestFindStaleOnlyRunsWhoseProcessIsGone(t *testing.T) {
	host := hostname()
	// A process that has ended.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	gone := ownerID(host, cmd.Process.Pid)
	alive := ownerID(host, os.Getpid())
	reused := fmt.Sprintf("%s/%d/%s", host, os.Getpid(), "1") // this pid, an earlier process
	obj := func(kind, name, run, owner string, extra ...string) object {
		l := map[string]string{LabelRun: run}
		if owner != "" {
			l[labelOwner] = owner
		}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return object{Kind: kind, ID: name, Name: name, Labels: l}
	}
	objs := []object{
		obj("container", "a-db", "a", gone),
		obj("network", "a-net", "a", gone),
		obj("volume", "a-vol", "a", gone),
		obj("container", "b-db", "b", alive),
		obj("container", "c-db", "c", reused),
		obj("container", "d-db", "d", "other-machine/1/1"),
		obj("container", "e-db", "e", gone, labelKeep, "true"),
		obj("container", "f-db", "f", ""), // made by a hagen without owner labels
	}
	got := findStale(objs, LabelRun, host)
	var runs []string
	for _, s := range got {
		runs = append(runs, s.RunID)
	}
	if want := []string{"a", "c"}; !reflect.DeepEqual(runs, want) {
		t.Fatalf("stale runs = %v, want %v", runs, want)
	}
	if len(got[0].Objs) != 3 || got[0].Owner != gone {
		t.Errorf("run a: %+v, want its container, network and volume, owner %s", got[0], gone)
	}
}

func TestProcStartReadsThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if procStart(os.Getpid()) == "" {
		t.Fatal("procStart of this process is empty")
	}
	if ownerGone(ownerID(hostname(), os.Getpid()), hostname()) {
		t.Fatal("this process counts as gone")
	}
}

// A killed run's network holds the subnet the next run needs: the next
// run removes it (and the run's other objects), says so, and creates its
// own. A network that is not hagen's is named in the error instead.
func TestCreateNetworksReapsAKilledRun(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs Docker")
	}
	cli := dockerOrSkip(t)
	unlock, err := lockNetworks(context.Background(), t.Logf, netip.MustParsePrefix("172.30.251.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prefix := netip.MustParsePrefix("172.30.251.0/24")
	stamp := strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")

	// The killed run: a process that has ended.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	staleRun := "test-stale-" + stamp
	staleLabels := map[string]string{LabelRun: staleRun, labelOwner: ownerID(hostname(), cmd.Process.Pid)}
	t.Cleanup(func() { _ = Cleanup(context.Background(), cli, staleRun) })
	if _, err := cli.NetworkCreate(ctx, "hagen-"+staleRun+"-net", client.NetworkCreateOptions{
		Driver: "bridge", Labels: staleLabels,
		IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: prefix}}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: "hagen-" + staleRun + "-vol", Labels: staleLabels}); err != nil {
		t.Fatal(err)
	}

	newCluster := func(runID string, progress *strings.Builder) *cluster {
		c := &cluster{
			e:    &engine{cli: cli, runID: runID},
			lans: []*lan{{Prefix: prefix, Gateway: netip.MustParseAddr("172.30.251.1")}},
			progress: func(format string, args ...any) {
				fmt.Fprintf(progress, format+"\n", args...)
			},
		}
		t.Cleanup(func() {
			if err := c.down(context.Background()); err != nil {
				t.Errorf("cleanup: %v", err)
			}
			assertNothingLeft(t, cli, runID)
		})
		return c
	}
	var progress strings.Builder
	c := newCluster("test-reap-"+stamp, &progress)
	if err := c.createNetworks(ctx); err != nil {
		t.Fatalf("createNetworks beside a killed run's network: %v", err)
	}
	if !strings.Contains(progress.String(), "removing what an earlier run ("+LabelRun+"="+staleRun) {
		t.Errorf("progress does not report the removal:\n%s", progress.String())
	}
	if left, err := Leftovers(ctx, cli, staleRun); err != nil || len(left) > 0 {
		t.Errorf("the killed run's objects are still there: %v %v", left, err)
	}
	if err := c.down(ctx); err != nil {
		t.Fatal(err)
	}

	// Not hagen's: named in the error, left alone.
	foreign := "hagen-test-foreign-" + stamp
	res, err := cli.NetworkCreate(ctx, foreign, client.NetworkCreateOptions{
		Driver: "bridge", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: prefix}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = cli.NetworkRemove(context.Background(), res.ID, client.NetworkRemoveOptions{}) })
	c2 := newCluster("test-clash-"+stamp, &progress)
	err = c2.createNetworks(ctx)
	if err == nil {
		t.Fatal("createNetworks succeeded on a subnet another network holds")
	}
	for _, want := range []string{prefix.String(), `"` + foreign + `"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	if _, err := cli.NetworkInspect(ctx, res.ID, client.NetworkInspectOptions{}); err != nil {
		t.Errorf("the foreign network was touched: %v", err)
	}
}
