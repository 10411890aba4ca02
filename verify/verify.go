// Package verify brings a rendered deployment up in containers and runs
// the failover scenarios of its topology against it.
package verify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hagen-ha/hagen/contract"

	"github.com/moby/moby/client"

	"github.com/hagen-ha/hagen/internal/treefile"
	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/schema"
	"github.com/hagen-ha/hagen/verify/image"
)

// Options configure Run.
type Options struct {
	// Spec is the path of the CUE spec.
	Spec string
	// Scenario runs only the scenario of this name (or these,
	// comma-separated), each from the state it needs; empty runs all.
	Scenario string
	// Keep leaves the containers, networks and volumes up for debugging.
	Keep bool
	// HagenBinary is a static linux/amd64 hagen binary mounted into the
	// containers that run hagen (probe server and clients).
	HagenBinary string
	// Progress receives one line per step; nil discards them.
	Progress io.Writer
	// Client talks to the Docker engine; nil means one from the
	// environment. A caller's own must come from image.NewClient, which
	// turns testcontainers' reaper off before testcontainers reads it.
	Client *client.Client
	// RunID names the run's label value; empty means a random one.
	RunID string
	// Locked, when set, is called once the run holds the machine's
	// verify lock, before it creates anything: a caller can start its
	// own deadline there, so that another run ahead of it does not count.
	Locked func()
}

// Run renders the spec, brings the deployment up and runs the scenarios.
// The report is returned also when err is not nil, as far as it got. An
// error means the harness could not do its work; failed scenarios are in
// the report, not in err.
func Run(ctx context.Context, opts Options) (rep *Report, err error) {
	start := time.Now()
	rep = &Report{Spec: opts.Spec, Started: start}
	defer func() { rep.Duration = time.Since(start) }()
	pw := opts.Progress
	if pw == nil {
		pw = io.Discard
	}
	// With a *Progress the steps drive its status line; any other writer
	// gets one stamped line per step.
	current := ""
	progress := func(format string, args ...any) {
		if p, ok := pw.(*Progress); ok {
			p.Step(current, strings.TrimPrefix(fmt.Sprintf(format, args...), "scenario "+current+": "))
			return
		}
		fmt.Fprintf(pw, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	phase := func(name string, t0 time.Time) {
		d := time.Since(t0)
		rep.Phases = append(rep.Phases, Phase{Name: name, Duration: d})
		progress("%s: %s", name, d.Round(time.Millisecond))
	}

	// Render into a temporary tree.
	t0 := time.Now()
	topo, _, err := schema.Load(opts.Spec)
	if err != nil {
		return rep, fmt.Errorf("load spec: %w", err)
	}
	tree, err := render.Render(topo)
	if err != nil {
		return rep, fmt.Errorf("render: %w", err)
	}
	dir, err := os.MkdirTemp("", "hagen-verify-")
	if err != nil {
		return rep, err
	}
	if !opts.Keep {
		defer os.RemoveAll(dir)
	}
	if err := treefile.Write(dir, tree); err != nil {
		return rep, err
	}
	invp, err := contract.ReadInventory(dir)
	if err != nil {
		return rep, fmt.Errorf("rendered inventory: %w", err)
	}
	inv := *invp
	rep.Topology, rep.Mode, rep.Manager = inv.Name, inv.Mode, inv.Database.Manager
	phase("render", t0)

	cli := opts.Client
	if cli == nil {
		if cli, err = image.NewClient(); err != nil {
			return rep, err
		}
		defer cli.Close()
	}
	if err := image.Ping(ctx, cli); err != nil {
		return rep, err
	}

	// The node image, tagged with the spec's name so that the compose
	// files run unchanged.
	t0 = time.Now()
	built, err := image.Build(ctx, image.Options{Progress: pw, Client: cli})
	if err != nil {
		return rep, fmt.Errorf("node image: %w", err)
	}
	if inv.NodeImage != "" && inv.NodeImage != built.Tag {
		if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: built.Tag, Target: inv.NodeImage}); err != nil {
			return rep, fmt.Errorf("tag %s as %s: %w", built.Tag, inv.NodeImage, err)
		}
		rep.Deviations = append(rep.Deviations, fmt.Sprintf("the spec's node image %s is hagen's %s, tagged locally", inv.NodeImage, built.Tag))
	}
	if built.Skipped {
		phase("node image "+built.Tag+" (present)", t0)
	} else {
		phase("node image "+built.Tag+" (cold build)", t0)
	}

	runID := opts.RunID
	if runID == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		runID = hex.EncodeToString(b)
	}
	progress("run id %s", runID)
	lans, _, err := planLANs(inv)
	if err != nil {
		return rep, err
	}
	var subnets []netip.Prefix
	for _, l := range lans {
		subnets = append(subnets, l.Prefix)
	}
	unlock, err := lockNetworks(ctx, progress, subnets...)
	if err != nil {
		return rep, err
	}
	defer unlock() // after the cleanup below (defers run last-in first-out)
	if opts.Locked != nil {
		opts.Locked()
	}
	// The TLS material of security.ssl, once for the run: every fresh
	// deployment reads the same files.
	var tm *tlsMaterial
	if inv.TLS != nil {
		if tm, err = newTLSMaterial(inv, time.Now()); err != nil {
			return rep, fmt.Errorf("TLS material: %w", err)
		}
	}
	devs := &[]string{}
	h := &harness{
		progress: progress, phase: phase,
		mk: func() *cluster {
			return &cluster{
				e: &engine{cli: cli, runID: runID, keep: opts.Keep}, inv: inv, dir: dir, image: built.Tag,
				hagenBin: opts.HagenBinary, secrets: secrets{}, tls: tm, vols: map[string]bool{},
				progress: progress, devs: devs,
			}
		},
	}
	defer func() {
		rep.Deviations = append(rep.Deviations, *devs...)
		if opts.Keep {
			progress("--keep: the deployment stays up (rendered tree %s); remove it with:", dir)
			for _, cmd := range CleanupCommands(runID) {
				fmt.Fprintln(pw, "  "+cmd)
			}
			return
		}
		// A fresh context: the run's may be cancelled (Ctrl-C, timeout).
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		t0 := time.Now()
		// Everything the run labelled goes, whatever state the suite's
		// deployment is in (a removal interrupted by the run's deadline
		// included).
		cerr := h.down(cctx)
		if cerr == nil {
			cerr = Cleanup(cctx, cli, runID)
		}
		if cerr != nil {
			err = errors.Join(err, fmt.Errorf("cleanup of run %s: %w", runID, cerr))
		}
		phase("cleanup", t0)
	}()

	matrix := MatrixOf(inv.Mode, inv.Database.Manager)
	su := suiteFor(matrix, h)
	todo, err := selectScenarios(su, matrix, opts.Scenario)
	if err != nil {
		return rep, err
	}
	for _, sc := range todo {
		if ctx.Err() != nil {
			// Interrupted (Ctrl-C, --timeout): listed, not run.
			rep.Scenarios = append(rep.Scenarios, Scenario{Name: sc.name, Description: sc.desc, Status: NotRun, Failure: "not run: " + ctx.Err().Error()})
			continue
		}
		current = sc.name
		progress("scenario %s: %s", sc.name, sc.desc)
		res := runScenario(ctx, su, sc, &inv)
		if ctx.Err() != nil {
			// Interrupted (Ctrl-C, --timeout): not a verdict on the deployment.
			res.Status, res.Failure = Skipped, "interrupted: "+ctx.Err().Error()
		}
		rep.Scenarios = append(rep.Scenarios, res)
		progress("scenario %s: %s (%s)%s", sc.name, res.Status, res.Duration.Round(time.Millisecond), failureSuffix(res))
		current = ""
	}
	return rep, ctx.Err()
}

