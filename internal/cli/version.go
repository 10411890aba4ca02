package cli

import (
	"flag"
	"fmt"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X ...cli.version=v1.2.3".
var version = ""

func versionCmd() *command {
	return &command{
		name:    "version",
		summary: "print hagen's version",
		usage:   "",
		help: `
Examples:
  hagen version`,
		run: func(c *command, e *env, args []string) int {
			fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
			pos, code, ok := parse(e, c, fs, args)
			if !ok {
				return code
			}
			if len(pos) != 0 {
				return usageErr(e, c, "takes no arguments")
			}
			fmt.Fprintf(e.stdout, "hagen %s\n", buildVersion())
			return ExitOK
		},
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		if v != "" {
			return v
		}
	}
	return "(devel)"
}
