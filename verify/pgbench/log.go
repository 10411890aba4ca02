package pgbench

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hagen-ha/hagen/internal/lazyregexp"
	"github.com/hagen-ha/hagen/verify/history"
)

// Status of a logged transaction.
const (
	StatusOK            = "ok"
	StatusFailed        = "failed"        // a retryable error, retries exhausted
	StatusSerialization = "serialization" // --failures-detailed
	StatusDeadlock      = "deadlock"      // --failures-detailed
	StatusSkipped       = "skipped"       // --latency-limit: never sent
)

// Transaction is one line of a per-transaction log.
type Transaction struct {
	Run    int `json:"run"`
	Client int `json:"client"`
	// No is transaction_no: the client's count, from 1.
	No     int    `json:"no"`
	Script int    `json:"script"`
	Status string `json:"status"`
	// Latency is the transaction's time (OK only).
	Latency time.Duration `json:"latencyNs"`
	// End is when it completed (time_epoch, time_us).
	End     time.Time     `json:"end"`
	Lag     time.Duration `json:"lagNs,omitempty"`
	Retries int           `json:"retries,omitempty"`
}

// OK reports whether the transaction committed.
func (t Transaction) OK() bool { return t.Status == StatusOK }

// ParseLog reads one per-transaction log of the given run. Every line
// must have the fields the format says; an error names the line.
func ParseLog(r io.Reader, run int, f Format) ([]Transaction, error) {
	want := 6
	if f.Rate {
		want++
	}
	if f.Retries {
		want++
	}
	var out []Transaction
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != want {
			return out, fmt.Errorf("pgbench log line %d: %d fields, want %d (client_id transaction_no time script_no time_epoch time_us%s%s): %q",
				n, len(fields), want, map[bool]string{true: " schedule_lag"}[f.Rate], map[bool]string{true: " retries"}[f.Retries], line)
		}
		num := func(i int, name string) (int64, error) {
			v, err := strconv.ParseInt(fields[i], 10, 64)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("pgbench log line %d: field %d (%s) %q is not a count", n, i+1, name, fields[i])
			}
			return v, nil
		}
		t := Transaction{Run: run}
		var vals [8]int64
		names := []string{"client_id", "transaction_no", "time", "script_no", "time_epoch", "time_us", "schedule_lag", "retries"}
		for i := range fields {
			if i == 2 {
				continue
			}
			name := names[i]
			if i == 6 && !f.Rate {
				name = "retries"
			}
			v, err := num(i, name)
			if err != nil {
				return out, err
			}
			vals[i] = v
		}
		switch fields[2] {
		case StatusFailed, StatusSerialization, StatusDeadlock, StatusSkipped:
			t.Status = fields[2]
		default:
			v, err := num(2, "time")
			if err != nil {
				return out, fmt.Errorf("%w: want microseconds, failed, serialization, deadlock or skipped", err)
			}
			t.Status, t.Latency = StatusOK, time.Duration(v)*time.Microsecond
		}
		if vals[5] >= 1_000_000 {
			return out, fmt.Errorf("pgbench log line %d: time_us %d is not below 1000000", n, vals[5])
		}
		t.Client, t.No, t.Script = int(vals[0]), int(vals[1]), int(vals[3])
		t.End = time.Unix(vals[4], vals[5]*1000).UTC()
		rest := 6
		if f.Rate {
			t.Lag = time.Duration(vals[6]) * time.Microsecond
			rest++
		}
		if f.Retries {
			t.Retries = int(vals[rest])
		}
		out = append(out, t)
	}
	return out, sc.Err()
}

// Abort is a client that pgbench ended on an error, from its stderr.
type Abort struct {
	Run    int `json:"run"`
	Client int `json:"client"`
	// Outcome of the transaction the client was running: unknown when the
	// connection died under it, failed when the server answered with an
	// error that rolled it back, or when nothing had been sent yet (the
	// connection could not be opened).
	Outcome history.Outcome `json:"outcome"`
	Message string          `json:"message"`
}

