package history

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"
)

var update = flag.Bool("update", false, "rewrite testdata/history.json")

func TestRecorderConcurrentClients(t *testing.T) {
	rec := NewRecorder("failover-kill")
	const clients, each = 8, 500
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := rec.Client(fmt.Sprintf("w%d", c), vip)
			for i := 0; i < each; i++ {
				p := cl.Invoke(Write, fmt.Sprintf("w%d-%d", c, i), "v")
				switch i % 3 {
				case 0:
					p.OK(p0)
				case 1:
					p.Fail(errors.New("read-only transaction"))
				default:
					p.Unknown(context.DeadlineExceeded)
				}
			}
		}()
	}
	rec.Event(FaultStart, "db0", "kill db0")
	wg.Wait()
	h := rec.History()
	if len(h.Ops) != clients*each || len(h.Events) != 1 || h.Scenario != "failover-kill" || h.Format != FormatVersion {
		t.Fatalf("history: %d ops, %d events", len(h.Ops), len(h.Events))
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	counts := map[Outcome]int{}
	for i, o := range h.Ops {
		counts[o.Outcome]++
		if o.Index != i {
			t.Fatalf("op %d has index %d", i, o.Index)
		}
		if i > 0 && o.Invoke < h.Ops[i-1].Invoke {
			t.Fatalf("ops not in invocation order at %d", i)
		}
	}
	if counts[OK] != clients*167 || counts[Failed] != clients*167 || counts[Unknown] != clients*166 {
		t.Errorf("outcomes %v", counts)
	}
}

func TestRecorderInFlightIsUnknown(t *testing.T) {
	rec := NewRecorder("s")
	c := rec.Client("a", proxy)
	c.Invoke(Write, "k1", "v1").OK(p0)
	c.SetPath(vip)
	p := c.Invoke(Write, "k2", "v2")
	h := rec.History()
	if len(h.Ops) != 2 {
		t.Fatalf("%d ops", len(h.Ops))
	}
	o := h.Ops[1]
	if o.Outcome != Unknown || o.Error != "still in flight when the history was taken" || o.Path != vip || o.Complete < o.Invoke {
		t.Errorf("in-flight op = %+v", o)
	}
	if h.Ops[0].Path != proxy || h.Ops[0].Server.Node != "db0" {
		t.Errorf("first op = %+v", h.Ops[0])
	}
	// It can still end; the next history has its real outcome.
	p.OK(p0)
	if h := rec.History(); h.Ops[1].Outcome != OK {
		t.Errorf("after the end: %+v", h.Ops[1])
	}
}

func TestRecorderMisuse(t *testing.T) {
	rec := NewRecorder("s")
	c := rec.Client("a", vip)
	p := c.Invoke(Write, "k", "v")
	mustPanic(t, "two operations in flight", func() { c.Invoke(Read, "k", "") })
	p.OK(p0)
	mustPanic(t, "ended twice", func() { p.Fail(errors.New("x")) })
	mustPanic(t, "client registered twice", func() { rec.Client("a", vip) })
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	f()
}

func TestRecorderReadsAndEnd(t *testing.T) {
	rec := NewRecorder("s")
	c := rec.Client("r", direct1)
	c.Invoke(Read, "k", "").ReadOK(s1, "v1", true)
	c.Invoke(Read, "k", "").ReadOK(s1, "ignored", false)
	c.Invoke(Write, "k", "v2").End(nil, p1)
	c.Invoke(Write, "k", "v3").End(&pgconn.PgError{Code: "25006", Message: "cannot execute INSERT in a read-only transaction"}, nil)
	c.Invoke(Write, "k", "v4").End(&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, nil)
	rec.Add(Op{Client: "pgbench-1-0", Kind: Write, Key: "p1", Value: "p1", Invoke: -time.Second, Complete: -time.Second / 2, Outcome: OK, Path: vip})
	h := rec.History()
	want := []struct {
		out    Outcome
		value  string
		absent bool
	}{{OK, "p1", false}, {OK, "v1", false}, {OK, "", true}, {OK, "v2", false}, {Failed, "v3", false}, {Unknown, "v4", false}}
	if len(h.Ops) != len(want) {
		t.Fatalf("%d ops", len(h.Ops))
	}
	for i, w := range want {
		o := h.Ops[i]
		if o.Outcome != w.out || o.Value != w.value || o.Absent != w.absent {
			t.Errorf("op %d = %+v, want %+v", i, o, w)
		}
	}
	if !strings.Contains(h.Ops[4].Error, "read-only") {
		t.Errorf("error = %q", h.Ops[4].Error)
	}
}

