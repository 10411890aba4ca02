package cli

import (
	"flag"
	"fmt"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/internal/agent"
)

func init() { extraCommands = append(extraCommands, agentCmd()) }

func agentCmd() *command {
	return &command{
		name:    "agent",
		summary: "run a database node's health agent (started by the rendered deployment)",
		usage:   "--config FILE | --role-sql",
		hidden:  true,
		help: `
The agent serves the node's health URL: /primary answers 200 only on the
writable primary (for HAProxy and cloud load balancers), /replica 200 on a
streaming standby, /health the role and replication state as JSON. The
rendered hagen-agent service starts it with the site's agent/agent.json.

It answers from a status at most 250 ms old, probed by one request at a
time over at most two database sessions (statement timeout 1 s), and
caps its connections (512, the idlest closed first), requests in flight
(32) and header size (4 KiB), with no keep-alive. It connects as the
least-privilege role hagen_agent, by peer authentication over the Unix
socket when agent.json names no password. On PostgreSQL 13 and 14 that
role cannot run ALTER SYSTEM: the agent then reports the synchronous
state without changing synchronous_standby_names, and says so.

--role-sql prints the SQL that creates that role or brings it back to
exactly its rights, for psql as the superuser on the primary, in the
database postgres (the rendered deployment runs it itself; RUNBOOK.md says
when to run it by hand).

Examples:
  hagen agent --config /etc/hagen/agent/agent.json
  hagen agent --role-sql | psql -h /var/run/postgresql -U postgres -d postgres`,
		run: func(c *command, e *env, args []string) int {
			fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
			cfg := fs.String("config", "", "agent.json `file` rendered for this site (required)")
			roleSQL := fs.Bool("role-sql", false, "print the SQL that creates the agent's database role and exit")
			pos, code, ok := parse(e, c, fs, args)
			if !ok {
				return code
			}
			if len(pos) != 0 {
				return usageErr(e, c, "takes no arguments")
			}
			if *roleSQL {
				if *cfg != "" {
					return usageErr(e, c, "--role-sql takes no --config")
				}
				fmt.Fprint(e.stdout, contract.AgentRoleSQL())
				return ExitOK
			}
			if *cfg == "" {
				return usageErr(e, c, "--config is required")
			}
			if err := agent.Run(e.ctx, *cfg, e.stdout); err != nil {
				fmt.Fprintf(e.stderr, "hagen agent: %v\n", err)
				return ExitInvalid
			}
			return ExitOK
		},
	}
}