var (
	abortedDied  = lazyregexp.New(`client (\d+) aborted in command \d+ \(SQL\) of script \d+`)
	abortedQuery = lazyregexp.New(`client (\d+) script \d+ aborted in command \d+ query \d+: (.*)`)
	abortedConn  = lazyregexp.New(`client (\d+) aborted while establishing connection`)
	connFailed   = lazyregexp.New(`connection to server .* failed`)
	// Server messages that end the connection: the transaction may have
	// committed.
	goingAway = lazyregexp.New(`(?i)terminating connection|server closed the connection|shutdown|connection to server was lost`)
)

// ParseStderr reads a run's stderr: the aborted clients, and how many
// times the run could not connect at all (pgbench then exits at once,
// having sent nothing).
func ParseStderr(r io.Reader, run int) (aborts []Abort, connectFailures int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case abortedDied.MatchString(line):
			m := abortedDied.FindStringSubmatch(line)
			aborts = append(aborts, Abort{Run: run, Client: atoi(m[1]), Outcome: history.Unknown, Message: line})
		case abortedQuery.MatchString(line):
			m := abortedQuery.FindStringSubmatch(line)
			out := history.Failed
			if goingAway.MatchString(m[2]) {
				out = history.Unknown
			}
			aborts = append(aborts, Abort{Run: run, Client: atoi(m[1]), Outcome: out, Message: line})
		case abortedConn.MatchString(line):
			m := abortedConn.FindStringSubmatch(line)
			aborts = append(aborts, Abort{Run: run, Client: atoi(m[1]), Outcome: history.Failed, Message: line})
		case connFailed.MatchString(line):
			connectFailures++
		}
	}
	return aborts, connectFailures, sc.Err()
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// Run is one pgbench process of the loop.
type Run struct {
	N               int           `json:"run"`
	Start           time.Time     `json:"start"`
	End             time.Time     `json:"end"`
	Exit            int           `json:"exit"`
	Transactions    []Transaction `json:"-"`
	Aborts          []Abort       `json:"aborts,omitempty"`
	ConnectFailures int           `json:"connectFailures,omitempty"`
}

var runFile = lazyregexp.New(`^run\.(\d+)\.start$`)

// ReadDir reads the directory Command's loop wrote (copied out of its
// container into any fs.FS), runs in order.
func ReadDir(fsys fs.FS, f Format) ([]Run, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var runs []Run
	for _, e := range entries {
		m := runFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		r := Run{N: atoi(m[1]), Exit: -1}
		if r.Start, err = readNanos(fsys, e.Name()); err != nil {
			return nil, err
		}
		// A run still going (or killed) has no end and no exit yet.
		if end, err := readNanos(fsys, fmt.Sprintf("run.%d.end", r.N)); err == nil {
			r.End = end
		}
		if b, err := fs.ReadFile(fsys, fmt.Sprintf("run.%d.exit", r.N)); err == nil {
			r.Exit = atoi(strings.TrimSpace(string(b)))
		}
		if ef, err := fsys.Open(fmt.Sprintf("run.%d.err", r.N)); err == nil {
			r.Aborts, r.ConnectFailures, err = ParseStderr(ef, r.N)
			ef.Close()
			if err != nil {
				return nil, fmt.Errorf("run.%d.err: %w", r.N, err)
			}
		}
		logs, err := fs.Glob(fsys, fmt.Sprintf("pgbench.%d.*", r.N))
		if err != nil {
			return nil, err
		}
		sort.Strings(logs)
		for _, name := range logs {
			lf, err := fsys.Open(name)
			if err != nil {
				return nil, err
			}
			txs, err := ParseLog(lf, r.N, f)
			lf.Close()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path.Base(name), err)
			}
			r.Transactions = append(r.Transactions, txs...)
		}
		runs = append(runs, r)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].N < runs[j].N })
	return runs, nil
}

func readNanos(fsys fs.FS, name string) (time.Time, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return time.Time{}, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not Unix nanoseconds", name, strings.TrimSpace(string(b)))
	}
	return time.Unix(0, n).UTC(), nil
}