func TestClassify(t *testing.T) {
	netErr := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
	for _, tt := range []struct {
		name string
		err  error
		want Outcome
	}{
		{"nil", nil, OK},
		{"read-only", &pgconn.PgError{Code: "25006"}, Failed},
		{"unique violation", &pgconn.PgError{Code: "23505"}, Failed},
		{"serialization", &pgconn.PgError{Code: "40001"}, Failed},
		{"statement cancelled", &pgconn.PgError{Code: "57014"}, Failed},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, Unknown},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, Unknown},
		{"connection failure", &pgconn.PgError{Code: "08006"}, Unknown},
		{"io error", &pgconn.PgError{Code: "58030"}, Unknown},
		{"internal", &pgconn.PgError{Code: "XX000"}, Unknown},
		{"wrapped read-only", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "25006"}), Failed},
		{"deadline while waiting", context.DeadlineExceeded, Unknown},
		{"connection reset", netErr, Unknown},
		{"eof", io.ErrUnexpectedEOF, Unknown},
		{"anything else", errors.New("boom"), Unknown},
	} {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify(%v) = %s, want %s", tt.name, tt.err, got, tt.want)
		}
	}
	// A connection that could not be opened sent nothing: failed.
	_, err := pgconn.Connect(context.Background(), "host=127.0.0.1 port=1 connect_timeout=1 sslmode=disable")
	if err == nil {
		t.Fatal("connected to port 1")
	}
	if got := Classify(err); got != Failed {
		t.Errorf("refused connection: %s (%T %v)", got, err, err)
	}
}

// The JSON encoding is the documented exchange format: a fixed history
// encodes to testdata/history.json byte for byte, and reads back equal.
func TestJSONGolden(t *testing.T) {
	yes := true
	h := History{
		Scenario: "failover-kill",
		Start:    time.Date(2026, 11, 29, 12, 0, 0, 123456789, time.UTC),
		Ops: []Op{
			wr("vip-a", 0.25, 3.5, "w-1", "vip-a-1", OK, vip, p0),
			{Client: "reader", Kind: Read, Key: "w-1", Value: "vip-a-1", Invoke: at(4), Complete: at(4.75), Outcome: OK, Path: direct1, Server: &Server{Node: "db1", Addr: "10.0.1.10", InRecovery: &yes}},
			{Client: "vip-a", Kind: Write, Key: "w-2", Value: "vip-a-2", Invoke: at(1000), Complete: at(4000), Outcome: Unknown, Error: "timeout: context deadline exceeded", Path: vip},
			{Client: "app", Kind: Write, Key: "w-3", Value: "app-1", Invoke: at(5), Complete: at(6), Outcome: OK, Path: app0, Server: AppSite("site0")},
			{Client: "reader", Kind: Read, Key: "w-9", Absent: true, Invoke: at(7), Complete: at(8), Outcome: OK, Path: proxy, Server: p0},
		},
		Events: []Event{
			{At: at(900), Kind: FaultStart, Node: "db0", Detail: "docker kill db0"},
			{At: at(4500), Kind: VIPHolder, Node: "db1"},
			{At: at(4600), Kind: Promotion, Node: "db1", Detail: "timeline 2"},
			{At: at(9000), Kind: FaultEnd, Node: "db0"},
		},
	}
	h.Normalize()
	var buf bytes.Buffer
	if err := h.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "history.json")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("JSON encoding changed (-want +got); if on purpose, go test ./verify/history -run TestJSONGolden -update:\n%s", diff)
	}
	back, err := ReadJSON(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(h, back); diff != "" {
		t.Errorf("round trip (-wrote +read):\n%s", diff)
	}
	if _, err := ReadJSON(strings.NewReader(`{"format":1,"ops":[{"kind":"write","outcome":"ok","invokeNs":5,"completeNs":1}]}`)); err == nil || !strings.Contains(err.Error(), "before its invocation") {
		t.Errorf("ReadJSON accepted a malformed history: %v", err)
	}
}