func failureSuffix(s Scenario) string {
	if s.Failure == "" {
		return ""
	}
	return ": " + s.Failure
}

// up brings the deployment up in the rendered RUNBOOK's order.
func (c *cluster) up(ctx context.Context) error {
	if err := c.upInfra(ctx); err != nil {
		return err
	}
	return c.upServices(ctx)
}

// upInfra creates the networks, the WAN router, the site hosts and the
// name server: everything but the compose services.
func (c *cluster) upInfra(ctx context.Context) error {
	lans, clients, err := planLANs(c.inv)
	if err != nil {
		return err
	}
	c.lans, c.clients = lans, clients
	for _, is := range c.inv.Sites {
		s := &site{Inv: is, Containers: map[string]string{}}
		s.Addr = netip.MustParseAddr(is.Address)
		s.LAN = c.lanOf(s.Addr)
		if is.Compose == "" {
			return fmt.Errorf("%w: site %s has no compose file", ErrIncompleteRender, is.Name)
		}
		names, err := secretNames(filepath.Join(c.dir, is.Dir, "hagen.env.template"))
		if err != nil {
			return fmt.Errorf("site %s env template: %w", is.Name, err)
		}
		if err := c.secrets.fill(names); err != nil {
			return err
		}
		// The operator's step: hagen.env next to the compose file.
		if err := writeEnvFile(filepath.Join(c.dir, is.Dir, "hagen.env"), names, c.secrets); err != nil {
			return fmt.Errorf("site %s hagen.env: %w", is.Name, err)
		}
		c.sites = append(c.sites, s)
	}
	for _, s := range c.sites {
		env, err := c.siteEnv(s)
		if err != nil {
			return err
		}
		p, err := loadCompose(ctx, filepath.Join(c.dir, s.Inv.Compose), c.inv.Name+"-"+s.Inv.Name, env)
		if err != nil {
			return err
		}
		s.Project = p
		s.Redirects = publishedPorts(p)
	}
	c.deviate("each site host is a container owning the site address; its compose services share its network namespace (network_mode container:<host>)")
	c.deviate("published ports are iptables REDIRECT rules inside the site host, not Docker port publishing; nothing is published on the real host")
	c.deviate("compose service names resolve to 127.0.0.1 through the site host's /etc/hosts")
	c.deviate("the WAN is a router container between the site LANs and the clients network")

	c.progress("networks: %d, router, name server %s", len(c.lans), c.inv.Nameserver)
	if err := c.createNetworks(ctx); err != nil {
		return err
	}
	if err := c.startRouter(ctx); err != nil {
		return err
	}
	for _, s := range c.sites {
		if err := c.startSiteHost(ctx, s); err != nil {
			return err
		}
	}
	return c.startDNS(ctx)
}

