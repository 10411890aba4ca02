package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/hagen-ha/hagen/internal/treefile"
	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/verify"
)

func init() { extraCommands = append(extraCommands, checkCmd()) }

func checkCmd() *command {
	return &command{
		name:    "check",
		summary: "read every rendered file with the program that reads it in production",
		usage:   "DIR [--image REF] [-v]",
		help: `
Check runs each file of a rendered tree through its real consumer and
prints one line per file: "OK  path (checker)", or "FAIL path (checker):"
and the consumer's own message with file and line, then a count.

  keepalived.conf    keepalived --config-test
  haproxy.cfg        haproxy -c (secrets as placeholders)
  postgresql.conf    a throwaway PostgreSQL 15 started with it: pg_file_settings
  pg_hba.conf        the same server's pg_hba_file_rules
  pg_ident.conf      the same server, reloaded with it
  *.zone, named.conf named-checkzone, named-checkconf
  systemd units      systemd-analyze verify
  scripts            bash -n and shellcheck
  Bucardo phases     the rendered apply.sh --dry-run
  docker-compose     compose-go load and validation (in-process)
  JSON, env, hosts   parsed (in-process)

Everything but the in-process checks runs in one container of the hagen
node image (built when missing; needs only Docker), which holds a copy of
DIR and is removed afterwards. No secret enters it: every secret is a
placeholder. Exit status 2 when a file fails or the check cannot run.

Examples:
  hagen check out/
  hagen render examples/dual-site.cue -o out/ --check-with-tools`,
		run: runCheck,
	}
}

func runCheck(c *command, e *env, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	img := fs.String("image", "", "node image `REF` to run the consumers in (default: the current hagen-node image, built when missing)")
	verbose := fs.Bool("v", false, "print a progress line per file on stderr")
	pos, code, ok := parse(e, c, fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageErr(e, c, "want exactly one directory, got %d arguments", len(pos))
	}
	return checkDir(e, pos[0], verify.CheckOptions{Image: *img, Verbose: *verbose})
}

// checkDir checks a rendered tree and prints the results.
func checkDir(e *env, dir string, opts verify.CheckOptions) int {
	opts.Progress = e.stderr
	// testcontainers prints the engine's details through the standard
	// logger; hagen prints its own progress.
	tclog.SetDefault(tclog.NewNoopLogger())
	results, err := verify.Check(e.ctx, dir, opts)
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(e.stderr, "hagen check: interrupted; the check container was removed")
		return ExitInvalid
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "hagen check: %v\n", err)
		return ExitInvalid
	}
	display := dir
	if opts.DisplayDir != "" {
		display = opts.DisplayDir
	}
	if verify.WriteCheckResults(e.stdout, display, results) > 0 {
		return ExitInvalid
	}
	return ExitOK
}

// checkBeforeWrite checks a rendered tree before it replaces dir (render
// --check-with-tools): the tree is written to a temporary directory and
// checked there, with messages naming dir. It returns ExitOK when every
// file passed.
func checkBeforeWrite(e *env, dir string, tree render.Tree) int {
	tmp, err := os.MkdirTemp("", "hagen-check-")
	if err != nil {
		fmt.Fprintf(e.stderr, "hagen render: %v\n", err)
		return ExitInvalid
	}
	defer os.RemoveAll(tmp)
	if err := treefile.Write(tmp, tree); err != nil {
		fmt.Fprintf(e.stderr, "hagen render: %v\n", err)
		return ExitInvalid
	}
	if code := checkDir(e, tmp, verify.CheckOptions{DisplayDir: filepath.Clean(dir)}); code != ExitOK {
		fmt.Fprintf(e.stderr, "hagen render: %s left as it was: the new tree failed the check\n", dir)
		return code
	}
	return ExitOK
}
