package cli

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/hagen-ha/hagen/internal/probe"
)

func init() { extraCommands = append(extraCommands, probeCmd()) }

func probeCmd() *command {
	return &command{
		name:    "probe",
		summary: "stand-ins for the application server and client library (used by verify)",
		usage:   "serve|client [flags]",
		help: `
Probe runs the small stand-ins that hagen verify puts in place of the
guide's closed products, from the same binary:

  hagen probe serve   the application server (Kwanza): HTTP on the app
                      port, one committed row per acknowledged write
  hagen probe client  the client library (Manatee): randomized round robin
                      over 0..N-1.<domain> with a first choice, failover
                      after the reconnect delay; one JSON event per line

Run 'hagen probe serve -h' or 'hagen probe client -h' for their flags.`,
		hidden: true,
		run:    runProbe,
	}
}

func runProbe(c *command, e *env, args []string) int {
	if len(args) == 0 {
		return usageErr(e, c, "want a subcommand: serve or client")
	}
	switch args[0] {
	case "serve":
		return runProbeServe(probeSub("serve", "run the application-server stand-in", "--site NAME [flags]", probeServeHelp), e, args[1:])
	case "client":
		return runProbeClient(probeSub("client", "run the client-library stand-in", "[flags]", probeClientHelp), e, args[1:])
	case "-h", "-help", "--help", "help":
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		commandUsage(e.stdout, c, fs)
		return ExitOK
	}
	return usageErr(e, c, "unknown subcommand %q: want serve or client", args[0])
}

func probeSub(name, summary, usage, help string) *command {
	return &command{name: "probe " + name, summary: summary, usage: usage, help: help, hidden: true}
}

const probeServeHelp = `
Serve answers HTTP on the app port (the real server speaks gRPC there):

  GET  /site                  200 {"site":"site0"}; 503 when the database does not answer
  POST /write?id=ID&client=C  INSERT INTO hagen_probe; 200 {"site","id"} only after the commit
  POST /update?id=ID&value=V  UPDATE the row's value; 200, or 404 without the row
  GET  /read?id=ID            200 {"id","site","value","servedBy"}, or 404

The table hagen_probe must exist. The password is read from the variable
named by --password-env, or from the file named by <that name>_FILE; it is
never logged. The server starts while its database is down and reconnects
by itself. It logs to stderr and stops on SIGTERM.

Example:
  HAGEN_PROBE_DB_PASSWORD=... hagen probe serve --site site0 --listen :8001 --db-port 5444`

func runProbeServe(c *command, e *env, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	site := fs.String("site", "", "site `name` the server reports (required)")
	listen := fs.String("listen", ":8001", "HTTP listen `address`")
	host := fs.String("db-host", "127.0.0.1", "database `host`")
	port := fs.Int("db-port", 5432, "database `port`")
	name := fs.String("db-name", "kwanza", "database `name`")
	user := fs.String("db-user", "postgres", "database `user`")
	pwEnv := fs.String("password-env", "HAGEN_PROBE_DB_PASSWORD", "environment `variable` holding the database password (or VARIABLE_FILE a file with it)")
	timeout := fs.Duration("timeout", 2*time.Second, "bound on connecting and on each request's database work")
	pos, code, ok := parse(e, c, fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(e, c, "unexpected arguments %q", pos)
	}
	if *site == "" {
		return usageErr(e, c, "--site is required")
	}
	pw, err := secretFromEnv(*pwEnv)
	if err != nil {
		fmt.Fprintf(e.stderr, "hagen probe serve: %v\n", err)
		return ExitUsage
	}
	logger := log.New(e.stderr, "probe "+*site+": ", log.LstdFlags|log.Lmicroseconds)
	err = probe.Serve(e.ctx, probe.ServeConfig{
		Site:    *site,
		Listen:  *listen,
		DB:      probe.DBConfig{Host: *host, Port: *port, Name: *name, User: *user, Password: pw, Timeout: *timeout},
		Timeout: *timeout,
		Log:     logger,
	})
	if err != nil {
		fmt.Fprintf(e.stderr, "hagen probe serve: %v\n", err)
		return ExitUsage
	}
	return ExitOK
}

// secretFromEnv reads a secret the way hagen's scripts do: from NAME, or
// from the file named by NAME_FILE. Empty is allowed (trust auth).
func secretFromEnv(name string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	file := os.Getenv(name + "_FILE")
	if file == "" {
		return "", nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}

const probeClientHelp = `
Client follows the guide's client rules: servers are named 0.<domain> ..
N-1.<domain>; the client picks a random first choice and, on a failure,
waits the reconnect delay and fails over to the next server in round robin.

Modes:
  ha            write continuously, failing over as above
  direct        write continuously to --server-index only, reconnecting to it
  distribution  --sessions independent sessions, each a fresh random first
                choice that asks GET /site once and records the site

Writes are POST /write with ids <client-id>-<sequence>, one every
--interval. Each event is one JSON line on stdout:

  {"t":<unix ns>,"op":"connect"|"write"|"failover","id":"c-1","server":"0.ha.test",
   "addr":"10.231.0.10","from":"1.ha.test","site":"site0","ok":true,"err":"...",
   "latencyNs":1234,"session":1}

Absent fields are omitted. The run ends after --duration or on SIGTERM; a
request in flight is completed and recorded first.

Examples:
  hagen probe client --servers 2 --mode ha --client-id c1 --dns 10.231.0.2:53
  hagen probe client --servers 3 --mode distribution --sessions 400`

func runProbeClient(c *command, e *env, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	domain := fs.String("domain", "ha.test", "DNS `domain` of the servers")
	servers := fs.Int("servers", 2, "`number` of servers (names 0..N-1)")
	port := fs.Int("port", 8001, "app `port` of every server")
	delay := fs.Duration("reconnect-delay", 5*time.Second, "wait after a failure before the next server")
	mode := fs.String("mode", "ha", "`mode`: ha, direct or distribution")
	index := fs.Int("server-index", 0, "the server of direct mode")
	duration := fs.Duration("duration", 30*time.Second, "length of the run (0: until SIGTERM)")
	interval := fs.Duration("interval", 50*time.Millisecond, "pause between writes")
	sessions := fs.Int("sessions", 400, "`number` of sessions in distribution mode")
	hostname, _ := os.Hostname()
	clientID := fs.String("client-id", hostname, "`prefix` of write ids, stored with each row")
	dns := fs.String("dns", "", "resolve through this DNS `server` (host:port), uncached; default the system resolver")
	timeout := fs.Duration("timeout", 2*time.Second, "bound on each request")
	pos, code, ok := parse(e, c, fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(e, c, "unexpected arguments %q", pos)
	}
	cfg := probe.ClientConfig{
		Domain: *domain, Servers: *servers, Port: *port, ReconnectDelay: *delay,
		Mode: probe.Mode(*mode), ServerIndex: *index, Duration: *duration, Interval: *interval,
		Sessions: *sessions, ClientID: *clientID, Timeout: *timeout,
	}
	if *dns != "" {
		cfg.Resolver = probe.DNSResolver(*dns)
	}
	if err := probe.RunClient(e.ctx, cfg, e.stdout); err != nil {
		fmt.Fprintf(e.stderr, "hagen probe client: %v\n", err)
		return ExitUsage
	}
	return ExitOK
}
