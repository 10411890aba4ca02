package pgbench

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hagen-ha/hagen/verify/history"
)

// The logs under testdata are real pgbench 15.18 output (Debian's
// postgresql-15 in the node image):
//   - detailed.log: --failures-detailed, deadlocks (no --rate);
//   - rate-retries.log: --rate and --max-tries 3 (schedule_lag, retries);
//   - skipped-retries.log: --rate, --latency-limit, --max-tries 2;
//   - failover/: Command's loop against a local server killed with
//     pg_ctl -m immediate after 2.5 s and restarted 1.5 s later;
//     failover-rows.txt is the table's keys afterwards.

func open(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestParseLogFormats(t *testing.T) {
	txs, err := ParseLog(open(t, "detailed.log"), 1, Format{})
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) != 5 || txs[0].Status != StatusDeadlock || txs[3].Status != StatusOK || txs[3].Latency != 1015398*time.Microsecond {
		t.Fatalf("detailed: %+v", txs)
	}
	if want := time.Unix(1795970291, 626194000).UTC(); !txs[3].End.Equal(want) || txs[3].Client != 2 || txs[3].No != 1 {
		t.Errorf("line 4 = %+v", txs[3])
	}

	txs, err = ParseLog(open(t, "rate-retries.log"), 1, Format{Rate: true, Retries: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) != 5 || txs[2].Lag != 1983*time.Microsecond || txs[2].Retries != 1 || txs[0].Retries != 0 || txs[1].Lag != 10004*time.Microsecond {
		t.Fatalf("rate+retries: %+v", txs)
	}

	txs, err = ParseLog(open(t, "skipped-retries.log"), 1, Format{Rate: true, Retries: true})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, tx := range txs {
		counts[tx.Status]++
	}
	if counts[StatusFailed] != 1 || counts[StatusSkipped] != 39 {
		t.Errorf("skipped: %v", counts)
	}
}

func TestParseLogErrors(t *testing.T) {
	for _, tt := range []struct {
		log  string
		f    Format
		want string
	}{
		{"0 1 2694 0 1795970262 519921 95\n", Format{}, "line 1: 7 fields, want 6 (client_id transaction_no time script_no time_epoch time_us)"},
		{"0 1 2694 0 1795970262 519921\n", Format{Rate: true}, "line 1: 6 fields, want 7 (client_id transaction_no time script_no time_epoch time_us schedule_lag)"},
		{"0 1 2694 0 1795970262 519921\n0 2 slow 0 1795970262 519921\n", Format{}, "line 2: field 3 (time) \"slow\" is not a count: want microseconds, failed"},
		{"x 1 2694 0 1795970262 519921\n", Format{}, "line 1: field 1 (client_id) \"x\" is not a count"},
		{"0 1 2694 0 1795970262 5199210\n", Format{}, "time_us 5199210 is not below 1000000"},
	} {
		_, err := ParseLog(strings.NewReader(tt.log), 1, tt.f)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseLog(%q) = %v, want %q", tt.log, err, tt.want)
		}
	}
}

func TestParseStderr(t *testing.T) {
	stderr := `WARNING:  terminating connection due to immediate shutdown command
pgbench: error: client 0 aborted in command 1 (SQL) of script 0; perhaps the backend died while processing
pgbench: error: client 3 script 0 aborted in command 1 query 0: ERROR:  duplicate key value violates unique constraint "hagen_pgbench_pkey"
pgbench: error: client 4 script 0 aborted in command 1 query 0: FATAL:  terminating connection due to administrator command
pgbench: error: client 5 aborted while establishing connection
pgbench: error: connection to server at "127.0.0.1", port 5432 failed: Connection refused
pgbench: error: Run was aborted; the above results are incomplete.
`
	aborts, cf, err := ParseStderr(strings.NewReader(stderr), 7)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		client int
		out    history.Outcome
	}{{0, history.Unknown}, {3, history.Failed}, {4, history.Unknown}, {5, history.Failed}}
	if len(aborts) != len(want) || cf != 1 {
		t.Fatalf("aborts %+v, connect failures %d", aborts, cf)
	}
	for i, w := range want {
		if aborts[i].Client != w.client || aborts[i].Outcome != w.out || aborts[i].Run != 7 {
			t.Errorf("abort %d = %+v, want %+v", i, aborts[i], w)
		}
	}
}