// Summary is pgbench's figures on the history's clock.
type Summary struct {
	Runs int `json:"runs"`
	// OK transactions committed; Failed rolled back with an error;
	// Unknown were in flight when their client aborted; Skipped were
	// never sent; ConnectFailures are runs that could not connect.
	OK              int `json:"ok"`
	Failed          int `json:"failed"`
	Unknown         int `json:"unknown"`
	Skipped         int `json:"skipped"`
	ConnectFailures int `json:"connectFailures"`
	// LongestGap is the longest time between two consecutive committed
	// transactions (by completion), from GapFrom to GapTo (offsets from
	// the history's start).
	LongestGap time.Duration `json:"longestGapNs"`
	GapFrom    time.Duration `json:"gapFromNs"`
	GapTo      time.Duration `json:"gapToNs"`
}

// Summarize counts the runs' transactions and finds the longest gap;
// start is the history's start (History.Start).
func Summarize(runs []Run, start time.Time) Summary {
	s := Summary{Runs: len(runs)}
	var ends []time.Time
	for _, r := range runs {
		s.ConnectFailures += r.ConnectFailures
		for _, t := range r.Transactions {
			switch t.Status {
			case StatusOK:
				s.OK++
				ends = append(ends, t.End)
			case StatusSkipped:
				s.Skipped++
			default:
				s.Failed++
			}
		}
		for _, a := range r.Aborts {
			if a.Outcome == history.Unknown {
				s.Unknown++
			} else {
				s.Failed++
			}
		}
	}
	sort.Slice(ends, func(i, j int) bool { return ends[i].Before(ends[j]) })
	for i := 1; i < len(ends); i++ {
		if gap := ends[i].Sub(ends[i-1]); gap > s.LongestGap {
			s.LongestGap, s.GapFrom, s.GapTo = gap, ends[i-1].Sub(start), ends[i].Sub(start)
		}
	}
	return s
}

// ToOps turns the runs into history operations on the history's clock,
// so the checker sees pgbench's writes: committed transactions are
// acknowledged writes of their row key (invoked at end − latency),
// failed ones failed writes, and the transaction a client was running
// when it aborted is a write of its outcome (its key is the client's
// next transaction number; invoked when the client's previous
// transaction ended, or the run started; completed when the run ended).
// Skipped transactions and clients that never connected sent nothing.
// pgbench does not say which node answered: the operations have no
// server.
func ToOps(runs []Run, start time.Time, tag string, p history.Path) []history.Op {
	var ops []history.Op
	for _, r := range runs {
		last := map[int]Transaction{}
		for _, t := range r.Transactions {
			key := Key(tag, r.N, t.Client, t.No)
			client := fmt.Sprintf("pgbench-%s-%d-%d", tag, r.N, t.Client)
			if l, ok := last[t.Client]; !ok || t.No > l.No {
				last[t.Client] = t
			}
			switch t.Status {
			case StatusOK:
				ops = append(ops, history.Op{Client: client, Kind: history.Write, Key: key, Value: key,
					Invoke: t.End.Add(-t.Latency).Sub(start), Complete: t.End.Sub(start), Outcome: history.OK, Path: p})
			case StatusSkipped:
			default:
				ops = append(ops, history.Op{Client: client, Kind: history.Write, Key: key, Value: key,
					Invoke: t.End.Sub(start), Complete: t.End.Sub(start), Outcome: history.Failed, Error: "pgbench: " + t.Status, Path: p})
			}
		}
		for _, a := range r.Aborts {
			if strings.Contains(a.Message, "while establishing connection") {
				continue
			}
			invoke, no := r.Start, 1
			if l, ok := last[a.Client]; ok {
				invoke, no = l.End, l.No+1
			}
			end := r.End
			if end.IsZero() || end.Before(invoke) {
				end = invoke
			}
			key := Key(tag, r.N, a.Client, no)
			ops = append(ops, history.Op{Client: fmt.Sprintf("pgbench-%s-%d-%d", tag, r.N, a.Client), Kind: history.Write, Key: key, Value: key,
				Invoke: invoke.Sub(start), Complete: end.Sub(start), Outcome: a.Outcome, Error: a.Message, Path: p})
		}
	}
	return ops
}
