package verify

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hagen-ha/hagen/contract"

	"github.com/moby/moby/client"

	"github.com/hagen-ha/hagen/internal/treefile"
	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/schema"
	"github.com/hagen-ha/hagen/verify/image"
)

// dockerOrSkip returns a client when an engine answers; otherwise the test
// is skipped, or fails when HAGEN_REQUIRE_DOCKER=1.
func dockerOrSkip(t *testing.T) *client.Client {
	t.Helper()
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	cli, err := image.NewClient()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = image.Ping(ctx, cli)
		cancel()
	}
	if err != nil {
		if os.Getenv("HAGEN_REQUIRE_DOCKER") == "1" {
			t.Fatalf("HAGEN_REQUIRE_DOCKER=1 but no Docker engine answers: %v", err)
		}
		t.Skipf("no Docker engine answers (%v); set HAGEN_REQUIRE_DOCKER=1 to make this a failure", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// nodeImage builds (or finds) the node image, or skips when it cannot be
// built here.
func nodeImage(t *testing.T, cli *client.Client) string {
	t.Helper()
	res, err := image.Build(context.Background(), image.Options{Client: cli})
	if err != nil {
		if os.Getenv("HAGEN_REQUIRE_DOCKER") == "1" {
			t.Fatalf("node image: %v", err)
		}
		t.Skipf("node image cannot be built here: %v", err)
	}
	t.Logf("node image %s (present: %v, %s)", res.Tag, res.Skipped, res.Duration.Round(time.Millisecond))
	return res.Tag
}

func assertNothingLeft(t *testing.T, cli *client.Client, runID string) {
	t.Helper()
	left, err := Leftovers(context.Background(), cli, runID)
	if err != nil {
		t.Fatalf("list leftovers: %v", err)
	}
	if len(left) > 0 {
		t.Errorf("run %s left behind: %s", runID, strings.Join(left, "; "))
		_ = Cleanup(context.Background(), cli, runID)
	}
}

// TestWAN brings up the networks, router, site hosts and name server of
// dual-site and checks that the sites reach each other over the WAN by
// their rendered names, and that a published port is redirected.
func TestWAN(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs Docker")
	}
	cli := dockerOrSkip(t)
	img := nodeImage(t, cli)
	topo, _, err := schema.Load("../examples/dual-site.cue")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := render.Render(topo)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := treefile.Write(dir, tree); err != nil {
		t.Fatal(err)
	}
	inv, err := contract.ReadInventory(dir)
	if err != nil {
		t.Fatal(err)
	}
	runID := "test-wan-" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
	lans, _, err := planLANs(*inv)
	if err != nil {
		t.Fatal(err)
	}
	var subnets []netip.Prefix
	for _, l := range lans {
		subnets = append(subnets, l.Prefix)
	}
	unlock, err := lockNetworks(context.Background(), t.Logf, subnets...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock) // registered first: runs after the cleanup below
	c := &cluster{
		e: &engine{cli: cli, runID: runID}, inv: *inv, dir: dir, image: img,
		secrets: secrets{}, vols: map[string]bool{}, progress: t.Logf,
	}
	t.Cleanup(func() {
		if err := c.down(context.Background()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		assertNothingLeft(t, cli, runID)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lans, clients, err := planLANs(*inv)
	if err != nil {
		t.Fatal(err)
	}
	c.lans, c.clients = lans, clients
	for _, is := range inv.Sites {
		s := &site{Inv: is, Containers: map[string]string{}}
		s.Addr = mustAddr(t, is.Address)
		s.LAN = c.lanOf(s.Addr)
		p, err := loadCompose(ctx, filepath.Join(dir, is.Compose), inv.Name+"-"+is.Name, secrets{"POSTGRES_PASSWORD": "x"})
		if err != nil {
			t.Fatal(err)
		}
		s.Project = p
		s.Redirects = publishedPorts(p)
		c.sites = append(c.sites, s)
	}
	if err := c.createNetworks(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.startRouter(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range c.sites {
		if err := c.startSiteHost(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.startDNS(ctx); err != nil {
		t.Fatal(err)
	}
	s0, s1 := c.sites[0], c.sites[1]
	// A listener on site 1's port 5432 (the database's target port)...
	if _, err := c.e.mustExec(ctx, s1.HostID, nil, "sh", "-c", "nc -lk 5432 >/dev/null 2>&1 </dev/null &"); err != nil {
		t.Fatal(err)
	}
	// ...is reached from site 0 as 1.ha.test:5444, through DNS, the WAN
	// router and the published-port redirect.
	err = poll(ctx, "1.ha.test:5444 from site 0", func() error {
		_, err := c.e.mustExec(ctx, s0.HostID, nil, "nc", "-z", "-w", "2", s1.Inv.Host, "5444")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The service name postgres is this host.
	out, err := c.e.mustExec(ctx, s0.HostID, nil, "getent", "hosts", "postgres")
	if err != nil || !strings.HasPrefix(out, "127.0.0.1") {
		t.Errorf("postgres on the site host: %q, %v", out, err)
	}
}

// TestMatrixDualSite runs the whole multi-master-async matrix.
func TestMatrixDualSite(t *testing.T) {
	runMatrix(t, "../examples/dual-site.cue", os.Getenv("HAGEN_SCENARIO"), 20*time.Minute)
}

// TestMatrixTopologies runs the built-in topologies of `hagen init` that
// verify has a matrix for. To keep `make test` short it runs a reduced
// matrix for each: the steady-state checks, the kill of the primary with
// its zero-loss (or, asynchronous, accepted-loss) check and the rejoin,
// the partition from peer and witness, and the partial faults of the
// links between the nodes (VRRP and health blocked, lossy, slow); the
// full matrices of the same suites run on the examples above.
// dual-site-bucardo is the dual-site example's multi-master suite;
// primary-standby-patroni's suite (Patroni on etcd) runs reduced on the
// patroni example in TestMatrixPatroni.
func TestMatrixTopologies(t *testing.T) {
	for _, tc := range []struct{ name, scenarios string }{
		{"primary-standby-vip", "replication,steady-state,health-url,failover-kill,rejoin,partition-witness,health-and-vrrp-blocked,lossy-link,slow-link"},
		{"active-backup-haproxy", "replication,standby-down,steady-state,failover-kill,rejoin,partition-witness"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runMatrix(t, "../topologies/"+tc.name+".cue", tc.scenarios, 16*time.Minute)
		})
	}
}

// TestMatrixQuorum runs, on the quorum example (a primary, two standbys
// of which any one confirms each commit, three witnesses, TLS between the
// sites), the scenarios of what only it has: the quorum's commits with
// standbys down, TLS on every connection between the sites, and the
// witnesses' majority vote. The rest of its matrix is the same suite as
// the topologies above.
func TestMatrixQuorum(t *testing.T) {
	runMatrix(t, "../examples/quorum.cue", "quorum,tls,witnesses", 10*time.Minute)
}

// TestMatrixSpecFidelity proves on the examples two spec features of
// issue 11, each with a reduced matrix (about three minutes each):
// proxy-only sites (HAProxy and the VIP on hosts of their own, the
// RUNBOOK's manual promotion behind them) and a deployment on IPv6 only
// (VRRP version 3, ip6tables for the faults). The full matrices run with
// `hagen verify examples/proxy-hosts.cue` and `examples/ipv6.cue`.
func TestMatrixSpecFidelity(t *testing.T) {
	for _, tc := range []struct{ spec, scenarios string }{
		{"proxy-hosts", "steady-state,proxy-primary-kill,proxy-host-kill"},
		{"ipv6", "steady-state,failover-kill"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			runMatrix(t, "../examples/"+tc.spec+".cue", tc.scenarios, 10*time.Minute)
		})
	}
}

// TestMatrixPatroni runs a reduced Patroni matrix (manager: patroni) on
// the patroni example: the steady state, the kill of the primary (RTO,
// VIP move, zero loss) and Patroni's own rejoin of the old primary, the
// partition from peer and witness site, and the primary's isolation from
// etcd (self-demotion, split-brain window 0). `hagen verify
// examples/patroni.cue` runs the whole matrix.
func TestMatrixPatroni(t *testing.T) {
	runMatrix(t, "../examples/patroni.cue", "replication,steady-state,failover-kill,rejoin,partition-witness,primary-isolated-from-etcd", 10*time.Minute)
}

// TestDistributionWeighted runs the distribution scenario on the 66/33 spec.
func TestDistributionWeighted(t *testing.T) {
	runMatrix(t, "../examples/weighted.cue", "ha-distribution", 10*time.Minute)
}

// runMatrix runs spec's matrix (or the one scenario only) and requires
// every scenario the mode defines to have run and passed, and nothing
// labelled with the run to be left.
func runMatrix(t *testing.T, spec, only string, timeout time.Duration) {
	cli := dockerOrSkip(t)
	if testing.Short() {
		t.Skip("-short: the verify matrix takes minutes")
	}
	// Matrices on other subnets run side by side (go test's -parallel,
	// GOMAXPROCS by default); ones whose subnets could overlap take turns
	// on the verify lock.
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "hagen")
	build := exec.Command("go", "build", "-o", bin, "../cmd/hagen")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build hagen: %v\n%s", err, out)
	}
	// Unique among the matrices running side by side.
	runID := "test-" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "") + randomID("")[:5]
	// The deadline starts once the run holds the verify lock: a run of
	// another package or process ahead of it says nothing about this one.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var deadline *time.Timer
	defer func() {
		if deadline != nil {
			deadline.Stop()
		}
	}()
	rep, err := Run(ctx, Options{
		Spec: spec, Scenario: only, HagenBinary: bin, Client: cli, RunID: runID,
		Progress: testWriter{t},
		Locked:   func() { deadline = time.AfterFunc(timeout, cancel) },
	})
	assertNothingLeft(t, cli, runID)
	if err != nil {
		// The deadline or an engine failure: what ran is still reported
		// below with its notes (the logs at a failure), for the diagnosis.
		t.Error(err)
		if rep == nil {
			t.FailNow()
		}
	}
	for _, p := range rep.Phases {
		t.Logf("phase %-40s %s", p.Name, p.Duration.Round(time.Millisecond))
	}
	for _, d := range rep.Deviations {
		t.Logf("deviation: %s", d)
	}
	want := len(ScenarioNames(MatrixOf(rep.Mode, rep.Manager)))
	if only != "" {
		want = len(strings.Split(only, ","))
	}
	if len(rep.Scenarios) != want && err == nil {
		t.Fatalf("%d scenarios ran, expected %d", len(rep.Scenarios), want)
	}
	for _, s := range rep.Scenarios {
		if s.KnownLimit != "" && len(s.LimitChecks) > 0 {
			// A limit that shows in some runs only: a pass says nothing,
			// a failure must be the limit's checks and nothing else.
			if s.Status == Passed {
				t.Logf("scenario %s passed; its intermittent known limit (%s) did not show this run", s.Name, s.KnownLimit)
			} else if err := s.LimitExplains(); err != nil {
				t.Errorf("scenario %s %s beyond its intermittent known limit (%s): %v: %s", s.Name, s.Status, s.KnownLimit, err, s.Failure)
			} else {
				t.Logf("scenario %s failed, as its intermittent known limit says (%s): %s", s.Name, s.KnownLimit, s.Failure)
			}
			continue
		}
		if s.KnownLimit != "" {
			// The scenario shows a limit of the rendered design: it must
			// fail, and once the design changes it passes and this
			// test asks for the limit to go.
			if s.Status == Passed {
				t.Errorf("scenario %s passed although it names a known limit of the design (%s): the limit is gone, remove it", s.Name, s.KnownLimit)
			} else {
				t.Logf("scenario %s %s, as its known limit says (%s): %s", s.Name, s.Status, s.KnownLimit, s.Failure)
			}
			continue
		}
		switch s.Status {
		case Failed:
			t.Errorf("scenario %s failed: %s", s.Name, s.Failure)
		case Skipped:
			if strings.HasPrefix(s.Failure, "not applicable: ") {
				// The scenario measures something the topology does not
				// have (scenario_test.go tests each reason).
				t.Logf("scenario %s: %s", s.Name, s.Failure)
				break
			}
			t.Errorf("scenario %s skipped: %s", s.Name, s.Failure)
		default:
			t.Logf("scenario %s passed in %s: %+v", s.Name, s.Duration.Round(time.Millisecond), s.Metrics)
		}
		for _, n := range s.Notes {
			t.Logf("  %s: %s", s.Name, n)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
