package cli

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/internal/budget"
	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/schema"
)

func validateCmd() *command {
	return &command{
		name:    "validate",
		summary: "check a spec and report every violation at once",
		usage:   "SPEC",
		help: `
Validate loads SPEC, unifies it with hagen's schema and checks the rules
that relate fields (addresses inside their LAN, unique sites, DNS names in
sequence, the virtual IP on a shared LAN, one service per host port,
secrets as references, no literal secrets, no control characters in any
string). Each violation is printed with file:line:col, the field path,
what is wrong and what would be valid; many alike are counted, not all
printed. Warnings are printed but do not fail.

A valid spec is summarised in one line, followed by the RTO budget of
each failover path: the worst-case time from a fault until the path works
again, computed from the spec's timers (keepalived's advertisements and
check, HAProxy's checks, the clients' reconnect delay, the promotion's
limits), with the formula and its numbers. inventory.json lists the same
budgets for hagen verify.

A spec over 1 MiB, with a list of more than 2,000 elements or more than
100,000 syntax nodes is refused before evaluation. The first Ctrl-C or
SIGTERM stops validation at once, with exit code 130.

Examples:
  hagen validate examples/dual-site.cue
  hagen validate my-deployment.cue && hagen render my-deployment.cue -o out/`,
		run: runValidate,
	}
}

func runValidate(c *command, e *env, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	pos, code, ok := parse(e, c, fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageErr(e, c, "want exactly one spec file, got %d arguments", len(pos))
	}
	t, code, ok := loadSpec(e, pos[0])
	if !ok {
		return code
	}
	fmt.Fprintf(e.stdout, "%s: valid: %s\n", pos[0], summary(t))
	printBudgets(e, render.Budgets(t))
	return ExitOK
}

// printBudgets prints the RTO budgets, one path and fault a line.
func printBudgets(e *env, budgets []contract.InventoryBudget) {
	if len(budgets) == 0 {
		return
	}
	fmt.Fprintln(e.stdout, "RTO budgets (worst case from the spec's timers):")
	for _, b := range budgets {
		fmt.Fprintf(e.stdout, "  %s after %s: %s = %s\n", b.Path, b.Fault, budget.Seconds(time.Duration(b.Budget)*time.Millisecond), b.Formula)
	}
}

// summary is a one-line description of a topology.
func summary(t *schema.Topology) string {
	names := make([]string, len(t.Sites))
	for i, s := range t.Sites {
		names[i] = s.Name
	}
	var b strings.Builder
	fmt.Fprintf(&b, "topology %s, %d sites (%s), %s", t.Name, len(t.Sites), strings.Join(names, ", "), t.Database.Mode)
	switch {
	case t.Database.Bucardo != nil:
		fmt.Fprintf(&b, " (Bucardo on %s)", t.Database.Bucardo.Site)
	case t.Database.Streaming != nil:
		s := t.Database.Streaming
		kind := "asynchronous"
		if s.Synchronous {
			kind = "synchronous"
		}
		fmt.Fprintf(&b, " (%s, primary %s", kind, s.Primary)
		if t.ManagedByPatroni() {
			fmt.Fprintf(&b, ", Patroni on %d etcd members", len(t.EtcdMembers()))
		}
		b.WriteString(")")
	}
	if t.VIP != nil {
		fmt.Fprintf(&b, ", VIP %s", t.VIP.Address)
	}
	if t.Proxy != nil {
		fmt.Fprintf(&b, ", HAProxy on :%d", t.Proxy.Port)
	}
	fmt.Fprintf(&b, ", %d client names", len(t.Clients.Servers))
	return b.String()
}
