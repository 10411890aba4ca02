package cli

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hagen-ha/hagen/schema"
	"github.com/hagen-ha/hagen/topologies"
)

func init() { extraCommands = append(extraCommands, initCmd()) }

func initCmd() *command {
	return &command{
		name:    "init",
		summary: "write a starter spec from a built-in topology",
		usage:   "--topology NAME [-o FILE]",
		help: `
Init writes the named topology as a spec to edit: to FILE, or to standard
output without -o. It never overwrites an existing file.

Examples:
  hagen topologies
  hagen init --topology primary-standby-vip -o deployment.cue
  hagen init --topology dual-site-bucardo > deployment.cue`,
		run: runInit,
	}
}

func runInit(c *command, e *env, args []string) int {
	flags := flag.NewFlagSet(c.name, flag.ContinueOnError)
	name := flags.String("topology", "", "built-in topology `name` (see hagen topologies)")
	out := flags.String("o", "", "write the spec to `file` instead of standard output")
	pos, code, ok := parse(e, c, flags, args)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		return usageErr(e, c, "takes no arguments, got %q", pos[0])
	}
	if *name == "" {
		return usageErr(e, c, "--topology is required")
	}
	src, err := topologies.Source(*name)
	if err != nil {
		fmt.Fprintf(e.stderr, "hagen init: %v\n", err)
		return ExitUsage
	}
	// A built-in topology is a valid spec; check anyway, so a broken
	// build never hands out a spec that does not validate.
	if _, _, err := schema.Parse(*name+".cue", src); err != nil {
		printSpecErrors(e, err)
		return ExitInvalid
	}
	if *out == "" {
		_, err := e.stdout.Write(src)
		if err != nil {
			return ExitInvalid
		}
		return ExitOK
	}
	if _, err := os.Stat(*out); err == nil {
		fmt.Fprintf(e.stderr, "hagen init: %s already exists; not overwriting it\n", *out)
		return ExitUsage
	} else if !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(e.stderr, "hagen init: %v\n", err)
		return ExitInvalid
	}
	if err := writeFileAtomic(*out, src, 0o644); err != nil {
		fmt.Fprintf(e.stderr, "hagen init: %v\n", err)
		return ExitInvalid
	}
	fmt.Fprintf(e.stdout, "wrote %s from topology %s; next: hagen validate %s\n", *out, *name, *out)
	return ExitOK
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it into place.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
