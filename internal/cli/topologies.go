package cli

import (
	"flag"
	"fmt"

	"github.com/hagen-ha/hagen/topologies"
)

func init() { extraCommands = append(extraCommands, topologiesCmd()) }

func topologiesCmd() *command {
	return &command{
		name:    "topologies",
		summary: "list the built-in topologies a spec can start from",
		usage:   "",
		help: `
Examples:
  hagen topologies
  hagen init --topology dual-site-bucardo -o my-deployment.cue`,
		run: func(c *command, e *env, args []string) int {
			fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
			pos, code, ok := parse(e, c, fs, args)
			if !ok {
				return code
			}
			if len(pos) != 0 {
				return usageErr(e, c, "takes no arguments")
			}
			for _, t := range topologies.List() {
				fmt.Fprintf(e.stdout, "%-24s %s\n", t.Name, t.Summary)
			}
			return ExitOK
		},
	}
}
