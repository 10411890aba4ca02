// Package pgbench runs PostgreSQL's own pgbench as a client nobody here
// wrote, next to hagen's writers, and reads what it logged: transactions
// acknowledged and failed, the longest gap between acknowledged
// transactions (the write gap, confirmed by an independent client), and
// each acknowledged transaction's row key, so that pgbench's writes are
// checked for loss like hagen's own.
//
// # How it runs
//
// pgbench 15 ends a client at its first connection error ("client N
// aborted in command …; perhaps the backend died while processing"), so
// one pgbench process cannot ride through a failover. Command returns a
// small sh loop that starts pgbench again, with the time left, until the
// duration is over, each run numbered (run=1, 2, …). Each run writes its
// per-transaction log (-l) to DIR/pgbench.RUN.PID and its stderr to
// DIR/run.RUN.err, and the loop notes each run's start and end (Unix
// nanoseconds) in DIR/run.RUN.start and DIR/run.RUN.end.
//
// The transaction script (Script) inserts one row per transaction into
// hagen_pgbench (Schema) with the key TAG-RUN-CLIENT-N, where N counts the
// client's transactions from 1 (a variable set with -D n=0 and
// incremented by the script; pgbench keeps variables across a client's
// transactions). N equals the log's transaction_no as long as no
// transaction is skipped (no --latency-limit) or retried (--max-tries 1,
// the default), which Command guarantees. The row also records the node
// that committed it (hagen.node, else cluster_name).
//
// The connection string gives libpq a connect timeout and TCP keepalives
// (and a TCP user timeout), so that a client cut off by a partition or a
// frozen node errors out within seconds instead of waiting forever. The
// password is not on the command line: pass it as PGPASSWORD in the
// environment of the command (or a passfile).
//
// # The log
//
// pgbench 15's per-transaction log line is
//
//	client_id transaction_no time script_no time_epoch time_us [schedule_lag] [retries]
//
// time is the transaction's latency in microseconds, or "failed" (or,
// with --failures-detailed, "serialization" / "deadlock") for a
// transaction that failed with a retryable error, or "skipped" (with
// --latency-limit); time_epoch.time_us is when it ended; schedule_lag is
// present with --rate, retries when --max-tries is not 1. ParseLog needs
// to know which of the optional fields are there (Format). A transaction
// in flight when its client aborted is not logged: ParseStderr finds it
// from the abort message, and ToOps records it as a write of unknown
// outcome (its key is the client's next N).
package pgbench

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hagen-ha/hagen/internal/lazyregexp"
)

// Table is the table pgbench's script writes.
const Table = "hagen_pgbench"

// Schema creates Table (idempotent).
func Schema() string {
	return `CREATE TABLE IF NOT EXISTS ` + Table + ` (
	id text PRIMARY KEY,
	node text NOT NULL DEFAULT coalesce(current_setting('hagen.node', true), current_setting('cluster_name')),
	at timestamptz NOT NULL DEFAULT clock_timestamp()
)`
}

// Script is pgbench's transaction script: one INSERT of the row
// TAG-RUN-CLIENT-N. pgbench replaces :tag, :run, :client_id and :n
// textually, inside the quotes too.
func Script() string {
	return `\set n :n + 1
INSERT INTO ` + Table + ` (id) VALUES (':tag-:run-:client_id-:n');
`
}

// Key is the row key of transaction n of a client in a run.
func Key(tag string, run, client, n int) string {
	return fmt.Sprintf("%s-%d-%d-%d", tag, run, client, n)
}

// Options are what Command runs.
type Options struct {
	// Host and Port to connect to (the VIP, an HAProxy front).
	Host string
	Port int
	User string
	// Database is the database name.
	Database string
	// Duration of the whole loop; whole seconds (pgbench's -T), at least 1.
	Duration time.Duration
	// Rate is the target transactions per second of all clients together
	// (--rate); 0 runs as fast as possible.
	Rate int
	// Clients is the number of concurrent sessions (-c); default 2.
	Clients int
	// Dir is where the logs go (inside the container that runs it).
	Dir string
	// Script is the path of Script() inside the container.
	Script string
	// Tag prefixes the row keys; [a-z0-9]+ (it is substituted into SQL).
	Tag string
	// ConnectTimeout is libpq's connect_timeout; default 2s.
	ConnectTimeout time.Duration
	// Restart is the pause between two runs; default 100ms (counted in
	// the write gap when a run ends on a failover).
	Restart time.Duration
}

