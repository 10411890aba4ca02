package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Degraded links, reusable by every topology's scenarios: the kernel
// verify runs on may have no netem, so loss is an iptables statistic
// rule and latency a relay (hagen netdelay) that a DNAT rule puts in the
// path.

// lossProbability is the share of packets a lossy link drops in each
// direction: a parameter of the test.
const lossProbability = 0.1

// lossRule is the iptables rule (after "iptables -I") that drops the
// lossProbability share of the packets of chain matched by match.
func lossRule(chain string, match ...string) []string {
	r := append([]string{chain}, match...)
	return append(r, "-m", "statistic", "--mode", "random", "--probability", strconv.FormatFloat(lossProbability, 'f', -1, 64), "-j", "DROP")
}

// linkDelay is the one-way delay a slow link adds: a parameter of the
// test (a round trip gains twice this).
const linkDelay = 50 * time.Millisecond

// relayMark is the socket mark of the relay's own connections, which the
// DNAT rule leaves alone.
const relayMark = 0x68

// slowLink sends the TCP connections that from's network namespace opens
// to to:port through a relay in from's site host that holds every byte
// linkDelay each way. Connections already open keep their path: the
// caller makes them reconnect. fast makes the link fast again (the relay
// keeps the connections it relays, without delay); undo removes the
// DNAT rule and stops the relay.
type slowLink struct {
	c       *cluster
	from    *site
	rule    []string
	pid     string
	log     string
	removed bool
}

func (c *cluster) slowLink(ctx context.Context, from *site, to string, port int) (*slowLink, error) {
	if c.hagenBin == "" {
		return nil, errors.New("no hagen binary for the relay (Options.HagenBinary)")
	}
	c.deviate("a slow link is a TCP relay (hagen netdelay, %s each way) in the site host that an iptables DNAT rule sends the link's database connections through: it delays those connections only, not VRRP, ICMP or the health port", linkDelay)
	listen := from.Addr.String() + ":" + strconv.Itoa(25000+port%1000)
	l := &slowLink{c: c, from: from, log: fmt.Sprintf("/tmp/hagen-netdelay-%d.log", port)}
	out, err := c.e.mustExec(ctx, from.HostID, nil, "sh", "-c", fmt.Sprintf(
		"%s netdelay --listen %s --to %s:%d --delay %s --mark %d >%s 2>&1 & echo $!",
		hagenInContainer, listen, to, port, linkDelay, relayMark, l.log))
	if err != nil {
		return nil, fmt.Errorf("start the relay on %s: %w", from.Inv.Name, err)
	}
	l.pid = strings.TrimSpace(out)
	// Listening before the rule sends anything to it.
	if err := poll(ctx, "the relay listening on "+listen, func() error {
		_, err := c.e.mustExec(ctx, from.HostID, nil, "sh", "-c", fmt.Sprintf("kill -0 %s && nc -z -w 1 %s %s", l.pid, from.Addr, listen[strings.LastIndex(listen, ":")+1:]))
		return err
	}); err != nil {
		_ = l.undo(context.WithoutCancel(ctx))
		return nil, err
	}
	l.rule = []string{"OUTPUT", "-p", "tcp", "-d", to, "--dport", strconv.Itoa(port), "-m", "mark", "!", "--mark", strconv.Itoa(relayMark), "-j", "DNAT", "--to-destination", listen}
	if _, err := c.e.mustExec(ctx, from.HostID, nil, append([]string{"iptables", "-t", "nat", "-I"}, l.rule...)...); err != nil {
		l.rule = nil
		_ = l.undo(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("DNAT to the relay on %s: %w", from.Inv.Name, err)
	}
	return l, nil
}

// relayed waits until the relay relays at least one connection.
func (l *slowLink) relayed(ctx context.Context) error {
	return poll(ctx, "a connection through the relay on "+l.from.Inv.Name, func() error {
		out, err := l.c.e.mustExec(ctx, l.from.HostID, nil, "cat", l.log)
		if err != nil {
			return err
		}
		if !strings.Contains(out, "relaying ") {
			return fmt.Errorf("no connection relayed yet: %q", lastLines(out, 2))
		}
		return nil
	})
}

// fast removes the DNAT rule (new connections go straight) and sets the
// relay's delay to 0 for the connections it relays.
func (l *slowLink) fast(ctx context.Context) error {
	var errs []error
	if l.rule != nil && !l.removed {
		if _, err := l.c.e.mustExec(ctx, l.from.HostID, nil, append([]string{"iptables", "-t", "nat", "-D"}, l.rule...)...); err != nil {
			errs = append(errs, err)
		} else {
			l.removed = true
		}
	}
	if l.pid != "" {
		if _, err := l.c.e.mustExec(ctx, l.from.HostID, nil, "kill", "-USR1", l.pid); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// undo removes the rule and stops the relay (the connections it relays
// break).
func (l *slowLink) undo(ctx context.Context) error {
	var errs []error
	if l.rule != nil && !l.removed {
		if _, err := l.c.e.mustExec(ctx, l.from.HostID, nil, append([]string{"iptables", "-t", "nat", "-D"}, l.rule...)...); err != nil {
			errs = append(errs, err)
		}
		l.removed = true
	}
	if l.pid != "" {
		if r, err := l.c.e.exec(ctx, l.from.HostID, nil, "kill", l.pid); err != nil || (r.Code != 0 && !strings.Contains(r.Stderr, "No such process")) {
			errs = append(errs, fmt.Errorf("stop the relay: %v %s", err, r.Stderr))
		}
		l.pid = ""
	}
	return errors.Join(errs...)
}

// latencies are the quantiles of ds (sorted in place): median, 95th
// percentile and maximum.
func latencies(ds []time.Duration) (p50, p95, top time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return at(0.5), at(0.95), ds[len(ds)-1]
}
