// Package cli holds hagen's commands, one file each, so that script tests
// can run the command line in-process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Exit codes; documented in the README and `hagen help`.
const (
	ExitOK       = 0
	ExitUsage    = 1
	ExitInvalid  = 2 // invalid spec, render or check failure
	ExitDrift    = 3 // render --check found differences
	ExitScenario = 4 // a verify scenario failed
	// ExitInterrupted: the first Ctrl-C or SIGTERM stopped validate or
	// render before the spec was validated (128 + SIGINT, as shells do).
	ExitInterrupted = 130
)

// env is what a command runs with; tests substitute the streams.
type env struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string // argument synopsis
	help    string // longer text with examples
	// helpFunc, when set, makes the help text when it is shown: text
	// that asks other packages (verify's scenario list) costs the
	// commands that do not show it nothing.
	helpFunc func() string
	hidden   bool
	run      func(c *command, e *env, args []string) int
}

func commands() []*command {
	cmds := []*command{
		validateCmd(),
		renderCmd(),
		versionCmd(),
	}
	cmds = append(cmds, extraCommands...)
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

// extraCommands are registered by the files of commands that need more
// than the core (images, verify, check, agent, probe).
var extraCommands []*command

// Main runs hagen with os.Args and returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

// Run runs hagen with args (without the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return ExitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				return c.run(c, e, []string{"-h"})
			}
			fmt.Fprintf(stderr, "hagen help: unknown command %q\n", args[1])
			return ExitUsage
		}
		usage(stdout)
		return ExitOK
	case "-v", "--version":
		name = "version"
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "hagen: unknown command %q\n", name)
		usage(stderr)
		return ExitUsage
	}
	return c.run(c, e, args[1:])
}

func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprint(w, `hagen turns a high-availability deployment into one CUE spec, rendered
configs, and an automated proof that failover works.

Usage:
  hagen <command> [flags] [arguments]

Commands:
`)
	for _, c := range commands() {
		if !c.hidden {
			fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
		}
	}
	fmt.Fprint(w, `
Exit codes:
  0  success
  1  usage error
  2  invalid spec, render failure or failed check
  3  render --check found differences
  4  a verify scenario failed
  130  interrupted (Ctrl-C, SIGTERM) while reading the spec

Run 'hagen help <command>' for a command's flags and examples.
`)
}

func commandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: hagen %s %s\n\n%s\n", c.name, c.usage, c.summary)
	if help := c.helpText(); help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(help))
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

// helpText is the command's longer help text.
func (c *command) helpText() string {
	if c.helpFunc != nil {
		return c.helpFunc()
	}
	return c.help
}

// parse parses flags that may appear before, between or after the
// positional arguments, and returns the positional ones. When it returns
// ok false, the command ends with exit code code (help printed, or a
// usage error reported).
func parse(e *env, c *command, fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	fs.SetOutput(io.Discard)
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				commandUsage(e.stdout, c, fs)
				return nil, ExitOK, false
			}
			fmt.Fprintf(e.stderr, "hagen %s: %v\nRun 'hagen help %s' for usage.\n", c.name, err, c.name)
			return nil, ExitUsage, false
		}
		if fs.NArg() == 0 {
			return pos, 0, true
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// usageErr reports a usage error and returns ExitUsage.
func usageErr(e *env, c *command, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "hagen %s: %s\nUsage: hagen %s %s\n", c.name, fmt.Sprintf(format, args...), c.name, c.usage)
	return ExitUsage
}