var tagRE = lazyregexp.New(`^[a-z0-9]+$`)

// loop is the sh script of Command. $1 is the log directory, $2 the
// duration in seconds, $3 the pause between runs; the rest is pgbench's
// argv without -T, run and the log prefix, which the loop adds.
const loop = `set -u
dir=$1 seconds=$2 pause=$3
shift 3
end=$(( $(date +%s) + seconds ))
run=0
while now=$(date +%s); [ "$now" -lt "$end" ]; do
	run=$((run + 1))
	date +%s%N >"$dir/run.$run.start"
	pgbench "$@" -T $((end - now)) -D run=$run -l --log-prefix="$dir/pgbench.$run" >"$dir/run.$run.out" 2>"$dir/run.$run.err"
	echo $? >"$dir/run.$run.exit"
	date +%s%N >"$dir/run.$run.end"
	[ "$(date +%s)" -lt "$end" ] && sleep "$pause"
done
exit 0
`

// Command returns the argv that runs pgbench in a loop for o.Duration
// (see the package documentation). The caller creates Dir, writes
// Script() to o.Script and runs Schema() first; pgbench's own tables are
// not needed (-n skips their vacuum; there is no -i).
func Command(o Options) ([]string, error) {
	if o.Clients <= 0 {
		o.Clients = 2
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 2 * time.Second
	}
	if o.Restart <= 0 {
		o.Restart = 100 * time.Millisecond
	}
	switch {
	case o.Host == "" || o.Port <= 0 || o.Port > 65535:
		return nil, fmt.Errorf("pgbench: host %q port %d: both are needed", o.Host, o.Port)
	case o.Database == "" || o.User == "":
		return nil, fmt.Errorf("pgbench: database %q user %q: both are needed", o.Database, o.User)
	case o.Duration < time.Second:
		return nil, fmt.Errorf("pgbench: duration %s: at least 1s", o.Duration)
	case !tagRE.MatchString(o.Tag):
		return nil, fmt.Errorf("pgbench: tag %q: lowercase letters and digits only (it becomes part of an SQL literal)", o.Tag)
	case o.Dir == "" || o.Script == "":
		return nil, fmt.Errorf("pgbench: the log directory and the script path are needed")
	case o.Rate < 0:
		return nil, fmt.Errorf("pgbench: rate %d: not negative", o.Rate)
	}
	for _, v := range []string{o.Host, o.Database, o.User} {
		if strings.ContainsAny(v, " '\\=") {
			return nil, fmt.Errorf("pgbench: %q: no spaces, quotes, backslashes or '=' in host, database or user", v)
		}
	}
	secs := int((o.Duration + time.Second - 1) / time.Second)
	timeout := max(1, int((o.ConnectTimeout+time.Second-1)/time.Second))
	conn := fmt.Sprintf("host=%s port=%d dbname=%s user=%s connect_timeout=%d keepalives=1 keepalives_idle=1 keepalives_interval=1 keepalives_count=3 tcp_user_timeout=%d application_name=hagen-pgbench",
		o.Host, o.Port, o.Database, o.User, timeout, 3000)
	argv := []string{"sh", "-c", loop, "hagen-pgbench", o.Dir, strconv.Itoa(secs), strconv.FormatFloat(o.Restart.Seconds(), 'f', -1, 64),
		"-n", "-c", strconv.Itoa(o.Clients), "-f", o.Script, "-D", "n=0", "-D", "tag=" + o.Tag}
	if o.Rate > 0 {
		argv = append(argv, "--rate", strconv.Itoa(o.Rate))
	}
	return append(argv, conn), nil
}

// Format says which optional fields a log has.
type Format struct {
	Rate    bool // --rate: schedule_lag
	Retries bool // --max-tries other than 1: retries
}

// FormatOf is the log format Command's runs write.
func FormatOf(o Options) Format { return Format{Rate: o.Rate > 0} }
