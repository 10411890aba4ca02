package cli

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hagen-ha/hagen/internal/netdelay"
)

func init() { extraCommands = append(extraCommands, netdelayCmd()) }

func netdelayCmd() *command {
	return &command{
		name:    "netdelay",
		summary: "a TCP relay that delays every byte (verify's slow link)",
		usage:   "--listen ADDR --to ADDR --delay D [--mark N]",
		help: `
Netdelay accepts TCP connections and relays each to --to, holding every
byte for --delay in each direction. hagen verify runs it inside a site
host, with an iptables DNAT rule sending a link's connections through it,
because the kernel it runs on may have no netem. --mark sets SO_MARK on
the relay's own connections so that the DNAT rule can leave them alone.
SIGUSR1 sets the delay to 0 (the link is fast again) and keeps the
relayed connections open.

Example:
  hagen netdelay --listen 10.231.0.10:25444 --to 10.231.1.10:5444 --delay 50ms --mark 104`,
		hidden: true,
		run:    runNetdelay,
	}
}

func runNetdelay(c *command, e *env, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	listen := fs.String("listen", "", "`address` to accept on (required)")
	to := fs.String("to", "", "`address` to relay to (required)")
	delay := fs.Duration("delay", 0, "added to every byte in each direction")
	mark := fs.Int("mark", 0, "SO_MARK of the relay's own connections (0: none)")
	pos, code, ok := parse(e, c, fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(e, c, "unexpected arguments %q", pos)
	}
	if *listen == "" || *to == "" {
		return usageErr(e, c, "--listen and --to are required")
	}
	if *delay < 0 || *delay > time.Minute {
		return usageErr(e, c, "--delay %s is not between 0 and 1m", *delay)
	}
	r, err := netdelay.New(netdelay.Config{Listen: *listen, To: *to, Delay: *delay, Mark: *mark})
	if err != nil {
		return usageErr(e, c, "%v", err)
	}
	// SIGUSR1: the link is fast again; relayed connections stay open.
	fast := make(chan os.Signal, 1)
	signal.Notify(fast, syscall.SIGUSR1)
	defer signal.Stop(fast)
	go func() {
		for range fast {
			r.SetDelay(0)
			fmt.Fprintln(e.stderr, "delay now 0")
		}
	}()
	if err := r.Run(e.ctx, e.stderr); err != nil {
		fmt.Fprintf(e.stderr, "hagen netdelay: %v\n", err)
		return ExitInvalid
	}
	return ExitOK
}