// siteEnv is the interpolation environment of a site's compose file:
// its hagen.env, as `docker compose --env-file hagen.env` reads it.
func (c *cluster) siteEnv(s *site) (secrets, error) {
	env, err := readEnvFile(filepath.Join(c.dir, s.Inv.Dir, "hagen.env"))
	if err != nil {
		return nil, fmt.Errorf("site %s: %w", s.Inv.Name, err)
	}
	return env, nil
}

// upServices starts the databases, replication and the app tier.
func (c *cluster) upServices(ctx context.Context) error {
	if c.selfRejoins() {
		return c.upPatroniDatabases(ctx)
	}
	db := c.inv.Database.Service
	for _, s := range c.dbSites() {
		c.progress("site %s: starting %s", s.Inv.Name, db)
		if _, err := c.startService(ctx, s, db, nil); err != nil {
			return err
		}
	}
	for _, s := range c.dbSites() {
		if err := c.waitDatabase(ctx, s); err != nil {
			return err
		}
	}
	c.progress("databases healthy")
	switch c.inv.Mode {
	case "multi-master-async":
		return c.upBucardo(ctx)
	}
	return nil
}

// siteByName returns the site of that name.
func (c *cluster) siteByName(name string) *site {
	for _, s := range c.sites {
		if s.Inv.Name == name {
			return s
		}
	}
	return nil
}

// psql runs SQL on a site's database as the superuser and returns the
// unaligned, tuples-only output.
func (c *cluster) psql(ctx context.Context, s *site, sql string) (string, error) {
	id := s.Containers[c.inv.Database.Service]
	out, err := c.e.mustExec(ctx, id, []string{"PGPASSWORD=" + c.secrets["POSTGRES_PASSWORD"], "PGCONNECT_TIMEOUT=3"},
		"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", fmt.Sprint(c.inv.Database.Port),
		"-U", c.inv.Database.Superuser, "-d", c.inv.Database.Name, "-Atc", sql)
	return strings.TrimSpace(out), err
}

// poll calls f until it succeeds or ctx ends.
func poll(ctx context.Context, what string, f func() error) error {
	var last error
	for {
		if last = f(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ScenarioNames lists the scenarios verify runs for a matrix: a database
// mode, or MatrixPatroni (see MatrixOf).
func ScenarioNames(mode string) []string {
	var out []string
	for _, s := range scenarioList(mode) {
		out = append(out, s.name)
	}
	return slices.Clip(out)
}

// waitDatabase waits until a site's database container is healthy. A
// database rendered with hot_standby = off refuses every connection while
// it is a standby, so its compose health check never passes there: for
// it, a server that answers pg_isready with "rejecting connections"
// (exit 1: up, in recovery) counts too; the primary's pg_stat_replication
// then proves it streams.
func (c *cluster) waitDatabase(ctx context.Context, s *site) error {
	db := c.inv.Database.Service
	wctx, cancel := context.WithTimeout(ctx, c.timers().healthy)
	defer cancel()
	if !c.hotStandbyOff(s) {
		return c.e.waitHealthy(wctx, s.Containers[db], s.Inv.Name+"/"+db)
	}
	c.deviate("a database rendered with hot_standby = off is awaited as up when pg_isready answers accepting (primary) or rejecting (a standby in recovery): its compose health check fails on a standby by design")
	return poll(wctx, s.Inv.Name+"/"+db+" up (accepting, or rejecting as a standby)", func() error {
		if st, err := c.e.state(wctx, s.Containers[db]); err == nil && !st.Running {
			return fmt.Errorf("%s/%s exited %d: %s", s.Inv.Name, db, st.ExitCode, c.e.tail(wctx, s.Containers[db], 8))
		}
		r, err := c.e.exec(wctx, s.Containers[db], nil, "pg_isready", "-h", "127.0.0.1", "-p", fmt.Sprint(c.inv.Database.Port))
		if err != nil {
			return err
		}
		if r.Code != 0 && r.Code != 1 {
			return fmt.Errorf("pg_isready exited %d: %s", r.Code, r.String())
		}
		return nil
	})
}

// hotStandbyOff reports whether the site's rendered postgresql.conf turns
// hot_standby off (a standby takes no SQL at all).
func (c *cluster) hotStandbyOff(s *site) bool {
	b, err := os.ReadFile(filepath.Join(c.dir, s.Inv.Dir, "postgres", "postgresql.conf"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Join(strings.Fields(line), " ") == "hot_standby = off" {
			return true
		}
	}
	return false
}