// The loop's directory from a real failover: the first run's clients
// aborted when the server was killed, ten runs could not connect, the
// last ran to the end; the rows in the table are exactly the logged
// transactions, so the two aborted ones did not commit.
func TestFailoverDirectory(t *testing.T) {
	runs, err := ReadDir(os.DirFS("testdata/failover"), Format{Rate: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 12 || runs[0].N != 1 || runs[11].N != 12 {
		t.Fatalf("%d runs", len(runs))
	}
	if len(runs[0].Aborts) != 2 || runs[0].Exit != 2 || len(runs[0].Transactions) != 256 {
		t.Errorf("run 1: %d aborts, exit %d, %d transactions", len(runs[0].Aborts), runs[0].Exit, len(runs[0].Transactions))
	}
	start := runs[0].Start
	s := Summarize(runs, start)
	if s.Runs != 12 || s.OK != 558 || s.Unknown != 2 || s.Failed != 0 || s.ConnectFailures != 10 {
		t.Fatalf("summary = %+v", s)
	}
	// The server was down for 1.5 s and took a moment to accept
	// connections again: the gap is the outage, around the kill at 2.5 s.
	if s.LongestGap < 1500*time.Millisecond || s.LongestGap > 4*time.Second || s.GapFrom < 2*time.Second || s.GapFrom > 3*time.Second {
		t.Errorf("gap %v from %v to %v", s.LongestGap, s.GapFrom, s.GapTo)
	}
	if s.GapTo-s.GapFrom != s.LongestGap {
		t.Errorf("gap bounds %v..%v do not span %v", s.GapFrom, s.GapTo, s.LongestGap)
	}

	// Into the history, with the table's rows as the final state: no
	// acknowledged transaction lost, the two in flight unknown and not
	// committed.
	path := history.Path{Via: history.ViaVIP, Target: "127.0.0.1:5432"}
	ops := ToOps(runs, start, "t1", path)
	rows, err := os.ReadFile("testdata/failover-rows.txt")
	if err != nil {
		t.Fatal(err)
	}
	final := history.NodeState{Node: "db0", Rows: map[string]string{}}
	for _, id := range strings.Fields(string(rows)) {
		final.Rows[id] = id
	}
	h := history.History{Start: start, Ops: ops}
	h.Normalize()
	res, err := history.Check(h, history.FinalState{Nodes: []history.NodeState{final}}, history.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lost.Acked != 558 || res.Lost.Lost != 0 || res.Unknown.Unknown != 2 || res.Unknown.Committed != 0 {
		t.Errorf("lost %+v unknown %+v", res.Lost.Summary(), res.Unknown.Summary())
	}
	for _, o := range h.Ops {
		if o.Outcome == history.Unknown && !strings.HasPrefix(o.Key, "t1-1-") {
			t.Errorf("unknown op outside run 1: %+v", o)
		}
		if o.Outcome == history.OK && (o.Invoke > o.Complete || o.Invoke < 0) {
			t.Errorf("op times: %+v", o)
		}
	}
	// Dropping one acknowledged row from the final state is caught.
	delete(final.Rows, "t1-12-0-5")
	res, _ = history.Check(h, history.FinalState{Nodes: []history.NodeState{final}}, history.Options{})
	if res.Lost.Lost != 1 || res.Lost.Writes[0].Key != "t1-12-0-5" {
		t.Errorf("a missing pgbench row was not reported: %s", res.Lost.Summary())
	}
}

func TestCommand(t *testing.T) {
	o := Options{Host: "10.0.0.100", Port: 5444, User: "postgres", Database: "kwanza", Duration: 30 * time.Second, Rate: 200, Clients: 4, Dir: "/tmp/pgb", Script: "/tmp/pgb.sql", Tag: "kill1"}
	argv, err := Command(o)
	if err != nil {
		t.Fatal(err)
	}
	if argv[0] != "sh" || argv[1] != "-c" || argv[3] != "hagen-pgbench" || argv[4] != "/tmp/pgb" || argv[5] != "30" || argv[6] != "0.1" {
		t.Fatalf("argv head = %q", argv[:7])
	}
	got := strings.Join(argv[7:], " ")
	want := "-n -c 4 -f /tmp/pgb.sql -D n=0 -D tag=kill1 --rate 200 host=10.0.0.100 port=5444 dbname=kwanza user=postgres connect_timeout=2 keepalives=1 keepalives_idle=1 keepalives_interval=1 keepalives_count=3 tcp_user_timeout=3000 application_name=hagen-pgbench"
	if got != want {
		t.Errorf("pgbench args:\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(strings.Join(argv, " "), "password") {
		t.Error("a password on the command line")
	}
	for _, bad := range []struct {
		mod  func(*Options)
		want string
	}{
		{func(o *Options) { o.Tag = "Kill'1" }, "tag \"Kill'1\""},
		{func(o *Options) { o.Duration = 500 * time.Millisecond }, "duration 500ms: at least 1s"},
		{func(o *Options) { o.Host = "" }, "host \"\" port 5444"},
		{func(o *Options) { o.Database = "a b" }, "no spaces"},
		{func(o *Options) { o.Rate = -1 }, "rate -1"},
	} {
		o2 := o
		bad.mod(&o2)
		if _, err := Command(o2); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Command: %v, want %q", err, bad.want)
		}
	}
	if FormatOf(o) != (Format{Rate: true}) {
		t.Error("format")
	}
	if !strings.Contains(Script(), "':tag-:run-:client_id-:n'") || !strings.Contains(Schema(), "current_setting('cluster_name')") {
		t.Error("script or schema")
	}
	if Key("kill1", 2, 3, 4) != "kill1-2-3-4" {
		t.Error("key")
	}
}
