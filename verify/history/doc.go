// Package history records what the clients of a failover scenario did
// and saw, and checks it: acknowledged writes lost, writes of unknown
// outcome that committed, stale reads, how long two nodes accepted writes
// at once, divergence after the heal, writes a multi-master conflict
// strategy discarded, and linearizability (with porcupine, the checker
// behind etcd's robustness tests).
//
// # The model
//
// A History is every client operation of one scenario (Op) and the
// events around them (Event: fault start and end, VIP holder, promotion,
// demotion, notes). An operation has an invocation and a completion time,
// a kind (write, read), a key and a value (written, or returned), an
// outcome, the Path it took (VIP, HAProxy, a DNS name, direct to a node,
// a site's app service) and the Server that answered (node name and
// address, pg_is_in_recovery, its timeline as the epoch; or the app's
// site).
//
// The outcome is what the client can know: OK (acknowledged), Failed (the
// server rolled it back, or the request was never sent) or Unknown (sent,
// and the answer never came: a broken connection, a client timeout). A
// client timeout is never Failed: PostgreSQL may commit the write after
// the client gave up, and checks treat an unknown write as possibly taking
// effect at any time after its invocation. Classify maps a pgx error to
// its outcome.
//
// Values must be unique per key (the checks tell writes apart by their
// value): an insert-only workload uses one key per write (the value may
// equal the key), a register workload writes unique values (client name
// and sequence number) to a few keys.
//
// # The clock
//
// Times are offsets from History.Start (time.Duration, nanoseconds),
// measured on the monotonic clock of the process that records; Start is
// the wall-clock time of offset 0. Times taken elsewhere (a pgbench log,
// which has Unix times) are converted with Recorder.Offset against the
// wall clock, which containers share with the host.
//
// # JSON
//
// WriteJSON writes one object, read back by ReadJSON (which validates):
//
//	{
//	  "format": 1,                          // FormatVersion
//	  "scenario": "failover-kill",
//	  "start": "2026-11-29T12:00:00.123456789Z",   // wall clock at offset 0 (RFC 3339)
//	  "ops": [{
//	    "index": 0,                         // position in ops, ordered by invocation
//	    "client": "vip-a",                  // one operation in flight per client
//	    "kind": "write",                    // "write" | "read"
//	    "key": "w-1",
//	    "value": "vip-a-1",                 // written, or returned by a read
//	    "absent": true,                     // read only: no row (value omitted)
//	    "invokeNs": 250000, "completeNs": 3500000,   // offsets from start
//	    "outcome": "ok",                    // "ok" | "failed" | "unknown"
//	    "error": "…",                       // first line of the client's error
//	    "path": {"via": "vip", "target": "10.0.0.100:5444", "node": "db0"},
//	                                        // via: "vip" | "haproxy" | "dns" | "direct" | "app"
//	    "server": {"node": "db0", "addr": "10.0.0.10", "inRecovery": false,
//	               "epoch": "00000001", "site": "site0"}   // omitted when nobody answered
//	  }],
//	  "events": [{"atNs": 900000000, "kind": "fault-start", "node": "db0", "detail": "docker kill db0"}]
//	                                        // kind: "fault-start" | "fault-end" | "vip" | "promotion" | "demotion" | "note"
//	}
//
// Optional fields are omitted when empty; new optional fields may appear
// without a format change. testdata/history.json is the reference
// encoding. An outside checker (Jepsen's Knossos or Elle, porcupine, a
// script) needs only ops: each is a call at invokeNs and a return at
// completeNs, with unknown outcomes as "info" (Jepsen) operations.
//
// # The checks
//
// Check runs them all; each result is a value with a verdict (pass,
// violation, allowed by the mode, inconclusive, not checked), a one-line
// summary for the terminal table, and details for JSON and HTML. The
// definitions are on the result types: Lost, Unknowns, StaleReads,
// SplitBrain (the split-brain window), Divergence, Conflicts,
// Linearizability. The Mode (Synchronous, Asynchronous, MultiMaster)
// decides which findings are violations: in synchronous mode every one
// is, and the split-brain window must be 0; in multi-master mode the
// window is reported, never hidden, and allowed.
//
// # Recording a scenario (the API for verify's scenarios)
//
//	rec := history.NewRecorder(name)                 // the clock starts
//	c := rec.Client("vip-a", history.Path{Via: history.ViaVIP, Target: vip})
//	for ctx.Err() == nil {                           // one goroutine per client
//		key := fmt.Sprintf("%s-%d", c.Name(), seq)
//		op := c.Invoke(history.Write, key, key)
//		var s history.Server; var rec bool
//		err := conn.QueryRow(ctx, `INSERT INTO hagen_history (k, v) VALUES ($1, $2)
//		        RETURNING current_setting('cluster_name'), host(inet_server_addr()),
//		                  pg_is_in_recovery(), substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)`,
//		        key, key).Scan(&s.Node, &s.Addr, &rec, &s.Epoch)
//		s.InRecovery = &rec
//		op.End(err, &s)                              // OK, Failed or Unknown by Classify
//	}
//	rec.Event(history.FaultStart, "db0", "docker kill db0")   // the harness's actions
//	rec.EventAt(seenAt, history.VIPHolder, "db1", "")         // a poller's observations
//	rec.Add(pgbenchOps...)                           // another client's log, converted
//	h := rec.History()                               // operations still in flight: unknown
//	final := history.FinalState{Nodes: …}            // after the heal, read from each node directly
//	res, err := history.Check(h, final, history.Options{Mode: history.Synchronous,
//		Linearizability: &history.LinearizabilityOptions{FinalReads: true}})
//
// A scenario then fails when res.Failed(); the report carries h (raw, for
// outside checkers), final's per-table checksums, res (summaries,
// verdicts and details) and, when written, res.Linearizability's
// Visualization (porcupine's HTML page).
package history
