package cli

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hagen-ha/hagen/render"
)

func renderCmd() *command {
	return &command{
		name:    "render",
		summary: "write every config file of the deployment into a directory",
		usage:   "SPEC -o DIR [--check] [--check-with-tools]",
		help: `
Render validates SPEC and writes, per site, the docker-compose file,
postgresql.conf, pg_hba.conf, Bucardo, keepalived, HAProxy and systemd
files, plus the client DNS zone and settings and a RUNBOOK.md. The output
is byte-deterministic. DIR is replaced as a whole: it holds either the
previous complete tree or the new one, never a mix. When DIR cannot be
swapped in one rename (it is the current directory or holds it, or it is a
mount point) its files are replaced one by one instead, each atomically,
and hagen says so. hagen refuses to replace a directory that holds files
it did not render, and renders into one DIR run one at a time.

With --check nothing is written: hagen renders in memory and exits 3 with a
unified diff when DIR differs (edited by hand, or not re-rendered). Files
hagen does not render are named, never shown; links are not followed;
pipes and devices are not opened; files above 1 MiB are compared by size.

With --check-with-tools the new tree is first checked as 'hagen check'
checks it (each file read by its real consumer, in the node image) and DIR
is replaced only when every file passes; otherwise hagen exits 2 and DIR
is left as it was.

Examples:
  hagen render examples/dual-site.cue -o out/
  hagen render examples/dual-site.cue -o golden/dual-site --check`,
		run: runRender,
	}
}

func runRender(c *command, e *env, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	out := fs.String("o", "", "output `directory` (required)")
	check := fs.Bool("check", false, "compare DIR with a fresh render instead of writing; exit 3 on differences")
	withTools := fs.Bool("check-with-tools", false, "check the new tree with the programs that read it (see hagen check) before writing; exit 2 and leave DIR as it was on a failure")
	pos, code, ok := parse(e, c, fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageErr(e, c, "want exactly one spec file, got %d arguments", len(pos))
	}
	if *out == "" {
		return usageErr(e, c, "-o DIR is required")
	}
	t, code, ok := loadSpec(e, pos[0])
	if !ok {
		return code
	}
	tree, err := render.Render(t)
	if err != nil {
		fmt.Fprintf(e.stderr, "hagen render: %v\n", err)
		return ExitInvalid
	}
	if *withTools {
		if code := checkBeforeWrite(e, *out, tree); code != ExitOK {
			return code
		}
	}
	if *check {
		diff, err := checkTree(e, *out, tree)
		if err != nil {
			fmt.Fprintf(e.stderr, "hagen render --check: %v\n", err)
			return ExitInvalid
		}
		if diff != "" {
			fmt.Fprint(e.stdout, diff)
			fmt.Fprintf(e.stderr, "hagen render --check: %s differs from a fresh render of %s; run: hagen render %s -o %s\n", *out, pos[0], pos[0], *out)
			return ExitDrift
		}
		fmt.Fprintf(e.stdout, "%s: up to date (%d files)\n", *out, len(tree))
		return ExitOK
	}
	res, err := writeTree(*out, tree, func() {
		fmt.Fprintf(e.stderr, "hagen render: waiting for another render into %s to finish\n", *out)
	})
	if err != nil {
		fmt.Fprintf(e.stderr, "hagen render: %v\n", err)
		return ExitInvalid
	}
	if res.inPlace != "" {
		fmt.Fprintf(e.stderr, "hagen render: %s: replaced file by file instead (each file atomically, not the tree as a whole)\n", res.inPlace)
	}
	if len(res.kept) > 0 {
		fmt.Fprintf(e.stderr, "hagen render: files that appeared in %s while it was replaced were kept in %s: %s\n", *out, res.keptIn, strings.Join(res.kept, ", "))
	}
	fmt.Fprintf(e.stdout, "rendered %d files into %s\n", len(tree), *out)
	return ExitOK
}

// checkTree compares dir with tree under a shared lock on dir's parent, so
// that it does not read a directory another render is replacing.
func checkTree(e *env, dir string, tree render.Tree) (string, error) {
	abs, err := filepath.Abs(filepath.Clean(dir))
	if err != nil {
		return "", err
	}
	unlock, err := lockDir(filepath.Dir(abs), unix.LOCK_SH, func() {
		fmt.Fprintf(e.stderr, "hagen render --check: waiting for a render into %s to finish\n", dir)
	})
	if err == nil {
		defer unlock()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return diffTree(dir, tree)
}
