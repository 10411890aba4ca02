package verify

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hagen-ha/hagen/verify/history"
	"github.com/hagen-ha/hagen/verify/pgbench"
)

// pgbenchRun is one pgbench loop started by startPGBench.
type pgbenchRun struct {
	path history.Path
	opts pgbench.Options
	done chan error
}

// startPGBench runs PostgreSQL's pgbench (a client nobody here wrote)
// for d through the VIP and through HAProxy at the VIP at 100
// transactions a second (about the rate of one of hagen's writers), each a loop of
// pgbench.Command with its per-transaction log on, in the client
// container on the clients network. The returned function waits for the
// loops to end, reads their logs and adds them to the scenario's
// evidence: the summary beside hagen's figures, and the transactions as
// operations of the history, so that the checker sees pgbench's writes
// too.
func (c *cluster) startPGBench(ctx context.Context, d time.Duration) (wait func()) {
	fail := func(err error) func() {
		return func() {
			if e := c.ev(); e != nil {
				e.mu.Lock()
				e.pgbench = append(e.pgbench, PGBenchResult{Error: err.Error()})
				e.mu.Unlock()
			}
		}
	}
	if c.clientID == "" {
		if err := c.startClientHost(ctx); err != nil {
			return fail(fmt.Errorf("client container: %w", err))
		}
	}
	if _, err := c.sqlAt(ctx, c.inv.VIP.Address, c.inv.Database.PublishedPort, pgbench.Schema()); err != nil {
		return fail(fmt.Errorf("create %s: %w", pgbench.Table, err))
	}
	c.deviate("pgbench runs in the client container on the clients network, as the superuser, through the VIP and HAProxy at the VIP")
	var runs []*pgbenchRun
	type route struct {
		name string
		port int
	}
	routes := []route{{"vip", c.inv.Database.PublishedPort}}
	if px, ok := c.dbProxyPort(); ok {
		routes = append(routes, route{"haproxy", px})
	}
	for _, t := range routes {
		tag := strings.ReplaceAll(randomID("pgb"+t.name), "-", "")
		dir := "/tmp/" + tag
		o := pgbench.Options{Host: c.inv.VIP.Address, Port: t.port, User: c.inv.Database.Superuser, Database: c.inv.Database.Name,
			Duration: d, Clients: 2, Rate: 100, Dir: dir, Script: dir + "/script.sql", Tag: tag}
		argv, err := pgbench.Command(o)
		if err != nil {
			return fail(err)
		}
		if _, err := c.e.mustExec(ctx, c.clientID, nil, "sh", "-c", `mkdir -p "$1" && printf '%s' "$2" >"$1/script.sql"`, "sh", dir, pgbench.Script()); err != nil {
			return fail(fmt.Errorf("pgbench script: %w", err))
		}
		r := &pgbenchRun{path: c.pathOf(o.Host, o.Port), opts: o, done: make(chan error, 1)}
		go func() {
			_, err := c.e.mustExec(ctx, c.clientID, []string{"PGPASSWORD=" + c.secrets["POSTGRES_PASSWORD"]}, argv...)
			r.done <- err
		}()
		runs = append(runs, r)
	}
	return func() {
		for _, r := range runs {
			res := c.collectPGBench(context.WithoutCancel(ctx), r)
			if e := c.ev(); e != nil {
				e.mu.Lock()
				e.pgbench = append(e.pgbench, res)
				e.mu.Unlock()
			}
		}
	}
}

// collectPGBench waits for a loop and reads its logs.
func (c *cluster) collectPGBench(ctx context.Context, r *pgbenchRun) PGBenchResult {
	res := PGBenchResult{Path: r.path}
	if err := <-r.done; err != nil {
		res.Error = "pgbench loop: " + err.Error()
		return res
	}
	tmp, err := os.MkdirTemp("", "hagen-pgbench-")
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer os.RemoveAll(tmp)
	out, err := c.e.exec(ctx, c.clientID, nil, "tar", "-C", r.opts.Dir, "-cf", "-", ".")
	if err == nil && out.Code != 0 {
		err = fmt.Errorf("tar exited %d: %s", out.Code, lastLines(out.Stderr, 2))
	}
	if err == nil {
		err = untar(strings.NewReader(out.Stdout), tmp)
	}
	if err != nil {
		res.Error = "pgbench logs: " + err.Error()
		return res
	}
	runs, err := pgbench.ReadDir(os.DirFS(tmp), pgbench.FormatOf(r.opts))
	if err != nil {
		res.Error = "pgbench logs: " + err.Error()
		return res
	}
	rec := c.hist()
	res.Runs = runs
	res.Summary = pgbench.Summarize(runs, rec.Start())
	rec.Add(pgbench.ToOps(runs, rec.Start(), r.opts.Tag, r.path)...)
	c.histTable(pgbench.Table, "id", "id", r.opts.Tag+"-")
	return res
}

// untar writes the regular files of a tar stream into dir (flat: the
// loop's directory has no subdirectories).
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := filepath.Base(h.Name)
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
}
