package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hagen-ha/hagen/internal/lazyregexp"
	"github.com/hagen-ha/hagen/internal/probe"
)

// upBucardo follows the RUNBOOK for multi-master-async: the app schema on
// the seed site, then the Bucardo service (its run.sh copies the schema,
// runs the one-time copy until Good and switches to master-master), then
// wait for state Good.
func (c *cluster) upBucardo(ctx context.Context) error {
	bs := c.siteByName(c.inv.Database.BucardoSite)
	if bs == nil {
		return fmt.Errorf("inventory: bucardo site %q is not a site", c.inv.Database.BucardoSite)
	}
	seed := c.sites[0]
	if _, err := c.psql(ctx, seed, probe.TableDDL); err != nil {
		return fmt.Errorf("app schema on %s: %w", seed.Inv.Name, err)
	}
	// Some data before replication starts: the one-time copy must carry it.
	if _, err := c.psql(ctx, seed, `INSERT INTO hagen_probe (id, site, client) VALUES ('seed-row', '`+seed.Inv.Name+`', 'verify') ON CONFLICT DO NOTHING`); err != nil {
		return err
	}
	c.progress("site %s: starting %s", bs.Inv.Name, c.inv.Database.BucardoService)
	t0 := time.Now()
	if _, err := c.startService(ctx, bs, c.inv.Database.BucardoService, nil); err != nil {
		return err
	}
	// Bucardo's setup is a sequence of bucardo commands (install, the
	// one-time copy, the switch to master-master), CPU-bound and with no
	// rendered bound: it may take as long as it keeps making progress
	// (a new line in the service's log at least every withMargin of twice
	// the watchdog's stall_after, its own patience with a sync), up to
	// five database health bounds.
	wctx, cancel := context.WithTimeout(ctx, 5*c.timers().healthy)
	defer cancel()
	if err := c.whileLogAdvances(wctx, bs.Containers[c.inv.Database.BucardoService], withMargin(2*c.stallAfter()), c.waitBucardoGood); err != nil {
		return err
	}
	c.progress("bucardo: state Good after %s", time.Since(t0).Round(time.Millisecond))
	// The seed row reached every other site: the one-time copy ran.
	for _, s := range c.sites[1:] {
		if err := poll(wctx, "seed row on "+s.Inv.Name, func() error {
			out, err := c.psql(wctx, s, `SELECT count(*) FROM hagen_probe WHERE id = 'seed-row'`)
			if err != nil {
				return err
			}
			if out != "1" {
				return fmt.Errorf("seed row count %s", out)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if err := c.startApps(ctx); err != nil {
		return err
	}
	return c.startClientHost(ctx)
}

// syncStatus is one row of `bucardo status`.
type syncStatus struct {
	State string
	// Age is the Time column: how long ago the sync was last good.
	Age time.Duration
}

// bucardoStatus runs `bucardo status` in the replication container and
// returns each sync's state.
func (c *cluster) bucardoStatus(ctx context.Context) (map[string]syncStatus, string, error) {
	bs := c.siteByName(c.inv.Database.BucardoSite)
	id := bs.Containers[c.inv.Database.BucardoService]
	r, err := c.e.exec(ctx, id, nil, "bucardo", "status")
	if err != nil {
		return nil, "", err
	}
	states := parseBucardoStatus(r.Stdout)
	if r.Code != 0 && len(states) == 0 {
		return nil, r.String(), fmt.Errorf("bucardo status exited %d: %s", r.Code, lastLines(r.String(), 3))
	}
	return states, r.Stdout, nil
}

// parseBucardoStatus reads the sync table of `bucardo status`:
//
//	Name    State    Last good    Time    Last I/D    Last bad    Time
//	=======+========+============+=======+===========+===========+=======
//	sync0 | Good   | 13:19:08   | 7s     | 37/106    | none      |
func parseBucardoStatus(out string) map[string]syncStatus {
	states := map[string]syncStatus{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "|")
		if len(f) < 2 {
			continue
		}
		name, state := strings.TrimSpace(f[0]), strings.TrimSpace(f[1])
		if name == "" || name == "Name" || strings.HasPrefix(name, "=") {
			continue
		}
		st := syncStatus{State: state}
		if len(f) > 3 {
			st.Age = parseBucardoAge(f[3])
		}
		states[name] = st
	}
	return states
}

// parseBucardoAge reads Bucardo's short durations: "7s", "4m 10s", "1h 2m 3s", "2d 3h".
func parseBucardoAge(s string) time.Duration {
	var d time.Duration
	for _, part := range strings.Fields(s) {
		if len(part) < 2 {
			continue
		}
		n, err := strconv.Atoi(part[:len(part)-1])
		if err != nil {
			continue
		}
		unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[part[len(part)-1]]
		d += time.Duration(n) * unit
	}
	return d
}

var stallAfterRE = lazyregexp.New(`(?m)\bstall_after=([0-9]+)`)

// stallAfter is the age of Last good the rendered runbook alerts at: the
// watchdog's stall_after in the rendered run.sh, else 30 s.
func (c *cluster) stallAfter() time.Duration {
	bs := c.siteByName(c.inv.Database.BucardoSite)
	if bs != nil {
		if data, err := os.ReadFile(filepath.Join(c.dir, bs.Inv.Dir, "bucardo", "run.sh")); err == nil {
			if m := stallAfterRE.FindSubmatch(data); m != nil {
				if n, err := strconv.Atoi(string(m[1])); err == nil {
					return time.Duration(n) * time.Second
				}
			}
		}
	}
	return 30 * time.Second
}

// mainSyncs are the sync names of the rendered bucardo/bucardo.json (the
// master-master configuration the RUNBOOK ends with).
func (c *cluster) mainSyncs() ([]string, error) {
	bs := c.siteByName(c.inv.Database.BucardoSite)
	file := filepath.Join(c.dir, bs.Inv.Dir, "bucardo", "bucardo.json")
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIncompleteRender, err)
	}
	var conf struct {
		Syncs []struct {
			Name string `json:"name"`
		} `json:"syncs"`
	}
	if err := json.Unmarshal(data, &conf); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var names []string
	for i, s := range conf.Syncs {
		if s.Name == "" {
			s.Name = fmt.Sprintf("sync%d", i)
		}
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s has no syncs", file)
	}
	return names, nil
}

// waitBucardoGood waits until every sync of the rendered bucardo.json is
// listed by bucardo status in state Good.
func (c *cluster) waitBucardoGood(ctx context.Context) error {
	bs := c.siteByName(c.inv.Database.BucardoSite)
	id := bs.Containers[c.inv.Database.BucardoService]
	want, err := c.mainSyncs()
	if err != nil {
		return err
	}
	return poll(ctx, "bucardo syncs "+strings.Join(want, ", ")+" Good", func() error {
		st, err := c.e.state(ctx, id)
		if err != nil {
			return err
		}
		if !st.Running && st.ExitCode != 0 {
			return fmt.Errorf("replication container exited %d: %s", st.ExitCode, c.e.tail(ctx, id, 6))
		}
		states, _, err := c.bucardoStatus(ctx)
		if err != nil {
			return err
		}
		for _, name := range want {
			s, ok := states[name]
			if !ok {
				return fmt.Errorf("sync %s not listed yet", name)
			}
			if !strings.HasPrefix(s.State, "Good") {
				return fmt.Errorf("sync %s is %s", name, s.State)
			}
		}
		return nil
	})
}

// whileLogAdvances runs wait with a context that also ends when the
// container's log has not changed for idle: a wait for a process that
// makes progress at its own pace, which fails as soon as it stalls.
func (c *cluster) whileLogAdvances(ctx context.Context, id string, idle time.Duration, wait func(context.Context) error) error {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		last, since := "", time.Now()
		for wctx.Err() == nil {
			if tail := c.e.tail(wctx, id, 3); tail != last {
				last, since = tail, time.Now()
			} else if time.Since(since) > idle {
				cancel(fmt.Errorf("no new line in its log for %s: %s", idle, tail))
				return
			}
			select {
			case <-wctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	err := wait(wctx)
	if cause := context.Cause(wctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		return fmt.Errorf("%w (stalled: %v)", err, cause)
	}
	return err
}
